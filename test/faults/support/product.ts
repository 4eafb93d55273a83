import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDb, ensureDatabase, migrateLatest } from '../../../src/db/knex';
import { TEST_ADMIN_TOKEN, TEST_API_KEY, TEST_WEBHOOK_SECRET } from '../../support/app';
import { freePort, waitFor } from './services';

const REPO = join(__dirname, '..', '..', '..');
export const FAULT_CODE_SECRET = 'fault-code-secret-0123456789abcdef0123456789';
const MAX_LOG_LINES = 50_000;

export interface ProductProcess {
  baseUrl: string;
  env: Record<string, string>;
  /** Every log line the product wrote (stdout and stderr), newest last; across restarts. */
  logs: string[];
  /** Runs the migrations, then starts the product (again): web, relay and workers in one process, as `npm start` runs it. */
  start(): Promise<void>;
  /** kill -9: no shutdown of any kind. */
  kill9(): Promise<void>;
  stop(): Promise<void>;
  /** Stops the process and removes its data directory. */
  close(): Promise<void>;
}

/**
 * The product as a real child process (`node --import tsx src/main.ts`), NODE_ENV=test, sending SMS
 * to the fake Africa's Talking at `atUrl`. Every secret is passed explicitly (config fails closed).
 */
export async function productProcess(options: { databaseUrl: string; redisUrl: string; atUrl: string; env?: Record<string, string> }): Promise<ProductProcess> {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'tika-fault-data-'));
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    NODE_ENV: 'test',
    PORT: String(port),
    DATABASE_URL: options.databaseUrl,
    REDIS_URL: options.redisUrl,
    REDIS_PREFIX: 'tikafault',
    SMS_PROVIDER: 'africastalking',
    AT_USERNAME: 'sandbox',
    AT_API_KEY: TEST_API_KEY,
    AT_BASE_URL: options.atUrl,
    AT_TIMEOUT_MS: '2000',
    WEBHOOK_SECRET: TEST_WEBHOOK_SECRET,
    ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    CODE_SECRET: FAULT_CODE_SECRET,
    PUBLIC_BASE_URL: 'http://tika.test',
    DATA_DIR: dataDir,
    LOG_LEVEL: 'info',
    ...options.env,
  };
  const logs: string[] = [];
  let child: ChildProcess | undefined;
  const baseUrl = `http://127.0.0.1:${port}`;

  const collect = (stream: NodeJS.ReadableStream | null) => {
    let rest = '';
    stream?.on('data', (chunk: Buffer) => {
      const lines = (rest + chunk.toString('utf8')).split('\n');
      rest = lines.pop() ?? '';
      logs.push(...lines);
      if (logs.length > MAX_LOG_LINES) logs.splice(0, logs.length - MAX_LOG_LINES);
    });
  };
  const exited = (running: ChildProcess) => (running.exitCode !== null || running.signalCode !== null ? Promise.resolve() : new Promise<void>((resolve) => running.once('exit', () => resolve())));
  const signal = async (name: NodeJS.Signals) => {
    const running = child;
    if (!running) return;
    const done = exited(running);
    running.kill(name);
    await done;
    child = undefined;
  };

  return {
    baseUrl,
    env,
    logs,
    async start() {
      await migrate(env.DATABASE_URL!);
      const started = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
      child = started;
      collect(started.stdout);
      collect(started.stderr);
      await waitFor(
        'the product to answer /health',
        async () => {
          if (started.exitCode !== null) throw new Error(`the product exited with ${started.exitCode}:\n${logs.slice(-20).join('\n')}`);
          return fetch(`${baseUrl}/health`).then(
            (response) => response.ok,
            () => false,
          );
        },
        60_000,
      );
    },
    kill9: () => signal('SIGKILL'),
    stop: () => signal('SIGTERM'),
    async close() {
      await signal('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The deployment's own step before any process starts: the product refuses a schema behind its code. */
async function migrate(databaseUrl: string): Promise<void> {
  await ensureDatabase(databaseUrl);
  const db = createDb(databaseUrl, { max: 1 });
  try {
    await migrateLatest(db);
  } finally {
    await db.destroy();
  }
}
