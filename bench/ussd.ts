/**
 * Throughput bench: `npm run bench`. See bench/README.md for what each number means.
 *
 * Tika's web process (src/web.ts) runs in a child process, and so does each yardstick it is measured
 * against (bench/yardsticks.ts: a bare express route, a minimal stateful hop, ussd-menu-builder), all
 * on 127.0.0.1, on the bench's own database `tika_bench` and Redis prefix `tikabench`. This process
 * seeds the data and runs the outbox relay and SMS worker (sandbox provider). Load comes from
 * autocannon in a child process (bench/load.ts). Then it books appointments through the domain and
 * times the code SMS through outbox → relay → BullMQ → worker → sandbox. Prints the tables and writes
 * bench/results/latest.json. Exits 1 on a broken invariant only (a wrong answer, an error, a lost
 * booking or SMS), never on a missed ratio.
 *
 * Tunables (environment): BENCH_DURATION (s per timed scenario, default 10), BENCH_CONNECTIONS (50),
 * BENCH_SESSIONS (mid-conversation sessions, 3000), BENCH_BOOKINGS (per booking batch, 1000),
 * BENCH_SMS_RATE (the SMS worker's rate limit for this run, 10000/s), BENCH_CPU_PROFILE (a directory:
 * Tika's web process runs under --cpu-prof and only the first hops are run, on Tika only).
 */
import { execSync, fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { createApp, type App } from '../src/app';
import { loadConfig } from '../src/config';
import type { Db } from '../src/db/knex';
import { setLanguage } from '../src/domain/accounts';
import { addDays, dayIn } from '../src/domain/dates';
import { MAX_SESSION_CAPACITY } from '../src/domain/programme';
import { ALL_PARTS, benchParts, inParallel, intEnv, pct, printPartComparisons, resetDatabase, runParts, SMS_WORKER_CONCURRENCY, until, type PartComparison, type PartRow } from './parts';
import { UNIQUE_TOKEN, type LoadJob, type LoadMessage, type LoadOutcome, type LoadReply } from './load';
import { YARDSTICK_KINDS, YARDSTICK_SCREENS, type YardstickKind, type YardstickMessage } from './yardsticks';

const DATABASE_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/tika_bench';
const REDIS_URL = 'redis://127.0.0.1:6379';
const REDIS_PREFIX = process.env.BENCH_REDIS_PREFIX ?? 'tikabench';
const WEBHOOK_SECRET = 'bench-webhook-secret-0123456789';
const SERVICE_CODE = '*384*1234#';
const PINCODE = '110001';
const YARDSTICK_PINCODE = '110002';

const DURATION_SEC = intEnv('BENCH_DURATION', 10);
const CONNECTIONS = intEnv('BENCH_CONNECTIONS', 50);
const MID_SESSIONS = intEnv('BENCH_SESSIONS', 3000);
const FIRST_HOP_PHONES = 1000;
const BOOKINGS = intEnv('BENCH_BOOKINGS', 1000);
const BOOKING_CONCURRENCY = 50;
const SEATS_PER_SESSION = 3000;
const SMS_RATE = intEnv('BENCH_SMS_RATE', 10_000);
/** Whatever happens, the process ends by then. */
const HARD_LIMIT_MS = 900_000;
/** BENCH_CPU_PROFILE=<dir>: Tika's web process runs with --cpu-prof, and only the first hops are run (on Tika only). */
const CPU_PROFILE_DIR = process.env.BENCH_CPU_PROFILE;
const UNDER_TSX = process.env.BENCH_TSX === '1';
/** USER_HZ: /proc reports CPU time in these. */
const CLOCK_TICKS_PER_SECOND = Number(process.platform === 'linux' ? execSync('getconf CLK_TCK').toString().trim() : 100);
const firstHopsOnly = Boolean(CPU_PROFILE_DIR);
/** BENCH_PARTS: a comma list of hops, bookings, outbound, certificates (issue 11's parts 1–4); default all. */
const PARTS = benchParts(process.env.BENCH_PARTS, firstHopsOnly);

/** Issue 11, part 1: every hop ≥ 1.0× ussd-menu-builder and ≥ 0.5× the minimal hop, p99 ≤ 100 ms at 50 connections. */
const HOP_TARGETS = { vsMenuBuilder: 1.0, vsMinimal: 0.5, p99Ms: 100 } as const;
const HOP_LABELS = {
  'first-new': 'first hop, new mobile',
  'first-known': 'first hop, known mobile',
  members: 'member list',
  pin: 'PIN prompt',
  centres: 'centre list',
  confirm: 'confirming hop',
} as const;
type HopId = keyof typeof HOP_LABELS;
type ServerName = 'tika' | 'menu-builder' | 'minimal' | 'bare';
/** book.done's parameters, for the fixed start of the screen ("Booked: "). */
const DONE_PARAMS = { memberName: 'MEMBER', centre: '', day: '', time: '', ref: '' };

const RESULTS_DIR = join(__dirname, 'results');

// Phone pools (E.164, India): first-hop callers, mid-conversation callers, two booking batches.
const phone = (series: string, i: number) => `+91${series}${String(i).padStart(6, '0')}`;

interface Row extends PartRow {
  hop?: HopId;
  server?: ServerName;
  ratio?: number;
  /** CPU time (user + system) the server process spent per answered request: its cost, less sensitive than req/s to what else the machine runs. */
  cpuMsPerRequest?: number;
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

  // The same settings for the in-process app (seeding, domain bookings, relay, SMS worker) and Tika's web process.
  const configEnv: Record<string, string> = {
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
    SMS_SEND_CONCURRENCY: String(SMS_WORKER_CONCURRENCY),
    DATA_DIR: join(tmpdir(), 'tika-bench-data'),
  };
  const config = loadConfig(configEnv);

  let app: App | undefined;
  let tika: Child | undefined;
  const yardsticks = new Map<YardstickKind, Child>();
  let loader: ChildProcess | undefined;
  try {
    app = await createApp(config);
    await app.startWorker();

    log(PARTS.has('hops') ? 'seeding centres, sessions, accounts and members' : `parts: ${[...PARTS].join(', ')}`);
    const seed = PARTS.has('hops') ? await seedData(app) : undefined;
    // Part 1, the hops (the block is not re-indented, to keep merges with concurrent edits clean).
    if (seed) {

    // Tika's web process, and each yardstick, in an OS process of its own (bench/yardsticks.ts).
    if (!UNDER_TSX) {
      log('npm run build (Tika runs compiled, as in production)');
      execSync('npm run build', { cwd: join(__dirname, '..'), stdio: ['ignore', 'ignore', 'inherit'] });
    }
    tika = await startTika(configEnv);
    const appUrl = `${tika.origin}/webhooks/africastalking/ussd?key=${WEBHOOK_SECRET}`;
    for (const kind of YARDSTICK_KINDS) yardsticks.set(kind, await startYardstick(kind, seed.yardstickSessionId));
    const yardUrl = (kind: YardstickKind) => `${yardsticks.get(kind)!.origin}/ussd`;

    const screen = (key: string) => app!.catalogue.render('en', key);
    const expectLanguage = { prefix: 'CON ', includes: screen('language.choose') };
    const expectMenu = { prefix: 'CON ', includes: screen('menu.title') };
    const expectMembers = { prefix: 'CON ', includes: screen('member.choose') };
    const expectPincode = { prefix: 'CON ', includes: screen('book.pincode') };
    const expectCentres = { prefix: 'CON ', includes: screen('book.choose_centre') };
    const expectDates = { prefix: 'CON ', includes: screen('book.choose_session') };
    // book.confirm and book.done carry parameters: check their fixed start only.
    const expectConfirm = { prefix: 'CON ', includes: screen('book.confirm_yes') };
    const done = app.catalogue.render('en', 'book.done', DONE_PARAMS);
    const expectBooked = { prefix: `END ${done.slice(0, done.indexOf('MEMBER'))}` };

    // One hop by hand first: a broken route fails here, not as 50 connections of errors.
    const probe = await post(appUrl, hop(`probe_${Date.now()}`, seed.firstHopPhones[0]!, ''));
    if (probe.status !== 200 || !probe.body.startsWith('CON ') || !probe.body.includes(expectMenu.includes)) {
      throw new Error(`first hop probe answered ${probe.status}: ${probe.body}`);
    }

    loader = fork(join(__dirname, 'load.ts'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const load = loaderClient(loader);

    const runHttp = async (scenario: string, job: Omit<LoadJob, 'name' | 'connections'>, tag: Pick<Row, 'hop' | 'server'>, note?: string): Promise<LoadOutcome> => {
      log(`${scenario}: ${job.amount ? `${job.amount} requests` : `${job.durationSec} s`}, ${CONNECTIONS} connections`);
      const serverPid = (tag.server === 'tika' ? tika : tag.server ? yardsticks.get(tag.server) : undefined)?.process.pid;
      const cpuBefore = serverPid && cpuMsOf(serverPid);
      const outcome = await load({ name: scenario, connections: CONNECTIONS, ...job });
      const cpuAfter = serverPid && cpuMsOf(serverPid);
      raw[scenario] = outcome;
      rows.push({
        scenario,
        kind: 'http',
        ...tag,
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
        cpuMsPerRequest: cpuBefore !== undefined && cpuAfter !== undefined && outcome.responses > 0 ? (cpuAfter - cpuBefore) / outcome.responses : undefined,
        note,
      });
      if (outcome.errors + outcome.timeouts + outcome.non2xx + outcome.bad > 0) {
        failures.push(`${scenario}: ${outcome.errors} errors, ${outcome.timeouts} timeouts, ${outcome.non2xx} non-2xx, ${outcome.bad} wrong bodies ${JSON.stringify(outcome.badSamples)}`);
      }
      if (outcome.checked === 0) failures.push(`${scenario}: no response was checked`);
      return outcome;
    };

    /** One hop on Tika, then on each yardstick: same bodies, same connections, same duration or count. */
    const compare = async (hopId: HopId, job: Omit<LoadJob, 'name' | 'connections' | 'url' | 'expect'>, tikaExpect: LoadJob['expect'], yardExpect: string, note?: string) => {
      const label = HOP_LABELS[hopId];
      await runHttp(`tika: ${label}`, { ...job, url: appUrl, expect: tikaExpect }, { hop: hopId, server: 'tika' }, note);
      if (firstHopsOnly) return;
      for (const kind of ['menu-builder', 'minimal'] as const) {
        await runHttp(`${kind}: ${label}`, { ...job, url: yardUrl(kind), expect: { prefix: yardExpect } }, { hop: hopId, server: kind }, note);
      }
    };

    // (a) The baseline: what express answers on this machine with nothing behind it.
    if (!firstHopsOnly) {
      await runHttp('baseline express', { url: yardUrl('bare'), bodies: [hop('x', seed.firstHopPhones[0]!, '')], durationSec: DURATION_SEC, expect: { prefix: 'CON hello' } }, { server: 'bare' });
    }

    // (b) First hops: a new session each request.
    await compare(
      'first-new',
      { bodies: seed.newPhones.map((p) => hop(`ATUid_new_${UNIQUE_TOKEN}`, p, '')), durationSec: DURATION_SEC },
      expectLanguage,
      YARDSTICK_SCREENS.language,
      `new sessionId per request, ${seed.newPhones.length} mobiles never seen`,
    );
    await compare(
      'first-known',
      { bodies: seed.firstHopPhones.map((p) => hop(`ATUid_bench_${UNIQUE_TOKEN}`, p, '')), durationSec: DURATION_SEC },
      expectMenu,
      YARDSTICK_SCREENS.menu,
      `new sessionId per request, ${seed.firstHopPhones.length} known mobiles`,
    );

    if (!firstHopsOnly) {
      // (c) Mid-conversation sessions, advanced by real hops; each wave touches each session once.
      const mid = seed.midPhones.map((p, i) => ({ sessionId: `ATUid_mid_${Date.now().toString(36)}_${i}`, phone: p }));
      const wave = (text: string) => mid.map((s) => hop(s.sessionId, s.phone, text));
      const once = (text: string) => ({ bodies: wave(text), amount: mid.length });
      const tikaOnly = { server: 'tika' } as const;
      await runHttp('tika: dial (setup)', { url: appUrl, ...once(''), expect: expectMenu }, tikaOnly, `${mid.length} sessions, once each`);
      await compare('members', once('1'), expectMembers, YARDSTICK_SCREENS.members, 'once per session');
      await compare('pin', once('1*1'), expectPincode, YARDSTICK_SCREENS.pincode, 'once per session');
      await runHttp('tika: repeated hop (cached)', { url: appUrl, bodies: wave('1*1'), durationSec: DURATION_SEC, expect: expectPincode }, tikaOnly, `same text again, round-robin over ${mid.length} sessions`);
      await compare('centres', once(`1*1*${PINCODE}`), expectCentres, YARDSTICK_SCREENS.centres, 'once per session; SQL over sessions');
      await runHttp('tika: centre → dates (setup)', { url: appUrl, ...once(`1*1*${PINCODE}*1`), expect: expectDates }, tikaOnly, 'once per session');
      await runHttp('tika: date → confirm screen (setup)', { url: appUrl, ...once(`1*1*${PINCODE}*1*1`), expect: expectConfirm }, tikaOnly, 'once per session');
      await compare('confirm', once(`1*1*${PINCODE}*1*1*1`), expectBooked, YARDSTICK_SCREENS.booked, 'once per session, all into one session (Tika: booking + outbox; yardsticks: the seat UPDATE only)');

      // The code SMS those bookings caused leave before the booking bench starts, so they do not share its time.
      const confirmedSms = await waitForSms(app.db, mid.map((s) => s.phone), 60_000);
      if (!confirmedSms) failures.push('sms (confirming hop): not every code SMS reached the sandbox within 60 s');

      // (d) Booking at the domain level, and the code SMS through the whole outbox pipeline.
      await benchBookingAndSms(app, seed, rows, raw, failures);
    }
    }

    // Parts 2–4 (bench/bookings.ts, bench/outbound.ts, bench/certificates.ts), each beside its yardstick in this run.
    const partComparisons: PartComparison[] = await runParts(PARTS, { app, configEnv, databaseUrl: DATABASE_URL, redisUrl: REDIS_URL, redisPrefix: REDIS_PREFIX, durationSec: DURATION_SEC, bookings: BOOKINGS, concurrency: BOOKING_CONCURRENCY, rows, raw, failures, log });

    const baseline = rows.find((r) => r.scenario === 'baseline express');
    if (baseline) for (const row of rows) if (row.kind === 'http') row.ratio = row.rate / baseline.rate;
    const comparison = compareHops(rows);

    printTable(rows);
    if (comparison.length) printComparison(comparison);
    printPartComparisons(partComparisons);
    const summary = {
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown', node: process.version, platform: `${process.platform} ${process.arch}` },
      git: gitDescribe(),
      processes: {
        tika: `src/web.ts in its own process${CPU_PROFILE_DIR ? ` (--cpu-prof into ${CPU_PROFILE_DIR})` : ''}`,
        yardsticks: 'bench/yardsticks.ts, one process each',
        loadGenerator: 'bench/load.ts',
        inProcess: 'seeding, domain bookings, outbox relay, SMS worker',
      },
      versions: serviceVersions(),
      settings: { parts: [...PARTS], durationSec: DURATION_SEC, connections: CONNECTIONS, midSessions: seed?.midPhones.length, firstHopPhones: seed?.firstHopPhones.length, newPhones: seed?.newPhones.length, firstHopsOnly, bookings: BOOKINGS, bookingConcurrency: BOOKING_CONCURRENCY, smsRatePerSecond: SMS_RATE },
      targets: HOP_TARGETS,
      comparison,
      partComparisons,
      rows,
      raw,
      failures,
      totalSeconds: (Date.now() - started) / 1000,
    };
    mkdirSync(RESULTS_DIR, { recursive: true });
    // A profiling run is partial (first hops, Tika only): it does not replace the last full run's results.
    // So is a run of some of the parts (BENCH_PARTS).
    const resultsFile = firstHopsOnly ? 'profile.json' : PARTS.size === ALL_PARTS.length ? 'latest.json' : `partial-${[...PARTS].join('-')}.json`;
    writeFileSync(join(RESULTS_DIR, resultsFile), `${JSON.stringify(summary, null, 2)}\n`);
    log(`wrote ${join('bench', 'results', resultsFile)} (${summary.totalSeconds.toFixed(1)} s in all)`);
  } catch (error) {
    failures.push(`bench stopped: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
  } finally {
    log('cleaning up');
    if (loader) await stopLoader(loader);
    await Promise.all([...yardsticks.values(), ...(tika ? [tika] : [])].map((child) => stopChild(child.process)));
    if (app) await app.close();
    await deleteRedisKeys();
  }

  // Issue 11, part 5, on a full run (alone: npm run bench:scale): 1 web, then 2 web + 2 worker processes behind a round-robin proxy, on a database of its own.
  if (!firstHopsOnly && PARTS.size === ALL_PARTS.length) failures.push(...(await (await import('./scale-out')).runScaleOut({ web: 2, workers: 2 })));

  if (failures.length) {
    for (const failure of failures) log(`FAIL ${failure}`);
    return 1;
  }
  log('all checks passed');
  return 0;
}

// ---------------------------------------------------------------------------------------------

interface Seed {
  /** The sessions Tika's screens offer; the first takes the confirming hop's bookings. */
  sessionIds: number[];
  /** A session at another PIN code where the yardsticks' confirming hop takes its seats. */
  yardstickSessionId: number;
  /** Mobiles never seen (no account): the first hop asks for a language. */
  newPhones: string[];
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

  const yardCentre = await app.programme.createCentre({ name: 'Bench Yardstick Centre', pincode: YARDSTICK_PINCODE, district: 'New Delhi', state: 'Delhi' });
  const yardSession = await app.programme.createSession({ centreId: yardCentre.id, date: addDays(today, 1), vaccine: 'Covishield', minAge: 18, dose: 1, capacity: MAX_SESSION_CAPACITY });

  const newPhones = Array.from({ length: FIRST_HOP_PHONES }, (_, i) => phone('9300', i));
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
  return { sessionIds, yardstickSessionId: yardSession.id, newPhones, firstHopPhones, midPhones, bookingBatches };
}

/**
 * Batch 1: bookings with the SMS worker live; each code SMS timed from its booking's commit to the
 * sandbox storing it. Batch 2: the SMS queue paused while booking, then resumed: bookings/s without
 * the worker competing, and the worker's drain rate alone.
 */
async function benchBookingAndSms(app: App, seed: Seed, rows: Row[], raw: Record<string, unknown>, failures: string[]): Promise<void> {
  const [live, backlog] = seed.bookingBatches as [Seed['bookingBatches'][0], Seed['bookingBatches'][0]];

  log(`booking: ${live.length} parallel bookings (${BOOKING_CONCURRENCY} in flight), SMS worker live`);
  // The first session is full of the confirming hop's bookings.
  const sessionIds = seed.sessionIds.slice(1);
  const first = await bookAll(app, live, sessionIds, failures);
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
    second = await bookAll(app, backlog, sessionIds, failures);
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
      note: `backlog of relayed jobs; worker concurrency ${SMS_WORKER_CONCURRENCY}`,
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

export async function resetStores(databaseUrl = DATABASE_URL, redisPrefix = REDIS_PREFIX): Promise<void> {
  await resetDatabase(databaseUrl);
  await deleteRedisKeys(redisPrefix);
}

export async function deleteRedisKeys(redisPrefix = REDIS_PREFIX): Promise<void> {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 2 });
  try {
    for (const match of [`${redisPrefix}:*`, `{${redisPrefix}}:*`]) {
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

interface Child {
  process: ChildProcess;
  /** http://127.0.0.1:<port> */
  origin: string;
}

/** Tika's web process (src/web.ts, as `npm run start:web` runs it) on a free loopback port; resolves once /healthz answers. */
async function startTika(configEnv: Record<string, string>): Promise<Child> {
  const port = await freePort();
  // Production runs the compiled JavaScript (npm run build, start:prod:web); BENCH_TSX=1 measures the tsx path instead.
  const execArgv = UNDER_TSX ? [...process.execArgv] : [];
  if (CPU_PROFILE_DIR) execArgv.push('--cpu-prof', `--cpu-prof-dir=${CPU_PROFILE_DIR}`);
  const entry = UNDER_TSX ? join(__dirname, '..', 'src', 'web.ts') : join(__dirname, '..', 'dist', 'src', 'web.js');
  const child = fork(entry, [], {
    env: { ...process.env, ...configEnv, PORT: String(port), METRICS_HOST: '' },
    execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const origin = `http://127.0.0.1:${port}`;
  const healthy = await until(async () => {
    if (child.exitCode !== null) throw new Error(`Tika's web process exited (${child.exitCode})`);
    return fetch(`${origin}/healthz`).then((r) => r.ok, () => false);
  }, 30_000);
  if (!healthy) {
    child.kill('SIGTERM');
    throw new Error("Tika's web process did not answer /healthz within 30 s");
  }
  log(`tika web process ${child.pid} (${UNDER_TSX ? 'src/web.ts under tsx' : 'dist/src/web.js'}) on ${origin}${CPU_PROFILE_DIR ? ` (--cpu-prof into ${CPU_PROFILE_DIR})` : ''}`);
  return { process: child, origin };
}

async function startYardstick(kind: YardstickKind, seatSessionId: number): Promise<Child> {
  const child = fork(join(__dirname, 'yardsticks.ts'), [], {
    env: { ...process.env, YARDSTICK_KIND: kind, DATABASE_URL, REDIS_URL, YARDSTICK_PREFIX: `${REDIS_PREFIX}:yard-${kind}`, YARDSTICK_SESSION_ID: String(seatSessionId) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`yardstick ${kind} did not listen within 30 s`)), 30_000);
    child.once('message', (message: YardstickMessage) => {
      clearTimeout(timer);
      resolve(message.port);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`yardstick ${kind} exited (${code})`));
    });
  });
  log(`yardstick ${kind} process ${child.pid} on 127.0.0.1:${port}`);
  return { process: child, origin: `http://127.0.0.1:${port}` };
}

/** SIGTERM (Tika closes cleanly and, under --cpu-prof, writes its profile), then SIGKILL after 15 s. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

/** User + system CPU time of a process so far, in ms (Linux /proc; undefined elsewhere). */
export function cpuMsOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks * 1000) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

interface Figure {
  rps: number;
  p99: number;
  cpuMsPerRequest?: number;
}

interface HopComparison {
  hop: HopId;
  label: string;
  tika: Figure;
  menuBuilder?: Figure;
  minimal?: Figure;
  /** Tika's req/s ÷ the yardstick's, in the same run. */
  vsMenuBuilder?: number;
  vsMinimal?: number;
  met: { vsMenuBuilder?: boolean; vsMinimal?: boolean; p99: boolean };
}

function compareHops(rows: Row[]): HopComparison[] {
  const figure = (hopId: HopId, server: ServerName): Figure | undefined => {
    const row = rows.find((r) => r.hop === hopId && r.server === server);
    return row && { rps: row.rate, p99: row.p99, cpuMsPerRequest: row.cpuMsPerRequest };
  };
  const comparisons: HopComparison[] = [];
  for (const hopId of Object.keys(HOP_LABELS) as HopId[]) {
    const tika = figure(hopId, 'tika');
    if (!tika) continue;
    const menuBuilder = figure(hopId, 'menu-builder');
    const minimal = figure(hopId, 'minimal');
    const vsMenuBuilder = menuBuilder && tika.rps / menuBuilder.rps;
    const vsMinimal = minimal && tika.rps / minimal.rps;
    comparisons.push({
      hop: hopId,
      label: HOP_LABELS[hopId],
      tika,
      menuBuilder,
      minimal,
      vsMenuBuilder,
      vsMinimal,
      met: {
        vsMenuBuilder: vsMenuBuilder === undefined ? undefined : vsMenuBuilder >= HOP_TARGETS.vsMenuBuilder,
        vsMinimal: vsMinimal === undefined ? undefined : vsMinimal >= HOP_TARGETS.vsMinimal,
        p99: tika.p99 <= HOP_TARGETS.p99Ms,
      },
    });
  }
  return comparisons;
}

function printComparison(comparisons: HopComparison[]): void {
  const fmt = (n: number | undefined, digits = 0) => (n === undefined || !Number.isFinite(n) ? '-' : n.toFixed(digits));
  const mark = (met: boolean | undefined) => (met === undefined ? '' : met ? ' met' : ' MISSED');
  const header = ['hop', 'tika req/s', 'p99', 'menu-builder req/s', 'p99', 'minimal req/s', 'p99', `tika/menu-builder (>= ${HOP_TARGETS.vsMenuBuilder})`, `tika/minimal (>= ${HOP_TARGETS.vsMinimal})`, `tika p99 (<= ${HOP_TARGETS.p99Ms} ms)`, 'CPU ms/req tika | menu-builder | minimal'];
  const body = comparisons.map((c) => [
    c.label,
    fmt(c.tika.rps),
    fmt(c.tika.p99),
    fmt(c.menuBuilder?.rps),
    fmt(c.menuBuilder?.p99),
    fmt(c.minimal?.rps),
    fmt(c.minimal?.p99),
    `${fmt(c.vsMenuBuilder, 2)}${mark(c.met.vsMenuBuilder)}`,
    `${fmt(c.vsMinimal, 2)}${mark(c.met.vsMinimal)}`,
    `${fmt(c.tika.p99)}${mark(c.met.p99)}`,
    [c.tika, c.menuBuilder, c.minimal].map((f) => fmt(f?.cpuMsPerRequest, 2)).join(' | '),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((line) => line[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log('\nUSSD hops against the yardsticks (same run, same load; a missed ratio is reported, not a failure)');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const cells of body) console.log(line(cells));
}

/** PostgreSQL and Redis versions, for the record. */
export function serviceVersions(databaseUrl = DATABASE_URL): Record<string, string> {
  const ask = (command: string) => {
    try {
      return execSync(command, { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    } catch {
      return 'unknown';
    }
  };
  return {
    postgres: ask(`psql "${databaseUrl}" -Atc "SHOW server_version"`),
    redis: ask(`redis-cli -u ${REDIS_URL} INFO server | grep redis_version | cut -d: -f2`),
  };
}

export function hop(sessionId: string, phoneNumber: string, text: string): string {
  return new URLSearchParams({ sessionId, serviceCode: SERVICE_CODE, phoneNumber, networkCode: '40410', text }).toString();
}

export async function post(url: string, body: string): Promise<{ status: number; body: string }> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', connection: 'close' }, body });
  return { status: response.status, body: await response.text() };
}

export function loaderClient(child: ChildProcess): (job: LoadJob) => Promise<LoadOutcome> {
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

export async function stopLoader(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  if (child.connected) child.send({ type: 'exit' } satisfies LoadMessage);
  const timer = setTimeout(() => child.kill('SIGTERM'), 5_000);
  await exited;
  clearTimeout(timer);
}

export function gitDescribe(): string {
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
  const header = ['scenario', 'rate', 'unit', 'p50 ms', 'p97.5 ms', 'p99 ms', 'err', 'non2xx', 'bad', 'n', 'x baseline', 'CPU ms/req'];
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
    r.cpuMsPerRequest === undefined ? '' : fmt(r.cpuMsPerRequest, 2),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((line) => line[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 || i === 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const cells of body) console.log(line(cells));
  for (const r of rows) if (r.note) console.log(`  ${r.scenario}: ${r.note}`);
}

if (require.main === module) main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  },
);
