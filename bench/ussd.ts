/**
 * Throughput bench: `npm run bench`. See bench/README.md for what each number means.
 *
 * Starts the whole product in this process (web + relay + SMS worker, sandbox SMS provider) on its
 * own database `tika_bench` and Redis prefix `tikabench`, and a bare express route as the baseline,
 * both on 127.0.0.1. Load comes from autocannon in a child process (bench/load.ts). Then books
 * appointments through the domain and times the code SMS through outbox → relay → BullMQ →
 * worker → sandbox. Prints a table and writes bench/results/latest.json.
 *
 * Tunables (environment): BENCH_DURATION (s per timed scenario, default 10), BENCH_CONNECTIONS (50),
 * BENCH_SESSIONS (mid-conversation sessions, 3000), BENCH_BOOKINGS (per booking batch, 1000),
 * BENCH_SMS_RATE (the SMS worker's rate limit for this run, 10000/s).
 */
import { execSync, fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import Redis from 'ioredis';
import { createApp, type App } from '../src/app';
import { loadConfig } from '../src/config';
import { createDb, ensureDatabase, migrateLatest, type Db } from '../src/db/knex';
import { setLanguage } from '../src/domain/accounts';
import { addDays, dayIn } from '../src/domain/dates';
import { UNIQUE_TOKEN, type LoadJob, type LoadMessage, type LoadOutcome, type LoadReply } from './load';

const DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/tika_bench';
const REDIS_URL = 'redis://127.0.0.1:6379';
const REDIS_PREFIX = 'tikabench';
const WEBHOOK_SECRET = 'bench-webhook-secret-0123456789';
const SERVICE_CODE = '*384*1234#';
const PINCODE = '110001';

const intEnv = (name: string, fallback: number) => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer`);
  return value;
};
const DURATION_SEC = intEnv('BENCH_DURATION', 10);
const CONNECTIONS = intEnv('BENCH_CONNECTIONS', 50);
const MID_SESSIONS = intEnv('BENCH_SESSIONS', 3000);
const FIRST_HOP_PHONES = 1000;
const BOOKINGS = intEnv('BENCH_BOOKINGS', 1000);
const BOOKING_CONCURRENCY = 50;
const SEATS_PER_SESSION = 3000;
const SMS_RATE = intEnv('BENCH_SMS_RATE', 10_000);
/** Whatever happens, the process ends by then. */
const HARD_LIMIT_MS = 180_000;

const RESULTS_DIR = join(__dirname, 'results');

// Phone pools (E.164, India): first-hop callers, mid-conversation callers, two booking batches.
const phone = (series: string, i: number) => `+91${series}${String(i).padStart(6, '0')}`;

interface Row {
  scenario: string;
  kind: 'http' | 'domain';
  /** Operations per second (requests, bookings or messages). */
  rate: number;
  unit: string;
  p50: number;
  p97_5: number;
  p99: number;
  errors: number;
  non2xx: number;
  bad: number;
  count: number;
  seconds: number;
  ratio?: number;
  note?: string;
}

const log = (message: string) => process.stderr.write(`[bench] ${message}\n`);

async function main(): Promise<number> {
  const hardStop = setTimeout(() => {
    log(`over the ${HARD_LIMIT_MS / 1000} s limit: exiting`);
    process.exit(2);
  }, HARD_LIMIT_MS);
  hardStop.unref();

  const started = Date.now();
  const failures: string[] = [];
  const rows: Row[] = [];
  const raw: Record<string, unknown> = {};

  log('resetting tika_bench and tikabench:* keys');
  await resetStores();

  const config = loadConfig({
    NODE_ENV: 'development',
    PORT: '0',
    DATABASE_URL,
    REDIS_URL,
    REDIS_PREFIX,
    SMS_PROVIDER: 'sandbox',
    LOG_LEVEL: 'silent',
    WEBHOOK_SECRET,
    USSD_SERVICE_CODE: SERVICE_CODE,
    SMS_SEND_RATE_PER_SECOND: String(SMS_RATE),
    DATA_DIR: join(tmpdir(), 'tika-bench-data'),
  });

  let app: App | undefined;
  let appServer: Server | undefined;
  let baseServer: Server | undefined;
  let loader: ChildProcess | undefined;
  try {
    app = await createApp(config);
    await app.startWorker();
    appServer = await listenLoopback(createServer(app.http));
    baseServer = await listenLoopback(createServer(baselineApp()));
    const appUrl = `http://127.0.0.1:${port(appServer)}/webhooks/africastalking/ussd?key=${WEBHOOK_SECRET}`;
    const baseUrl = `http://127.0.0.1:${port(baseServer)}/ussd`;

    log('seeding centres, sessions, accounts and members');
    const seed = await seedData(app);

    const screen = (key: string) => app!.catalogue.render('en', key);
    const expectMenu = { prefix: 'CON ', includes: screen('menu.title') };
    const expectMembers = { prefix: 'CON ', includes: screen('member.choose') };
    const expectPincode = { prefix: 'CON ', includes: screen('book.pincode') };
    const expectCentres = { prefix: 'CON ', includes: screen('book.choose_centre') };

    // One hop by hand first: a broken route fails here, not as 50 connections of errors.
    const probe = await post(appUrl, hop(`probe_${Date.now()}`, seed.firstHopPhones[0]!, ''));
    if (probe.status !== 200 || !probe.body.startsWith('CON ') || !probe.body.includes(expectMenu.includes)) {
      throw new Error(`first hop probe answered ${probe.status}: ${probe.body}`);
    }

    loader = fork(join(__dirname, 'load.ts'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const load = loaderClient(loader);

    const runHttp = async (scenario: string, job: Omit<LoadJob, 'name' | 'connections'>, note?: string): Promise<LoadOutcome> => {
      log(`${scenario}: ${job.amount ? `${job.amount} requests` : `${job.durationSec} s`}, ${CONNECTIONS} connections`);
      const outcome = await load({ name: scenario, connections: CONNECTIONS, ...job });
      raw[scenario] = outcome;
      rows.push({
        scenario,
        kind: 'http',
        rate: outcome.rps,
        unit: 'req/s',
        p50: outcome.latencyMs.p50,
        p97_5: outcome.latencyMs.p97_5,
        p99: outcome.latencyMs.p99,
        errors: outcome.errors + outcome.timeouts,
        non2xx: outcome.non2xx,
        bad: outcome.bad,
        count: outcome.responses,
        seconds: outcome.seconds,
        note,
      });
      if (outcome.errors + outcome.timeouts + outcome.non2xx + outcome.bad > 0) {
        failures.push(`${scenario}: ${outcome.errors} errors, ${outcome.timeouts} timeouts, ${outcome.non2xx} non-2xx, ${outcome.bad} wrong bodies ${JSON.stringify(outcome.badSamples)}`);
      }
      if (outcome.checked === 0) failures.push(`${scenario}: no response was checked`);
      return outcome;
    };

    // (a) The baseline: what express answers on this machine with nothing behind it.
    await runHttp('baseline express', { url: baseUrl, bodies: [hop('x', seed.firstHopPhones[0]!, '')], durationSec: DURATION_SEC, expect: { prefix: 'CON hello' } });

    // (b) First hop: a new session each request, known mobiles → the main menu.
    await runHttp(
      'ussd first hop (main menu)',
      { url: appUrl, bodies: seed.firstHopPhones.map((p) => hop(`ATUid_bench_${UNIQUE_TOKEN}`, p, '')), durationSec: DURATION_SEC, expect: expectMenu },
      'new sessionId per request',
    );

    // (c) Mid-conversation sessions, advanced by real hops; each wave touches each session once.
    const mid = seed.midPhones.map((p, i) => ({ sessionId: `ATUid_mid_${Date.now().toString(36)}_${i}`, phone: p }));
    const wave = (text: string) => mid.map((s) => hop(s.sessionId, s.phone, text));
    await runHttp('ussd hop: dial (setup)', { url: appUrl, bodies: wave(''), amount: mid.length, expect: expectMenu }, `${mid.length} sessions, once each`);
    await runHttp('ussd hop: 1 → member list', { url: appUrl, bodies: wave('1'), amount: mid.length, expect: expectMembers }, 'once per session');
    await runHttp('ussd hop: 1*1 → PIN prompt', { url: appUrl, bodies: wave('1*1'), amount: mid.length, expect: expectPincode }, 'once per session');
    await runHttp(
      'ussd repeated hop (cached)',
      { url: appUrl, bodies: wave('1*1'), durationSec: DURATION_SEC, expect: expectPincode },
      `same text again, round-robin over ${mid.length} sessions`,
    );
    await runHttp(
      'ussd hop: PIN → centre list',
      { url: appUrl, bodies: wave(`1*1*${PINCODE}`), amount: mid.length, expect: expectCentres },
      'once per session; SQL over sessions',
    );

    // (d) Booking at the domain level, and the code SMS through the whole outbox pipeline.
    await benchBookingAndSms(app, seed, rows, raw, failures);

    const baseline = rows.find((r) => r.scenario === 'baseline express')!;
    for (const row of rows) if (row.kind === 'http') row.ratio = row.rate / baseline.rate;

    printTable(rows);
    const summary = {
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown', node: process.version, platform: `${process.platform} ${process.arch}` },
      git: gitDescribe(),
      settings: { durationSec: DURATION_SEC, connections: CONNECTIONS, midSessions: mid.length, firstHopPhones: seed.firstHopPhones.length, bookings: BOOKINGS, bookingConcurrency: BOOKING_CONCURRENCY, smsRatePerSecond: SMS_RATE },
      rows,
      raw,
      failures,
      totalSeconds: (Date.now() - started) / 1000,
    };
    mkdirSync(RESULTS_DIR, { recursive: true });
    writeFileSync(join(RESULTS_DIR, 'latest.json'), `${JSON.stringify(summary, null, 2)}\n`);
    log(`wrote ${join('bench', 'results', 'latest.json')} (${summary.totalSeconds.toFixed(1)} s in all)`);
  } catch (error) {
    failures.push(`bench stopped: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
  } finally {
    log('cleaning up');
    if (loader) await stopLoader(loader);
    if (baseServer) await closeServer(baseServer);
    if (appServer) await closeServer(appServer);
    if (app) await app.close();
    await deleteRedisKeys();
  }

  if (failures.length) {
    for (const failure of failures) log(`FAIL ${failure}`);
    return 1;
  }
  log('all checks passed');
  return 0;
}

// ---------------------------------------------------------------------------------------------

interface Seed {
  sessionIds: number[];
  firstHopPhones: string[];
  midPhones: string[];
  /** Two batches of members, one per phone (one account each, so bookings do not queue on an account lock). */
  bookingBatches: { phone: string; memberId: number }[][];
}

async function seedData(app: App): Promise<Seed> {
  const today = dayIn(app.config.TIMEZONE, new Date());
  const sessionIds: number[] = [];
  for (let c = 1; c <= 3; c++) {
    const centre = await app.programme.createCentre({ name: `Bench Centre ${c}`, pincode: PINCODE, district: 'New Delhi', state: 'Delhi' });
    for (let d = 1; d <= 3; d++) {
      // 3 × 3,000 seats a centre: screens show free seats in 4 digits (flows/params.json "free"), so stay under 10,000.
      const session = await app.programme.createSession({ centreId: centre.id, date: addDays(today, d), vaccine: 'Covishield', minAge: 18, dose: 1, capacity: SEATS_PER_SESSION });
      sessionIds.push(session.id);
    }
  }

  const firstHopPhones = Array.from({ length: FIRST_HOP_PHONES }, (_, i) => phone('9700', i));
  await inParallel(firstHopPhones, 20, (p) => setLanguage(app.db, p, 'en'));

  let idNumber = 400_000_000_000;
  const register = async (p: string) => {
    const result = await app.booking.register(p, { name: `Bench ${p.slice(-6)}`, birthYear: 1990, gender: 'F', idType: 'AADHAAR', idNumber: String(idNumber++) });
    if (result.kind !== 'registered') throw new Error(`could not register a member for ${p}: ${result.kind}`);
    return { phone: p, memberId: result.member.id };
  };
  const midPhones = Array.from({ length: MID_SESSIONS }, (_, i) => phone('9600', i));
  await inParallel(midPhones, 20, register);
  const bookingBatches = [];
  for (const series of ['9500', '9400']) {
    bookingBatches.push(await inParallel(Array.from({ length: BOOKINGS }, (_, i) => phone(series, i)), 20, register));
  }
  return { sessionIds, firstHopPhones, midPhones, bookingBatches };
}

/**
 * Batch 1: bookings with the SMS worker live; each code SMS timed from its booking's commit to the
 * sandbox storing it. Batch 2: the SMS queue paused while booking, then resumed: bookings/s without
 * the worker competing, and the worker's drain rate alone.
 */
async function benchBookingAndSms(app: App, seed: Seed, rows: Row[], raw: Record<string, unknown>, failures: string[]): Promise<void> {
  const [live, backlog] = seed.bookingBatches as [Seed['bookingBatches'][0], Seed['bookingBatches'][0]];

  log(`booking: ${live.length} parallel bookings (${BOOKING_CONCURRENCY} in flight), SMS worker live`);
  const first = await bookAll(app, live, seed.sessionIds, failures);
  rows.push(bookingRow('booking (SMS worker live)', first));
  const firstSms = await waitForSms(app.db, live.map((m) => m.phone), 60_000);
  if (!firstSms) {
    failures.push('sms (live): not every code SMS reached the sandbox within 60 s');
  } else {
    const latencies = live.map((m) => firstSms.get(m.phone)! - first.commitAt.get(m.phone)!).sort((a, b) => a - b);
    const firstCommit = Math.min(...first.commitAt.values());
    const lastCommit = Math.max(...first.commitAt.values());
    const lastStored = Math.max(...firstSms.values());
    const seconds = (lastStored - firstCommit) / 1000;
    rows.push({
      scenario: 'code SMS commit → sandbox (live)',
      kind: 'domain',
      rate: live.length / seconds,
      unit: 'msg/s',
      p50: pct(latencies, 50),
      p97_5: pct(latencies, 97.5),
      p99: pct(latencies, 99),
      errors: 0,
      non2xx: 0,
      bad: 0,
      count: live.length,
      seconds,
      note: `latency = commit → stored; last stored ${((lastStored - lastCommit) / 1000).toFixed(2)} s after last commit`,
    });
    raw.smsLive = { firstCommit, lastCommit, lastStored, latencyMs: { p50: pct(latencies, 50), p99: pct(latencies, 99), max: latencies.at(-1) } };
  }

  log(`booking: ${backlog.length} more with the SMS queue paused, then drain`);
  await app.smsQueues.get("sandbox")!.pause();
  let second: BookingRun;
  try {
    second = await bookAll(app, backlog, seed.sessionIds, failures);
    rows.push(bookingRow('booking (SMS queue paused)', second));
    // Everything relayed into BullMQ before the clock starts: the drain measures queue → worker → sandbox.
    const relayed = await until(async () => Number((await app.db('outbound_messages').whereNull('relayed_at').count({ n: '*' }))[0]!.n) === 0, 30_000);
    if (!relayed) failures.push('sms (backlog): the relay did not move every outbox row within 30 s');
  } finally {
    await app.smsQueues.get("sandbox")!.resume();
  }
  const resumedAt = Date.now();
  const secondSms = await waitForSms(app.db, backlog.map((m) => m.phone), 60_000);
  if (!secondSms) {
    failures.push('sms (backlog): not every code SMS reached the sandbox within 60 s');
  } else {
    const seconds = (Math.max(...secondSms.values()) - resumedAt) / 1000;
    rows.push({
      scenario: 'code SMS queue → sandbox (drain)',
      kind: 'domain',
      rate: backlog.length / seconds,
      unit: 'msg/s',
      p50: NaN,
      p97_5: NaN,
      p99: NaN,
      errors: 0,
      non2xx: 0,
      bad: 0,
      count: backlog.length,
      seconds,
      note: 'backlog of relayed jobs; worker concurrency 8',
    });
  }

  // Correctness: one appointment and one sent code SMS per booking, the code in the text.
  const phones = [...live, ...backlog].map((m) => m.phone);
  const [{ n: appointments }] = (await app.db('appointments as ap').join('beneficiaries as b', 'b.id', 'ap.beneficiary_id').join('accounts as a', 'a.id', 'b.account_id').whereIn('a.phone', phones).count({ n: '*' })) as [{ n: string }];
  const [{ n: sent }] = (await app.db('outbound_messages').whereIn('phone', phones).andWhere({ status: 'sent', template: 'sms.booking_code' }).count({ n: '*' })) as [{ n: string }];
  const [{ n: withCode }] = (await app.db('sandbox_messages').whereIn('phone', phones).andWhereRaw("message ~ '[0-9]{4}'").count({ n: '*' })) as [{ n: string }];
  raw.bookingChecks = { appointments: Number(appointments), sentCodeSms: Number(sent), sandboxMessagesWithDigits: Number(withCode), expected: phones.length };
  if (Number(appointments) !== phones.length) failures.push(`booking: ${appointments} appointments for ${phones.length} bookings`);
  if (Number(sent) !== phones.length) failures.push(`sms: ${sent} code SMS marked sent for ${phones.length} bookings`);
  if (Number(withCode) !== phones.length) failures.push(`sms: ${withCode} sandbox messages carry a code for ${phones.length} bookings`);
}

interface BookingRun {
  seconds: number;
  latencies: number[];
  commitAt: Map<string, number>;
}

async function bookAll(app: App, members: { phone: string; memberId: number }[], sessionIds: number[], failures: string[]): Promise<BookingRun> {
  const commitAt = new Map<string, number>();
  const latencies: number[] = [];
  const kinds: Record<string, number> = {};
  const startedAt = Date.now();
  await inParallel(
    members.map((m, i) => ({ ...m, sessionId: sessionIds[i % sessionIds.length]! })),
    BOOKING_CONCURRENCY,
    async (m) => {
      const t0 = Date.now();
      const result = await app.booking.book(m.phone, m.memberId, m.sessionId);
      const t1 = Date.now();
      kinds[result.kind] = (kinds[result.kind] ?? 0) + 1;
      commitAt.set(m.phone, t1);
      latencies.push(t1 - t0);
    },
  );
  const seconds = (Date.now() - startedAt) / 1000;
  if ((kinds.booked ?? 0) !== members.length) failures.push(`booking: expected ${members.length} booked, got ${JSON.stringify(kinds)}`);
  latencies.sort((a, b) => a - b);
  return { seconds, latencies, commitAt };
}

function bookingRow(scenario: string, run: BookingRun): Row {
  return {
    scenario,
    kind: 'domain',
    rate: run.latencies.length / run.seconds,
    unit: 'book/s',
    p50: pct(run.latencies, 50),
    p97_5: pct(run.latencies, 97.5),
    p99: pct(run.latencies, 99),
    errors: 0,
    non2xx: 0,
    bad: 0,
    count: run.latencies.length,
    seconds: run.seconds,
    note: `${BOOKING_CONCURRENCY} in flight; appointment + outbox row per transaction`,
  };
}

/** When each phone's SMS reached the sandbox (ms since epoch), once all have; undefined on timeout. */
async function waitForSms(db: Db, phones: string[], timeoutMs: number): Promise<Map<string, number> | undefined> {
  const all = await until(async () => Number((await db('sandbox_messages').whereIn('phone', phones).countDistinct({ n: 'phone' }))[0]!.n) >= phones.length, timeoutMs);
  if (!all) return undefined;
  const rows: { phone: string; stored: Date }[] = await db('sandbox_messages').whereIn('phone', phones).groupBy('phone').select('phone', db.raw('min(created_at) AS stored'));
  return new Map(rows.map((r) => [r.phone, new Date(r.stored).getTime()]));
}

// ---------------------------------------------------------------------------------------------

async function resetStores(): Promise<void> {
  await ensureDatabase(DATABASE_URL);
  const db = createDb(DATABASE_URL);
  try {
    await migrateLatest(db);
    const { rows } = await db.raw<{ rows: { tablename: string }[] }>("SELECT tablename FROM pg_tables WHERE schemaname = 'public'");
    const tables = rows.map((r) => r.tablename).filter((t) => !t.startsWith('knex_migrations'));
    if (tables.length) await db.raw(`TRUNCATE ${tables.map((t) => `"${t}"`).join(', ')} RESTART IDENTITY CASCADE`);
  } finally {
    await db.destroy();
  }
  await deleteRedisKeys();
}

/** Only this bench's keys: `tikabench:*` (sessions, locks) and `{tikabench}:*` (BullMQ). */
async function deleteRedisKeys(): Promise<void> {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 2 });
  try {
    for (const match of [`${REDIS_PREFIX}:*`, `{${REDIS_PREFIX}}:*`]) {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', match, 'COUNT', 1000);
        cursor = next;
        if (keys.length) await redis.unlink(...keys);
      } while (cursor !== '0');
    }
  } finally {
    redis.disconnect();
  }
}

function baselineApp(): express.Express {
  const base = express();
  base.disable('x-powered-by');
  base.post('/ussd', (_req, res) => {
    res.status(200).type('text/plain').send('CON hello');
  });
  return base;
}

async function listenLoopback(server: Server): Promise<Server> {
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return server;
}

function port(server: Server): number {
  return (server.address() as AddressInfo).port;
}

async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

function hop(sessionId: string, phoneNumber: string, text: string): string {
  return new URLSearchParams({ sessionId, serviceCode: SERVICE_CODE, phoneNumber, networkCode: '40410', text }).toString();
}

async function post(url: string, body: string): Promise<{ status: number; body: string }> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', connection: 'close' }, body });
  return { status: response.status, body: await response.text() };
}

function loaderClient(child: ChildProcess): (job: LoadJob) => Promise<LoadOutcome> {
  return (job) =>
    new Promise<LoadOutcome>((resolve, reject) => {
      const onMessage = (reply: LoadReply) => {
        cleanup();
        if (reply.type === 'done') resolve(reply.outcome);
        else reject(new Error(`load generator: ${reply.error}`));
      };
      const onExit = (code: number | null) => {
        cleanup();
        reject(new Error(`load generator exited (${code})`));
      };
      const cleanup = () => {
        child.off('message', onMessage);
        child.off('exit', onExit);
      };
      child.on('message', onMessage);
      child.on('exit', onExit);
      child.send({ type: 'run', job } satisfies LoadMessage);
    });
}

async function stopLoader(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  if (child.connected) child.send({ type: 'exit' } satisfies LoadMessage);
  const timer = setTimeout(() => child.kill('SIGTERM'), 5_000);
  await exited;
  clearTimeout(timer);
}

async function inParallel<T, R>(items: T[], concurrency: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  });
  await Promise.all(lanes);
  return results;
}

async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function gitDescribe(): string {
  try {
    const head = execSync('git rev-parse --short HEAD', { cwd: join(__dirname, '..'), stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    const dirty = execSync('git status --porcelain -- src flows migrations', { cwd: join(__dirname, '..'), stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    return dirty ? `${head} (+ uncommitted changes in src/flows/migrations)` : head;
  } catch {
    return 'unknown';
  }
}

function printTable(rows: Row[]): void {
  const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '-');
  const header = ['scenario', 'rate', 'unit', 'p50 ms', 'p97.5 ms', 'p99 ms', 'err', 'non2xx', 'bad', 'n', 'x baseline'];
  const body = rows.map((r) => [
    r.scenario,
    fmt(r.rate, 0),
    r.unit,
    fmt(r.p50),
    fmt(r.p97_5),
    fmt(r.p99),
    String(r.errors),
    String(r.non2xx),
    String(r.bad),
    String(r.count),
    r.ratio === undefined ? '' : fmt(r.ratio, 2),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((line) => line[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 || i === 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const cells of body) console.log(line(cells));
  for (const r of rows) if (r.note) console.log(`  ${r.scenario}: ${r.note}`);
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  },
);
