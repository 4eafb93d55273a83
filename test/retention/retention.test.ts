import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../src/config';
import type { Db } from '../../src/db/knex';
import { DEFAULT_RETENTION, purgeExpired, retentionCounts, type RetentionPeriods } from '../../src/domain/retention';
import { eventually, startTestApp } from '../support/app';
import { freshDb, testDatabaseUrl } from '../support/db';

const ROOT = join(__dirname, '..', '..');
const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const NOW = new Date('2027-06-01T06:00:00Z');
const UNLIMITED = { batchSize: 5000, budgetMs: 60_000 };

/** Just past the period (due) and just inside it (kept). */
const due = (days: number, now = NOW) => new Date(now.getTime() - days * DAY - MINUTE);
const kept = (days: number, now = NOW) => new Date(now.getTime() - days * DAY + MINUTE);

let seq = 0;
const nextId = () => `p${++seq}`;

async function inbound(db: Db, receivedAt: Date, status = 'processed', text = 'VAX K7Q2M9AX ****'): Promise<number> {
  const [row] = await db('inbound_messages')
    .insert({ provider: 'africastalking', provider_message_id: nextId(), phone: '+919876500001', text, status, received_at: receivedAt })
    .returning('id');
  return (row as { id: number }).id;
}

async function outbound(db: Db, createdAt: Date, status: string): Promise<number> {
  const [row] = await db('outbound_messages')
    .insert({ phone: '+919876500002', template: 'sms.help', params: JSON.stringify({ name: 'Asha' }), status, provider: 'africastalking', cost: 'INR 0.8000', created_at: createdAt })
    .returning('id');
  return (row as { id: number }).id;
}

async function sandboxMessage(db: Db, createdAt: Date): Promise<void> {
  await db('sandbox_messages').insert({ phone: '+919876500003', message: 'Your code is 4821', provider_message_id: nextId(), created_at: createdAt });
}

async function ussdEvent(db: Db, receivedAt: Date): Promise<number> {
  const [row] = await db('ussd_session_events')
    .insert({ provider: 'africastalking', session_id: nextId(), phone: '+919876500004', status: 'Success', cost: 'INR 0.5', last_app_response: 'END Booked for Asha', received_at: receivedAt })
    .returning('id');
  return (row as { id: number }).id;
}

async function attempt(db: Db, createdAt: Date, inboundId?: number): Promise<number> {
  const [row] = await db('verification_attempts')
    .insert({ vaccinator_phone: '+919876500005', channel: 'sms', outcome: 'wrong_code', inbound_message_id: inboundId ?? null, created_at: createdAt })
    .returning('id');
  return (row as { id: number }).id;
}

async function task(db: Db, createdAt: Date, doneAt: Date | null): Promise<number> {
  const [row] = await db('outbox_tasks').insert({ kind: 'inbound_sms', payload: '{"inboundId":1}', relayed_at: createdAt, done_at: doneAt, created_at: createdAt }).returning('id');
  return (row as { id: number }).id;
}

/** A dose given and certified three years ago: the record, never purged. */
async function vaccinationRecord(db: Db, at: Date): Promise<void> {
  const [account] = await db('accounts').insert({ phone: '+919876500006', created_at: at }).returning('id');
  const [beneficiary] = await db('beneficiaries')
    .insert({ account_id: account.id, name: 'Asha', birth_year: 1985, gender: 'F', id_type: 'pan', id_hash: 'h', id_last4: '234F', created_at: at })
    .returning('id');
  const [centre] = await db('centres').insert({ name: 'AIIMS', pincode: '110001', district: 'New Delhi', state: 'Delhi', created_at: at }).returning('id');
  const [session] = await db('vaccination_sessions').insert({ centre_id: centre.id, date: '2024-06-01', vaccine: 'Covishield', min_age: 18, dose: 1, capacity: 10, booked: 1 }).returning('id');
  const [vaccinator] = await db('vaccinators').insert({ phone: '+919876500007', name: 'Nurse', centre_id: centre.id }).returning('id');
  const [appointment] = await db('appointments')
    .insert({ reference: 'K7Q2M9AX', beneficiary_id: beneficiary.id, session_id: session.id, dose: 1, status: 'vaccinated', code_hmac: 'x', booked_at: at, vaccinated_at: at })
    .returning('id');
  const [vaccination] = await db('vaccinations')
    .insert({ appointment_id: appointment.id, beneficiary_id: beneficiary.id, dose: 1, vaccine: 'Covishield', centre_id: centre.id, vaccinator_id: vaccinator.id, session_date: '2024-06-01', vaccinated_at: at })
    .returning('id');
  await db('certificates').insert({ id: 'cert-1', vaccination_id: vaccination.id, beneficiary_id: beneficiary.id, dose: 1, status: 'issued', jws: 'jws', created_at: at, issued_at: at });
  await attempt(db, at);
}

const EXPECTED_COUNTS = {
  'inbound_messages.text': 2,
  'outbound_messages.params': 2,
  sandbox_messages: 1,
  ussd_session_events: 1,
  'ussd_session_events.last_app_response': 1,
  verification_attempts: 2,
  outbox_tasks: 1,
};

/** Rows on both sides of every boundary (default periods); returns the ids the checks follow. */
async function seedBoundaries(db: Db) {
  const p = DEFAULT_RETENTION;
  const ids = {
    inboundDue: await inbound(db, due(p.messageDays)),
    inboundLimitedDue: await inbound(db, due(p.messageDays), 'limited'),
    inboundKept: await inbound(db, kept(p.messageDays)),
    // Not processed yet: the task that answers it still reads its text.
    inboundUnprocessed: await inbound(db, due(p.messageDays), 'received'),
    sentDue: await outbound(db, due(p.messageDays), 'sent'),
    failedDue: await outbound(db, due(p.messageDays), 'failed'),
    sentKept: await outbound(db, kept(p.messageDays), 'sent'),
    // Still to be sent: its params render the SMS.
    retrying: await outbound(db, due(p.messageDays), 'retrying'),
    ussdDeleted: await ussdEvent(db, due(p.ussdEventDays)),
    ussdJustKeptRow: await ussdEvent(db, kept(p.ussdEventDays)),
    ussdIntact: await ussdEvent(db, kept(p.messageDays)),
    attemptKept: 0,
    taskDue: await task(db, due(100), due(p.taskDays)),
    taskKept: await task(db, due(100), kept(p.taskDays)),
    taskUndone: await task(db, due(100), null),
  };
  await sandboxMessage(db, due(p.messageDays));
  await sandboxMessage(db, kept(p.messageDays));
  await attempt(db, due(p.auditDays), ids.inboundDue);
  ids.attemptKept = await attempt(db, kept(p.auditDays), ids.inboundDue);
  await vaccinationRecord(db, new Date(NOW.getTime() - 3 * 365 * DAY));
  return ids;
}

const count = async (db: Db, table: string) => Number((await db(table).count({ n: '*' }))[0]!.n);

describe('retention purge', () => {
  let db: Db;
  beforeEach(async () => {
    db = await freshDb();
  });
  afterEach(async () => {
    await db.destroy();
  });

  it('counts in a dry run, then blanks bodies and deletes rows past each period, exactly, and nothing else', async () => {
    const ids = await seedBoundaries(db);
    const before = await db('outbound_messages').orderBy('id').select('*');

    const dry = await purgeExpired(db, NOW, DEFAULT_RETENTION, { ...UNLIMITED, dryRun: true });
    expect(retentionCounts(dry)).toEqual(EXPECTED_COUNTS);
    expect(await db('outbound_messages').orderBy('id').select('*')).toEqual(before);

    const report = await purgeExpired(db, NOW, DEFAULT_RETENTION, UNLIMITED);
    expect(report.complete).toBe(true);
    expect(retentionCounts(report)).toEqual(EXPECTED_COUNTS);

    // Inbound rows stay (retry dedupe, the audit points at them); only processed old texts are blank.
    const texts = Object.fromEntries((await db('inbound_messages').select('id', 'text')).map((r: { id: number; text: string }) => [r.id, r.text]));
    expect(texts).toEqual({ [ids.inboundDue]: '', [ids.inboundLimitedDue]: '', [ids.inboundKept]: 'VAX K7Q2M9AX ****', [ids.inboundUnprocessed]: 'VAX K7Q2M9AX ****' });

    // Outbound rows stay with status, provider and cost (the daily report), params gone when finished.
    const after = await db('outbound_messages').orderBy('id').select('*');
    expect(after.map((r: { id: number; params: object }) => [r.id, r.params])).toEqual([
      [ids.sentDue, {}],
      [ids.failedDue, {}],
      [ids.sentKept, { name: 'Asha' }],
      [ids.retrying, { name: 'Asha' }],
    ]);
    const withoutParams = (rows: Record<string, unknown>[]) => rows.map(({ params: _params, ...rest }) => rest);
    expect(withoutParams(after)).toEqual(withoutParams(before));

    expect(await count(db, 'sandbox_messages')).toBe(1);
    const ussd = await db('ussd_session_events').orderBy('id').select('id', 'last_app_response as response', 'cost');
    expect(ussd).toEqual([
      { id: ids.ussdJustKeptRow, response: null, cost: 'INR 0.5' },
      { id: ids.ussdIntact, response: 'END Booked for Asha', cost: 'INR 0.5' },
    ]);
    expect((await db('verification_attempts').select('id')).map((r: { id: number }) => r.id)).toEqual([ids.attemptKept]);
    expect((await db('outbox_tasks').orderBy('id').select('id')).map((r: { id: number }) => r.id)).toEqual([ids.taskKept, ids.taskUndone]);

    // The record: three years old and untouched.
    for (const table of ['vaccinations', 'certificates', 'appointments', 'beneficiaries', 'accounts']) expect(await count(db, table)).toBe(1);
    expect(await db('certificates').first('jws', 'status')).toEqual({ jws: 'jws', status: 'issued' });

    // A second run finds nothing left.
    const again = await purgeExpired(db, NOW, DEFAULT_RETENTION, UNLIMITED);
    expect(Object.values(retentionCounts(again))).toEqual(Object.values(EXPECTED_COUNTS).map(() => 0));
  });

  it('keeps the last 24 hours of the audit at the shortest period, which the guessing budgets count', async () => {
    const periods: RetentionPeriods = { ...DEFAULT_RETENTION, auditDays: 1 };
    const inWindow = await attempt(db, new Date(NOW.getTime() - DAY + MINUTE));
    await attempt(db, new Date(NOW.getTime() - DAY - MINUTE));
    const report = await purgeExpired(db, NOW, periods, UNLIMITED);
    expect(retentionCounts(report).verification_attempts).toBe(1);
    expect(await db('verification_attempts').pluck('id')).toEqual([inWindow]);
  });

  it('works in batches: several statements, none touching more rows than the batch', async () => {
    for (let i = 0; i < 10; i++) await sandboxMessage(db, due(DEFAULT_RETENTION.messageDays));
    for (let i = 0; i < 7; i++) await inbound(db, due(DEFAULT_RETENTION.messageDays));
    const statements: { sql: string; rows: number }[] = [];
    const listener = (response: { rowCount?: number | null }, query: { sql: string }) => {
      if (/^(UPDATE|DELETE)/.test(query.sql)) statements.push({ sql: query.sql.split(' ').slice(0, 3).join(' '), rows: response.rowCount ?? 0 });
    };
    db.on('query-response', listener);
    try {
      const report = await purgeExpired(db, NOW, DEFAULT_RETENTION, { batchSize: 3, budgetMs: 60_000 });
      expect(report.results.find((r) => r.name === 'sandbox_messages')).toMatchObject({ rows: 10, batches: 4 });
      expect(report.results.find((r) => r.name === 'inbound_messages.text')).toMatchObject({ rows: 7, batches: 3 });
    } finally {
      db.off('query-response', listener);
    }
    expect(statements.filter((s) => s.sql === 'DELETE FROM sandbox_messages').map((s) => s.rows)).toEqual([3, 3, 3, 1]);
    expect(statements.filter((s) => s.sql === 'UPDATE inbound_messages SET').map((s) => s.rows)).toEqual([3, 3, 1]);
    expect(Math.max(...statements.map((s) => s.rows))).toBeLessThanOrEqual(3);
    expect(await count(db, 'sandbox_messages')).toBe(0);
  });

  it('stops starting batches once its time budget is spent, and says it did not finish', async () => {
    await sandboxMessage(db, due(DEFAULT_RETENTION.messageDays));
    const report = await purgeExpired(db, NOW, DEFAULT_RETENTION, { batchSize: 3, budgetMs: 0 });
    expect(report.complete).toBe(false);
    expect(await count(db, 'sandbox_messages')).toBe(1);
  });
});

describe('retention configuration', () => {
  const DEV = { NODE_ENV: 'development' };
  const problems = (env: Record<string, string>) => {
    try {
      loadConfig({ ...DEV, ...env });
      return [];
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      return error.problems;
    }
  };

  it('documents its defaults: message bodies 30 days, USSD events 90, audit 2 years, finished tasks 7', () => {
    expect(loadConfig(DEV)).toMatchObject({ RETENTION_MESSAGE_DAYS: 30, RETENTION_USSD_EVENTS_DAYS: 90, RETENTION_AUDIT_DAYS: 730, RETENTION_TASKS_DAYS: 7, RETENTION_BATCH_SIZE: 5000 });
  });

  it('refuses a period shorter than a rule needs, naming the variable and the rule', () => {
    expect(problems({ RETENTION_AUDIT_DAYS: '0' })).toEqual([
      'RETENTION_AUDIT_DAYS must be at least 1 day: the code-guessing budgets count wrong codes over the last 24 hours (see "Guessing the code")',
    ]);
    expect(problems({ RETENTION_USSD_EVENTS_DAYS: '1' })).toEqual(['RETENTION_USSD_EVENTS_DAYS must be at least 2 days: the daily report reads the whole previous day of USSD sessions']);
    expect(problems({ RETENTION_MESSAGE_DAYS: '0.5' })).toEqual(['RETENTION_MESSAGE_DAYS must be a whole number of days']);
    expect(problems({ RETENTION_TASKS_DAYS: '1', RETENTION_MESSAGE_DAYS: '1', RETENTION_AUDIT_DAYS: '1', RETENTION_USSD_EVENTS_DAYS: '2' })).toEqual([]);
  });
});

describe('tika retention:run, as an operator runs it', () => {
  function tika(args: string[], env: Record<string, string> = {}) {
    const child = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 60_000,
      env: { PATH: process.env.PATH!, NODE_ENV: 'development', DATABASE_URL: testDatabaseUrl(), ...env },
    });
    return { status: child.status, stdout: child.stdout, stderr: child.stderr };
  }

  it('prints what is due with --dry-run, then purges it and prints the counts', async () => {
    const db = await freshDb();
    try {
      const now = new Date();
      await seedBoundaries(db);
      // The CLI runs on the real clock: move the seeded times by the difference.
      const shift = now.getTime() - NOW.getTime();
      for (const [table, column] of [['inbound_messages', 'received_at'], ['outbound_messages', 'created_at'], ['sandbox_messages', 'created_at'], ['ussd_session_events', 'received_at'], ['verification_attempts', 'created_at'], ['outbox_tasks', 'done_at']] as const) {
        await db(table).update({ [column]: db.raw(`${column} + ? * interval '1 millisecond'`, [shift]) });
      }

      const dry = tika(['retention:run', '--dry-run', '--json']);
      expect(dry.stderr).toBe('');
      expect(dry.status).toBe(0);
      const dryRows = dry.stdout.trim().split('\n').map((line) => JSON.parse(line) as { what: string; action: string; rows: number });
      expect(Object.fromEntries(dryRows.map((row) => [row.what, row.rows]))).toEqual(EXPECTED_COUNTS);
      expect(dryRows.find((row) => row.what === 'verification_attempts')!.action).toBe('would be deleted');
      expect(await count(db, 'sandbox_messages')).toBe(2);

      const run = tika(['retention:run']);
      expect(run.stderr).toBe('');
      expect(run.status).toBe(0);
      expect(run.stdout).toMatch(/^what +action +olderThanDays +rows +batches\n/);
      expect(run.stdout).toMatch(/\nverification_attempts +deleted +730 +2 +1\n/);
      expect(run.stdout).toMatch(/\ninbound_messages\.text +blanked +30 +2 +1\n/);
      expect(run.stdout).not.toMatch(/\+91|Asha|4821/);
      expect(await count(db, 'sandbox_messages')).toBe(1);
      expect(await count(db, 'verification_attempts')).toBe(1);
      expect(await count(db, 'vaccinations')).toBe(1);
    } finally {
      await db.destroy();
    }
  }, 120_000);

  it('refuses a too-short period before touching anything', () => {
    const run = tika(['retention:run'], { RETENTION_AUDIT_DAYS: '0' });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/^error: RETENTION_AUDIT_DAYS must be at least 1 day: the code-guessing budgets count wrong codes over the last 24 hours/);
  }, 60_000);
});

describe('the scheduled purge', () => {
  it('is registered as a job scheduler when the worker starts, and its job purges and logs counts only', async () => {
    const t = await startTestApp({}, { now: NOW });
    try {
      const schedulers = await t.app.taskQueue.getJobSchedulers();
      expect(schedulers.map((s) => s.key)).toContain('purge_retention');
      expect(schedulers.find((s) => s.key === 'purge_retention')!.every).toBe(60 * MINUTE);

      const purgesLogged = () => t.logs.filter((l) => l.includes('"kind":"purge_retention"') && l.includes('"msg":"task done"'));
      // A schedule's first run is at once; the next is an hour away.
      await eventually('the first scheduled purge', async () => (purgesLogged().length === 1 ? true : undefined));
      await sandboxMessage(t.app.db, due(30, t.app.clock.now()));
      await ussdEvent(t.app.db, due(90, t.app.clock.now()));
      await t.app.taskQueue.add('purge_retention', { kind: 'purge_retention', payload: {} });
      const line = await eventually('the purge logged', async () => purgesLogged()[1]);
      expect(line).toContain('"sandbox_messages":1,"ussd_session_events":1,');
      expect(await count(t.app.db, 'sandbox_messages')).toBe(0);
      expect(t.logs.filter((l) => l.includes('purge_retention')).join('\n')).not.toMatch(/9876500|Your code|Booked for/);
    } finally {
      await t.close();
    }
  }, 30_000);
});
