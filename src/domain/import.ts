import { CsvError, parse } from 'csv-parse/sync';
import type { z } from 'zod';
import type { Db, Tx } from '../db/knex';
import { systemClock } from './clock';
import { toMobileE164 } from './phone';
import {
  knownVaccine,
  newCentreSchema,
  newSessionSchema,
  newVaccinatorSchema,
  parseInput,
  pastDateMessage,
  ProgrammeError,
  type ProgrammeOptions,
} from './programme';

/**
 * Bulk import of the programme's data from CSV: every row is checked (against the same schemas
 * and rules as the admin API) before anything is written, then all rows are written in one
 * transaction, or none. Rows are matched on natural keys, so importing a file again changes
 * nothing: a centre by name (any case) and PIN code, a session by centre, date, vaccine, minimum
 * age and dose, a vaccinator by mobile. One import runs at a time.
 *
 * What a re-import may change: a centre's district and state; a session's capacity (never below
 * the seats already booked) and hours (a citizen already booked keeps the seat, as with PATCH); a
 * vaccinator's name and centre. What it never does: delete anything, change a centre's time zone,
 * create or change a session dated before today at its centre (an identical row is fine).
 */

export const IMPORT_KINDS = ['centres', 'sessions', 'vaccinators'] as const;
export type ImportKind = (typeof IMPORT_KINDS)[number];

/** The columns the header row may name, in any order; optional ones may also be left blank. */
export const IMPORT_COLUMNS: Record<ImportKind, { required: readonly string[]; optional: readonly string[] }> = {
  centres: { required: ['name', 'pincode', 'district', 'state'], optional: ['timezone'] },
  sessions: { required: ['centre_name', 'centre_pincode', 'date', 'vaccine', 'min_age', 'dose', 'capacity'], optional: ['start_time', 'end_time'] },
  vaccinators: { required: ['phone', 'name', 'centre_name', 'centre_pincode'], optional: [] },
};

/** A refused row: its line in the file (the header is line 1) and why. */
export interface RowError {
  line: number;
  reason: string;
}

export interface ImportCounts {
  imported: number;
  created: number;
  updated: number;
  unchanged: number;
}

export type ImportResult = ({ kind: 'imported' } & ImportCounts) | { kind: 'invalid'; errors: RowError[] };

export interface ImportProgress {
  phase: 'validate' | 'import';
  done: number;
  total: number;
}

type Cells = Record<string, string | undefined>;
interface CsvRow {
  line: number;
  cells: Cells;
}

/** Rows written per statement: big enough to be fast, small enough to report progress. */
const WRITE_CHUNK = 1000;
const IMPORT_LOCK = 'tika:import';

export class ImportService {
  constructor(
    private readonly db: Db,
    private readonly options: ProgrammeOptions,
  ) {}

  async importCsv(kind: ImportKind, csv: string, onProgress: (progress: ImportProgress) => void = () => undefined): Promise<ImportResult> {
    const read = readCsv(kind, csv);
    if ('errors' in read) return { kind: 'invalid', errors: read.errors };
    if (kind === 'centres') return this.run(centreImporter(this.options), read.rows, onProgress);
    if (kind === 'sessions') return this.run(sessionImporter(this.options), read.rows, onProgress);
    return this.run(vaccinatorImporter(this.options), read.rows, onProgress);
  }

  private async run<Row extends { line: number }>(importer: Importer<Row>, rows: CsvRow[], onProgress: (progress: ImportProgress) => void): Promise<ImportResult> {
    const errors: RowError[] = [];
    const validated = (done: number) => onProgress({ phase: 'validate', done, total: rows.length });
    const valid = importer.validate(rows, errors, validated);
    return this.db.transaction(async (trx) => {
      await trx.raw('SELECT pg_advisory_xact_lock(hashtext(?))', [IMPORT_LOCK]);
      // Rows that failed on their own are still checked against the database: the operator gets every problem at once.
      const plan = await importer.plan(trx, valid, errors);
      validated(rows.length);
      if (errors.length) return { kind: 'invalid', errors: errors.sort((a, b) => a.line - b.line) };
      const total = plan.creates.length + plan.updates.length;
      let done = 0;
      onProgress({ phase: 'import', done, total });
      await writeWithConflictMessage(async () => {
        for (const chunk of chunks(plan.creates)) {
          await plan.create(trx, chunk);
          onProgress({ phase: 'import', done: (done += chunk.length), total });
        }
        for (const chunk of chunks(plan.updates)) {
          await plan.update(trx, chunk);
          onProgress({ phase: 'import', done: (done += chunk.length), total });
        }
      });
      const imported = rows.length;
      return { kind: 'imported', imported, created: plan.creates.length, updated: plan.updates.length, unchanged: imported - plan.creates.length - plan.updates.length };
    });
  }
}

/** What one kind of import does: checks rows without the database, then plans the writes with it. */
interface Importer<Row extends { line: number }> {
  validate(rows: CsvRow[], errors: RowError[], progress: (done: number) => void): Row[];
  plan(trx: Tx, rows: Row[], errors: RowError[]): Promise<Plan<Row>>;
}

interface Plan<Row> {
  creates: Row[];
  updates: Row[];
  create(trx: Tx, rows: Row[]): Promise<void>;
  update(trx: Tx, rows: Row[]): Promise<void>;
}

// ---- Reading the file ----

function readCsv(kind: ImportKind, csv: string): { rows: CsvRow[] } | { errors: RowError[] } {
  let records: { record: string[]; info: { lines: number }; raw: string }[];
  try {
    records = parse(csv, { bom: true, trim: true, skip_empty_lines: true, relax_column_count: true, info: true, raw: true }) as unknown as typeof records;
  } catch (error) {
    if (error instanceof CsvError) return { errors: [{ line: (error as CsvError & { lines?: number }).lines ?? 1, reason: `not readable as CSV: ${error.message}` }] };
    throw error;
  }
  const { required, optional } = IMPORT_COLUMNS[kind];
  const expected = `the columns of ${kind} are ${[...required, ...optional.map((column) => `${column} (optional)`)].join(', ')}`;
  const [header, ...body] = records;
  if (!header) return { errors: [{ line: 1, reason: `the file is empty: its first line must name the columns (${expected})` }] };
  const columns = header.record.map((name) => name.toLowerCase());
  const known = new Set([...required, ...optional]);
  const problems = [
    ...columns.filter((column) => !known.has(column)).map((column) => `unknown column "${column}"`),
    ...columns.filter((column, i) => columns.indexOf(column) !== i).map((column) => `column "${column}" is named twice`),
    ...required.filter((column) => !columns.includes(column)).map((column) => `missing column "${column}"`),
  ];
  if (problems.length) return { errors: [{ line: startLine(header), reason: `${problems.join('; ')} (${expected})` }] };
  if (body.length === 0) return { errors: [{ line: 2, reason: 'no rows after the header: nothing to import' }] };

  const errors: RowError[] = [];
  const rows: CsvRow[] = [];
  for (const record of body) {
    const line = startLine(record);
    if (record.record.length !== columns.length) {
      errors.push({ line, reason: `has ${record.record.length} cells, the header names ${columns.length} columns` });
      continue;
    }
    const cells: Cells = {};
    columns.forEach((column, i) => (cells[column] = record.record[i] === '' ? undefined : record.record[i]));
    rows.push({ line, cells });
  }
  return errors.length ? { errors } : { rows };
}

/** csv-parse counts lines up to a record's end; a quoted cell may span lines, and raw text starts with the blank lines skipped before it. */
function startLine(record: { info: { lines: number }; raw: string }): number {
  const breaks = record.raw.replace(/^[\r\n]+/, '').replace(/\r?\n$/, '').match(/\n/g)?.length ?? 0;
  return record.info.lines - breaks;
}

// ---- Checking a row with the admin API's schemas ----

/** Parses with a programme schema; a refused field is named by its CSV column. */
function check<S extends z.ZodType>(schema: S, input: Record<string, unknown>, columnOf: Record<string, string>, reasons: string[]): z.output<S> | undefined {
  try {
    return parseInput(schema, input);
  } catch (error) {
    if (!(error instanceof ProgrammeError)) throw error;
    for (const issue of error.issues) reasons.push(`${columnOf[issue.path] ?? issue.path} ${renameFields(issue.message, columnOf)}`.trim());
    return undefined;
  }
}

function renameFields(message: string, columnOf: Record<string, string>): string {
  return Object.entries(columnOf).reduce((text, [field, column]) => (field === column ? text : text.replaceAll(field, column)), message);
}

/** A whole number in a cell becomes a number; anything else stays text, for the schema to name. */
function numberCell(cell: string | undefined): number | string | undefined {
  return cell !== undefined && /^[+-]?\d+(\.\d+)?$/.test(cell) ? Number(cell) : cell;
}

interface CentreRef {
  name: string;
  pincode: string;
}

const centreRefSchema = newCentreSchema.pick({ name: true, pincode: true });
const CENTRE_REF_COLUMNS = { name: 'centre_name', pincode: 'centre_pincode' };
const centreKey = (ref: CentreRef) => `${ref.pincode}|${ref.name.toLowerCase()}`;
const describeCentre = (ref: CentreRef) => `centre "${ref.name}" in PIN code ${ref.pincode}`;
/** A stand-in id while the centre is checked apart (by name and PIN code, against the database). */
const SOME_CENTRE_ID = 1;

/** Validates every row; a row whose key an earlier row already has is refused, naming that line. */
function validateRows<Row extends { line: number }>(rows: CsvRow[], errors: RowError[], progress: (done: number) => void, validate: (cells: Cells, reasons: string[]) => Row | undefined, keyOf: (row: Row) => string, what: string): Row[] {
  const valid: Row[] = [];
  const seen = new Map<string, number>();
  rows.forEach(({ line, cells }, i) => {
    const reasons: string[] = [];
    const row = validate(cells, reasons);
    if (row) {
      const earlier = seen.get(keyOf(row));
      if (earlier !== undefined) reasons.push(`the same ${what} as line ${earlier}`);
      else seen.set(keyOf(row), line);
    }
    if (reasons.length || !row) errors.push({ line, reason: reasons.join('; ') });
    else valid.push({ ...row, line });
    if ((i + 1) % 500 === 0) progress(i + 1);
  });
  return valid;
}

/** The centres that rows name, found by name (any case) and PIN code, with today's date at each. */
async function findCentres(trx: Tx, refs: CentreRef[], now: Date): Promise<Map<string, { id: number; today: string }>> {
  const unique = [...new Map(refs.map((ref) => [centreKey(ref), ref])).values()];
  const { rows } = await trx.raw<{ rows: { id: number; name: string; pincode: string; today: string }[] }>(
    `SELECT c.id, c.name, c.pincode, to_char((?::timestamptz AT TIME ZONE c.timezone)::date, 'YYYY-MM-DD') AS today
       FROM centres c WHERE (c.pincode, lower(c.name)) IN (SELECT * FROM unnest(?::text[], ?::text[]))`,
    [now.toISOString(), unique.map((ref) => ref.pincode), unique.map((ref) => ref.name.toLowerCase())],
  );
  return new Map(rows.map((row) => [centreKey(row), { id: Number(row.id), today: row.today }]));
}

const centreMissing = (ref: CentreRef) => `${describeCentre(ref)} does not exist (import centres first)`;

// ---- Centres ----

interface CentreImport extends CentreRef {
  line: number;
  district: string;
  state: string;
  timezone?: string;
  id?: number;
}

function centreImporter(options: ProgrammeOptions): Importer<CentreImport> {
  return {
    validate: (rows, errors, progress) =>
      validateRows<CentreImport>(rows, errors, progress, (cells, reasons) => check(newCentreSchema, { name: cells.name, pincode: cells.pincode, district: cells.district, state: cells.state, timezone: cells.timezone }, {}, reasons) as CentreImport | undefined, centreKey, 'name and PIN code'),

    async plan(trx, rows, errors) {
      const zones = [...new Set(rows.map((row) => row.timezone ?? options.defaultTimezone))];
      // Node and PostgreSQL know slightly different zone lists; the centre's "today" is decided in SQL.
      const known = new Set((await trx('pg_timezone_names').whereIn('name', zones).pluck('name')) as string[]);
      const { rows: existing } = await trx.raw<{ rows: { id: number; name: string; pincode: string; district: string; state: string; timezone: string }[] }>(
        `SELECT id, name, pincode, district, state, timezone FROM centres
          WHERE (pincode, lower(name)) IN (SELECT * FROM unnest(?::text[], ?::text[])) FOR UPDATE`,
        [rows.map((row) => row.pincode), rows.map((row) => row.name.toLowerCase())],
      );
      const byKey = new Map(existing.map((row) => [centreKey(row), row]));
      const creates: CentreImport[] = [];
      const updates: CentreImport[] = [];
      for (const row of rows) {
        const current = byKey.get(centreKey(row));
        const zone = row.timezone ?? current?.timezone ?? options.defaultTimezone;
        if (!known.has(zone)) errors.push({ line: row.line, reason: `timezone must be an IANA time zone such as Asia/Kolkata (unknown time zone '${zone}')` });
        else if (!current) creates.push({ ...row, timezone: zone });
        else if (zone !== current.timezone) errors.push({ line: row.line, reason: `timezone cannot be changed by an import (${describeCentre(current)} is in ${current.timezone})` });
        else if (row.district !== current.district || row.state !== current.state) updates.push({ ...row, id: Number(current.id) });
      }
      return {
        creates,
        updates,
        create: (trx, batch) =>
          trx.raw(`INSERT INTO centres (name, pincode, district, state, timezone) SELECT * FROM unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::text[])`, [
            batch.map((row) => row.name),
            batch.map((row) => row.pincode),
            batch.map((row) => row.district),
            batch.map((row) => row.state),
            batch.map((row) => row.timezone!),
          ]),
        update: (trx, batch) =>
          trx.raw(`UPDATE centres c SET district = u.district, state = u.state FROM unnest(?::bigint[], ?::text[], ?::text[]) AS u(id, district, state) WHERE c.id = u.id`, [
            batch.map((row) => row.id!),
            batch.map((row) => row.district),
            batch.map((row) => row.state),
          ]),
      };
    },
  };
}

// ---- Sessions ----

interface SessionImport {
  line: number;
  centre: CentreRef;
  date: string;
  vaccine: string;
  minAge: number;
  dose: number;
  capacity: number;
  startTime: string;
  endTime: string;
  centreId?: number;
  id?: number;
}

const SESSION_COLUMNS = { minAge: 'min_age', startTime: 'start_time', endTime: 'end_time' };
const sessionKey = (centre: string, s: { date: string; vaccine: string; minAge: number; dose: number }) => `${centre}|${s.date}|${s.vaccine}|${s.minAge}|${s.dose}`;

function sessionImporter(options: ProgrammeOptions): Importer<SessionImport> {
  const validate = (cells: Cells, reasons: string[]): SessionImport | undefined => {
    const centre = check(centreRefSchema, { name: cells.centre_name, pincode: cells.centre_pincode }, CENTRE_REF_COLUMNS, reasons);
    const input = {
      centreId: SOME_CENTRE_ID,
      date: cells.date,
      vaccine: cells.vaccine,
      minAge: numberCell(cells.min_age),
      dose: numberCell(cells.dose),
      capacity: numberCell(cells.capacity),
      startTime: cells.start_time,
      endTime: cells.end_time,
    };
    const session = check(newSessionSchema, input, SESSION_COLUMNS, reasons);
    const vaccine = session ? knownVaccine(options, session.vaccine) : undefined;
    if (vaccine?.message) reasons.push(`vaccine ${vaccine.message}`);
    if (!centre || !session || !vaccine?.vaccine) return undefined;
    const { centreId: _placeholder, ...fields } = session;
    return { line: 0, ...fields, vaccine: vaccine.vaccine, centre };
  };

  return {
    validate: (rows, errors, progress) => validateRows(rows, errors, progress, validate, (row) => sessionKey(centreKey(row.centre), row), 'centre, date, vaccine, min_age and dose'),

    async plan(trx, rows, errors) {
      const centres = await findCentres(trx, rows.map((row) => row.centre), (options.clock ?? systemClock).now());
      const centreIds = [...new Set([...centres.values()].map((centre) => centre.id))];
      const dates = [...new Set(rows.map((row) => row.date))];
      // Locked, so the seats booked cannot grow past a new capacity before it is written.
      const { rows: existing } = await trx.raw<{ rows: { id: number; centre_id: number; date: string; vaccine: string; min_age: number; dose: number; capacity: number; booked: number; start_time: string; end_time: string }[] }>(
        `SELECT id, centre_id, to_char(date, 'YYYY-MM-DD') AS date, vaccine, min_age, dose, capacity, booked,
                left(start_time::text, 5) AS start_time, left(end_time::text, 5) AS end_time
           FROM vaccination_sessions WHERE centre_id = ANY(?::bigint[]) AND date = ANY(?::date[]) ORDER BY id FOR UPDATE`,
        [centreIds, dates],
      );
      const byKey = new Map<string, typeof existing>();
      for (const row of existing) {
        const key = sessionKey(String(row.centre_id), { ...row, minAge: row.min_age });
        byKey.set(key, [...(byKey.get(key) ?? []), row]);
      }
      const creates: SessionImport[] = [];
      const updates: SessionImport[] = [];
      for (const row of rows) {
        const centre = centres.get(centreKey(row.centre));
        if (!centre) {
          errors.push({ line: row.line, reason: centreMissing(row.centre) });
          continue;
        }
        const matches = byKey.get(sessionKey(String(centre.id), row)) ?? [];
        const current = matches[0];
        const same = current && current.capacity === row.capacity && current.start_time === row.startTime && current.end_time === row.endTime;
        if (matches.length > 1) errors.push({ line: row.line, reason: `${matches.length} sessions already match it (ids ${matches.map((m) => m.id).join(', ')}): change them with PATCH /admin/sessions/<id>` });
        else if (same) continue;
        else if (row.date < centre.today) errors.push({ line: row.line, reason: `date ${pastDateMessage(centre.today)}` });
        else if (current && row.capacity < current.booked) errors.push({ line: row.line, reason: `capacity ${row.capacity} is below the ${current.booked} seats already booked` });
        else if (current) updates.push({ ...row, id: Number(current.id) });
        else creates.push({ ...row, centreId: centre.id });
      }
      return {
        creates,
        updates,
        create: (trx, batch) =>
          trx.raw(
            `INSERT INTO vaccination_sessions (centre_id, date, vaccine, min_age, dose, capacity, start_time, end_time)
             SELECT * FROM unnest(?::bigint[], ?::date[], ?::text[], ?::int[], ?::int[], ?::int[], ?::time[], ?::time[])`,
            [
              batch.map((row) => row.centreId!),
              batch.map((row) => row.date),
              batch.map((row) => row.vaccine),
              batch.map((row) => row.minAge),
              batch.map((row) => row.dose),
              batch.map((row) => row.capacity),
              batch.map((row) => row.startTime),
              batch.map((row) => row.endTime),
            ],
          ),
        update: (trx, batch) =>
          trx.raw(
            `UPDATE vaccination_sessions s SET capacity = u.capacity, start_time = u.start_time, end_time = u.end_time
               FROM unnest(?::bigint[], ?::int[], ?::time[], ?::time[]) AS u(id, capacity, start_time, end_time) WHERE s.id = u.id`,
            [batch.map((row) => row.id!), batch.map((row) => row.capacity), batch.map((row) => row.startTime), batch.map((row) => row.endTime)],
          ),
      };
    },
  };
}

// ---- Vaccinators ----

interface VaccinatorImport {
  line: number;
  phone: string;
  name: string;
  centre: CentreRef;
  centreId?: number;
  id?: number;
}

function vaccinatorImporter(options: ProgrammeOptions): Importer<VaccinatorImport> {
  const validate = (cells: Cells, reasons: string[]): VaccinatorImport | undefined => {
    const centre = check(centreRefSchema, { name: cells.centre_name, pincode: cells.centre_pincode }, CENTRE_REF_COLUMNS, reasons);
    const vaccinator = check(newVaccinatorSchema, { phone: cells.phone, name: cells.name, centreId: SOME_CENTRE_ID }, {}, reasons);
    const phone = vaccinator ? toMobileE164(vaccinator.phone, options.defaultCountry) : null;
    if (vaccinator && !phone) reasons.push(`phone "${vaccinator.phone}" is not a valid mobile number`);
    if (!centre || !vaccinator || !phone) return undefined;
    return { line: 0, phone, name: vaccinator.name, centre };
  };

  return {
    validate: (rows, errors, progress) => validateRows(rows, errors, progress, validate, (row) => row.phone, 'phone'),

    async plan(trx, rows, errors) {
      const centres = await findCentres(trx, rows.map((row) => row.centre), (options.clock ?? systemClock).now());
      const existing = (await trx('vaccinators').whereIn('phone', rows.map((row) => row.phone)).forUpdate().select('id', 'phone', 'name', 'centre_id')) as { id: number; phone: string; name: string; centre_id: number }[];
      const byPhone = new Map(existing.map((row) => [row.phone, row]));
      const creates: VaccinatorImport[] = [];
      const updates: VaccinatorImport[] = [];
      for (const row of rows) {
        const centre = centres.get(centreKey(row.centre));
        if (!centre) {
          errors.push({ line: row.line, reason: centreMissing(row.centre) });
          continue;
        }
        const current = byPhone.get(row.phone);
        if (!current) creates.push({ ...row, centreId: centre.id });
        else if (current.name !== row.name || Number(current.centre_id) !== centre.id) updates.push({ ...row, centreId: centre.id, id: Number(current.id) });
      }
      return {
        creates,
        updates,
        create: (trx, batch) =>
          trx.raw(`INSERT INTO vaccinators (phone, name, centre_id) SELECT * FROM unnest(?::text[], ?::text[], ?::bigint[])`, [
            batch.map((row) => row.phone),
            batch.map((row) => row.name),
            batch.map((row) => row.centreId!),
          ]),
        update: (trx, batch) =>
          trx.raw(`UPDATE vaccinators v SET name = u.name, centre_id = u.centre_id FROM unnest(?::bigint[], ?::text[], ?::bigint[]) AS u(id, name, centre_id) WHERE v.id = u.id`, [
            batch.map((row) => row.id!),
            batch.map((row) => row.name),
            batch.map((row) => row.centreId!),
          ]),
      };
    },
  };
}

// ---- Writing ----

function* chunks<T>(items: T[]): Generator<T[]> {
  for (let i = 0; i < items.length; i += WRITE_CHUNK) yield items.slice(i, i + WRITE_CHUNK);
}

const PG_UNIQUE_VIOLATION = '23505';

/** A centre or vaccinator added through the admin API while the import ran: the whole import rolls back. */
async function writeWithConflictMessage(write: () => Promise<void>): Promise<void> {
  try {
    await write();
  } catch (error) {
    if ((error as { code?: unknown }).code !== PG_UNIQUE_VIOLATION) throw error;
    throw new ProgrammeError('conflict', 'a centre or vaccinator of this file was added by someone else while it was imported; nothing was imported, import the file again');
  }
}
