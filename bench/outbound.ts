/**
 * Issue 11, part 3: outbox → provider beside a bare BullMQ no-op queue on the same Redis, in the same run.
 *
 * - The yardstick: N jobs added to a queue of its own, then a Worker with the SMS worker's
 *   concurrency (SMS_SEND_CONCURRENCY, default 8) doing nothing; jobs/s from the worker's start to the last completed.
 * - Sandbox: part 1's "code SMS queue → sandbox (drain)" row (or, without part 1, the same run here).
 * - Africa's Talking: a second app (its own database `<bench db>_at` and Redis prefix `<prefix>at`,
 *   so its relay and the first app's never take each other's rows) with SMS_PROVIDER=africastalking
 *   pointed at the test suite's fake (bench/fake-africastalking-process.ts, its own process). N code
 *   SMS relayed into the paused queue, then resumed: messages/s from resume to the last arrival.
 * - Latency: bookings committed at a steady 200/s for BENCH_DURATION seconds, each code SMS timed from
 *   its booking's commit to its arrival at the provider (the sandbox storing it; the fake receiving it).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { Queue, Worker } from 'bullmq';
import Redis from 'ioredis';
import { createApp, type App } from '../src/app';
import { loadConfig } from '../src/config';
import { queueConnection, queuePrefix } from '../src/queue/connection';
import type { FakeAtReply, FakeAtRequest } from './fake-africastalking-process';
import { bookAll, compare, createSessions, errorsIn, latencyRow, pct, registerMembers, resetDatabase, sleep, SMS_WORKER_CONCURRENCY, sortNumbers, until, waitForOutboxSettled, type PartContext, type PartResult, type PartRow } from './parts';

/** Issue 11, part 3: ≥ 0.4× the bare queue; commit → provider p99 < 1 s at 200 bookings/s. */
export const OUTBOUND_TARGETS = { vsBareQueue: 0.4, p99Ms: 1000, bookingsPerSecond: 200 } as const;
const SESSIONS = 4;

export async function benchOutbound(ctx: PartContext): Promise<PartResult> {
  const { app, log, failures } = ctx;
  const rows: PartRow[] = [];
  const n = ctx.bookings;
  const pacedCount = OUTBOUND_TARGETS.bookingsPerSecond * ctx.durationSec;

  // The yardstick first, on an idle Redis.
  log(`outbound: bare BullMQ no-op queue, ${n} jobs, concurrency ${SMS_WORKER_CONCURRENCY}`);
  const bare = await bareQueue(ctx, n);
  rows.push({ ...latencyRow('bare BullMQ no-op queue', 'job/s', [], bare.seconds, `${n} jobs added, then a Worker (concurrency ${SMS_WORKER_CONCURRENCY}) doing nothing: start → last completed`, n), p50: NaN, p97_5: NaN, p99: NaN });
  if (bare.completed !== n) failures.push(`outbound: the bare queue completed ${bare.completed} of ${n} jobs`);

  // Sandbox drain: part 1's row when it ran, else the same measurement here.
  const sessionIds = await createSessions(app, 'Bench Outbound', '110021', SESSIONS);
  let sandboxDrain = ctx.rows.find((r) => r.scenario === 'code SMS queue → sandbox (drain)');
  if (!sandboxDrain) {
    const members = await registerMembers(app, '9140', n);
    const drain = await drainThrough(ctx, app, members, sessionIds, 'sandbox', (phones) => sandboxArrivals(app, phones));
    if (drain) {
      sandboxDrain = drainRow('code SMS queue → sandbox (drain)', drain.seconds, n, `backlog of relayed jobs; worker concurrency ${SMS_WORKER_CONCURRENCY}`);
      rows.push(sandboxDrain);
    }
  }

  // Sandbox at a steady 200 bookings/s.
  const pacedSandbox = await registerMembers(app, '9150', pacedCount);
  log(`outbound: ${pacedCount} bookings at ${OUTBOUND_TARGETS.bookingsPerSecond}/s, code SMS to the sandbox`);
  const sandboxPaced = await pacedLatency(ctx, app, pacedSandbox, sessionIds, (phones) => sandboxArrivals(app, phones), 'sandbox');
  if (sandboxPaced) rows.push(sandboxPaced);

  // Africa's Talking (the fake), through a second app.
  const at = await withFakeAfricasTalking(ctx, async (atApp, fake) => {
    const atSessions = await createSessions(atApp, 'Bench Outbound AT', '110022', SESSIONS);
    const members = await registerMembers(atApp, '9160', n);
    const paced = await registerMembers(atApp, '9170', pacedCount);
    const arrivals = (phones: string[]) => fake.arrivals(phones);
    const drain = await drainThrough(ctx, atApp, members, atSessions, 'africastalking', arrivals);
    const drainAt = drain && drainRow("code SMS queue → fake Africa's Talking (drain)", drain.seconds, n, `backlog of relayed jobs; worker concurrency ${SMS_WORKER_CONCURRENCY}; HTTP to the fake in its own process`);
    log(`outbound: ${pacedCount} bookings at ${OUTBOUND_TARGETS.bookingsPerSecond}/s, code SMS to the fake Africa's Talking`);
    const pacedAt = await pacedLatency(ctx, atApp, paced, atSessions, arrivals, "fake Africa's Talking");
    return { drainAt, pacedAt };
  });
  if (at.drainAt) rows.push(at.drainAt);
  if (at.pacedAt) rows.push(at.pacedAt);

  const bareFigure = { label: 'bare BullMQ queue', rate: n / bare.seconds, unit: 'job/s' };
  const latencyTarget = { p99Ms: OUTBOUND_TARGETS.p99Ms, p99Strict: true };
  const comparisons = [
    compare('outbound', 'outbox → sandbox (drain)', sandboxDrain && { label: 'tika', rate: sandboxDrain.rate, unit: 'msg/s' }, bareFigure, { ratio: OUTBOUND_TARGETS.vsBareQueue }, ctx.rows.includes(sandboxDrain!) ? "part 1's figure" : undefined),
    compare('outbound', "outbox → fake Africa's Talking (drain)", at.drainAt && { label: 'tika', rate: at.drainAt.rate, unit: 'msg/s' }, bareFigure, { ratio: OUTBOUND_TARGETS.vsBareQueue }),
    compare('outbound', `commit → sandbox at ${OUTBOUND_TARGETS.bookingsPerSecond} book/s`, sandboxPaced && { label: 'tika', rate: sandboxPaced.rate, unit: 'msg/s', p99: sandboxPaced.p99 }, undefined, latencyTarget),
    compare('outbound', `commit → fake AT at ${OUTBOUND_TARGETS.bookingsPerSecond} book/s`, at.pacedAt && { label: 'tika', rate: at.pacedAt.rate, unit: 'msg/s', p99: at.pacedAt.p99 }, undefined, latencyTarget),
  ];
  return { rows, comparisons };
}

// ---------------------------------------------------------------------------------------------

async function bareQueue(ctx: PartContext, count: number): Promise<{ seconds: number; completed: number }> {
  const connection = queueConnection(ctx.redisUrl);
  const queue = new Queue('bench-bare-noop', { connection, prefix: queuePrefix(ctx.redisPrefix) });
  const workerConnection = queueConnection(ctx.redisUrl);
  let worker: Worker | undefined;
  try {
    await queue.obliterate({ force: true });
    for (let i = 0; i < count; i += 1000) {
      await queue.addBulk(Array.from({ length: Math.min(1000, count - i) }, (_, j) => ({ name: 'noop', data: { i: i + j }, opts: { jobId: `noop-${i + j}`, removeOnComplete: { count: 50_000 } } })));
    }
    let completed = 0;
    let lastAt = 0;
    const startedAt = Date.now();
    worker = new Worker('bench-bare-noop', async () => undefined, { connection: workerConnection, prefix: queuePrefix(ctx.redisPrefix), concurrency: SMS_WORKER_CONCURRENCY });
    worker.on('completed', () => {
      completed++;
      lastAt = Date.now();
    });
    await until(async () => completed >= count, 60_000);
    return { seconds: (lastAt - startedAt) / 1000, completed };
  } finally {
    await worker?.close();
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
    connection.disconnect();
    workerConnection.disconnect();
  }
}

type Arrivals = (phones: string[]) => Promise<Map<string, number[]>>;

/** Every message each of these phones received at the sandbox (ms since epoch). */
async function sandboxArrivals(app: App, phones: string[]): Promise<Map<string, number[]>> {
  const rows: { phone: string; created_at: Date }[] = await app.db('sandbox_messages').whereIn('phone', phones).select('phone', 'created_at');
  const byPhone = new Map<string, number[]>();
  for (const r of rows) byPhone.set(r.phone, [...(byPhone.get(r.phone) ?? []), new Date(r.created_at).getTime()]);
  return byPhone;
}

/** Waits until every phone has a message at the provider; checks none got two. */
async function arrivedAll(ctx: PartContext, app: App, phones: string[], arrivals: Arrivals, what: string): Promise<Map<string, number> | undefined> {
  let seen = new Map<string, number[]>();
  const all = await until(async () => (seen = await arrivals(phones)).size >= phones.length, 60_000, 50);
  if (!all) {
    ctx.failures.push(`outbound (${what}): ${seen.size} of ${phones.length} code SMS reached the provider within 60 s`);
    return undefined;
  }
  await waitForOutboxSettled(app, phones, 10_000);
  seen = await arrivals(phones);
  const twice = [...seen.values()].filter((times) => times.length > 1).length;
  if (twice) ctx.failures.push(`outbound (${what}): ${twice} phones got their code SMS more than once`);
  return new Map([...seen].map(([p, times]) => [p, Math.min(...times)]));
}

/** Books with the provider's queue paused (the relay still runs), then resumes it: seconds from resume to the last arrival. */
async function drainThrough(ctx: PartContext, app: App, members: { phone: string; memberId: number }[], sessionIds: number[], provider: string, arrivals: Arrivals): Promise<{ seconds: number } | undefined> {
  ctx.log(`outbound: ${members.length} code SMS into the paused ${provider} queue, then drain`);
  const queue = app.smsQueues.get(provider)!;
  const phones = members.map((m) => m.phone);
  await queue.pause();
  try {
    const run = await bookAll(app, members, sessionIds, ctx.concurrency);
    if ((run.kinds.booked ?? 0) !== members.length) ctx.failures.push(`outbound (${provider} drain): expected ${members.length} booked, got ${JSON.stringify(run.kinds)}`);
    const relayed = await until(async () => Number((await app.db('outbound_messages').whereIn('phone', phones).whereNull('relayed_at').count({ n: '*' }))[0]!.n) === 0, 30_000);
    if (!relayed) ctx.failures.push(`outbound (${provider} drain): the relay did not move every outbox row within 30 s`);
  } finally {
    await queue.resume();
  }
  const resumedAt = Date.now();
  const arrived = await arrivedAll(ctx, app, phones, arrivals, `${provider} drain`);
  return arrived && { seconds: (Math.max(...arrived.values()) - resumedAt) / 1000 };
}

function drainRow(scenario: string, seconds: number, count: number, note: string): PartRow {
  return { ...latencyRow(scenario, 'msg/s', [], seconds, note, count), p50: NaN, p97_5: NaN, p99: NaN };
}

/** Bookings started at a steady rate; each code SMS timed from its booking's commit to its arrival at the provider. */
async function pacedLatency(ctx: PartContext, app: App, members: { phone: string; memberId: number }[], sessionIds: number[], arrivals: Arrivals, provider: string): Promise<PartRow | undefined> {
  const rate = OUTBOUND_TARGETS.bookingsPerSecond;
  const commitAt = new Map<string, number>();
  const kinds: Record<string, number> = {};
  const inFlight: Promise<void>[] = [];
  const startedAt = performance.now();
  let late = 0;
  for (let i = 0; i < members.length; i++) {
    const due = startedAt + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    else if (wait < -50) late++;
    const m = members[i]!;
    inFlight.push(
      app.booking.book(m.phone, m.memberId, sessionIds[i % sessionIds.length]!).then(
        (result) => {
          kinds[result.kind] = (kinds[result.kind] ?? 0) + 1;
          if (result.kind === 'booked') commitAt.set(m.phone, Date.now());
        },
        (error: unknown) => {
          const kind = `error: ${error instanceof Error ? error.message.slice(0, 80) : String(error)}`;
          kinds[kind] = (kinds[kind] ?? 0) + 1;
        },
      ),
    );
  }
  await Promise.all(inFlight);
  const bookingSeconds = (performance.now() - startedAt) / 1000;
  if ((kinds.booked ?? 0) !== members.length) ctx.failures.push(`outbound (${provider} at ${rate}/s): expected ${members.length} booked, got ${JSON.stringify(kinds)}`);
  const phones = [...commitAt.keys()];
  const arrived = await arrivedAll(ctx, app, phones, arrivals, `${provider} at ${rate}/s`);
  if (!arrived) return undefined;
  const latencies = sortNumbers(phones.map((p) => arrived.get(p)! - commitAt.get(p)!));
  const firstCommit = Math.min(...commitAt.values());
  const seconds = (Math.max(...arrived.values()) - firstCommit) / 1000;
  const row = latencyRow(
    `code SMS commit → ${provider} at ${rate} book/s`,
    'msg/s',
    latencies,
    seconds,
    `bookings paced at ${rate}/s (achieved ${(members.length / bookingSeconds).toFixed(0)}/s, ${late} started > 50 ms late); latency = commit → at the provider; max ${latencies.at(-1)} ms; p99 ${pct(latencies, 99)} ms`,
  );
  row.errors = errorsIn(kinds);
  return row;
}

// ---------------------------------------------------------------------------------------------

interface FakeAt {
  url: string;
  arrivals: Arrivals;
}

/** A second app sending through Africa's Talking to the fake, on a database and Redis prefix of its own; all closed afterwards. */
async function withFakeAfricasTalking<T>(ctx: PartContext, run: (app: App, fake: FakeAt) => Promise<T>): Promise<T> {
  const child = fork(join(__dirname, 'fake-africastalking-process.ts'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const databaseUrl = ctx.databaseUrl.replace(/\/([^/?]+)(\?|$)/, '/$1_at$2');
  const prefix = `${ctx.redisPrefix}at`;
  let app: App | undefined;
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("fake Africa's Talking did not listen within 30 s")), 30_000);
      child.once('message', (reply: FakeAtReply) => {
        clearTimeout(timer);
        if (reply.type === 'listening') resolve(reply.url);
      });
      child.once('exit', (code) => reject(new Error(`fake Africa's Talking exited (${code})`)));
    });
    ctx.log(`outbound: fake Africa's Talking process ${child.pid} on ${url}; second app on ${databaseUrl.replace(/^.*\//, '')}, prefix ${prefix}`);
    await resetDatabase(databaseUrl);
    await deleteKeys(ctx.redisUrl, prefix);
    const config = loadConfig({
      ...ctx.configEnv,
      DATABASE_URL: databaseUrl,
      REDIS_PREFIX: prefix,
      SMS_PROVIDER: 'africastalking',
      AT_USERNAME: 'sandbox',
      AT_API_KEY: 'bench-at-api-key',
      AT_BASE_URL: url,
      // Outside the all-sandbox development default, the app refuses to start without these.
      ADMIN_TOKEN: 'bench-admin-token-0123456789abcdef0123456789',
      CODE_SECRET: 'bench-code-secret-0123456789abcdef0123456789',
    });
    app = await createApp(config);
    await app.startWorker();
    const fake: FakeAt = { url, arrivals: fakeArrivals(child) };
    return await run(app, fake);
  } finally {
    if (app) await app.close();
    await deleteKeys(ctx.redisUrl, prefix);
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      await exited;
    }
  }
}

function fakeArrivals(child: ChildProcess): Arrivals {
  let nextId = 1;
  return (phones) =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      const onMessage = (reply: FakeAtReply) => {
        if (reply.type !== 'received' || reply.id !== id) return;
        child.off('message', onMessage);
        const wanted = new Set(phones);
        const byPhone = new Map<string, number[]>();
        for (const [to, at] of reply.arrivals) if (wanted.has(to)) byPhone.set(to, [...(byPhone.get(to) ?? []), at]);
        resolve(byPhone);
      };
      child.on('message', onMessage);
      if (!child.send({ id, type: 'received' } satisfies FakeAtRequest)) reject(new Error("fake Africa's Talking: IPC closed"));
    });
}


async function deleteKeys(redisUrl: string, prefix: string): Promise<void> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 2 });
  try {
    for (const match of [`${prefix}:*`, `${queuePrefix(prefix)}:*`]) {
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
