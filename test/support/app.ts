import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import Redis from 'ioredis';
import { createApp, type App } from '../../src/app';
import { loadConfig } from '../../src/config';
import { ManualClock } from '../../src/domain/clock';
import { createLogger } from '../../src/logger';
import { startFakeAfricasTalking, type FakeAfricasTalking } from '../fakes/fake-africastalking';
import { createDb, ensureDatabase, migrateLatest } from '../../src/db/knex';
import { testDatabaseUrl, testRedisPrefix, truncateAll } from './db';

export const TEST_WEBHOOK_SECRET = 'test-webhook-secret-0123456789';
export const TEST_ADMIN_TOKEN = 'test-admin-token-0123456789';
export const TEST_API_KEY = 'atsk_test_api_key_0123456789abcdef';
export const SERVICE_CODE = '*384*1234#';

export interface TestApp {
  app: App;
  /** The environment the app was configured from: give it to a child process to join the same stores. */
  env: Record<string, string>;
  at: FakeAfricasTalking;
  clock: ManualClock;
  baseUrl: string;
  /** The internal port (/metrics, /healthz, /readyz, and the dashboard unless worker-only), when asked for. */
  internalUrl?: string;
  /** Every log line the app wrote, as text. */
  logs: string[];
  /** One USSD hop exactly as Africa's Talking sends it. */
  ussd(sessionId: string, phone: string, text: string): Promise<{ status: number; body: string }>;
  /** A whole USSD session: the first hop, then each answer appended as Africa's Talking does; every screen. */
  converse(sessionId: string, phone: string, answers: string[]): Promise<string[]>;
  /** An incoming SMS exactly as Africa's Talking posts it; returns the provider id used. */
  incomingSms(from: string, text: string, id?: string): Promise<{ status: number; body: string; id: string }>;
  /** The texts of every SMS the fake provider received for `phone`, oldest first. */
  sentTo(phone: string): string[];
  /** Sends an SMS from `phone` and waits for the next `count` SMS that reach it. */
  exchange(phone: string, text: string, count?: number): Promise<string[]>;
  /** A form-encoded POST, as every Africa's Talking callback is. */
  postForm(path: string, form: Record<string, string>): Promise<{ status: number; body: string }>;
  close(): Promise<void>;
}

/**
 * The whole product on real PostgreSQL and Redis, sending SMS to a local fake Africa's Talking
 * server. Each call starts from an empty database and empty Redis keys for this jest worker.
 */
export async function startTestApp(
  env: Record<string, string> = {},
  options: {
    now?: Date;
    /** Keep the database and Redis as the previous app left them (a restart). */
    keepState?: boolean;
    /** Start the relay and workers (default); false gives a web-only process. */
    worker?: boolean;
    /** Reuse a fake provider (a restart talks to the same telco). */
    at?: FakeAfricasTalking;
    /** Also serve the internal port on 127.0.0.1 (as METRICS_HOST or a worker-only process does). */
    internal?: { dashboard: boolean };
    /** false: no public port (a worker-only process; use `internal`). */
    publicPort?: boolean;
  } = {},
): Promise<TestApp> {
  const at = options.at ?? (await startFakeAfricasTalking());
  const testEnv: Record<string, string> = {
    NODE_ENV: 'test',
    PORT: '0',
    DATABASE_URL: testDatabaseUrl(),
    REDIS_PREFIX: testRedisPrefix(),
    SMS_PROVIDER: 'africastalking',
    AT_USERNAME: 'sandbox',
    AT_API_KEY: TEST_API_KEY,
    AT_BASE_URL: at.url,
    AT_TIMEOUT_MS: '1000',
    WEBHOOK_SECRET: TEST_WEBHOOK_SECRET,
    ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    CODE_SECRET: 'test-code-secret-0123456789abcdef0123456789',
    PUBLIC_BASE_URL: 'http://tika.test',
    DATA_DIR: join(tmpdir(), 'tika-test-data'),
    ...env,
  };
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(testEnv);
  } catch (error) {
    // A fake server left listening would keep jest waiting instead of failing the test.
    if (!options.at) await at.close();
    throw error;
  }
  if (!options.keepState) await resetStores(config.DATABASE_URL, config.REDIS_URL, config.REDIS_PREFIX);

  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      logs.push(String(chunk));
      done();
    },
  });
  const clock = new ManualClock(options.now ?? new Date());
  const app = await createApp(config, { clock, logger: createLogger('debug', sink), smsRetryBaseMs: 20 });
  if (options.worker !== false) await app.startWorker();
  const urlOf = (server: import('node:http').Server) => {
    const address = server.address();
    return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  };
  const baseUrl = options.publicPort === false ? 'http://127.0.0.1:0' : urlOf(await app.listen(0));
  const internalUrl = options.internal ? urlOf(await app.listenInternal(0, '127.0.0.1', options.internal.dashboard)) : undefined;

  const postForm = async (path: string, form: Record<string, string>) => {
    const response = await fetch(`${baseUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form).toString(),
    });
    return { status: response.status, body: await response.text() };
  };

  const ussd = (sessionId: string, phone: string, text: string) =>
    postForm(`/webhooks/africastalking/ussd?key=${TEST_WEBHOOK_SECRET}`, {
      sessionId,
      serviceCode: SERVICE_CODE,
      phoneNumber: phone,
      networkCode: '40410',
      text,
    });

  const sentTo = (phone: string) => at.sent.filter((s) => s.to === phone).map((s) => s.message);
  const incomingSms = async (from: string, text: string, id: string = randomUUID()) => ({
    ...(await postForm(`/webhooks/africastalking/sms?key=${TEST_WEBHOOK_SECRET}`, {
      linkId: '03090445075804249226',
      text,
      to: '21512',
      id,
      date: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
      from,
      networkCode: '40410',
    })),
    id,
  });

  return {
    app,
    env: testEnv,
    sentTo,
    exchange: async (phone, text, count = 1) => {
      const before = sentTo(phone).length;
      const posted = await incomingSms(phone, text);
      if (posted.status !== 200) throw new Error(`SMS "${text}" answered ${posted.status}: ${posted.body}`);
      return eventually(`${count} SMS to ${phone} after "${text}"`, async () => {
        const all = sentTo(phone);
        return all.length >= before + count ? all.slice(before, before + count) : undefined;
      });
    },
    at,
    clock,
    baseUrl,
    internalUrl,
    logs,
    postForm,
    incomingSms,
    ussd,
    converse: async (sessionId, phone, answers) => {
      const screens: string[] = [];
      for (let i = 0; i <= answers.length; i++) {
        const reply = await ussd(sessionId, phone, answers.slice(0, i).join('*'));
        if (reply.status !== 200) throw new Error(`hop ${i} answered ${reply.status}: ${reply.body}`);
        screens.push(reply.body);
      }
      return screens;
    },
    close: async () => {
      await app.close();
      if (!options.at) await at.close();
    },
  };
}

/** An empty, migrated database and no Redis keys under `prefix`. */
export async function resetStores(databaseUrl: string, redisUrl: string, prefix: string): Promise<void> {
  await ensureDatabase(databaseUrl);
  const db = createDb(databaseUrl);
  try {
    await migrateLatest(db);
    await truncateAll(db);
  } finally {
    await db.destroy();
  }
  const redis = new Redis(redisUrl);
  try {
    for (const pattern of [`${prefix}:*`, `{${prefix}}:*`]) {
      const keys = await redis.keys(pattern);
      if (keys.length) await redis.del(...keys);
    }
  } finally {
    redis.disconnect();
  }
}

/** Waits until `check` returns a value that is not undefined, or fails with `what`. */
/** What a browser posts to the admin login form (never following the redirect, so its target can be read). */
export interface AdminLoginForm {
  token: string;
  /** The page to return to (the form's hidden field). */
  next?: string;
  /** The X-Forwarded-For a proxy in front would add. */
  forwardedFor?: string;
  /** Other request headers, e.g. x-forwarded-proto. */
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export function postAdminLogin(baseUrl: string, form: AdminLoginForm): Promise<Response> {
  return fetch(`${baseUrl}/admin/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(form.forwardedFor ? { 'x-forwarded-for': form.forwardedFor } : {}), ...form.headers },
    body: new URLSearchParams(form.next === undefined ? { token: form.token } : { token: form.token, next: form.next }).toString(),
    signal: form.signal,
  });
}

export async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
