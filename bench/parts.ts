/**
 * Issue 11, parts 2–4, run by bench/ussd.ts after the hops (part 1): each part is a module of its own
 * (bench/bookings.ts, bench/outbound.ts, bench/certificates.ts) that measures Tika beside a yardstick
 * in the same run, returns its rows and comparisons, and adds broken invariants to `failures`.
 * It also holds the small helpers every bench file uses (inParallel, until, pct, intEnv, resetDatabase).
 */
import type { App } from '../src/app';
import { DEFAULT_SMS_SEND_CONCURRENCY } from '../src/config';
import { createDb, ensureDatabase, migrateLatest } from '../src/db/knex';
import { addDays, dayIn } from '../src/domain/dates';
import { MAX_SESSION_CAPACITY } from '../src/domain/programme';

export const ALL_PARTS = ['hops', 'bookings', 'outbound', 'certificates'] as const;
export type PartName = (typeof ALL_PARTS)[number];

/** BENCH_PARTS (comma list, default all). A profiling run (BENCH_CPU_PROFILE) is the first hops only. */
export function benchParts(value: string | undefined, firstHopsOnly: boolean): Set<PartName> {
  if (firstHopsOnly) return new Set(['hops']);
  if (!value?.trim()) return new Set(ALL_PARTS);
  const names = value.split(',').map((name) => name.trim()).filter(Boolean);
  const unknown = names.filter((name) => !(ALL_PARTS as readonly string[]).includes(name));
  if (unknown.length) throw new Error(`BENCH_PARTS: unknown part(s) ${unknown.join(', ')}; known: ${ALL_PARTS.join(', ')}`);
  return new Set(names as PartName[]);
}

/** A row of the bench's main table (the same fields as bench/ussd.ts's Row). */
export interface PartRow {
  scenario: string;
  kind: 'http' | 'domain';
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
  note?: string;
}

export interface PartFigure {
  label: string;
  rate: number;
  unit: string;
  p99?: number;
}

/** Tika beside its yardstick in the same run: the ratio against a target, and a latency target. Met or MISSED, never a failure. */
export interface PartComparison {
  part: PartName;
  label: string;
  tika?: PartFigure;
  yardstick?: PartFigure;
  /** tika.rate ÷ yardstick.rate. */
  ratio?: number;
  target: { ratio?: number; p99Ms?: number; p99Strict?: boolean };
  met: { ratio?: boolean; p99?: boolean };
  note?: string;
}

export interface PartContext {
  /** The bench's in-process app: seeding, domain calls, the outbox relay, the SMS and task workers (sandbox provider). */
  app: App;
  /** The environment the app was configured from. */
  configEnv: Record<string, string>;
  databaseUrl: string;
  redisUrl: string;
  /** Every Redis key a part makes starts with this (or `{prefix}` for BullMQ), so the bench's cleanup removes it. */
  redisPrefix: string;
  durationSec: number;
  /** Size of a booking batch (BENCH_BOOKINGS). */
  bookings: number;
  /** Bookings in flight (50). */
  concurrency: number;
  /** The rows so far (part 1's figures are reused, not measured twice). */
  rows: readonly PartRow[];
  raw: Record<string, unknown>;
  failures: string[];
  log: (message: string) => void;
}

export interface PartResult {
  rows: PartRow[];
  comparisons: PartComparison[];
}

/** Runs the selected parts 2–4 in order; their rows join the main table. A part that throws is a failure, and the next part still runs. */
export async function runParts(parts: Set<PartName>, ctx: PartContext & { rows: PartRow[] }): Promise<PartComparison[]> {
  // Loaded here so that a run of the hops alone does not load them.
  const modules: [PartName, () => Promise<(c: PartContext) => Promise<PartResult>>][] = [
    ['bookings', async () => (await import('./bookings')).benchBookings],
    ['outbound', async () => (await import('./outbound')).benchOutbound],
    ['certificates', async () => (await import('./certificates')).benchCertificates],
  ];
  const comparisons: PartComparison[] = [];
  for (const [name, load] of modules) {
    if (!parts.has(name)) continue;
    try {
      const result = await (await load())(ctx);
      ctx.rows.push(...result.rows);
      comparisons.push(...result.comparisons);
    } catch (error) {
      ctx.failures.push(`${name}: stopped: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
    }
  }
  return comparisons;
}

/** Fills in ratio and met from the figures and the targets. */
export function compare(part: PartName, label: string, tika: PartFigure | undefined, yardstick: PartFigure | undefined, target: PartComparison['target'], note?: string): PartComparison {
  const ratio = tika && yardstick ? tika.rate / yardstick.rate : undefined;
  const p99 = tika?.p99;
  return {
    part,
    label,
    tika,
    yardstick,
    ratio,
    target,
    met: {
      ratio: target.ratio === undefined || ratio === undefined ? undefined : ratio >= target.ratio,
      p99: target.p99Ms === undefined || p99 === undefined || !Number.isFinite(p99) ? undefined : target.p99Strict ? p99 < target.p99Ms : p99 <= target.p99Ms,
    },
    note,
  };
}

const TITLES: Record<Exclude<PartName, 'hops'>, string> = {
  bookings: 'Bookings against a bare booking transaction over pg (issue 11, part 2)',
  outbound: 'Outbound SMS against a bare BullMQ no-op queue (issue 11, part 3)',
  certificates: 'Certificates against raw Ed25519 (issue 11, part 4)',
};

export function printPartComparisons(comparisons: PartComparison[]): void {
  const fmt = (n: number | undefined, digits = 0) => (n === undefined || !Number.isFinite(n) ? '-' : n.toFixed(digits));
  const mark = (met: boolean | undefined) => (met === undefined ? '' : met ? ' met' : ' MISSED');
  for (const part of Object.keys(TITLES) as (keyof typeof TITLES)[]) {
    const mine = comparisons.filter((c) => c.part === part);
    if (!mine.length) continue;
    const header = ['figure', 'tika', 'unit', 'p99 ms', 'yardstick', 'rate', 'ratio (target)', 'p99 (target)'];
    const body = mine.map((c) => [
      c.label,
      fmt(c.tika?.rate),
      c.tika?.unit ?? '',
      fmt(c.tika?.p99),
      c.yardstick?.label ?? '',
      fmt(c.yardstick?.rate),
      c.target.ratio === undefined ? '' : `${fmt(c.ratio, 2)} (>= ${c.target.ratio})${mark(c.met.ratio)}`,
      c.target.p99Ms === undefined ? '' : `${fmt(c.tika?.p99)} (${c.target.p99Strict ? '<' : '<='} ${c.target.p99Ms} ms)${mark(c.met.p99)}`,
    ]);
    const widths = header.map((h, i) => Math.max(h.length, ...body.map((line) => line[i]!.length)));
    const line = (cells: string[]) => cells.map((c, i) => (i === 0 || i === 2 || i === 4 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
    console.log(`\n${TITLES[part]} (same run; a missed target is reported, not a failure)`);
    console.log(line(header));
    console.log(widths.map((w) => '-'.repeat(w)).join('  '));
    for (const cells of body) console.log(line(cells));
    for (const c of mine) if (c.note) console.log(`  ${c.label}: ${c.note}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers shared by the parts (bench/ussd.ts has its own copies; it runs main() when imported).

/** E.164 India: `+91` + a 4-digit series + 6 digits. Each part uses series of its own. */
export const phone = (series: string, i: number) => `+91${series}${String(i).padStart(6, '0')}`;

let idNumber = 500_000_000_000;

/** One member on each of `count` new mobiles, registered through the domain (so one account each). */
export async function registerMembers(app: App, series: string, count: number): Promise<{ phone: string; memberId: number }[]> {
  return inParallel(Array.from({ length: count }, (_, i) => phone(series, i)), 20, async (p) => {
    const result = await app.booking.register(p, { name: `Bench ${p.slice(-6)}`, birthYear: 1990, gender: 'F', idType: 'AADHAAR', idNumber: String(idNumber++) });
    if (result.kind !== 'registered') throw new Error(`could not register a member for ${p}: ${result.kind}`);
    return { phone: p, memberId: result.member.id };
  });
}

/** A centre at `pincode` with one dose-1 session on each of `days` days from tomorrow; returns the session ids. */
export async function createSessions(app: App, name: string, pincode: string, days: number, capacity = MAX_SESSION_CAPACITY): Promise<number[]> {
  const today = dayIn(app.config.TIMEZONE, new Date());
  const centre = await app.programme.createCentre({ name, pincode, district: 'New Delhi', state: 'Delhi' });
  const ids: number[] = [];
  for (let d = 1; d <= days; d++) {
    ids.push((await app.programme.createSession({ centreId: centre.id, date: addDays(today, d), vaccine: 'Covishield', minAge: 18, dose: 1, capacity })).id);
  }
  return ids;
}

export interface BookingRun {
  seconds: number;
  /** Sorted, ms. */
  latencies: number[];
  /** When each phone's booking committed (ms since epoch). */
  commitAt: Map<string, number>;
  kinds: Record<string, number>;
}

/** `app.booking.book` for each member, `concurrency` in flight, round-robin over the sessions. */
export async function bookAll(app: App, members: { phone: string; memberId: number }[], sessionIds: number[], concurrency: number): Promise<BookingRun> {
  const commitAt = new Map<string, number>();
  const latencies: number[] = [];
  const kinds: Record<string, number> = {};
  const startedAt = Date.now();
  await inParallel(
    members.map((m, i) => ({ ...m, sessionId: sessionIds[i % sessionIds.length]! })),
    concurrency,
    async (m) => {
      const t0 = Date.now();
      // A thrown call (e.g. no pool connection within knex's acquire timeout) is counted by its message, not fatal.
      const kind = await app.booking.book(m.phone, m.memberId, m.sessionId).then(
        (result) => result.kind,
        (error: unknown) => `error: ${error instanceof Error ? error.message.slice(0, 80) : String(error)}`,
      );
      const t1 = Date.now();
      kinds[kind] = (kinds[kind] ?? 0) + 1;
      if (kind === 'booked') commitAt.set(m.phone, t1);
      latencies.push(t1 - t0);
    },
  );
  latencies.sort((a, b) => a - b);
  return { seconds: (Date.now() - startedAt) / 1000, latencies, commitAt, kinds };
}

/** A row from per-operation latencies (sorted, ms) over `seconds`. */
export function latencyRow(scenario: string, unit: string, latencies: number[], seconds: number, note?: string, count = latencies.length): PartRow {
  return {
    scenario,
    kind: 'domain',
    rate: count / seconds,
    unit,
    p50: pct(latencies, 50),
    p97_5: pct(latencies, 97.5),
    p99: pct(latencies, 99),
    errors: 0,
    non2xx: 0,
    bad: 0,
    count,
    seconds,
    note,
  };
}

/** Until no outbox row of these phones is waiting to be relayed or sent (every one sent, failed or skipped). */
export async function waitForOutboxSettled(app: App, phones: string[], timeoutMs: number): Promise<boolean> {
  return until(
    async () => Number((await app.db('outbound_messages').whereIn('phone', phones).whereIn('status', ['pending', 'sending', 'retrying']).count({ n: '*' }))[0]!.n) === 0,
    timeoutMs,
  );
}

export async function inParallel<T, R>(items: T[], concurrency: number, fn: (item: T) => Promise<R>): Promise<R[]> {
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

export async function until(check: () => Promise<boolean>, timeoutMs: number, everyMs = 20): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

export function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export const sortNumbers = (values: number[]) => values.sort((a, b) => a - b);

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Calls that threw, from a run's kinds. */
export const errorsIn = (kinds: Record<string, number>) => Object.entries(kinds).reduce((sum, [kind, n]) => sum + (kind.startsWith('error') ? n : 0), 0);

/** A positive integer from the environment (a bench setting), or the default. */
export const intEnv = (name: string, fallback: number) => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer`);
  return value;
};

/** The SMS worker's concurrency the bench runs Tika with (SMS_SEND_CONCURRENCY); the bare queue runs at the same. */
export const SMS_WORKER_CONCURRENCY = intEnv('SMS_SEND_CONCURRENCY', DEFAULT_SMS_SEND_CONCURRENCY);

/** The bench's database, created if missing, migrated, every table emptied. */
export async function resetDatabase(databaseUrl: string): Promise<void> {
  await ensureDatabase(databaseUrl);
  const db = createDb(databaseUrl);
  try {
    await migrateLatest(db);
    const { rows } = await db.raw<{ rows: { tablename: string }[] }>("SELECT tablename FROM pg_tables WHERE schemaname = 'public'");
    const tables = rows.map((r) => r.tablename).filter((t) => !t.startsWith('knex_migrations'));
    if (tables.length) await db.raw(`TRUNCATE ${tables.map((t) => `"${t}"`).join(', ')} RESTART IDENTITY CASCADE`);
  } finally {
    await db.destroy();
  }
}
