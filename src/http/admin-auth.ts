import { createHmac, timingSafeEqual } from 'node:crypto';
import express, { Router, type Request, type RequestHandler, type Response } from 'express';
import type Redis from 'ioredis';
import { deriveKey } from '../domain/codes';
import { escapeHtml } from './html';
import { verifyBodyEncoding } from './server';
import { secretMatcher } from './webhook-auth';

export const ADMIN_COOKIE = 'tika_admin';
const SESSION_MS = 8 * 3600_000;
/** Login attempts per client address within the window (none of them right) before every attempt is refused (429). */
const MAX_FAILURES = 10;
const FAILURE_WINDOW_MS = 15 * 60_000;

export interface AdminAuthOptions {
  /** Added to every wrong-token answer: guessing stays slow even below the failure limit. */
  failureDelayMs?: number;
  now?: () => number;
}

/**
 * Login attempts per client address, counted in Redis: every web process and a restarted one see
 * the same count, so running N processes does not give a guesser N times the attempts. Each attempt
 * is counted before its token is checked (parallel guesses cannot slip past the limit); a right
 * token clears the count. The window starts at the first attempt.
 */
export class LoginAttempts {
  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
    private readonly windowMs = FAILURE_WINDOW_MS,
  ) {}

  /** Counts one attempt from `client`; how many there have been in the window, this one included. */
  async count(client: string): Promise<number> {
    const key = this.key(client);
    const results = await this.redis.multi().incr(key).pexpire(key, this.windowMs, 'NX').exec();
    const [error, count] = results?.[0] ?? [new Error('the attempt was not counted')];
    if (error) throw error;
    return Number(count);
  }

  async clear(client: string): Promise<void> {
    await this.redis.del(this.key(client));
  }

  private key(client: string): string {
    return `${this.keyPrefix}:admin-login:${client}`;
  }
}

/**
 * Who may use the admin API and the queue dashboard: a request with `Authorization: Bearer
 * <ADMIN_TOKEN>`, or a browser holding the session cookie that POST /admin/login sets. The cookie
 * holds only an expiry and its HMAC (keyed from the token), so rotating ADMIN_TOKEN ends every session.
 */
export class AdminAuth {
  private readonly tokenMatches: (given: string) => boolean;
  private readonly key: Buffer;
  private readonly now: () => number;

  constructor(adminToken: string, private readonly options: AdminAuthOptions = {}) {
    if (!adminToken) throw new Error('AdminAuth needs a non-empty admin token');
    this.tokenMatches = secretMatcher(adminToken);
    this.key = deriveKey(adminToken, 'admin-session');
    this.now = options.now ?? Date.now;
  }

  /** A signed session cookie value that expires SESSION_MS from now. */
  issue(): { value: string; expires: Date } {
    const expiry = this.now() + SESSION_MS;
    return { value: `${expiry}.${this.sign(String(expiry))}`, expires: new Date(expiry) };
  }

  isAuthorised(req: Request): boolean {
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(req.get('authorization') ?? '');
    if (bearer) return this.tokenMatches(bearer[1]!);
    return this.sessionValid(cookieNamed(req, ADMIN_COOKIE));
  }

  /** For the JSON API: 401 with a message that says what is missing. */
  requireForApi(): RequestHandler {
    return (req, res, next) => {
      if (this.isAuthorised(req)) return next();
      const hasBearer = /^Bearer\s/i.test(req.get('authorization') ?? '');
      res
        .status(401)
        .set('WWW-Authenticate', 'Bearer')
        .json({ error: 'unauthorized', message: hasBearer ? 'the admin token is not valid' : 'missing header Authorization: Bearer <admin token> (or the session cookie of POST /admin/login)' });
    };
  }

  /** For pages: a browser without a session goes to the login form, which brings it back here. */
  requireForBrowser(): RequestHandler {
    return (req, res, next) => {
      if (this.isAuthorised(req)) return next();
      if (req.method === 'GET' && req.accepts(['html', 'json']) === 'html') return res.redirect(303, loginAddress(req.originalUrl));
      res.status(401).json({ error: 'unauthorized', message: 'log in at /admin/login first' });
    };
  }

  /**
   * GET and POST /admin/login, POST /admin/logout. Mount at /admin before anything that requires a
   * session. `home`: where a login without a page to return to lands (the dashboard, where it is served).
   */
  router(attempts: LoginAttempts, home = DEFAULT_PAGE): Router {
    const router = Router();
    const form = express.urlencoded({ extended: false, limit: '4kb', verify: verifyBodyEncoding });
    router.get('/login', (req, res) => page(res, 200, loginPage(returnPath(req.query.next) ?? home)));
    router.post('/login', form, async (req, res) => {
      const client = req.ip ?? 'unknown';
      const back = returnPath(req.body?.next) ?? home;
      let count: number;
      try {
        count = await attempts.count(client);
      } catch {
        // Fail closed: without the count a guesser would have no limit. The Bearer token still works.
        return page(res.set('Retry-After', '30'), 503, loginPage(back, 'Logging in is unavailable for a moment (the attempt could not be counted): try again shortly.'));
      }
      if (count > MAX_FAILURES) return page(res.set('Retry-After', String(FAILURE_WINDOW_MS / 1000)), 429, loginPage(back, 'Too many wrong tokens from this address: wait 15 minutes.'));
      const token = typeof req.body?.token === 'string' ? req.body.token : '';
      if (!token || !this.tokenMatches(token)) {
        await new Promise((resolve) => setTimeout(resolve, this.options.failureDelayMs ?? 1000));
        return page(res, 401, loginPage(back, 'That is not the admin token.'));
      }
      await attempts.clear(client).catch(() => undefined); // the window ends it anyway
      const session = this.issue();
      res.cookie(ADMIN_COOKIE, session.value, { httpOnly: true, sameSite: 'strict', secure: req.secure, path: '/admin', expires: session.expires });
      res.redirect(303, back);
    });
    router.post('/logout', (req, res) => {
      res.clearCookie(ADMIN_COOKIE, { httpOnly: true, sameSite: 'strict', secure: req.secure, path: '/admin' });
      res.redirect(303, '/admin/login');
    });
    return router;
  }

  private sign(text: string): string {
    return createHmac('sha256', this.key).update(text).digest('base64url');
  }

  private sessionValid(cookie: string | undefined): boolean {
    const match = /^(\d{1,16})\.([A-Za-z0-9_-]{43})$/.exec(cookie ?? '');
    if (!match) return false;
    const given = Buffer.from(match[2]!, 'base64url');
    const expected = Buffer.from(this.sign(match[1]!), 'base64url');
    return given.length === expected.length && timingSafeEqual(given, expected) && Number(match[1]) > this.now();
  }
}

function cookieNamed(req: Request, name: string): string | undefined {
  for (const part of (req.get('cookie') ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return value.join('=');
  }
  return undefined;
}

function page(res: Response, status: number, html: string): void {
  res.status(status).set('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'").set('cache-control', 'no-store').type('html').send(html);
}

const DEFAULT_PAGE = '/admin/queues';

function loginAddress(requested: string): string {
  const back = returnPath(requested);
  return back && back !== DEFAULT_PAGE ? `/admin/login?next=${encodeURIComponent(back)}` : '/admin/login';
}

/**
 * Where a login may send the browser back to: a page of ours under /admin/ only, so the login form
 * cannot be used to redirect anyone elsewhere (`//evil.example`, `https://…`, `/\evil.example`).
 */
function returnPath(given: unknown): string | undefined {
  if (typeof given !== 'string' || given.length > 1000) return undefined;
  if (!/^\/admin\/[A-Za-z0-9\-._~!$&'()*+,;=:@%/?]*$/.test(given)) return undefined;
  return /^\/admin\/log(in|out)\b/.test(given) ? undefined : given;
}

function loginPage(back: string, problem?: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Tika admin: log in</title>
<style>body{font-family:sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem}input{font-size:1rem;padding:.4rem;width:100%;box-sizing:border-box}button{font-size:1rem;margin-top:1rem;padding:.4rem 1rem}[role=alert]{color:#a00}</style></head>
<body><main>
<h1>Tika admin</h1>
${problem ? `<p role="alert">${problem}</p>` : ''}
<form method="post" action="/admin/login">
<input type="hidden" name="next" value="${escapeHtml(back)}">
<label for="token">Admin token (ADMIN_TOKEN)</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<button type="submit">Log in</button>
</form>
<p>The session lasts 8 hours. It opens <code>${escapeHtml(back)}</code>.</p>
</main></body></html>
`;
}

/**
 * The one check in front of everything under /admin (the API, its OpenAPI document and the
 * rendered reference): the Bearer token, or the session cookie of a login with it.
 */
export function requireAdmin(adminToken: string): RequestHandler {
  if (!adminToken) throw new Error('adminRouter needs a non-empty admin token');
  const auth = new AdminAuth(adminToken);
  const [api, browser] = [auth.requireForApi(), auth.requireForBrowser()];
  // The rendered reference is a page: a browser without a session is sent to the login form.
  return (req, res, next) => (/^\/docs(\/|$)/.test(req.path) ? browser : api)(req, res, next);
}
