import { Router, type RequestHandler } from 'express';
import type { Logger } from '../logger';
import type { Metrics } from '../metrics';
import type { AdminAuth, LoginAttempts } from './admin-auth';
import { DASHBOARD_PATH } from './queue-dashboard';

/** Resolves when the dependency is usable; a string is what is wrong (rejecting means it is down). */
export type ReadinessCheck = () => Promise<string | undefined | void>;

export interface OpsParts {
  logger: Logger;
  metrics: Metrics;
  readiness: Record<string, ReadinessCheck>;
  /** Each check answers within this or counts as failed: /readyz never hangs. */
  checkTimeoutMs: number;
  /** True once the process has begun to shut down: /readyz answers 503 so balancers stop sending. */
  stopping: () => boolean;
  /** Serve GET /metrics here (false on a public port when METRICS_HOST puts it elsewhere). */
  serveMetrics: boolean;
  /** The admin login form: wherever a browser page behind it is served (the API reference, the simulator, the dashboard). */
  login?: { auth: AdminAuth; attempts: LoginAttempts };
  /** The queue dashboard, behind the login, when served here. */
  dashboard?: Router;
}

/** GET /healthz (alive), GET /readyz (dependencies), and where configured /metrics and the dashboard. */
export function opsRouter(parts: OpsParts): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => void res.json({ status: 'alive' }));
  router.get('/readyz', readyz(parts));
  if (parts.serveMetrics) {
    router.get('/metrics', async (_req, res) => {
      res.type(parts.metrics.registry.contentType).send(await parts.metrics.registry.metrics());
    });
  }
  // Without the dashboard here (METRICS_HOST puts it inside), a login lands on the API reference.
  if (parts.login) router.use('/admin', parts.login.auth.router(parts.login.attempts, parts.dashboard ? DASHBOARD_PATH : '/admin/docs'));
  if (parts.login && parts.dashboard) router.use(DASHBOARD_PATH, parts.login.auth.requireForBrowser(), parts.dashboard);
  return router;
}

function readyz(parts: OpsParts): RequestHandler {
  return async (_req, res) => {
    const entries = await Promise.all(Object.entries(parts.readiness).map(async ([name, check]) => [name, await runCheck(name, check, parts)] as const));
    const checks: Record<string, string> = Object.fromEntries(entries);
    if (parts.stopping()) checks.process = 'shutting down';
    const failing = Object.keys(checks).filter((name) => checks[name] !== 'ok');
    res.status(failing.length ? 503 : 200).json({ status: failing.length ? 'unready' : 'ready', failing, checks });
  };
}

/** 'ok', or what is wrong. The error itself goes to the log, not to whoever asks. */
async function runCheck(name: string, check: ReadinessCheck, parts: OpsParts): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`no answer within ${parts.checkTimeoutMs} ms`), parts.checkTimeoutMs);
  });
  const outcome = check().then(
    (problem) => problem || 'ok',
    (error: Error) => (parts.logger.error({ err: error, check: name }, 'readiness check failed'), 'down'),
  );
  try {
    const result = await Promise.race([outcome, timeout]);
    if (result !== 'ok') parts.logger.warn({ check: name, result }, 'not ready');
    return result;
  } finally {
    clearTimeout(timer);
  }
}
