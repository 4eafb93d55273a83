import { Router, type RequestHandler, type Response } from 'express';
import { toE164 } from '../domain/phone';
import type { Logger } from '../logger';
import type { AdminAuth } from './admin-auth';
import { SIMULATOR_CSS, simulatorPage } from '../simulator/page';
import type { SimulatorSettings } from '../simulator/settings';
import type { FeedMessage, SandboxSmsFeed } from '../simulator/sms-feed';

export interface SimulatorRouteDeps {
  settings: () => Promise<SimulatorSettings>;
  feed: SandboxSmsFeed;
  /** The browser script (built, or bundled on first request in development). */
  script: () => Promise<string>;
  defaultCountry: string;
  logger: Logger;
  /** A comment this often keeps proxies from cutting an idle event stream. */
  keepAliveMs?: number;
}

export interface SimulatorRoutes {
  router: Router;
  /** Ends every open event stream (the server cannot close while one is open) and the feed's listener. */
  close(): Promise<void>;
}

const PAGE_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'self'; form-action 'self'";

/**
 * The browser phone simulator: the page, its script and styles, what it needs to know
 * (config.json, which holds the webhook key: mount this only where whoever sees it may have it),
 * and each phone's SMS as server-sent events. The phones talk to the real webhook endpoints.
 */
export function simulatorRoutes(deps: SimulatorRouteDeps): SimulatorRoutes {
  const router = Router();
  const streams = new Set<Response>();
  const keepAliveMs = deps.keepAliveMs ?? 15_000;

  router.get('/', (req, res) => {
    // /simulator and /simulator/ alike: the page's relative URLs resolve under the mount point.
    res.set('content-security-policy', PAGE_CSP).set('cache-control', 'no-store').type('html').send(simulatorPage(`${req.baseUrl}/`));
  });

  router.get('/simulator.css', (_req, res) => {
    res.set('cache-control', 'no-cache').type('css').send(SIMULATOR_CSS);
  });

  router.get('/simulator.js', async (_req, res) => {
    let script: string;
    try {
      script = await deps.script();
    } catch (error) {
      deps.logger.error({ err: error }, 'simulator: the browser script is neither built nor can be bundled (run npm run build)');
      res.status(503).type('text/plain').send('The simulator script is not built: run npm run build.');
      return;
    }
    res.set('cache-control', 'no-cache').type('application/javascript').send(script);
  });

  router.get('/config.json', async (_req, res) => {
    res.set('cache-control', 'no-store').json(await deps.settings());
  });

  router.get('/events', smsEvents(deps, streams, keepAliveMs));

  return {
    router,
    async close() {
      for (const res of streams) res.end();
      streams.clear();
      await deps.feed.close();
    },
  };
}

/** GET /events?phone=: the phone's SMS as `event: sms` with the row id, resumed after Last-Event-ID on reconnect. */
function smsEvents(deps: SimulatorRouteDeps, streams: Set<Response>, keepAliveMs: number): RequestHandler {
  return async (req, res) => {
    const given = typeof req.query.phone === 'string' ? req.query.phone : '';
    const phone = toE164(given, deps.defaultCountry);
    if (!phone) {
      res.status(400).json({ error: 'invalid_request', message: `phone is not a valid number: '${given.slice(0, 30)}'` });
      return;
    }
    const lastEventId = req.get('last-event-id') ?? '';
    const afterId = /^\d{1,15}$/.test(lastEventId) ? Number(lastEventId) : undefined;

    res.status(200).set({ 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
    res.flushHeaders();
    res.write('retry: 3000\n\n');
    streams.add(res);
    let unsubscribe: (() => void) | undefined;
    let closed = false;
    const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), keepAliveMs);
    res.on('close', () => {
      closed = true;
      clearInterval(keepAlive);
      streams.delete(res);
      unsubscribe?.();
    });
    const send = (messages: FeedMessage[]) => {
      for (const message of messages) res.write(`id: ${message.id}\nevent: sms\ndata: ${JSON.stringify(message)}\n\n`);
    };
    try {
      const stop = await deps.feed.subscribe(phone, afterId, send);
      if (closed) stop();
      else unsubscribe = stop;
    } catch (error) {
      deps.logger.error({ err: error }, 'simulator: cannot follow the sandbox messages');
      // The browser reconnects after `retry`.
      res.end();
    }
  };
}

/**
 * Where the simulator is mounted: /simulator in a development sandbox; anywhere else the page
 * holds a real webhook key, so it is served at /admin/simulator to an admin session (whose cookie
 * is scoped to /admin) and /simulator sends the browser there. Mount before /admin.
 */
export function simulatorMounts(simulator: Router, options: { open: boolean; auth: AdminAuth }): Record<string, Router> {
  if (options.open) return { '/simulator': simulator };
  return {
    '/admin/simulator': Router().use(options.auth.requireForBrowser(), simulator),
    '/simulator': Router().get('/', (_req, res) => res.redirect(303, '/admin/simulator/')),
  };
}
