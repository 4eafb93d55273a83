import type { Server } from 'node:http';
import { join } from 'node:path';
import type { Worker } from 'bullmq';
import Redis from 'ioredis';
import { deploymentValues, loadTemplateBook } from './channels/dlt';
import { CHANNELS } from './channels/registry';
import { SmsRouter } from './channels/routing';
import type { SmsSender } from './contracts/messages';
import type { Config } from './config';
import { createDb, ensureDatabase, migrateLatest, type Db } from './db/knex';
import { citizenBindings } from './dialogue/bindings/citizen';
import { smsBindings } from './dialogue/bindings/sms';
import { mergeBindings, vaccinatorBindings } from './dialogue/bindings/vaccinator';
import { Catalogue } from './dialogue/catalogue';
import { DialogueEngine } from './dialogue/engine';
import { loadFlows } from './dialogue/flow';
import { isSmsFlow, routeInboundSms, selectFlows, SMS_CONVERSATION_TTL_SECONDS, SMS_SCREEN_LIMITS, SmsDialogue } from './dialogue/sms';
import { SealedStore } from './dialogue/sealed-store';
import { UssdDialogue } from './dialogue/ussd';
import { isKnownMobile, languageOf, setLanguage } from './domain/accounts';
import { BookingService, DEFAULT_BOOKING_RULES } from './domain/booking';
import { systemClock, type Clock } from './domain/clock';
import { CodeVault, deriveKey, Sealer } from './domain/codes';
import { CertificateService, CertificateSigner } from './domain/certificates';
import { OutboundService } from './domain/outbound';
import { markTaskDone, relayTaskBatch, requeueLostJobs, requeueStuck } from './domain/outbox';
import { ProgrammeService } from './domain/programme';
import { SmsInbox } from './domain/sms-inbox';
import { VaccinationService } from './domain/vaccination';
import { adminRouter } from './http/admin';
import { adminImportRouter } from './http/admin-import';
import { adminReportsRouter } from './http/admin-reports';
import { ImportService } from './domain/import';
import { certificateRouter } from './http/certificates';
import { devRouter } from './http/dev';
import { createHttpApp } from './http/server';
import { channelWebhooks } from './http/webhooks';
import { createLogger, type Logger } from './logger';
import { createMetrics } from './metrics';
import { jobsExist, jobsInAny, queueConnection } from './queue/connection';
import { OutboxRelay } from './queue/outbox-relay';
import { logRedisErrors } from './queue/redis-errors';
import { createSmsQueue, enqueueSms, smsJobId, smsQueueName, type OutboxRef } from './queue/sms-queue';
import { startSmsWorker } from './queue/sms-worker';
import { createTaskQueue, enqueueTasks, keepScheduled, startTaskWorker, taskJobId } from './queue/task-queue';

export const FLOWS_DIR = join(__dirname, '..', 'flows');

export interface AppOptions {
  clock?: Clock;
  logger?: Logger;
  /** Base delay of the SMS and task retry backoff (tests shorten it). */
  smsRetryBaseMs?: number;
}

/** How often the no-show sweep runs: a session day's end is caught within this time. */
const NO_SHOW_SWEEP_MS = 15 * 60_000;

/**
 * The composition root: builds every part from the configuration. The web server and the worker
 * can run in one process (`npm start`) or apart (`start:web`, `start:worker`).
 */
export async function createApp(config: Config, options: AppOptions = {}) {
  const logger = options.logger ?? createLogger(config.LOG_LEVEL);
  const clock = options.clock ?? systemClock;
  const catalogue = Catalogue.load(FLOWS_DIR);
  // A provider bound by DLT sends only on registered templates: the book is checked against the
  // catalogue before any connection opens, so a refusal leaves nothing behind.
  const dltBound = config.channels.some((channel) => channel.handler.needsTemplates);
  const templates = dltBound && config.DLT_TEMPLATES ? loadTemplateBook(config.DLT_TEMPLATES, catalogue, deploymentValues(config.PUBLIC_BASE_URL)) : undefined;
  await ensureDatabase(config.DATABASE_URL);
  const db: Db = createDb(config.DATABASE_URL);
  await migrateLatest(db);

  // commandTimeout: a frozen Redis (connection open, no answers) must not hold a USSD hop or /health forever.
  const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: 2, lazyConnect: false, commandTimeout: 2000 });
  const bullConnection = queueConnection(config.REDIS_URL);
  logRedisErrors(redis, 'app', logger);
  logRedisErrors(bullConnection, 'queue-connection', logger);
  const codes = new CodeVault(config.CODE_SECRET);
  const sessions = new SealedStore(redis, new Sealer(deriveKey(config.CODE_SECRET, 'session-seal')));
  const rules = { ...DEFAULT_BOOKING_RULES, daysAhead: config.BOOKING_DAYS_AHEAD, minAge: config.PROGRAMME_MIN_AGE, doseIntervalDays: config.DOSE_INTERVAL_DAYS };
  const booking = new BookingService(db, codes, clock, rules);
  const outbound = new OutboundService(db, codes);
  const programme = new ProgrammeService(db, { defaultTimezone: config.TIMEZONE, defaultCountry: config.DEFAULT_COUNTRY, vaccines: Object.keys(config.DOSE_INTERVAL_DAYS), clock });
  const vaccination = new VaccinationService(
    db,
    codes,
    clock,
    {
      maxAttemptsPerAppointment: config.MAX_CODE_ATTEMPTS,
      maxFailuresPerVaccinatorPerHour: config.MAX_VACCINATOR_FAILURES_PER_HOUR,
      maxFailuresPerVaccinatorPerDay: config.MAX_VACCINATOR_FAILURES_PER_DAY,
      maxFailuresPerCentrePerDay: config.MAX_CENTRE_FAILURES_PER_DAY,
      maxFailuresPerMobilePerDay: config.MAX_MOBILE_FAILURES_PER_DAY,
      maxLookupsPerVaccinatorPerHour: config.MAX_VACCINATOR_LOOKUPS_PER_HOUR,
    },
    {
      locked: (count) => metrics.appointmentLocks.inc(count),
      refused: (reason) => metrics.codeAttemptsRefused.inc({ reason }),
    },
  );
  const inbox = new SmsInbox(db, vaccination, {
    defaultCountry: config.DEFAULT_COUNTRY,
    serviceCode: config.USSD_SERVICE_CODE,
    replyLimits: {
      perMinute: config.SMS_REPLIES_PER_MINUTE,
      perDay: config.SMS_REPLIES_PER_DAY,
      vaccinatorPerMinute: config.VACCINATOR_SMS_REPLIES_PER_MINUTE,
      vaccinatorPerDay: config.VACCINATOR_SMS_REPLIES_PER_DAY,
    },
    onReplyDropped: (window) => metrics.smsRepliesDropped.inc({ window }),
  });
  const signer = await CertificateSigner.load({
    privateKeyPem: config.CERT_PRIVATE_KEY?.replace(/\\n/g, '\n'),
    previousPublicKeys: config.CERT_PREVIOUS_PUBLIC_KEYS,
    dataDir: config.DATA_DIR,
    production: config.NODE_ENV === 'production',
  });
  const certificates = new CertificateService(db, signer, clock, { publicBaseUrl: config.PUBLIC_BASE_URL });
  const senderContext = { db, publicBaseUrl: config.PUBLIC_BASE_URL, webhookSecret: config.WEBHOOK_SECRET, templates };
  const router = new SmsRouter(config.routes);
  /** One sender and one queue per provider a route sends through. */
  const smsLanes = config.channels.map((channel) => ({
    sender: channel.handler.createSender(channel.config, senderContext) as SmsSender,
    ratePerSecond: channel.ratePerSecond,
    queue: createSmsQueue(bullConnection, channel.handler.name, {
      prefix: config.REDIS_PREFIX,
      maxAttempts: config.SMS_MAX_ATTEMPTS,
      retryBaseMs: options.smsRetryBaseMs ?? 2000,
    }),
  }));
  const smsQueues = new Map(smsLanes.map((lane) => [lane.sender.name, lane.queue]));
  const templatedProviders = new Set(config.channels.filter((channel) => channel.handler.needsTemplates).map((channel) => channel.handler.name));
  /** A composed conversation screen is no registered template: where the route needs one, SMS conversations are not offered. */
  const conversesBySms = (phone: string) => !templatedProviders.has(router.providerFor(phone));
  /** The queue that sends to this number. */
  const smsQueueFor = (phone: string) => smsQueues.get(router.providerFor(phone))!;
  const metrics = createMetrics(async () => {
    const states = ['waiting', 'active', 'delayed', 'failed'] as const;
    const counts: Record<string, Record<string, number>> = { tasks: await taskQueue.getJobCounts(...states) };
    for (const [name, queue] of smsQueues) counts[smsQueueName(name)] = await queue.getJobCounts(...states);
    return counts;
  });
  const taskQueue = createTaskQueue(bullConnection, { prefix: config.REDIS_PREFIX, maxAttempts: config.SMS_MAX_ATTEMPTS, retryBaseMs: options.smsRetryBaseMs ?? 2000 });
  for (const lane of smsLanes) logRedisErrors(lane.queue, `sms-queue ${lane.sender.name}`, logger);
  logRedisErrors(taskQueue, 'task-queue', logger);

  const accounts = { isKnownMobile: (phone: string) => isKnownMobile(db, phone), setLanguage: (phone: string, language: string) => setLanguage(db, phone, language) };
  const bindings = mergeBindings(
    citizenBindings(booking, accounts, rules.maxMembersPerMobile),
    vaccinatorBindings(vaccination, config.DEFAULT_COUNTRY),
    smsBindings(booking, rules),
  );
  const flows = loadFlows(FLOWS_DIR);
  const engine = new DialogueEngine(selectFlows(flows, (id) => !isSmsFlow(id)), catalogue, bindings, { gsm7: config.USSD_MAX_GSM7, ucs2: config.USSD_MAX_UCS2 });
  const smsEngine = new DialogueEngine(selectFlows(flows, isSmsFlow), catalogue, bindings, SMS_SCREEN_LIMITS, 'sms.too_many_attempts');
  /** A registered vaccinator dialling the service code gets the vaccinator menu. */
  const ussdEntry = async (phone: string) => {
    const [language, vaccinator] = await Promise.all([languageOf(db, phone), vaccination.activeVaccinator(phone)]);
    return vaccinator ? { flow: 'vaccinator', language, vars: { centre: vaccinator.centreName } } : { flow: 'citizen', language };
  };
  const ussd = new UssdDialogue(
    engine,
    catalogue,
    redis,
    ussdEntry,
    { ttlSeconds: config.USSD_SESSION_TTL_SECONDS, resumeSeconds: config.USSD_RESUME_SECONDS, deadlineMs: config.USSD_DEADLINE_MS, keyPrefix: config.REDIS_PREFIX, textKey: deriveKey(config.CODE_SECRET, 'ussd-text'), store: sessions },
    logger,
    () => clock.now(),
  );

  const smsDialogue = new SmsDialogue(
    smsEngine,
    catalogue,
    inbox,
    booking,
    redis,
    { keyPrefix: config.REDIS_PREFIX, ttlSeconds: SMS_CONVERSATION_TTL_SECONDS, serviceCode: config.USSD_SERVICE_CODE, store: sessions, conversesBySms },
    () => clock.now(),
  );
  const inboundSms = routeInboundSms(inbox, smsDialogue);

  const routers = {
    ...channelWebhooks(CHANNELS, { db, ussd, inbox, outbound, logger, webhookSecret: config.WEBHOOK_SECRET, metrics, defaultCountry: config.DEFAULT_COUNTRY }),
    '/admin': adminRouter({ programme, vaccination, adminToken: config.ADMIN_TOKEN }),
    '/admin/import': adminImportRouter({ imports: new ImportService(db, { defaultTimezone: config.TIMEZONE, defaultCountry: config.DEFAULT_COUNTRY, vaccines: Object.keys(config.DOSE_INTERVAL_DAYS), clock }), adminToken: config.ADMIN_TOKEN }),
    '/admin/reports': adminReportsRouter({ db, timezone: config.TIMEZONE, adminToken: config.ADMIN_TOKEN }),
    '/': certificateRouter({ certificates, signer }),
    ...(config.developmentSandbox ? { '/dev': devRouter({ db, defaultCountry: config.DEFAULT_COUNTRY }) } : {}),
  };
  const http = createHttpApp({
    logger,
    metrics,
    routers,
    health: async () => ({
      // The reason goes to the log, not to whoever asks.
      database: await db.raw('SELECT 1').then(
        () => 'ok' as const,
        (e: Error) => (logger.error({ err: e }, 'health: database down'), 'down'),
      ),
      redis: await redis.ping().then(
        () => 'ok' as const,
        (e: Error) => (logger.error({ err: e }, 'health: redis down'), 'down'),
      ),
    }),
  });

  let server: Server | undefined;
  let workers: Worker[] = [];
  let taskWorker: Worker | undefined;
  let relay: OutboxRelay | undefined;
  let stopScheduling: (() => void) | undefined;
  /** Each row to the queue of the provider that sends to its number. */
  const enqueueByRoute = async (rows: (OutboxRef & { phone: string })[]) => {
    const byQueue = new Map<ReturnType<typeof smsQueueFor>, OutboxRef[]>();
    for (const row of rows) {
      const queue = smsQueueFor(row.phone);
      byQueue.set(queue, [...(byQueue.get(queue) ?? []), row]);
    }
    await Promise.all([...byQueue].map(([queue, refs]) => enqueueSms(queue, refs)));
  };
  /** Both sweeps: lost jobs after a minute, jobs stuck in the queue after the long threshold. */
  const sweepOutbox = async () => ({
    lost: await requeueLostJobs(db, clock.now(), config.OUTBOX_MISSING_JOB_AFTER_MS, {
      // In any provider's queue: a job relayed before SMS_ROUTES changed is still a job.
      sms: (keys) => jobsInAny(bullConnection, [...smsQueues.values()], keys.map(smsJobId)),
      tasks: (keys) => jobsExist(bullConnection, taskQueue, keys.map(taskJobId)),
    }),
    stuck: await requeueStuck(db, clock.now(), config.OUTBOX_STUCK_AFTER_MS),
  });

  return {
    config,
    logger,
    clock,
    db,
    redis,
    sessions,
    catalogue,
    booking,
    outbound,
    programme,
    vaccination,
    inbox,
    certificates,
    signer,
    router,
    senders: smsLanes.map((lane) => lane.sender),
    smsQueues,
    smsQueueFor,
    taskQueue,
    http,

    async listen(port = config.PORT): Promise<Server> {
      await new Promise<void>((resolve, reject) => {
        server = http.listen(port, '0.0.0.0', (error?: Error) => (error ? reject(error) : resolve()));
      });
      return server!;
    },

    /** The outbox relay, the SMS worker, the task worker and the scheduled sweeps. */
    async startWorker(): Promise<void> {
      const lanes = [
        (limit: number) => outbound.relayBatch(limit, (rows) => enqueueByRoute(rows)),
        (limit: number) => relayTaskBatch(db, limit, (tasks) => enqueueTasks(taskQueue, tasks)),
      ];
      relay = new OutboxRelay(lanes, logger, { databaseUrl: config.DATABASE_URL, pollMs: 1000, batchSize: 200 });
      await relay.start();
      taskWorker = startTaskWorker(
        bullConnection,
        {
          inbound_sms: (payload) => inboundSms(Number(payload.inboundId)),
          issue_certificate: async (payload) => (await certificates.issue(String(payload.certificateId))).kind,
          mark_no_shows: () => vaccination.markNoShows(),
          requeue_stuck: sweepOutbox,
        },
        { logger, markDone: (taskId) => markTaskDone(db, taskId) },
        { prefix: config.REDIS_PREFIX, concurrency: 8, lockMs: config.QUEUE_LOCK_MS },
      );
      await taskWorker.waitUntilReady();
      stopScheduling = await keepScheduled(taskQueue, bullConnection, { mark_no_shows: NO_SHOW_SWEEP_MS, requeue_stuck: config.OUTBOX_SWEEP_MS }, logger);
      workers = smsLanes.map((lane) =>
        startSmsWorker(
          bullConnection,
          { outbound, provider: lane.sender, catalogue, logger, metrics },
          { prefix: config.REDIS_PREFIX, concurrency: 8, ratePerSecond: lane.ratePerSecond, accountHoldMs: config.SMS_ACCOUNT_HOLD_MS, lockMs: config.QUEUE_LOCK_MS },
        ),
      );
      await Promise.all(workers.map((worker) => worker.waitUntilReady()));
    },

    async close(): Promise<void> {
      if (server) await new Promise<void>((resolve) => server!.close(() => resolve()));
      stopScheduling?.();
      await relay?.stop();
      await Promise.all(workers.map((worker) => worker.close()));
      await taskWorker?.close();
      await Promise.all(smsLanes.map((lane) => lane.queue.close()));
      await taskQueue.close();
      bullConnection.disconnect();
      redis.disconnect();
      await db.destroy();
    },
  };
}

export type App = Awaited<ReturnType<typeof createApp>>;
