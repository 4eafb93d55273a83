import express, { type ErrorRequestHandler, type Express, type RequestHandler } from 'express';
import type { Logger } from '../logger';
import { redactUrl } from '../logger';
import type { Metrics } from '../metrics';

export interface HttpParts {
  logger: Logger;
  metrics: Metrics;
  health: () => Promise<Record<string, 'ok' | string>>;
  /** Path prefix → router. */
  routers: Record<string, express.Router>;
}

/** The express app: routers are built elsewhere; this adds logging, metrics, health and error answers. */
export function createHttpApp(parts: HttpParts): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', true);
  app.use(requestLog(parts.logger, parts.metrics));

  app.get('/health', async (_req, res) => {
    const checks = await parts.health();
    const healthy = Object.values(checks).every((v) => v === 'ok');
    res.status(healthy ? 200 : 503).json({ status: healthy ? 'ok' : 'degraded', checks });
  });
  app.get('/metrics', async (_req, res) => {
    res.type(parts.metrics.registry.contentType).send(await parts.metrics.registry.metrics());
  });
  for (const [path, router] of Object.entries(parts.routers)) app.use(path, router);

  app.use((req, res) => {
    res.status(404).json({ error: 'not_found', message: `No route for ${req.method} ${req.path}` });
  });
  app.use(errorAnswer(parts.logger));
  return app;
}

function requestLog(logger: Logger, metrics: Metrics): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = req.route?.path ? `${req.baseUrl}${req.route.path}` : 'unmatched';
      metrics.httpDuration.observe({ route, status: String(res.statusCode) }, seconds);
      logger.debug({ method: req.method, url: redactUrl(req.originalUrl), status: res.statusCode, ms: Math.round(seconds * 1000) }, 'http');
    });
    next();
  };
}

/** Body-parser failures are the caller's fault (4xx with a message); anything else is ours (500, logged). */
function errorAnswer(logger: Logger): ErrorRequestHandler {
  return (error: { status?: number; type?: string; message?: string }, req, res, _next) => {
    const status = error.status && error.status >= 400 && error.status < 500 ? error.status : 500;
    if (status === 500) logger.error({ err: error, url: redactUrl(req.originalUrl) }, 'request failed');
    if (res.headersSent) return;
    const message = status === 500 ? 'Internal error' : `Bad request: ${error.type === 'entity.parse.failed' ? 'the body is not valid JSON' : error.message}`;
    res.status(status).json({ error: status === 500 ? 'internal' : 'bad_request', message });
  };
}
