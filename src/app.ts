import type { Server } from 'node:http';
import { join } from 'node:path';
import type { Worker } from 'bullmq';
import Redis from 'ioredis';
import { createSmsProvider } from './channels';
import type { SmsProvider } from './channels/types';
import type { Config } from './config';
import { createDb, ensureDatabase, migrateLatest, type Db } from './db/knex';
import { citizenBindings } from './dialogue/bindings/citizen';
import { Catalogue } from './dialogue/catalogue';
import { DialogueEngine } from './dialogue/engine';
import { loadFlows } from './dialogue/flow';
import { UssdDialogue } from './dialogue/ussd';
import { languageOf } from './domain/accounts';
import { BookingService, DEFAULT_BOOKING_RULES } from './domain/booking';
import { systemClock, type Clock } from './domain/clock';
import { CodeVault } from './domain/codes';
import { OutboundService } from './domain/outbound';
import { ProgrammeService } from './domain/programme';
import { adminRouter } from './http/admin';
import { devRouter } from './http/dev';
import { createHttpApp } from './http/server';
import { africasTalkingWebhooks } from './http/webhooks/africastalking';
import { createLogger, type Logger } from './logger';
import { createMetrics } from './metrics';
import { queueConnection } from './queue/connection';
import { OutboxRelay } from './queue/outbox-relay';
import { createSmsQueue } from './queue/sms-queue';
import { startSmsWorker } from './queue/sms-worker';

export const FLOWS_DIR = join(__dirname, '..', 'flows');

export interface AppOptions {
  clock?: Clock;
  logger?: Logger;
  provider?: SmsProvider;
  /** Base delay of the SMS retry backoff (tests shorten it). */
  smsRetryBaseMs?: number;
}

/**
 * The composition root: builds every part from the configuration. The web server and the worker
 * can run in one process (`npm start`) or apart (`start:web`, `start:worker`).
 */
export async function createApp(config: Config, options: AppOptions = {}) {
  const logger = options.logger ?? createLogger(config.LOG_LEVEL);
  const clock = options.clock ?? systemClock;
  await ensureDatabase(config.DATABASE_URL);
  const db: Db = createDb(config.DATABASE_URL);
  await migrateLatest(db);

  const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: 2, lazyConnect: false });
  const bullConnection = queueConnection(config.REDIS_URL);
  const codes = new CodeVault(config.CODE_SECRET);
  const catalogue = Catalogue.load(FLOWS_DIR);
  const rules = { ...DEFAULT_BOOKING_RULES, daysAhead: config.BOOKING_DAYS_AHEAD };
  const booking = new BookingService(db, codes, clock, rules);
  const outbound = new OutboundService(db, codes);
  const programme = new ProgrammeService(db, { defaultTimezone: config.TIMEZONE, defaultCountry: config.DEFAULT_COUNTRY });
  const provider = options.provider ?? createSmsProvider(config, db);
  const metrics = createMetrics();
  const smsQueue = createSmsQueue(bullConnection, {
    prefix: config.REDIS_PREFIX,
    maxAttempts: config.SMS_MAX_ATTEMPTS,
    retryBaseMs: options.smsRetryBaseMs ?? 2000,
  });

  const engine = new DialogueEngine(loadFlows(FLOWS_DIR), catalogue, citizenBindings(booking, rules.maxMembersPerMobile), {
    gsm7: config.USSD_MAX_GSM7,
    ucs2: config.USSD_MAX_UCS2,
  });
  const ussd = new UssdDialogue(
    engine,
    catalogue,
    redis,
    async (phone) => ({ flow: 'citizen', language: await languageOf(db, phone) }),
    { ttlSeconds: config.USSD_SESSION_TTL_SECONDS, deadlineMs: config.USSD_DEADLINE_MS, keyPrefix: config.REDIS_PREFIX },
    logger,
    () => clock.now(),
  );

  const routers = {
    '/webhooks/africastalking': africasTalkingWebhooks({ db, ussd, webhookSecret: config.WEBHOOK_SECRET, metrics }),
    '/admin': adminRouter({ programme, adminToken: config.ADMIN_TOKEN }),
    ...(config.NODE_ENV === 'production' ? {} : { '/dev': devRouter({ db, defaultCountry: config.DEFAULT_COUNTRY }) }),
  };
  const http = createHttpApp({
    logger,
    metrics,
    routers,
    health: async () => ({
      database: await db.raw('SELECT 1').then(() => 'ok' as const, (e: Error) => e.message),
      redis: await redis.ping().then(() => 'ok' as const, (e: Error) => e.message),
    }),
  });

  let server: Server | undefined;
  let worker: Worker | undefined;
  let relay: OutboxRelay | undefined;

  return {
    config,
    logger,
    clock,
    db,
    redis,
    catalogue,
    booking,
    outbound,
    programme,
    provider,
    smsQueue,
    http,

    async listen(port = config.PORT): Promise<Server> {
      await new Promise<void>((resolve, reject) => {
        server = http.listen(port, '0.0.0.0', (error?: Error) => (error ? reject(error) : resolve()));
      });
      return server!;
    },

    /** The outbox relay and the SMS worker. */
    async startWorker(): Promise<void> {
      relay = new OutboxRelay(outbound, smsQueue, logger, { databaseUrl: config.DATABASE_URL, pollMs: 1000, batchSize: 200 });
      await relay.start();
      worker = startSmsWorker(
        bullConnection,
        { outbound, provider, catalogue, logger },
        { prefix: config.REDIS_PREFIX, concurrency: 8, ratePerSecond: config.SMS_SEND_RATE_PER_SECOND, accountHoldMs: 60_000 },
      );
      await worker.waitUntilReady();
    },

    async close(): Promise<void> {
      if (server) await new Promise<void>((resolve) => server!.close(() => resolve()));
      await relay?.stop();
      await worker?.close();
      await smsQueue.close();
      bullConnection.disconnect();
      redis.disconnect();
      await db.destroy();
    },
  };
}

export type App = Awaited<ReturnType<typeof createApp>>;
