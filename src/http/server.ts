import type { IncomingMessage, ServerResponse } from 'node:http';
import express, { type ErrorRequestHandler, type Express, type RequestHandler } from 'express';
import type { Logger } from '../logger';
import { redactUrl } from '../logger';
import type { Metrics } from '../metrics';
import { homePage } from './home';
import { DEFAULT_TRUST_PROXY, parseTrustProxy, type TrustProxy } from './trust-proxy';

export interface HttpParts {
  logger: Logger;
  metrics: Metrics;
  /** GET /health (database and Redis), kept for existing probes; none on an internal port. */
  health?: () => Promise<Record<string, 'ok' | string>>;
  /** /healthz, /readyz and, where served, /metrics and the dashboard (src/http/ops.ts): before the routers. */
  ops: express.Router;
  /** Path prefix → router: provider callbacks, mounted first (they are nearly all the traffic, and an operator waits on each USSD answer). */
  webhooks?: Record<string, express.Router>;
  /** Path prefix → router. */
  routers: Record<string, express.Router>;
  /** Whose X-Forwarded-* headers to believe (TRUST_PROXY); proxies on loopback and private networks when left out. */
  trustProxy?: TrustProxy;
}

/** The express app: routers are built elsewhere; this adds logging, metrics, health and error answers. */
export function createHttpApp(parts: HttpParts): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', parts.trustProxy ?? parseTrustProxy(DEFAULT_TRUST_PROXY));
  app.use(requestLog(parts.logger, parts.metrics));
  app.use(rejectMalformedUrl);
  for (const [path, router] of Object.entries(parts.webhooks ?? {})) app.use(path, router);

  const health = parts.health;
  if (health) {
    app.get('/', homePage);
    app.get('/health', async (_req, res) => {
      const checks = await health();
      const healthy = Object.values(checks).every((v) => v === 'ok');
      res.status(healthy ? 200 : 503).json({ status: healthy ? 'ok' : 'degraded', checks });
    });
  }
  app.use(parts.ops);
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
      if (logger.isLevelEnabled('debug')) logger.debug({ method: req.method, url: redactUrl(req.originalUrl), status: res.statusCode, ms: Math.round(seconds * 1000) }, 'http');
    });
    next();
  };
}

/**
 * Percent-encoding that does not decode to UTF-8 ('%E0%A4' cut short, '%ZZ') is the caller's
 * mistake: refused with 400 on every router, before any of them reads it.
 */
const rejectMalformedUrl: RequestHandler = (req, _res, next) => {
  const [path = '', query = ''] = req.url.split(/\?(.*)/s);
  decodeStrictly(path, 'the URL path');
  decodeFormStrictly(query, 'the query string');
  next();
};

/** For body parsers' `verify`: a body that is not UTF-8, or a form with malformed percent-encoding, is refused (400). */
export function verifyBodyEncoding(req: IncomingMessage, _res: ServerResponse, body: Buffer): void {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    throw new URIError('the body is not valid UTF-8');
  }
  if (/application\/x-www-form-urlencoded/i.test(req.headers['content-type'] ?? '')) decodeFormStrictly(text, 'the body');
}

function decodeFormStrictly(form: string, where: string): void {
  for (const part of form.split(/[&=]/)) decodeStrictly(part.replaceAll('+', ' '), where);
}

function decodeStrictly(encoded: string, where: string): void {
  if (!encoded.includes('%')) return;
  try {
    decodeURIComponent(encoded);
  } catch {
    throw new URIError(`${where} has malformed percent-encoding (not UTF-8)`);
  }
}

/**
 * Body-parser failures, undecodable URLs and bodies are the caller's fault (4xx with a message);
 * anything else is ours (500, logged).
 */
function errorAnswer(logger: Logger): ErrorRequestHandler {
  return (error: { status?: number; type?: string; message?: string }, req, res, _next) => {
    const status = error instanceof URIError ? 400 : error.status && error.status >= 400 && error.status < 500 ? error.status : 500;
    if (status === 500) logger.error({ err: error, url: redactUrl(req.originalUrl) }, 'request failed');
    if (res.headersSent) return;
    const message = status === 500 ? 'Internal error' : `Bad request: ${error.type === 'entity.parse.failed' ? 'the body is not valid JSON' : error.message}`;
    res.status(status).json({ error: status === 500 ? 'internal' : 'bad_request', message });
  };
}
