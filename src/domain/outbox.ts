import type { Knex } from 'knex';
import type { Db, Tx } from '../db/knex';

/** The channel the outbox relay listens on: a committed outbox row wakes it at once. */
export const OUTBOX_CHANNEL = 'tika_outbox';

export interface OutboxSms {
  phone: string;
  language: string;
  /** A message key of the catalogue (flows/messages). */
  template: string;
  /** Placeholder values; never a security code (that is read from the appointment at send time). */
  params: Record<string, string | number>;
  appointmentId?: number;
  /** One SMS per cause: a second write with the same key is ignored (e.g. `confirm-<certificateId>`). */
  dedupeKey?: string;
}

/** Wakes the relay when the transaction commits (a NOTIFY is delivered only then): select it once per row written. */
export const NOTIFY_RELAY = `pg_notify('${OUTBOX_CHANNEL}', '')`;

/**
 * The one INSERT that writes an outbox SMS, as SQL and bindings, so a statement can write the SMS
 * together with its cause. With `appointmentFrom`, the name of a CTE with an `id` column that is
 * inserting the appointment in the same statement, the SMS is written once per row of it: not at
 * all when the cause wrote nothing. A duplicate dedupe key writes nothing. Returns `id`.
 */
export function smsInsert(sms: OutboxSms, appointmentFrom?: string): { sql: string; bindings: (string | number | null)[] } {
  const appointment = appointmentFrom ? `${appointmentFrom}.id` : '?::bigint';
  const sql = `INSERT INTO outbound_messages (phone, language, template, params, appointment_id, dedupe_key)
    SELECT ?::text, ?::text, ?::text, ?::jsonb, ${appointment}, ?::text${appointmentFrom ? ` FROM ${appointmentFrom}` : ''}
    ON CONFLICT (dedupe_key) DO NOTHING RETURNING id`;
  const bindings: (string | number | null)[] = [sms.phone, sms.language, sms.template, JSON.stringify(sms.params)];
  if (!appointmentFrom) bindings.push(sms.appointmentId ?? null);
  bindings.push(sms.dedupeKey ?? null);
  return { sql, bindings };
}

/**
 * Writes an SMS we owe someone, in the caller's transaction: it exists if and only if the event
 * that causes it commits. One round trip: the row and the relay's wake-up together.
 */
export async function queueSms(trx: Tx, sms: OutboxSms): Promise<number> {
  const insert = smsInsert(sms);
  const { rows } = await trx.raw<{ rows: { id: number }[] }>(`WITH sms AS (${insert.sql}) SELECT id, ${NOTIFY_RELAY} FROM sms`, insert.bindings);
  if (rows.length === 0) return (await trx('outbound_messages').where('dedupe_key', sms.dedupeKey!).first('id')).id;
  return rows[0]!.id;
}

/** Work that must follow a commit (issue a certificate, process an inbound SMS), relayed to the task queue. */
export async function queueTask(trx: Tx, kind: string, payload: Record<string, string | number>): Promise<number> {
  const [row] = await trx('outbox_tasks').insert({ kind, payload: JSON.stringify(payload) }).returning('id');
  await trx.raw(`NOTIFY ${OUTBOX_CHANNEL}`);
  return (row as { id: number }).id;
}

export interface OutboxTask {
  id: number;
  jobKey: string;
  kind: string;
  payload: Record<string, string | number>;
}

/**
 * Hands unrelayed rows of an outbox table to `enqueue` and marks them relayed in the same
 * transaction. If the process dies after enqueue but before commit, the rows are offered again:
 * enqueue must be idempotent per id (queue job ids are derived from it).
 */
export async function relayBatch<Row extends { id: number }>(
  db: Db,
  table: 'outbound_messages' | 'outbox_tasks',
  columns: string[],
  limit: number,
  enqueue: (rows: Row[]) => Promise<void>,
): Promise<number> {
  return db.transaction(async (trx) => {
    const rows = (await trx(table).whereNull('relayed_at').orderBy('id').limit(limit).forUpdate().skipLocked().select(columns)) as Row[];
    if (rows.length === 0) return 0;
    await enqueue(rows);
    await trx(table).whereIn('id', rows.map((r) => r.id)).update({ relayed_at: trx.fn.now() });
    return rows.length;
  });
}

export function relayTaskBatch(db: Db, limit: number, enqueue: (tasks: OutboxTask[]) => Promise<void>): Promise<number> {
  return relayBatch<OutboxTask>(db, 'outbox_tasks', ['id', 'job_key as jobKey', 'kind', 'payload'], limit, enqueue);
}

export async function markTaskDone(db: Db, taskId: number): Promise<void> {
  await db('outbox_tasks').where('id', taskId).update({ done_at: db.fn.now() });
}

/**
 * The safety net behind the queue: a row relayed long ago and still not finished lost its job
 * (retries used up while the database was down, a Redis restart, a job stalled twice). It gets a
 * new job key and goes back to the relay. Safe to repeat: every handler checks the row's state.
 * `olderThanMs` must exceed the longest retry schedule, or a job still retrying gets a twin.
 */
export async function requeueStuck(db: Db, now: Date, olderThanMs: number): Promise<{ messages: number; tasks: number }> {
  const before = new Date(now.getTime() - olderThanMs);
  const fresh = { job_key: db.raw('gen_random_uuid()'), relayed_at: null };
  const messages = await db('outbound_messages')
    .whereIn('status', ['pending', 'sending', 'retrying'])
    .andWhere('relayed_at', '<', before)
    .andWhere('updated_at', '<', before)
    .update(fresh);
  const tasks = await db('outbox_tasks').whereNull('done_at').andWhere('relayed_at', '<', before).update(fresh);
  if (messages + tasks > 0) await db.raw(`NOTIFY ${OUTBOX_CHANNEL}`);
  return { messages, tasks };
}

/** Says, for each job key, whether its queue job still exists (in any state). */
export type JobsExist = (jobKeys: string[]) => Promise<boolean[]>;

const UNFINISHED_SMS = ['pending', 'sending', 'retrying'];
const LOST_JOB_PAGE = 500;
/** Bounds one pass; the next sweep carries on. */
const LOST_JOB_MAX_ROWS = 20_000;

/**
 * The quick safety net: an unfinished row relayed over `missingAfterMs` ago whose queue job no longer
 * exists (Redis restarted without its data, was flushed, or evicted keys) is relayed again now, not
 * after the long stuck threshold. A row whose job exists is left to the queue and to requeueStuck.
 * The SMS row's `updated_at` must be as old: a worker that held the job in memory when Redis lost it
 * may still be sending, and records the outcome within the provider timeout. Safe to run in several
 * processes at once: a row is requeued only if its job key is still the one found missing.
 */
export async function requeueLostJobs(
  db: Db,
  now: Date,
  missingAfterMs: number,
  jobsExist: { sms: JobsExist; tasks: JobsExist },
): Promise<{ messages: number; tasks: number }> {
  const before = new Date(now.getTime() - missingAfterMs);
  // The conditions match the partial indexes outbound_unfinished and outbox_tasks_undone.
  const messages = await requeueMissing(db, 'outbound_messages', jobsExist.sms, (q) =>
    q.whereIn('status', UNFINISHED_SMS).whereNotNull('relayed_at').andWhere('relayed_at', '<', before).andWhere('updated_at', '<', before),
  );
  const tasks = await requeueMissing(db, 'outbox_tasks', jobsExist.tasks, (q) => q.whereNull('done_at').whereNotNull('relayed_at').andWhere('relayed_at', '<', before));
  if (messages + tasks > 0) await db.raw(`NOTIFY ${OUTBOX_CHANNEL}`);
  return { messages, tasks };
}

type Filter = (query: Knex.QueryBuilder) => Knex.QueryBuilder;

async function requeueMissing(db: Db, table: 'outbound_messages' | 'outbox_tasks', jobsExist: JobsExist, unfinished: Filter): Promise<number> {
  let requeued = 0;
  let afterId = 0;
  for (let seen = 0; seen < LOST_JOB_MAX_ROWS; seen += LOST_JOB_PAGE) {
    const rows: { id: number; jobKey: string }[] = await unfinished(db(table))
      .andWhere('id', '>', afterId)
      .orderBy('id')
      .limit(LOST_JOB_PAGE)
      .select('id', 'job_key as jobKey');
    if (rows.length === 0) break;
    const exists = await jobsExist(rows.map((row) => row.jobKey));
    const lost = rows.filter((_, i) => !exists[i]).map((row) => row.jobKey);
    if (lost.length) {
      requeued += await unfinished(db(table))
        .whereIn('job_key', lost)
        .update({ job_key: db.raw('gen_random_uuid()'), relayed_at: null });
    }
    afterId = rows[rows.length - 1]!.id;
    if (rows.length < LOST_JOB_PAGE) break;
  }
  return requeued;
}

/**
 * Rows committed but not yet relayed, per outbox table, and the age of the oldest (database clock).
 * A relay that is down or failing shows here while the queues look empty.
 */
export async function unrelayedOutbox(db: Db): Promise<Record<string, { unrelayed: number; oldestSeconds: number }>> {
  const tables = ['outbound_messages', 'outbox_tasks'] as const;
  const rows = await Promise.all(
    tables.map(
      (table) =>
        db(table)
          .whereNull('relayed_at')
          .first(db.raw('count(*)::int AS unrelayed'), db.raw('coalesce(extract(epoch FROM now() - min(created_at)), 0)::float AS "oldestSeconds"')) as Promise<{ unrelayed: number; oldestSeconds: number }>,
    ),
  );
  return Object.fromEntries(tables.map((table, i) => [table, { unrelayed: rows[i]!.unrelayed, oldestSeconds: rows[i]!.oldestSeconds }]));
}
