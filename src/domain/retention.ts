import type { Db } from '../db/knex';

/**
 * Data retention: message bodies, USSD session events, the verification audit and finished tasks
 * are kept for configurable periods, then blanked or deleted in small batches. Vaccinations,
 * certificates, appointments, accounts and beneficiaries are never purged: they are the record.
 */

/** Days each kind of data is kept. */
export interface RetentionPeriods {
  messageDays: number;
  ussdEventDays: number;
  auditDays: number;
  taskDays: number;
}

export const DEFAULT_RETENTION: RetentionPeriods = { messageDays: 30, ussdEventDays: 90, auditDays: 730, taskDays: 7 };

/** The shortest period each may be given, and the rule that needs it (said to the operator who sets less). */
export const RETENTION_MINIMUMS: Record<keyof RetentionPeriods, { days: number; why: string }> = {
  messageDays: { days: 1, why: 'a day of messages stays readable while support answers complaints of the day' },
  ussdEventDays: { days: 2, why: 'the daily report reads the whole previous day of USSD sessions' },
  auditDays: { days: 1, why: 'the code-guessing budgets count wrong codes over the last 24 hours (see "Guessing the code")' },
  taskDays: { days: 1, why: 'a finished task stays visible as long as the task queue keeps its job (24 hours)' },
};

/** What one rule purges: rows of `table` older than its period that still hold what it removes. */
interface RetentionRule {
  /** The name counts and logs use. */
  name: string;
  table: string;
  period: keyof RetentionPeriods;
  /** The column the age is measured by (the rule's index leads with it). */
  age: string;
  /** Further conditions of a row still due (matching the rule's partial index). */
  still?: string;
  /** The SET clause that blanks the body; absent, the row is deleted. */
  blank?: string;
}

/** Each rule is matched by an index of migration 008. Deletions of a table run before its blanking. */
const RULES: readonly RetentionRule[] = [
  // The row stays: its (provider, id) pair makes a telco's retry harmless and the audit points at it.
  { name: 'inbound_messages.text', table: 'inbound_messages', period: 'messageDays', age: 'received_at', still: `text <> '' AND status <> 'received'`, blank: `text = ''` },
  // The row stays: delivery reports, the one-SMS-per-cause key, reply limits and costs need it; an unfinished SMS still needs its params.
  {
    name: 'outbound_messages.params',
    table: 'outbound_messages',
    period: 'messageDays',
    age: 'created_at',
    still: `params <> '{}'::jsonb AND status IN ('sent', 'failed', 'skipped')`,
    blank: `params = '{}'::jsonb`,
  },
  // The whole text as "sent", codes included; nothing refers to it.
  { name: 'sandbox_messages', table: 'sandbox_messages', period: 'messageDays', age: 'created_at' },
  { name: 'ussd_session_events', table: 'ussd_session_events', period: 'ussdEventDays', age: 'received_at' },
  { name: 'ussd_session_events.last_app_response', table: 'ussd_session_events', period: 'messageDays', age: 'received_at', still: 'last_app_response IS NOT NULL', blank: 'last_app_response = NULL' },
  { name: 'verification_attempts', table: 'verification_attempts', period: 'auditDays', age: 'created_at' },
  // Unfinished tasks are never purged: the outbox sweeps still owe them a run.
  { name: 'outbox_tasks', table: 'outbox_tasks', period: 'taskDays', age: 'done_at' },
];

export interface RetentionOptions {
  /** Rows per statement: each batch is its own short transaction. */
  batchSize: number;
  /** No batch starts after this many milliseconds; the next run carries on. */
  budgetMs: number;
  /** Count what is due, change nothing. */
  dryRun?: boolean;
}

export interface RetentionResult {
  name: string;
  action: 'blanked' | 'deleted';
  olderThanDays: number;
  /** Rows blanked or deleted (in a dry run: due). */
  rows: number;
  batches: number;
}

export interface RetentionReport {
  dryRun: boolean;
  /** False when the time budget ran out with rows still due. */
  complete: boolean;
  results: RetentionResult[];
}

const DAY_MS = 86_400_000;

/** Blanks or deletes everything past its period, batch by batch, oldest first. */
export async function purgeExpired(db: Db, now: Date, periods: RetentionPeriods, options: RetentionOptions): Promise<RetentionReport> {
  const deadline = Date.now() + options.budgetMs;
  const results: RetentionResult[] = [];
  let complete = true;
  for (const rule of RULES) {
    const days = periods[rule.period];
    const cutoff = new Date(now.getTime() - days * DAY_MS);
    const result: RetentionResult = { name: rule.name, action: rule.blank ? 'blanked' : 'deleted', olderThanDays: days, rows: 0, batches: 0 };
    results.push(result);
    if (options.dryRun) {
      result.rows = await countDue(db, rule, cutoff, deletedBefore(rule, periods, now));
      result.batches = Math.ceil(result.rows / options.batchSize);
      continue;
    }
    for (;;) {
      if (Date.now() >= deadline) {
        complete = false;
        break;
      }
      const changed = await purgeBatch(db, rule, cutoff, options.batchSize);
      if (changed === 0) break;
      result.rows += changed;
      result.batches += 1;
      if (changed < options.batchSize) break;
    }
  }
  return { dryRun: options.dryRun === true, complete, results };
}

/** Rows changed per rule, for a log line (counts only: never a body or a number). */
export function retentionCounts(report: RetentionReport): Record<string, number> {
  return Object.fromEntries(report.results.map((result) => [result.name, result.rows]));
}

function dueCondition(rule: RetentionRule): string {
  const older = rule.age === 'done_at' ? 'done_at IS NOT NULL AND done_at < ?' : `${rule.age} < ?`;
  return rule.still ? `${older} AND ${rule.still}` : older;
}

/**
 * One statement on at most `limit` rows picked by primary key. Rows another transaction holds are
 * skipped (the next run takes them), so the purge never waits on the live work.
 */
async function purgeBatch(db: Db, rule: RetentionRule, cutoff: Date, limit: number): Promise<number> {
  const batch = `SELECT id FROM ${rule.table} WHERE ${dueCondition(rule)} ORDER BY ${rule.age} LIMIT ? FOR UPDATE SKIP LOCKED`;
  const statement = rule.blank ? `UPDATE ${rule.table} SET ${rule.blank} WHERE id IN (${batch})` : `DELETE FROM ${rule.table} WHERE id IN (${batch})`;
  const result = (await db.raw(statement, [cutoff, limit])) as { rowCount: number | null };
  return result.rowCount ?? 0;
}

/** Rows an earlier rule deletes from the same table (a real run would not find them to blank). */
function deletedBefore(rule: RetentionRule, periods: RetentionPeriods, now: Date): { rule: RetentionRule; cutoff: Date }[] {
  return RULES.slice(0, RULES.indexOf(rule))
    .filter((earlier) => earlier.table === rule.table && !earlier.blank)
    .map((earlier) => ({ rule: earlier, cutoff: new Date(now.getTime() - periods[earlier.period] * DAY_MS) }));
}

async function countDue(db: Db, rule: RetentionRule, cutoff: Date, deleted: { rule: RetentionRule; cutoff: Date }[]): Promise<number> {
  const conditions = [dueCondition(rule), ...deleted.map((earlier) => `NOT (${dueCondition(earlier.rule)})`)];
  const bindings = [cutoff, ...deleted.map((earlier) => earlier.cutoff)];
  const { rows } = (await db.raw(`SELECT count(*)::int AS due FROM ${rule.table} WHERE ${conditions.join(' AND ')}`, bindings)) as { rows: { due: number }[] };
  return rows[0]!.due;
}

/** The periods as configured (RETENTION_*_DAYS). */
export function retentionPeriods(config: { RETENTION_MESSAGE_DAYS: number; RETENTION_USSD_EVENTS_DAYS: number; RETENTION_AUDIT_DAYS: number; RETENTION_TASKS_DAYS: number }): RetentionPeriods {
  return {
    messageDays: config.RETENTION_MESSAGE_DAYS,
    ussdEventDays: config.RETENTION_USSD_EVENTS_DAYS,
    auditDays: config.RETENTION_AUDIT_DAYS,
    taskDays: config.RETENTION_TASKS_DAYS,
  };
}
