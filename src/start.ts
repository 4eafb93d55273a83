import { createApp, type App } from './app';
import { ConfigError, loadConfig } from './config';
import { SchemaBehindError } from './db/knex';
import { createLogger } from './logger';

type Mode = 'all' | 'web' | 'worker';

/** Starts the web server, the worker, or both; stops cleanly on SIGINT/SIGTERM. */
export async function start(mode: Mode): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\nSee .env.example for every variable.\n`);
      process.exit(1);
    }
    throw error;
  }
  const logger = createLogger(config.LOG_LEVEL);
  if (config.defaultedSecrets.length) {
    logger.warn({ variables: config.defaultedSecrets }, 'development sandbox: using the published development secrets');
  }

  const app = await createApp(config, { logger }).catch((error: Error) => {
    // A configuration file that does not hold up (the DLT template book) reads like a bad variable.
    if (error instanceof ConfigError || error instanceof SchemaBehindError) process.stderr.write(`${error.message}\n`);
    else logger.fatal({ err: error }, `cannot start: ${hint(error)}`);
    process.exit(1);
  });
  // Handled from here on: a SIGTERM while the worker is still starting (the port already answers) stops cleanly too.
  const stop = async (signal: string) => {
    // Requests and jobs in progress finish first, for at most SHUTDOWN_TIMEOUT_MS.
    logger.info({ signal, timeoutMs: config.SHUTDOWN_TIMEOUT_MS }, 'stopping');
    const finished = await app.close();
    logger.info({ finished }, 'stopped');
    process.exit(finished ? 0 : 1);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
  // Listen before the worker starts: a process that cannot serve its port stops before it takes a job.
  if (mode !== 'worker') await listenOrExit(app, 'PORT', config.PORT, () => app.listen(config.PORT));
  if (mode === 'worker') {
    const host = config.METRICS_HOST ?? '0.0.0.0';
    await listenOrExit(app, 'WORKER_METRICS_PORT', config.WORKER_METRICS_PORT, () => app.listenInternal(config.WORKER_METRICS_PORT, host, false));
  } else if (config.METRICS_HOST) {
    const host = config.METRICS_HOST;
    await listenOrExit(app, 'METRICS_PORT', config.METRICS_PORT, () => app.listenInternal(config.METRICS_PORT, host, true));
  }
  if (mode !== 'web') await app.startWorker();
  if (mode !== 'worker') {
    logger.info({ port: config.PORT, routes: app.config.routes, mode }, `Tika listening on http://localhost:${config.PORT}`);
  } else {
    logger.info({ routes: app.config.routes }, 'Tika worker running');
  }
}

/** A port that cannot be served is one line on stderr and exit 1, not a stack trace. */
async function listenOrExit(app: App, variable: string, port: number, listen: () => Promise<unknown>): Promise<void> {
  try {
    await listen();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'EADDRINUSE' ? `is already in use: set ${variable} or stop the other process` : `cannot be served (${(error as Error).message}): set ${variable}`;
    process.stderr.write(`port ${port} ${why}\n`);
    await app.close();
    process.exit(1);
  }
}

function hint(error: Error & { code?: string }): string {
  if (error.code === 'ECONNREFUSED') return `${error.message}: is PostgreSQL running? Try: bash scripts/services.sh`;
  return error.message;
}
