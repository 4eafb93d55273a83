/**
 * Issue 11, part 2: bookings beside a bare booking transaction over pg, in the same run.
 *
 * - Tika through the domain: `app.booking.book`, 50 in flight, over 8 sessions of their own, the SMS
 *   queue paused while booking (the relay still runs), so the SMS worker is not competing.
 * - Tika over HTTP: part 1's confirming hop (reused, not measured again).
 * - The bare transaction: BEGIN; one statement (a CTE: the conditional seat UPDATE, the appointment
 *   INSERT, the outbox INSERT); COMMIT, from a pg Pool of 10 (Tika's knex pool) at 50 in flight, on
 *   the same tables and indexes, in sessions of its own: over 8 sessions (beside the domain
 *   bookings) and into one (beside the confirming hop, which books everyone into one session).
 * - The contention run: 2,000 callers at once for a session of 100 seats. Invariant: exactly 100
 *   appointments, booked = 100, and exactly 100 code SMS at the sandbox, none twice.
 */
import { randomInt } from 'node:crypto';
import { Pool, type PoolClient } from 'pg';
import { CodeVault } from '../src/domain/codes';
import { bookAll, compare, createSessions, errorsIn, inParallel, latencyRow, pct, registerMembers, sleep, sortNumbers, waitForOutboxSettled, type PartContext, type PartResult, type PartRow } from './parts';

/** Issue 11, part 2: Tika ≥ 0.3× the bare transaction, p99 ≤ 150 ms. */
export const BOOKING_TARGETS = { vsBare: 0.3, p99Ms: 150 } as const;
const CONTENTION_CALLERS = 2000;
const CONTENTION_SEATS = 100;
/** Tika's knex pool (DB_POOL_MAX, default 10). */
const POOL_SIZE = 10;
const SESSIONS = 8;

// One round trip for the three writes. The outbox row is written as already relayed and sent, so
// Tika's relay and sweeps leave it alone (Tika's own row is relayed and sent afterwards).
const BARE_BOOKING = `WITH seat AS (
    UPDATE vaccination_sessions SET booked = booked + 1 WHERE id = $1 AND active AND booked < capacity RETURNING id, dose
  ), ap AS (
    INSERT INTO appointments (reference, beneficiary_id, session_id, dose, code_hmac, code_cipher)
    SELECT $2, $3, seat.id, seat.dose, $4, $5 FROM seat RETURNING id
  ), ob AS (
    INSERT INTO outbound_messages (phone, language, template, params, appointment_id, status, relayed_at)
    SELECT $6, 'en', 'sms.booking_code', $7::jsonb, ap.id, 'sent', now() FROM ap RETURNING id
  )
  SELECT (SELECT id FROM ap) AS appointment_id, (SELECT id FROM ob) AS outbox_id`;

export async function benchBookings(ctx: PartContext): Promise<PartResult> {
  const { app, log, failures, raw } = ctx;
  const rows: PartRow[] = [];

  log(`bookings: seeding ${ctx.bookings} + ${ctx.bookings} members, ${CONTENTION_CALLERS} contention callers, sessions`);
  const tikaSessions = await createSessions(app, 'Bench Bookings Tika', '110011', SESSIONS);
  const bareSessions = await createSessions(app, 'Bench Bookings Bare', '110012', SESSIONS);
  const bareOneSession = await createSessions(app, 'Bench Bookings Bare One', '110013', 1);
  const [contentionSession] = await createSessions(app, 'Bench Contention', '110014', 1, CONTENTION_SEATS);
  const tikaMembers = await registerMembers(app, '9110', ctx.bookings);
  const bareMembers = await registerMembers(app, '9120', ctx.bookings);
  const callers = await registerMembers(app, '9130', CONTENTION_CALLERS);

  // (a) Tika through the domain, the SMS queue paused so the worker does not compete.
  log(`bookings: ${tikaMembers.length} through the domain, ${ctx.concurrency} in flight, SMS queue paused`);
  const queue = app.smsQueues.get('sandbox')!;
  await queue.pause();
  let tika;
  try {
    tika = await bookAll(app, tikaMembers, tikaSessions, ctx.concurrency);
  } finally {
    await queue.resume();
  }
  if ((tika.kinds.booked ?? 0) !== tikaMembers.length) failures.push(`bookings: expected ${tikaMembers.length} booked, got ${JSON.stringify(tika.kinds)}`);
  const tikaRow = latencyRow('tika: booking (domain, SMS queue paused)', 'book/s', tika.latencies, tika.seconds, `${ctx.concurrency} in flight over ${SESSIONS} sessions; knex pool ${POOL_SIZE}`);
  rows.push(tikaRow);

  // (b) The bare transaction, over as many sessions, then into one.
  const pool = new Pool({ connectionString: ctx.databaseUrl, max: POOL_SIZE });
  let bare;
  let bareOne;
  try {
    await pool.query('SELECT 1');
    log(`bookings: ${bareMembers.length} bare transactions over pg, ${ctx.concurrency} in flight, pool ${POOL_SIZE}`);
    bare = await bareBookings(pool, bareMembers, bareSessions, ctx.concurrency, app.config.CODE_SECRET);
    rows.push(latencyRow('bare booking transaction (pg)', 'book/s', bare.latencies, bare.seconds, `BEGIN; one CTE (seat UPDATE, appointment INSERT, outbox INSERT); COMMIT; over ${SESSIONS} sessions`));
    // The same members again, into one session: their rows are removed first (outside the clock).
    await removeBareRows(pool, bareSessions);
    bareOne = await bareBookings(pool, bareMembers, bareOneSession, ctx.concurrency, app.config.CODE_SECRET);
    rows.push(latencyRow('bare booking transaction (pg), one session', 'book/s', bareOne.latencies, bareOne.seconds, 'as above, every booking into one session (as the confirming hop)'));
  } finally {
    await pool.end();
  }
  for (const [name, run, expected] of [['over sessions', bare, bareMembers.length], ['one session', bareOne, bareMembers.length]] as const) {
    if (run.booked !== expected) failures.push(`bookings: bare transaction (${name}) booked ${run.booked} of ${expected}`);
  }

  // Tika's code SMS from (a) leave before the contention run, so they do not share its time.
  const tikaPhones = tikaMembers.map((m) => m.phone);
  if (!(await waitForOutboxSettled(app, tikaPhones, 60_000))) failures.push('bookings: the code SMS of the domain bookings were not all sent within 60 s');
  const sentTika = await countSent(ctx, tikaPhones);
  if (sentTika !== tikaPhones.length) failures.push(`bookings: ${sentTika} code SMS sent for ${tikaPhones.length} domain bookings`);

  // (c) The contention run.
  rows.push(await contention(ctx, callers, contentionSession!));

  const confirm = ctx.rows.find((r) => r.scenario === 'tika: confirming hop');
  const comparisons = [
    compare('bookings', 'booking through the domain', { label: 'tika', rate: tikaRow.rate, unit: 'book/s', p99: tikaRow.p99 }, { label: 'bare transaction', rate: bare.latencies.length / bare.seconds, unit: 'book/s', p99: pct99(bare.latencies) }, { ratio: BOOKING_TARGETS.vsBare, p99Ms: BOOKING_TARGETS.p99Ms }, `both over ${SESSIONS} sessions, ${ctx.concurrency} in flight, pool ${POOL_SIZE}`),
    compare(
      'bookings',
      'confirming hop (HTTP)',
      confirm && { label: 'tika', rate: confirm.rate, unit: 'req/s', p99: confirm.p99 },
      { label: 'bare transaction, one session', rate: bareOne.latencies.length / bareOne.seconds, unit: 'book/s', p99: pct99(bareOne.latencies) },
      { ratio: BOOKING_TARGETS.vsBare, p99Ms: BOOKING_TARGETS.p99Ms },
      confirm ? 'part 1\'s figure: every booking into one session, 50 connections' : 'part 1 (hops) not run: no figure',
    ),
  ];
  raw.bookings = { tikaKinds: tika.kinds, bareBooked: bare.booked, bareOneBooked: bareOne.booked };
  return { rows, comparisons };
}

interface BareRun {
  seconds: number;
  latencies: number[];
  booked: number;
}

async function bareBookings(pool: Pool, members: { phone: string; memberId: number }[], sessionIds: number[], concurrency: number, codeSecret: string): Promise<BareRun> {
  const codes = new CodeVault(codeSecret);
  const latencies: number[] = [];
  let booked = 0;
  const startedAt = Date.now();
  await inParallel(
    members.map((m, i) => ({ ...m, sessionId: sessionIds[i % sessionIds.length]! })),
    concurrency,
    async (m) => {
      const t0 = Date.now();
      // The reference and code are made as Tika makes them (random, MAC, sealed), outside the database.
      const reference = `B${randomInt(36 ** 7).toString(36).toUpperCase().padStart(7, '0')}`;
      const code = codes.generate();
      const client: PoolClient = await pool.connect();
      try {
        await client.query('BEGIN');
        const { rows } = await client.query<{ appointment_id: string | null }>(BARE_BOOKING, [
          m.sessionId,
          reference,
          m.memberId,
          codes.mac(reference, code),
          codes.encrypt(code),
          m.phone,
          JSON.stringify({ memberName: `Bench ${m.phone.slice(-6)}`, centre: 'Bench Bookings Bare', day: '01 Jan', time: '09:00-17:00', ref: reference }),
        ]);
        await client.query('COMMIT');
        if (rows[0]?.appointment_id) booked++;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      } finally {
        client.release();
      }
      latencies.push(Date.now() - t0);
    },
  );
  return { seconds: (Date.now() - startedAt) / 1000, latencies: sortNumbers(latencies), booked };
}

async function removeBareRows(pool: Pool, sessionIds: number[]): Promise<void> {
  await pool.query('DELETE FROM outbound_messages WHERE appointment_id IN (SELECT id FROM appointments WHERE session_id = ANY($1))', [sessionIds]);
  await pool.query('DELETE FROM appointments WHERE session_id = ANY($1)', [sessionIds]);
  await pool.query('UPDATE vaccination_sessions SET booked = 0 WHERE id = ANY($1)', [sessionIds]);
}

/** 2,000 callers at once for 100 seats; the invariants are checked once the SMS pipeline has drained. */
async function contention(ctx: PartContext, callers: { phone: string; memberId: number }[], sessionId: number): Promise<PartRow> {
  const { app, log, failures, raw } = ctx;
  log(`bookings: contention, ${callers.length} callers at once for ${CONTENTION_SEATS} seats`);
  // Callers beyond what the pool serves within knex's acquire timeout (5 s) get an error; knex prints a
  // stack for each, so they are counted here instead.
  const logger = (app.db.client as { logger: { warn: (message: string) => void } }).logger;
  const warn = logger.warn;
  let acquireErrors = 0;
  logger.warn = (message: string) => (String(message).startsWith('Acquire connection error') ? void acquireErrors++ : warn.call(logger, message));
  let run;
  try {
    run = await bookAll(app, callers, [sessionId], callers.length);
  } finally {
    logger.warn = warn;
  }
  const winners = [...run.commitAt.keys()];
  const phones = callers.map((c) => c.phone);
  const settled = await waitForOutboxSettled(app, phones, 60_000);
  // A duplicate would arrive after the first: give the pipeline a moment beyond "settled".
  await sleep(500);

  const [{ n: appointments }] = (await app.db('appointments').where({ session_id: sessionId }).whereIn('status', ['booked']).count({ n: '*' })) as [{ n: string }];
  const session = (await app.db('vaccination_sessions').where({ id: sessionId }).first('booked', 'capacity')) as { booked: number; capacity: number };
  const sandbox: { phone: string; n: string }[] = await app.db('sandbox_messages').whereIn('phone', phones).groupBy('phone').select('phone', app.db.raw('count(*) AS n'));
  const [{ n: sentRows }] = (await app.db('outbound_messages').whereIn('phone', phones).andWhere({ status: 'sent', template: 'sms.booking_code' }).count({ n: '*' })) as [{ n: string }];
  const messages = sandbox.reduce((sum, r) => sum + Number(r.n), 0);
  const twice = sandbox.filter((r) => Number(r.n) > 1).length;
  const winnerSet = new Set(winners);
  const toLosers = sandbox.filter((r) => !winnerSet.has(r.phone)).length;
  const checks = { booked: run.kinds.booked ?? 0, kinds: run.kinds, appointments: Number(appointments), sessionBooked: session.booked, sandboxMessages: messages, phonesMessaged: sandbox.length, phonesMessagedTwice: twice, messagesToCallersWithoutSeat: toLosers, outboxSent: Number(sentRows), settled, poolAcquireErrors: acquireErrors };
  raw.contention = checks;

  const fail = (what: string) => failures.push(`contention (${callers.length} callers, ${CONTENTION_SEATS} seats): ${what}`);
  if (checks.booked !== CONTENTION_SEATS) fail(`${checks.booked} bookings succeeded`);
  // A caller that got an error (e.g. knex's 5 s pool acquire timeout) is reported in the row, not an invariant.
  const unexpected = Object.keys(run.kinds).filter((k) => k !== 'booked' && k !== 'full' && !k.startsWith('error'));
  if (unexpected.length) fail(`answers other than booked/full: ${JSON.stringify(run.kinds)}`);
  if (checks.appointments !== CONTENTION_SEATS) fail(`${checks.appointments} appointments`);
  if (checks.sessionBooked !== CONTENTION_SEATS) fail(`session booked = ${checks.sessionBooked}`);
  if (!settled) fail('the code SMS were not all sent within 60 s');
  if (messages !== CONTENTION_SEATS) fail(`${messages} code SMS at the sandbox`);
  if (twice > 0) fail(`${twice} callers got their code SMS more than once`);
  if (toLosers > 0) fail(`${toLosers} callers without a seat got an SMS`);
  if (checks.outboxSent !== CONTENTION_SEATS) fail(`${checks.outboxSent} code SMS marked sent`);

  const row = latencyRow(
    `tika: contention (${callers.length} callers, ${CONTENTION_SEATS} seats)`,
    'call/s',
    run.latencies,
    run.seconds,
    `all at once into one session: ${checks.booked} booked, ${run.kinds.full ?? 0} full; ${checks.appointments} appointments, booked = ${checks.sessionBooked}, ${messages} code SMS (${twice} twice); answers ${JSON.stringify(run.kinds)}`,
  );
  row.errors = errorsIn(run.kinds);
  return row;
}

async function countSent(ctx: PartContext, phones: string[]): Promise<number> {
  const [{ n }] = (await ctx.app.db('outbound_messages').whereIn('phone', phones).andWhere({ status: 'sent', template: 'sms.booking_code' }).count({ n: '*' })) as [{ n: string }];
  return Number(n);
}

const pct99 = (sorted: number[]) => pct(sorted, 99);
