/**
 * Scale-out bench (issue 11, part 5): `npm run bench:scale -- --web 2 --workers 2`, and the last step
 * of `npm run bench`. See bench/README.md, "Scale-out".
 *
 * N web processes (dist/src/web.js) and M worker processes (dist/src/worker.js), compiled as
 * production runs them (`npm run build` first), each an OS process of its own on one database
 * (`tika_bench_scale`) and one Redis prefix (`tikabenchscale`), behind a round-robin proxy of
 * their own (bench/proxy.ts); the load generator (bench/load.ts) is a process too. This process
 * only seeds and reads. Through the proxy, with Africa's Talking USSD hops:
 *   1. the first hop of a known mobile and a mid-conversation hop, behind 1, then 2 … N web processes;
 *   2. bookings by the confirming hop into a large session, the code SMS sent by the M workers;
 *   3. the contention run: BENCH_SCALE_CALLERS callers (distinct mobiles, each at the confirm screen)
 *      confirm at once into one session of BENCH_SCALE_SEATS seats: exactly that many appointments,
 *      `booked` equal to it, and exactly one code SMS per appointment at the sandbox provider;
 *   4. the scheduled sweeps: every run of each schedule executed by one worker once (the workers'
 *      own 'task done' log lines against BullMQ's completed jobs of each scheduler).
 * CPU seconds of every process (web, workers, proxy, this database's PostgreSQL backends, the Redis
 * server) are read from /proc around each step, for the capacity estimate. Exits 1 on a broken
 * invariant, never on a figure.
 *
 * Tunables (environment): BENCH_DURATION (s per timed first-hop run, 10), BENCH_CONNECTIONS (50),
 * BENCH_SCALE_CALLERS (2000), BENCH_SCALE_SEATS (100), BENCH_SCALE_BOOKERS (1000),
 * BENCH_SCALE_DATABASE_URL, BENCH_SCALE_REDIS_PREFIX, BENCH_SCALE_BUILD=0 (use the dist/ already built).
 */
import { execSync, fork, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type Redis from 'ioredis';
import { createApp, type App } from '../src/app';
import { loadConfig } from '../src/config';
import { setLanguage } from '../src/domain/accounts';
import { addDays, dayIn } from '../src/domain/dates';
import { UNIQUE_TOKEN, type LoadJob, type LoadOutcome } from './load';
import type { ProxyMessage, ProxyReply } from './proxy';
import { inParallel, intEnv, until } from './parts';
import { cpuMsOf, deleteRedisKeys, freePort, gitDescribe, hop, loaderClient, post, resetStores, serviceVersions, stopChild, stopLoader } from './ussd';

const ROOT = join(__dirname, '..');
// Beside the bench's own database and prefix (BENCH_DATABASE_URL, BENCH_REDIS_PREFIX) when those are moved.
const DATABASE_URL = process.env.BENCH_SCALE_DATABASE_URL ?? `${process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/tika_bench'}_scale`;
const REDIS_URL = 'redis://127.0.0.1:6379';
const REDIS_PREFIX = process.env.BENCH_SCALE_REDIS_PREFIX ?? `${process.env.BENCH_REDIS_PREFIX ?? 'tikabench'}scale`;
const WEBHOOK_SECRET = 'bench-webhook-secret-0123456789';
const SERVICE_CODE = '*384*1234#';
const PINCODE = '110003';
/** This process's own connections are named, so that the PostgreSQL CPU counted is the children's only. */
const OWN_APPLICATION_NAME = 'tika-bench-scale-out';
/** The outbox sweep's period for this run (OUTBOX_SWEEP_MS): several runs within the bench. */
const SWEEP_MS = 1000;
/** The sweeps every worker schedules (src/app.ts startWorker); only requeue_stuck's period is configurable. */
const SWEEPS = ['requeue_stuck', 'mark_no_shows', 'purge_retention'] as const;

const DURATION_SEC = intEnv('BENCH_DURATION', 10);
const CONNECTIONS = intEnv('BENCH_CONNECTIONS', 50);
const CALLERS = intEnv('BENCH_SCALE_CALLERS', 2000);
const SEATS = intEnv('BENCH_SCALE_SEATS', 100);
const BOOKERS = intEnv('BENCH_SCALE_BOOKERS', 1000);
const KNOWN_PHONES = 1000;
/** Seats of the session the bookers take: screens show free seats in 4 digits. */
const BOOKER_SEATS = 9000;

/** CoWIN, 28 April 2021, 4–7 pm (issue 11). */
const PEAK = { registrationsPerSecond: 740, apiHitsPerMinute: 2_700_000 } as const;

const log = (message: string) => process.stderr.write(`[scale-out] ${message}\n`);
const phone = (series: string, i: number) => `+91${series}${String(i).padStart(6, '0')}`;

export interface ScaleOutOptions {
  web: number;
  workers: number;
}

interface Proc {
  role: 'web' | 'worker' | 'proxy';
  name: string;
  process: ChildProcess;
  origin?: string;
  /** Lines the process wrote (pino JSON for web and worker), parsed. */
  lines: Record<string, unknown>[];
}

/** CPU seconds by role, over one step. */
type CpuBy = Record<'web' | 'workers' | 'proxy' | 'postgres' | 'redis', number>;

interface Step {
  name: string;
  webProcesses?: number;
  ops: number;
  unit: string;
  seconds: number;
  /** The step's wall time, over which its CPU was read (for the bookings: until the code SMS are drained). */
  wallSeconds: number;
  rate: number;
  p50?: number;
  p99?: number;
  cpu: CpuBy;
  note?: string;
}

/** Runs the scale-out bench, prints its tables, writes bench/results/scale-out.json; returns the broken invariants. */
export async function runScaleOut(options: ScaleOutOptions): Promise<string[]> {
  const failures: string[] = [];
  const steps: Step[] = [];
  const raw: Record<string, unknown> = {};
  const started = Date.now();
  const runtime = buildOrFallBack();
  log(`${options.web} web + ${options.workers} worker processes (${runtime.label}); database ${DATABASE_URL.replace(/.*\//, '')}, prefix ${REDIS_PREFIX}`);
  await resetStores(DATABASE_URL, REDIS_PREFIX);

  const configEnv: Record<string, string> = {
    NODE_ENV: 'development',
    DATABASE_URL,
    REDIS_URL,
    REDIS_PREFIX,
    SMS_PROVIDER: 'sandbox',
    // Production's level: a worker logs each SMS sent and each task done (the sweep check reads them).
    LOG_LEVEL: 'info',
    WEBHOOK_SECRET,
    USSD_SERVICE_CODE: SERVICE_CODE,
    SMS_SEND_RATE_PER_SECOND: '10000',
    OUTBOX_SWEEP_MS: String(SWEEP_MS),
    DATA_DIR: join(tmpdir(), 'tika-bench-scale-data'),
  };
  let app: App | undefined;
  const procs: Proc[] = [];
  let proxy: Proc | undefined;
  let loader: ChildProcess | undefined;
  try {
    // This process seeds and reads; it runs no worker. Created first: it writes the certificate key the children then read.
    const ownUrl = `${DATABASE_URL}${DATABASE_URL.includes('?') ? '&' : '?'}application_name=${OWN_APPLICATION_NAME}`;
    app = await createApp(loadConfig({ ...configEnv, DATABASE_URL: ownUrl, LOG_LEVEL: 'silent' }));
    log(`seeding ${CALLERS} callers, ${BOOKERS} bookers, ${KNOWN_PHONES} known mobiles`);
    const seed = await seedData(app);

    // Workers one after another, the second once the first has run its first sweeps: a worker that
    // joins later (scaling out) must not run a schedule's period again.
    const workerStartedAt = Date.now();
    for (let i = 0; i < options.workers; i++) {
      procs.push(await startProcess('worker', `worker ${i + 1}`, runtime, configEnv));
      if (i + 1 < options.workers) await sleep(1500);
    }
    const webs: Proc[] = [];
    for (let i = 0; i < options.web; i++) webs.push(await startProcess('web', `web ${i + 1}`, runtime, configEnv));
    procs.push(...webs);
    proxy = await startProxy();
    const proxyClient = proxyControl(proxy.process);
    const url = `${proxy.origin}/webhooks/africastalking/ussd?key=${WEBHOOK_SECRET}`;
    loader = fork(join(__dirname, 'load.ts'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const load = loaderClient(loader);

    const screen = (key: string) => app!.catalogue.render('en', key);
    const expectMenu = { prefix: 'CON ', includes: screen('menu.title') };
    const done = app.catalogue.render('en', 'book.done', { memberName: 'MEMBER', centre: '', day: '', time: '', ref: '' });
    const expectBooked = { prefix: `END ${done.slice(0, done.indexOf('MEMBER'))}` };
    const expectFull = { prefix: 'CON ', includes: screen('book.full') };
    // A hop over USSD_DEADLINE_MS is answered this screen (the booking may still commit): an answer, counted, not a failure.
    const expectTooSlow = { prefix: `END ${screen('error.timeout')}` };

    await proxyClient(webs.slice(0, 1).map((w) => w.origin!));
    const probe = await post(url, hop(`probe_${Date.now()}`, seed.knownPhones[0]!, ''));
    if (probe.status !== 200 || !probe.body.includes(expectMenu.includes)) throw new Error(`first hop probe through the proxy answered ${probe.status}: ${probe.body}`);

    // Warm-up, not measured: every web process compiles its hot paths before the first timed step.
    await proxyClient(webs.map((w) => w.origin!));
    log('warm-up: 2 s of first hops through every web process');
    await load({ name: 'warm-up', connections: CONNECTIONS, url, bodies: seed.knownPhones.map((p) => hop(`ATUid_warm_${UNIQUE_TOKEN}`, p, '')), durationSec: 2, expect: expectMenu });
    await proxyClient(webs.slice(0, 1).map((w) => w.origin!));

    const redis = app.redis;
    /** A step that is not HTTP load: its CPU, and its rate over `ops`. */
    const cpuStep = async (name: string, ops: number, unit: string, work: () => Promise<void>) => {
      log(name);
      const before = await cpuSnapshot(procs, proxy!, app!, redis);
      const t0 = Date.now();
      await work();
      const seconds = (Date.now() - t0) / 1000;
      steps.push({ name, ops, unit, seconds, wallSeconds: seconds, rate: ops / seconds, cpu: cpuDelta(before, await cpuSnapshot(procs, proxy!, app!, redis)) });
    };
    const measure = async (name: string, job: Omit<LoadJob, 'name' | 'connections' | 'url'>, extra: Partial<Step> = {}, until?: () => Promise<void>): Promise<LoadOutcome> => {
      log(`${name}: ${job.amount ? `${job.amount} requests` : `${job.durationSec} s`}, ${CONNECTIONS} connections`);
      const before = await cpuSnapshot(procs, proxy!, app!, redis);
      const t0 = Date.now();
      const outcome = await load({ name, connections: CONNECTIONS, url, ...job });
      if (until) await until();
      const seconds = (Date.now() - t0) / 1000;
      const cpu = cpuDelta(before, await cpuSnapshot(procs, proxy!, app!, redis));
      raw[name] = outcome;
      steps.push({ name, ops: outcome.responses, unit: 'req', seconds: outcome.seconds, rate: outcome.rps, p50: outcome.latencyMs.p50, p99: outcome.latencyMs.p99, cpu, wallSeconds: seconds, ...extra });
      if (outcome.errors + outcome.timeouts + outcome.non2xx + outcome.bad > 0) {
        failures.push(`${name}: ${outcome.errors} errors, ${outcome.timeouts} timeouts, ${outcome.non2xx} non-2xx, ${outcome.bad} wrong bodies ${JSON.stringify(outcome.badSamples)}`);
      }
      if (outcome.checked === 0) failures.push(`${name}: no response was checked`);
      return outcome;
    };

    // 1. Throughput behind 1 … N web processes, through the same proxy. Each N has its own group of
    // mid-conversation callers, so that every mid hop is a hop its session has not seen.
    const everyone = [...seed.callers.map((p) => ({ phone: p, date: 1 })), ...seed.bookers.map((p) => ({ phone: p, date: 2 }))].map((c, i) => ({ ...c, sessionId: `ATUid_scale_${Date.now().toString(36)}_${i}` }));
    const groups = Array.from({ length: options.web }, (_, g) => everyone.filter((_c, i) => i % options.web === g));
    for (let k = 1; k <= options.web; k++) {
      await proxyClient(webs.slice(0, k).map((w) => w.origin!));
      await measure(`first hop, known mobile (${k} web)`, { bodies: seed.knownPhones.map((p) => hop(`ATUid_known_${UNIQUE_TOKEN}`, p, '')), durationSec: DURATION_SEC, expect: expectMenu }, { webProcesses: k, note: 'new sessionId per request' });
      const group = groups[k - 1]!;
      await measure(`dial (setup, ${k} web)`, { bodies: group.map((c) => hop(c.sessionId, c.phone, '')), amount: group.length, expect: expectMenu }, { webProcesses: k });
      await measure(`mid-conversation hop: member list (${k} web)`, { bodies: group.map((c) => hop(c.sessionId, c.phone, '1')), amount: group.length, expect: { prefix: 'CON ', includes: screen('member.choose') } }, { webProcesses: k, note: `${group.length} sessions, once each` });
    }

    // 2. Everyone to the confirm screen, through all N web processes.
    await proxyClient(webs.map((w) => w.origin!));
    const wave = (who: typeof everyone, text: (c: (typeof everyone)[0]) => string) => ({ bodies: who.map((c) => hop(c.sessionId, c.phone, text(c))), amount: who.length });
    await measure('PIN prompt (setup)', { ...wave(everyone, () => '1*1'), expect: { prefix: 'CON ', includes: screen('book.pincode') } });
    await measure('centre list (setup)', { ...wave(everyone, () => `1*1*${PINCODE}`), expect: { prefix: 'CON ', includes: screen('book.choose_centre') } });
    await measure('date list (setup)', { ...wave(everyone, () => `1*1*${PINCODE}*1`), expect: { prefix: 'CON ', includes: screen('book.choose_session') } });
    await measure('confirm screen (setup)', { ...wave(everyone, (c) => `1*1*${PINCODE}*1*${c.date}`), expect: { prefix: 'CON ', includes: screen('book.confirm_yes') } });

    // 3. Bookings that all succeed (a large session), half with the workers sending as they come (one
    // SMS at a time), half with the SMS queue paused and then drained (a backlog): costs per booking and per SMS.
    const bookers = everyone.filter((c) => c.date === 2);
    const callers = everyone.filter((c) => c.date === 1);
    const [liveBookers, backlogBookers] = [bookers.filter((_c, i) => i % 2 === 0), bookers.filter((_c, i) => i % 2 === 1)];
    const bookedOf = async (who: typeof bookers) => Number((await app!.db('appointments as ap').join('beneficiaries as b', 'b.id', 'ap.beneficiary_id').join('accounts as a', 'a.id', 'b.account_id').where('ap.session_id', seed.bookerSessionId).whereIn('a.phone', who.map((c) => c.phone)).count({ n: '*' }))[0]!.n);
    const liveRun = await measure(
      'bookings: confirming hop, SMS live',
      { ...wave(liveBookers, () => `1*1*${PINCODE}*1*2*1`), expect: [expectBooked, expectTooSlow] },
      { webProcesses: options.web, note: `${liveBookers.length} bookings into a ${BOOKER_SEATS}-seat session; CPU until every code SMS is at the sandbox` },
      async () => {
        if (!(await waitForSmsCount(app!, liveBookers.map((c) => c.phone), await bookedOf(liveBookers), 120_000))) failures.push('bookings (live): not every code SMS reached the sandbox within 120 s');
      },
    );
    const smsQueue = app.smsQueues.get('sandbox')!;
    await smsQueue.pause();
    let backlogRun: LoadOutcome;
    try {
      backlogRun = await measure(
        'bookings: confirming hop, SMS queue paused',
        { ...wave(backlogBookers, () => `1*1*${PINCODE}*1*2*1`), expect: [expectBooked, expectTooSlow] },
        { webProcesses: options.web, note: `${backlogBookers.length} bookings; CPU until every outbox row is relayed into the paused queue` },
        async () => {
          if (!(await until(async () => Number((await app!.db('outbound_messages').whereNull('relayed_at').count({ n: '*' }))[0]!.n) === 0, 60_000))) failures.push('bookings (backlog): the relay did not move every outbox row within 60 s');
        },
      );
    } finally {
      await smsQueue.resume();
    }
    const backlogBooked = await bookedOf(backlogBookers);
    await cpuStep('bookings: code SMS drain, queue resumed', backlogBooked, 'sms', async () => {
      if (!(await waitForSmsCount(app!, backlogBookers.map((c) => c.phone), backlogBooked, 120_000))) failures.push('bookings (backlog): not every code SMS reached the sandbox within 120 s');
    });
    const bookersToldBooked = (liveRun.matched[0] ?? 0) + (backlogRun.matched[0] ?? 0);
    raw.bookingReplies = { booked: bookersToldBooked, overDeadline: (liveRun.matched[1] ?? 0) + (backlogRun.matched[1] ?? 0) };

    // 4. The contention run: every caller confirms at once into the same session.
    const contention = await measure(
      'contention: confirming hop, one session',
      { ...wave(callers, () => `1*1*${PINCODE}*1*1*1`), expect: [expectBooked, expectFull, expectTooSlow] },
      { webProcesses: options.web, note: `${callers.length} callers, ${SEATS} seats` },
    );
    const [toldBooked = 0, toldFull = 0, overDeadline = 0] = contention.matched;
    raw.contentionReplies = { booked: toldBooked, full: toldFull, overDeadline };
    // Every caller told "Booked" holds a seat, and every caller not told so, but for those over the deadline, was told it is full.
    if (toldBooked > SEATS || toldBooked + overDeadline < SEATS) failures.push(`contention: ${toldBooked} callers were told "Booked" (${overDeadline} over the deadline) for ${SEATS} seats`);
    if (toldFull + toldBooked + overDeadline !== callers.length) failures.push(`contention: ${toldFull} told full, ${toldBooked} booked, ${overDeadline} over the deadline, for ${callers.length} callers`);
    await waitForSmsCount(app, callers.map((c) => c.phone), SEATS, 60_000);
    // Anything sent twice would arrive shortly after the first: wait until the outbox is finished and the count is still.
    await until(async () => Number((await app!.db('outbound_messages').whereNotIn('status', ['sent', 'failed', 'skipped']).count({ n: '*' }))[0]!.n) === 0, 30_000);
    await sleep(2000);
    raw.checks = await checkBookings(app, seed, callers.map((c) => c.phone), bookers.map((c) => c.phone), bookersToldBooked, failures);

    // 5. The sweeps: stop the workers (their logs complete), then compare each execution with BullMQ's record.
    for (const worker of procs.filter((p) => p.role === 'worker')) await stopChild(worker.process);
    raw.sweeps = await checkSweeps(app, procs.filter((p) => p.role === 'worker'), Date.now() - workerStartedAt, failures);
    raw.smsSentByWorker = Object.fromEntries(procs.filter((p) => p.role === 'worker').map((w) => [w.name, w.lines.filter((l) => l.msg === 'sms sent').length]));
    raw.hopsOverDeadlineByWeb = Object.fromEntries(webs.map((w) => [w.name, w.lines.filter((l) => l.msg === 'ussd hop over deadline').length]));

    printSteps(steps);
    const costs = perProcessCosts(steps, options);
    printCosts(costs);
    const summary = {
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown', node: process.version, platform: `${process.platform} ${process.arch}`, loadAverage: readFileSync('/proc/loadavg', 'utf8').trim() },
      git: gitDescribe(),
      versions: serviceVersions(DATABASE_URL),
      processes: { web: options.web, workers: options.workers, runtime: runtime.label, proxy: 'bench/proxy.ts (round robin, keep-alive agent per backend)', loadGenerator: 'bench/load.ts' },
      settings: { durationSec: DURATION_SEC, connections: CONNECTIONS, callers: CALLERS, seats: SEATS, bookers: BOOKERS, sweepMs: SWEEP_MS },
      steps,
      costs,
      raw,
      failures,
      totalSeconds: (Date.now() - started) / 1000,
    };
    mkdirSync(join(__dirname, 'results'), { recursive: true });
    writeFileSync(join(__dirname, 'results', 'scale-out.json'), `${JSON.stringify(summary, null, 2)}\n`);
    log(`wrote bench/results/scale-out.json (${summary.totalSeconds.toFixed(1)} s)`);
  } catch (error) {
    failures.push(`scale-out stopped: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
  } finally {
    if (loader) await stopLoader(loader);
    if (proxy) await stopProxy(proxy.process);
    await Promise.all(procs.map((p) => stopChild(p.process)));
    if (app) await app.close();
    await deleteRedisKeys(REDIS_PREFIX);
  }
  for (const failure of failures) log(`FAIL ${failure}`);
  if (!failures.length) log('all scale-out checks passed');
  return failures;
}

// ---------------------------------------------------------------------------------------------

interface Runtime {
  label: string;
  script: (name: 'web' | 'worker') => string;
  execArgv: string[];
}

/** Compiled JavaScript, as production runs it; tsx only if the build fails (and the results say so). */
function buildOrFallBack(): Runtime {
  const compiled: Runtime = { label: 'node dist/src/*.js (npm run build)', script: (name) => join(ROOT, 'dist', 'src', `${name}.js`), execArgv: [] };
  if (process.env.BENCH_SCALE_BUILD === '0' && existsSync(compiled.script('web'))) return { ...compiled, label: 'node dist/src/*.js (built before the run)' };
  try {
    log('npm run build');
    execSync('npm run build', { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    return compiled;
  } catch (error) {
    const why = error instanceof Error ? error.message.split('\n')[0] : String(error);
    log(`build failed (${why}): falling back to node --import tsx`);
    return { label: `node --import tsx src/*.ts (npm run build failed: ${why})`, script: (name) => join(ROOT, 'src', `${name}.ts`), execArgv: ['--import', 'tsx'] };
  }
}

/** A web process (its PORT) or a worker (its WORKER_METRICS_PORT); resolves once /readyz answers 200. */
async function startProcess(role: 'web' | 'worker', name: string, runtime: Runtime, configEnv: Record<string, string>): Promise<Proc> {
  const port = await freePort();
  const env = role === 'web' ? { PORT: String(port), METRICS_HOST: '' } : { PORT: '0', WORKER_METRICS_PORT: String(port), METRICS_HOST: '127.0.0.1' };
  const child = fork(runtime.script(role), [], { env: { ...process.env, ...configEnv, ...env }, execArgv: runtime.execArgv, stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  const proc: Proc = { role, name, process: child, origin: `http://127.0.0.1:${port}`, lines: [] };
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      proc.lines.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      process.stderr.write(`[${name}] ${line}\n`);
    }
  });
  const ready = await until(async () => {
    if (child.exitCode !== null) throw new Error(`${name} exited (${child.exitCode})`);
    return fetch(`${proc.origin}/readyz`).then((r) => r.ok, () => false);
  }, 60_000);
  if (!ready) {
    child.kill('SIGTERM');
    throw new Error(`${name} was not ready within 60 s`);
  }
  log(`${name}: process ${child.pid} on ${proc.origin}`);
  return proc;
}

async function startProxy(): Promise<Proc> {
  const child = fork(join(__dirname, 'proxy.ts'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the proxy did not listen within 30 s')), 30_000);
    child.once('message', (reply: ProxyReply) => {
      clearTimeout(timer);
      if (reply.type === 'listening') resolve(reply.port);
      else reject(new Error(`proxy: unexpected ${reply.type}`));
    });
  });
  log(`proxy: process ${child.pid} on 127.0.0.1:${port}`);
  return { role: 'proxy', name: 'proxy', process: child, origin: `http://127.0.0.1:${port}`, lines: [] };
}

function proxyControl(child: ChildProcess): (origins: string[]) => Promise<void> {
  return (origins) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the proxy did not take its backends within 5 s')), 5000);
      child.once('message', (reply: ProxyReply) => {
        clearTimeout(timer);
        if (reply.type === 'backends-set' && reply.count === origins.length) resolve();
        else reject(new Error(`proxy answered ${JSON.stringify(reply)}`));
      });
      child.send({ type: 'backends', origins } satisfies ProxyMessage);
    });
}

async function stopProxy(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  if (child.connected) child.send({ type: 'exit' } satisfies ProxyMessage);
  const timer = setTimeout(() => child.kill('SIGTERM'), 5000);
  await exited;
  clearTimeout(timer);
}

// ---------------------------------------------------------------------------------------------

interface Seed {
  knownPhones: string[];
  callers: string[];
  bookers: string[];
  contentionSessionId: number;
  bookerSessionId: number;
}

/** One centre at PINCODE: day 1 the contention session (SEATS), day 2 the bookers' session; every caller and booker has one member. */
async function seedData(app: App): Promise<Seed> {
  const today = dayIn(app.config.TIMEZONE, new Date());
  const centre = await app.programme.createCentre({ name: 'Scale-out Centre', pincode: PINCODE, district: 'New Delhi', state: 'Delhi' });
  const contention = await app.programme.createSession({ centreId: centre.id, date: addDays(today, 1), vaccine: 'Covishield', minAge: 18, dose: 1, capacity: SEATS });
  const large = await app.programme.createSession({ centreId: centre.id, date: addDays(today, 2), vaccine: 'Covishield', minAge: 18, dose: 1, capacity: BOOKER_SEATS });
  const knownPhones = Array.from({ length: KNOWN_PHONES }, (_, i) => phone('9710', i));
  await inParallel(knownPhones, 20, (p) => setLanguage(app.db, p, 'en'));
  let idNumber = 500_000_000_000;
  const register = async (p: string) => {
    const result = await app.booking.register(p, { name: `Scale ${p.slice(-6)}`, birthYear: 1990, gender: 'F', idType: 'AADHAAR', idNumber: String(idNumber++) });
    if (result.kind !== 'registered') throw new Error(`could not register a member for ${p}: ${result.kind}`);
    return p;
  };
  const callers = await inParallel(Array.from({ length: CALLERS }, (_, i) => phone('9610', i)), 20, register);
  const bookers = await inParallel(Array.from({ length: BOOKERS }, (_, i) => phone('9510', i)), 20, register);
  return { knownPhones, callers, bookers, contentionSessionId: contention.id, bookerSessionId: large.id };
}

async function waitForSmsCount(app: App, phones: string[], expected: number, timeoutMs: number): Promise<boolean> {
  return until(async () => Number((await app.db('sandbox_messages').whereIn('phone', phones).count({ n: '*' }))[0]!.n) >= expected, timeoutMs);
}

/** Capacity holds and every code SMS is at the sandbox once: per session, and per appointment (each caller has one mobile). */
async function checkBookings(app: App, seed: Seed, callers: string[], bookers: string[], toldBooked: number, failures: string[]): Promise<Record<string, unknown>> {
  const checks: Record<string, unknown> = {};
  // A booker answered over the deadline may or may not hold a seat; one told "Booked" does.
  const bookersBooked = Number((await app.db('appointments').where({ session_id: seed.bookerSessionId, status: 'booked' }).count({ n: '*' }))[0]!.n);
  if (bookersBooked < toldBooked || bookersBooked > bookers.length) failures.push(`bookings: ${bookersBooked} appointments for ${toldBooked} bookers told "Booked" of ${bookers.length}`);
  for (const [label, sessionId, phones, expected] of [
    ['contention', seed.contentionSessionId, callers, SEATS],
    ['bookings', seed.bookerSessionId, bookers, bookersBooked],
  ] as const) {
    const [{ n: appointments }] = (await app.db('appointments').where({ session_id: sessionId, status: 'booked' }).count({ n: '*' })) as [{ n: string }];
    const { booked } = (await app.db('vaccination_sessions').where({ id: sessionId }).first('booked')) as { booked: number };
    // The code SMS of each appointment of this session, as stored by the sandbox provider: by the appointment's mobile.
    const perAppointment: { appointment_id: string; stored: string }[] = await app.db('appointments as ap')
      .join('beneficiaries as b', 'b.id', 'ap.beneficiary_id')
      .join('accounts as a', 'a.id', 'b.account_id')
      .leftJoin('sandbox_messages as s', 's.phone', 'a.phone')
      .where('ap.session_id', sessionId)
      .groupBy('ap.id')
      .select('ap.id as appointment_id', app.db.raw('count(s.id) AS stored'));
    const [{ n: stored }] = (await app.db('sandbox_messages').whereIn('phone', phones).count({ n: '*' })) as [{ n: string }];
    const [{ n: codeSms }] = (await app.db('outbound_messages as o').join('appointments as ap', 'ap.id', 'o.appointment_id').where({ 'ap.session_id': sessionId, 'o.template': 'sms.booking_code' }).count({ n: '*' })) as [{ n: string }];
    const notOnce = perAppointment.filter((r) => Number(r.stored) !== 1);
    checks[label] = { seats: expected, appointments: Number(appointments), booked, codeSmsRows: Number(codeSms), storedBySandbox: Number(stored), appointmentsWithoutExactlyOneSms: notOnce.length };
    if (Number(appointments) !== expected) failures.push(`${label}: ${appointments} appointments, expected ${expected}`);
    if (booked !== expected) failures.push(`${label}: the session's booked count is ${booked}, expected ${expected}`);
    if (Number(codeSms) !== expected) failures.push(`${label}: ${codeSms} code SMS outbox rows, expected ${expected}`);
    if (Number(stored) !== expected) failures.push(`${label}: the sandbox stored ${stored} SMS for these mobiles, expected ${expected}`);
    if (notOnce.length) failures.push(`${label}: ${notOnce.length} appointments did not get exactly one SMS (${JSON.stringify(notOnce.slice(0, 5))})`);
  }
  log(`checks: ${JSON.stringify(checks)}`);
  return checks;
}

/**
 * Each worker logs 'task done' (src/queue/task-queue.ts) once per job it runs: the executions. BullMQ
 * keeps each completed job, named by its scheduler and slot: the scheduled runs. A schedule run
 * twice (two workers, or a second scheduler from a worker that joined later) shows as more
 * executions than runs, or as two runs closer together than the period, or as a second
 * mark_no_shows/purge_retention within their 15/60-minute periods.
 */
async function checkSweeps(app: App, workers: Proc[], workersRanMs: number, failures: string[]): Promise<Record<string, unknown>> {
  const completed = await app.taskQueue.getJobs(['completed'], 0, -1);
  const result: Record<string, unknown> = {};
  for (const kind of SWEEPS) {
    const executions = workers.flatMap((w) => w.lines.filter((l) => l.msg === 'task done' && l.kind === kind).map(() => w.name));
    const failed = workers.flatMap((w) => w.lines.filter((l) => l.msg === 'task failed' && l.kind === kind));
    const runs = completed.filter((job) => job.repeatJobKey === kind || job.name === kind);
    const slots = [...new Set(runs.map((job) => Number(String(job.id).split(':').at(-1))))].sort((a, b) => a - b);
    const gaps = slots.slice(1).map((slot, i) => slot - slots[i]!);
    const byWorker = Object.fromEntries(workers.map((w) => [w.name, executions.filter((name) => name === w.name).length]));
    const expectedOnce = kind !== 'requeue_stuck';
    result[kind] = { executions: executions.length, byWorker, completedJobs: runs.length, distinctSlots: slots.length, minGapMs: gaps.length ? Math.min(...gaps) : null, failed: failed.length };
    if (executions.length !== runs.length) failures.push(`sweep ${kind}: ${executions.length} executions logged by the workers for ${runs.length} scheduled runs`);
    if (slots.length !== runs.length) failures.push(`sweep ${kind}: ${runs.length} completed jobs for ${slots.length} slots`);
    if (failed.length) failures.push(`sweep ${kind}: ${failed.length} failed runs`);
    if (expectedOnce && executions.length !== 1) failures.push(`sweep ${kind}: ran ${executions.length} times in ${(workersRanMs / 1000).toFixed(0)} s, expected once (its period is at least 15 minutes)`);
    if (!expectedOnce) {
      if (gaps.some((gap) => gap < SWEEP_MS)) failures.push(`sweep ${kind}: two runs ${Math.min(...gaps)} ms apart, period ${SWEEP_MS} ms`);
      if (executions.length < 2) failures.push(`sweep ${kind}: ran ${executions.length} times in ${(workersRanMs / 1000).toFixed(0)} s (period ${SWEEP_MS} ms)`);
      if (executions.length > Math.floor(workersRanMs / SWEEP_MS) + 1) failures.push(`sweep ${kind}: ran ${executions.length} times in ${workersRanMs} ms, period ${SWEEP_MS} ms`);
    }
  }
  log(`sweeps: ${JSON.stringify(result)}`);
  return result;
}

// ---------------------------------------------------------------------------------------------

/** utime + stime of a process, in seconds; 0 for a process gone. */
const cpuSeconds = (pid: number) => (cpuMsOf(pid) ?? 0) / 1000;

interface CpuSnapshot {
  byRole: { web: Map<number, number>; workers: Map<number, number>; proxy: Map<number, number>; postgres: Map<number, number> };
  redis: number;
}

/** The children's CPU, this database's PostgreSQL backends but this process's own, and the Redis server's (shared with anything else using it). */
async function cpuSnapshot(procs: Proc[], proxy: Proc, app: App, redis: Redis): Promise<CpuSnapshot> {
  const of = (list: Proc[]) => new Map(list.map((p) => [p.process.pid!, cpuSeconds(p.process.pid!)]));
  const { rows } = await app.db.raw<{ rows: { pid: number }[] }>('SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name <> ?', [OWN_APPLICATION_NAME]);
  const info = await redis.info('cpu');
  const field = (name: string) => Number(new RegExp(`${name}:([0-9.]+)`).exec(info)?.[1] ?? NaN);
  return {
    byRole: {
      web: of(procs.filter((p) => p.role === 'web')),
      workers: of(procs.filter((p) => p.role === 'worker')),
      proxy: of([proxy]),
      postgres: new Map(rows.map((r) => [r.pid, cpuSeconds(r.pid)])),
    },
    redis: field('used_cpu_sys') + field('used_cpu_user'),
  };
}

function cpuDelta(before: CpuSnapshot, after: CpuSnapshot): CpuBy {
  const sum = (a: Map<number, number>, b: Map<number, number>) => [...b].reduce((total, [pid, seconds]) => total + seconds - (a.get(pid) ?? 0), 0);
  return {
    web: sum(before.byRole.web, after.byRole.web),
    workers: sum(before.byRole.workers, after.byRole.workers),
    proxy: sum(before.byRole.proxy, after.byRole.proxy),
    // A backend that started during the step counts from zero (its start-up is part of the step).
    postgres: sum(before.byRole.postgres, after.byRole.postgres),
    redis: after.redis - before.redis,
  };
}

interface Costs {
  /** CPU seconds per 1,000 operations, by process role, from the steps named. */
  webCpuPer1000FirstHops: number;
  webCpuPer1000MidHops: number;
  proxyCpuPer1000Hops: number;
  postgresCpuPer1000Hops: number;
  redisCpuPer1000Hops: number;
  webCpuPer1000Bookings: number;
  postgresCpuPer1000Bookings: number;
  redisCpuPer1000Bookings: number;
  workerCpuPer1000Sms: number;
  /** The same less what the workers spend idle (sweeps, relay polls) over as long, measured while only hops ran. */
  workerCpuPer1000SmsMarginal: number;
  /** Relaying a backlog into the paused queue, then draining it (marginal): SMS in batches rather than one at a time. */
  workerCpuPer1000SmsBacklog: number;
  throughput: { webProcesses: number; firstHopRps: number; firstHopP99: number; midHopRps: number; midHopP99: number }[];
  capacity: Capacity[];
}

interface Capacity {
  scenario: string;
  hopsPerSecond: number;
  bookingsPerSecond: number;
  smsPerSecond: number;
  /** Cores kept busy at TARGET_UTILISATION, by role. */
  cores: { web: number; workers: number; postgres: number; redis: number };
  /** One Node process uses one core. */
  processes: { web: number; workers: number };
}

/** Hops a new caller needs to register one member and book over USSD (flows/citizen.flow.json): the dial, then language, Book, name, birth year, gender, ID type, ID number, PIN code, centre, date, yes. */
const HOPS_PER_REGISTRATION = 12;
/** A core kept at this share of its time at peak: queueing stays short. */
const TARGET_UTILISATION = 0.6;

function perProcessCosts(steps: Step[], options: ScaleOutOptions): Costs {
  const per1000 = (pick: (s: Step) => boolean, role: keyof CpuBy) => {
    const chosen = steps.filter(pick);
    const ops = chosen.reduce((n, s) => n + s.ops, 0);
    return ops ? (chosen.reduce((t, s) => t + s.cpu[role], 0) / ops) * 1000 : NaN;
  };
  const hopStep = (s: Step) => s.name.startsWith('first hop') || s.name.startsWith('mid-conversation') || s.name.endsWith('(setup)');
  const stepNamed = (name: string) => steps.find((s) => s.name === name);
  const live = stepNamed('bookings: confirming hop, SMS live');
  const paused = stepNamed('bookings: confirming hop, SMS queue paused');
  const drain = stepNamed('bookings: code SMS drain, queue resumed');
  const bookingSteps = [live, paused, drain].filter((s): s is Step => s !== undefined);
  const bookings = (live?.ops ?? 0) + (paused?.ops ?? 0);
  /** Per booking: the confirming hops and the sending of their code SMS, both halves. */
  const perBooking = (role: keyof CpuBy) => (bookingSteps.reduce((t, s) => t + s.cpu[role], 0) / bookings) * 1000;
  // The workers' CPU while they had nothing to send (relay polls, sweeps, queue checks), per second.
  const idle = steps.filter((s) => s.name.startsWith('first hop'));
  const idlePerSecond = idle.reduce((t, s) => t + s.cpu.workers, 0) / idle.reduce((t, s) => t + s.wallSeconds, 0);
  const workerPerSms = (chosen: (Step | undefined)[], sms: number, marginal: boolean) =>
    (chosen.reduce((t, s) => t + (s ? s.cpu.workers - (marginal ? idlePerSecond * s.wallSeconds : 0) : 0), 0) / sms) * 1000;
  const throughput = Array.from({ length: options.web }, (_, i) => {
    const first = steps.find((s) => s.name === `first hop, known mobile (${i + 1} web)`)!;
    const mid = steps.find((s) => s.name === `mid-conversation hop: member list (${i + 1} web)`)!;
    return { webProcesses: i + 1, firstHopRps: first.rate, firstHopP99: first.p99 ?? NaN, midHopRps: mid.rate, midHopP99: mid.p99 ?? NaN };
  });
  const costs = {
    webCpuPer1000FirstHops: per1000((s) => s.name.startsWith('first hop'), 'web'),
    webCpuPer1000MidHops: per1000((s) => s.name.startsWith('mid-conversation') || s.name.endsWith('(setup)'), 'web'),
    proxyCpuPer1000Hops: per1000(hopStep, 'proxy'),
    postgresCpuPer1000Hops: per1000(hopStep, 'postgres'),
    redisCpuPer1000Hops: per1000(hopStep, 'redis'),
    webCpuPer1000Bookings: perBooking('web'),
    postgresCpuPer1000Bookings: perBooking('postgres'),
    redisCpuPer1000Bookings: perBooking('redis'),
    workerCpuPer1000Sms: workerPerSms([live], live?.ops ?? NaN, false),
    workerCpuPer1000SmsMarginal: workerPerSms([live], live?.ops ?? NaN, true),
    workerCpuPer1000SmsBacklog: workerPerSms([paused, drain], drain?.ops ?? NaN, true),
    throughput,
  };
  return { ...costs, capacity: capacityFor(costs) };
}

/**
 * CoWIN's 2021 peak over USSD, from the per-process costs. Two readings of the peak: every
 * registration a USSD conversation (HOPS_PER_REGISTRATION hops, the last a booking, one code SMS),
 * or every one of the 2.7 million API hits a minute a hop. A hop costs what a mid-conversation hop cost here.
 */
function capacityFor(c: Omit<Costs, 'capacity' | 'throughput'>): Capacity[] {
  const bookingsPerSecond = PEAK.registrationsPerSecond;
  const scenarios = [
    { scenario: `${PEAK.registrationsPerSecond} registrations/s as USSD conversations of ${HOPS_PER_REGISTRATION} hops`, hopsPerSecond: PEAK.registrationsPerSecond * HOPS_PER_REGISTRATION },
    { scenario: `${PEAK.apiHitsPerMinute.toLocaleString('en')} API hits a minute, each a hop`, hopsPerSecond: PEAK.apiHitsPerMinute / 60 },
  ];
  return scenarios.map(({ scenario, hopsPerSecond }) => {
    const otherHops = hopsPerSecond - bookingsPerSecond;
    const busy = {
      web: (otherHops * c.webCpuPer1000MidHops + bookingsPerSecond * c.webCpuPer1000Bookings) / 1000,
      // Idle costs (sweeps, relay polls) do not grow with the load: the peak adds the marginal cost.
      workers: (bookingsPerSecond * c.workerCpuPer1000SmsMarginal) / 1000,
      postgres: (otherHops * c.postgresCpuPer1000Hops + bookingsPerSecond * c.postgresCpuPer1000Bookings) / 1000,
      redis: (otherHops * c.redisCpuPer1000Hops + bookingsPerSecond * c.redisCpuPer1000Bookings) / 1000,
    };
    const cores = { web: busy.web / TARGET_UTILISATION, workers: busy.workers / TARGET_UTILISATION, postgres: busy.postgres / TARGET_UTILISATION, redis: busy.redis / TARGET_UTILISATION };
    return { scenario, hopsPerSecond, bookingsPerSecond, smsPerSecond: bookingsPerSecond, cores, processes: { web: Math.ceil(cores.web), workers: Math.ceil(cores.workers) } };
  });
}

function printSteps(steps: Step[]): void {
  const fmt = (n: number | undefined, d = 1) => (n === undefined || !Number.isFinite(n) ? '-' : n.toFixed(d));
  const header = ['step', 'web', 'n', 'rate/s', 'p50 ms', 'p99 ms', 'cpu s: web', 'workers', 'proxy', 'postgres', 'redis'];
  const body = steps.map((s) => [s.name, s.webProcesses ? String(s.webProcesses) : '', String(s.ops), fmt(s.rate, 0), fmt(s.p50), fmt(s.p99), fmt(s.cpu.web, 2), fmt(s.cpu.workers, 2), fmt(s.cpu.proxy, 2), fmt(s.cpu.postgres, 2), fmt(s.cpu.redis, 2)]);
  table('\nScale-out: steps through the round-robin proxy (CPU seconds per process role during each step)', header, body);
  for (const s of steps) if (s.note) console.log(`  ${s.name}: ${s.note}`);
}

function printCosts(c: Costs): void {
  const fmt = (n: number, d = 2) => (Number.isFinite(n) ? n.toFixed(d) : '-');
  table('\n1 vs more web processes (same run, same proxy; on 2 shared cores no gain is expected)', ['web processes', 'first hop req/s', 'p99 ms', 'mid hop req/s', 'p99 ms', 'x 1 web (first, mid)'], c.throughput.map((t) => [String(t.webProcesses), fmt(t.firstHopRps, 0), fmt(t.firstHopP99, 0), fmt(t.midHopRps, 0), fmt(t.midHopP99, 0), `${fmt(t.firstHopRps / c.throughput[0]!.firstHopRps)}, ${fmt(t.midHopRps / c.throughput[0]!.midHopRps)}`]));
  table('\nPer-process costs (CPU seconds per 1,000; development figures on a busy shared machine)', ['cost', 'CPU s / 1,000'], [
    ['web process, first hop of a known mobile', fmt(c.webCpuPer1000FirstHops)],
    ['web process, mid-conversation hop', fmt(c.webCpuPer1000MidHops)],
    ['web process, confirming hop (booking)', fmt(c.webCpuPer1000Bookings)],
    ['worker process, code SMS sent as booked (relay + send + sandbox)', fmt(c.workerCpuPer1000Sms)],
    ['  the same less the workers\' idle CPU over as long', fmt(c.workerCpuPer1000SmsMarginal)],
    ['  a backlog relayed, then drained (less idle CPU)', fmt(c.workerCpuPer1000SmsBacklog)],
    ['PostgreSQL backends, hop', fmt(c.postgresCpuPer1000Hops)],
    ['PostgreSQL backends, booking and its code SMS', fmt(c.postgresCpuPer1000Bookings)],
    ['Redis server, hop (whole server)', fmt(c.redisCpuPer1000Hops)],
    ['Redis server, booking and its code SMS (whole server)', fmt(c.redisCpuPer1000Bookings)],
    ['proxy, hop', fmt(c.proxyCpuPer1000Hops)],
  ]);
  console.log(`\nCoWIN's 2021 peak (${PEAK.registrationsPerSecond} registrations/s) over USSD, from these costs: cores at ${TARGET_UTILISATION * 100}% busy, a Node process a core`);
  for (const cap of c.capacity) {
    console.log(`  ${cap.scenario}: ${Math.round(cap.hopsPerSecond)} hops/s, ${cap.bookingsPerSecond} bookings/s, ${cap.smsPerSecond} SMS/s`);
    console.log(`    cores: web ${fmt(cap.cores.web, 1)}, workers ${fmt(cap.cores.workers, 1)}, PostgreSQL ${fmt(cap.cores.postgres, 1)}, Redis ${fmt(cap.cores.redis, 1)}; processes: ${cap.processes.web} web, ${cap.processes.workers} workers`);
  }
}

function table(title: string, header: string[], body: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((line) => line[i]!.length)));
  const line = (cells: string[]) => cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  console.log(title);
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const cells of body) console.log(line(cells));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function argument(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  const value = at >= 0 ? Number(process.argv[at + 1]) : fallback;
  if (!Number.isInteger(value) || value <= 0) throw new Error(`--${name} must be a positive whole number`);
  return value;
}

if (require.main === module) {
  runScaleOut({ web: argument('web', 2), workers: argument('workers', 2) }).then(
    (failures) => {
      process.exitCode = failures.length ? 1 : 0;
    },
    (error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    },
  );
}
