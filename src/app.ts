import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import type { Queue, Worker } from 'bullmq';
import Redis from 'ioredis';
import { deploymentValues, loadTemplateBook } from './channels/dlt';
import { CHANNELS } from './channels/registry';
import { SmsRouter } from './channels/routing';
import type { SmsSender } from './contracts/messages';
import type { Config } from './config';
import { assertSchemaCurrent, createDb, pendingMigrations, type Db } from './db/knex';
import { citizenBindings } from './dialogue/bindings/citizen';
import { smsBindings } from './dialogue/bindings/sms';
import { mergeBindings, vaccinatorBindings } from './dialogue/bindings/vaccinator';
import { Catalogue } from './dialogue/catalogue';
import { DialogueEngine } from './dialogue/engine';
import { loadFlows } from './dialogue/flow';
import { isSmsFlow, routeInboundSms, selectFlows, SMS_CONVERSATION_TTL_SECONDS, SMS_SCREEN_LIMITS, SmsDialogue } from './dialogue/sms';
import { SealedStore } from './dialogue/sealed-store';
import { UssdDialogue, type UssdEntry } from './dialogue/ussd';
import { callerFacts, isKnownMobile, setLanguage } from './domain/accounts';
import { BookingService, DEFAULT_BOOKING_RULES } from './domain/booking';
import { systemClock, type Clock } from './domain/clock';
import { CodeVault, deriveKey, Sealer } from './domain/codes';
import { CertificateService, CertificateSigner } from './domain/certificates';
import { OutboundService } from './domain/outbound';
import { markTaskDone, relayTaskBatch, requeueLostJobs, requeueStuck, unrelayedOutbox } from './domain/outbox';
import { ProgrammeService } from './domain/programme';
import { purgeExpired, retentionPeriods, retentionCounts } from './domain/retention';
import { SmsInbox } from './domain/sms-inbox';
import { VaccinationService } from './domain/vaccination';
import { adminRouter } from './http/admin';
import { AdminAuth, LoginAttempts } from './http/admin-auth';
import { parseTrustProxy } from './http/trust-proxy';
import { ImportService } from './domain/import';
import { certificateRouter } from './http/certificates';
import { devRouter } from './http/dev';
import { simulatorMounts, simulatorRoutes } from './http/simulator';
import { opsRouter, type OpsParts } from './http/ops';
import { queueDashboard } from './http/queue-dashboard';
import { createHttpApp } from './http/server';
import { channelWebhooks } from './http/webhooks';
import { createLogger, type Logger } from './logger';
import { createMetrics } from './metrics';
import { jobsExist, jobsInAny, queueConnection } from './queue/connection';
import { queueBacklog } from './queue/backlog';
import { OutboxRelay } from './queue/outbox-relay';
import { logRedisErrors } from './queue/redis-errors';
import { createSmsQueue, enqueueSms, smsJobId, smsQueueName, type OutboxRef } from './queue/sms-queue';
import { startSmsWorker } from './queue/sms-worker';
import { simulatorScript } from './simulator/bundle';
import { simulatorSettings } from './simulator/settings';
import { SandboxSmsFeed } from './simulator/sms-feed';
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
/** How often the retention purge runs; one run stops starting batches after RETENTION_BUDGET_MS. */
const RETENTION_SWEEP_MS = 60 * 60_000;
const RETENTION_BUDGET_MS = 5 * 60_000;
/** A readiness check that has not answered in this time counts as failed. */
const READINESS_CHECK_MS = 2000;

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
  const db: Db = createDb(config.DATABASE_URL, { max: config.DB_POOL_MAX });
  // Migrations are a step of their own (`npm run migrate`), run once per deployment, not by each process.
  await assertSchemaCurrent(db).catch(async (error: Error) => {
    await db.destroy();
    throw error;
  });

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
  /** Only a process running the worker exports the queues and the outbox: N web processes would multiply them. */
  let exportsBacklog = false;
  const metrics = createMetrics(async () => {
    if (!exportsBacklog) return undefined;
    try {
      const [queues, outbox] = await Promise.all([queueBacklog(namedQueues(), Date.now()), unrelayedOutbox(db)]);
      return { ...queues, outbox };
    } catch (error) {
      logger.error({ err: error }, 'metrics: cannot read the queue and outbox backlog');
      return undefined;
    }
  });
  const taskQueue = createTaskQueue(bullConnection, { prefix: config.REDIS_PREFIX, maxAttempts: config.SMS_MAX_ATTEMPTS, retryBaseMs: options.smsRetryBaseMs ?? 2000 });
  /** Every queue by its name in Redis: `sms-<provider>` per routed provider, and `tasks`. */
  const namedQueues = () => new Map<string, Queue>([...[...smsQueues].map(([name, queue]) => [smsQueueName(name), queue] as const), ['tasks', taskQueue]]);
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
  const ussdEntry = async (phone: string): Promise<UssdEntry> => {
    const caller = await callerFacts(db, phone);
    return caller.vaccinatorCentre
      ? { flow: 'vaccinator', language: caller.language, vars: { centre: caller.vaccinatorCentre } }
      : { flow: 'citizen', language: caller.language, vars: { knownMobile: caller.known ? 'yes' : 'no' } };
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

  let stopping = false;
  /** Between startWorker's call and its end: a worker process is not ready (nor exporting its queues) before. */
  let workerStarting = false;
  const adminAuth = new AdminAuth(config.ADMIN_TOKEN);
  const login = { auth: adminAuth, attempts: new LoginAttempts(redis, config.REDIS_PREFIX) };
  const dashboard = queueDashboard([...namedQueues().values()]);
  const opsParts: Omit<OpsParts, 'serveMetrics' | 'login' | 'dashboard'> = {
    logger,
    metrics,
    checkTimeoutMs: READINESS_CHECK_MS,
    stopping: () => stopping,
    readiness: {
      database: async () => void (await db.raw('SELECT 1')),
      redis: async () => void (await redis.ping()),
      ...Object.fromEntries([...namedQueues()].map(([name, queue]) => [`queue ${name}`, async () => void (await queue.getJobCounts('wait'))])),
      worker: async () => (workerStarting ? 'starting the outbox relay and the queue workers' : undefined),
      schema: async () => {
        const pending = await pendingMigrations(db);
        return pending.length ? `${pending.length} migration(s) not run: ${pending.join(', ')}` : undefined;
      },
    },
  };
  /** With METRICS_HOST set, /metrics and the dashboard are on the internal address only (the login form on both). */
  const internalOnly = Boolean(config.METRICS_HOST);
  const webhooks = channelWebhooks(CHANNELS, { db, ussd, inbox, outbound, logger, webhookSecret: config.WEBHOOK_SECRET, metrics, defaultCountry: config.DEFAULT_COUNTRY });
  const simulator = simulatorRoutes({
    settings: () =>
      simulatorSettings({ ...config, sandboxOnly: config.channels.every((channel) => channel.handler.local === true) }, programme),
    feed: new SandboxSmsFeed(db, config.DATABASE_URL, (error) => logger.warn({ err: error }, 'simulator: sandbox message listener')),
    script: simulatorScript(),
    defaultCountry: config.DEFAULT_COUNTRY,
    logger,
  });
  const routers = {
    // Before /admin: in production the page lives at /admin/simulator, behind the admin login.
    ...simulatorMounts(simulator.router, { open: config.developmentSandbox, auth: adminAuth }),
    '/admin': adminRouter({
      programme,
      vaccination,
      imports: new ImportService(db, { defaultTimezone: config.TIMEZONE, defaultCountry: config.DEFAULT_COUNTRY, vaccines: Object.keys(config.DOSE_INTERVAL_DAYS), clock }),
      reports: { db, timezone: config.TIMEZONE },
      adminToken: config.ADMIN_TOKEN,
    }),
    '/': certificateRouter({ certificates, signer }),
    ...(config.developmentSandbox ? { '/dev': devRouter({ db, defaultCountry: config.DEFAULT_COUNTRY }) } : {}),
  };
  const trustProxy = parseTrustProxy(config.TRUST_PROXY);
  const http = createHttpApp({
    trustProxy,
    logger,
    metrics,
    webhooks,
    routers,
    // The login form on the public port always: /admin/docs (and the simulator outside a development sandbox) send browsers to it.
    ops: opsRouter({ ...opsParts, serveMetrics: !internalOnly, login, ...(internalOnly ? {} : { dashboard }) }),
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
  let internalServer: Server | undefined;
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
  /** Counts only reach the log ('task done'): never a body or a phone number. */
  const purgeRetention = async () => {
    const report = await purgeExpired(db, clock.now(), retentionPeriods(config), { batchSize: config.RETENTION_BATCH_SIZE, budgetMs: RETENTION_BUDGET_MS });
    return { complete: report.complete, ...retentionCounts(report) };
  };

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
      server = await listenOn(http, port, '0.0.0.0');
      return server;
    },

    /**
     * The internal port: /metrics, /healthz, /readyz, and with `dashboard` the admin login and the
     * queue dashboard. A worker-only process serves it without the dashboard.
     */
    async listenInternal(port: number, host: string, withDashboard: boolean): Promise<Server> {
      const internal = createHttpApp({ trustProxy, logger, metrics, routers: {}, ops: opsRouter({ ...opsParts, serveMetrics: true, ...(withDashboard ? { login, dashboard } : {}) }) });
      internalServer = await listenOn(internal, port, host);
      return internalServer;
    },

    /** The outbox relay, the SMS worker, the task worker and the scheduled sweeps. */
    async startWorker(): Promise<void> {
      workerStarting = true;
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
          purge_retention: purgeRetention,
        },
        { logger, markDone: (taskId) => markTaskDone(db, taskId) },
        { prefix: config.REDIS_PREFIX, concurrency: 8, lockMs: config.QUEUE_LOCK_MS },
      );
      await taskWorker.waitUntilReady();
      stopScheduling = await keepScheduled(taskQueue, bullConnection, { mark_no_shows: NO_SHOW_SWEEP_MS, requeue_stuck: config.OUTBOX_SWEEP_MS, purge_retention: RETENTION_SWEEP_MS }, logger);
      workers = smsLanes.map((lane) =>
        startSmsWorker(
          bullConnection,
          { outbound, provider: lane.sender, catalogue, logger, metrics },
          { prefix: config.REDIS_PREFIX, concurrency: config.SMS_SEND_CONCURRENCY, ratePerSecond: lane.ratePerSecond, accountHoldMs: config.SMS_ACCOUNT_HOLD_MS, lockMs: config.QUEUE_LOCK_MS },
        ),
      );
      await Promise.all(workers.map((worker) => worker.waitUntilReady()));
      exportsBacklog = true;
      workerStarting = false;
    },

    /**
     * Stops taking requests and jobs, lets those in flight finish (at most `timeoutMs`, then they are
     * cut off and the answer is false), then closes the queues and connections.
     */
    async close(timeoutMs = config.SHUTDOWN_TIMEOUT_MS): Promise<boolean> {
      stopping = true;
      // Open event streams would hold the server open until the timeout.
      const simulatorClosed = simulator.close();
      const servers = [server, internalServer].filter((s): s is Server => s !== undefined);
      const serversClosed = servers.map(stopServing);
      stopScheduling?.();
      const drained = Promise.all([
        ...serversClosed,
        relay?.stop(),
        // BullMQ's close waits for the jobs in progress.
        ...workers.map((worker) => worker.close()),
        taskWorker?.close(),
      ]).then(() => true);
      let timer: NodeJS.Timeout | undefined;
      const finished = await Promise.race([drained, new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)))]);
      clearTimeout(timer);
      if (!finished) {
        logger.error({ timeoutMs }, 'shutdown: requests or jobs still in progress after SHUTDOWN_TIMEOUT_MS; cutting them off');
        for (const s of servers) s.closeAllConnections();
        await Promise.all([...workers, ...(taskWorker ? [taskWorker] : [])].map((worker) => worker.close(true).catch(() => undefined)));
      }
      await Promise.all(smsLanes.map((lane) => lane.queue.close()));
      await taskQueue.close();
      await simulatorClosed;
      bullConnection.disconnect();
      redis.disconnect();
      await db.destroy();
      return finished;
    },
  };
}

/**
 * Stops listening at once; answers in flight are finished. A kept-alive connection is closed as soon
 * as it is idle (after its answer), not after the keep-alive timeout.
 */
function stopServing(server: Server): Promise<void> {
  return new Promise<void>((resolve) => {
    const idleSweep = setInterval(() => server.closeIdleConnections(), 50);
    server.close(() => {
      clearInterval(idleSweep);
      resolve();
    });
  });
}

function listenOn(app: ReturnType<typeof createHttpApp>, port: number, host: string): Promise<Server> {
  return new Promise<Server>((resolve, reject) => {
    const server = createServer(app);
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

export type App = Awaited<ReturnType<typeof createApp>>;
