import { z } from 'zod';
import type { Db, Tx } from '../db/knex';
import { REFERENCE_PATTERN } from './booking';
import { systemClock, type Clock } from './clock';
import { isCalendarDay, isTimeZone } from './dates';
import { toMobileE164 } from './phone';

/** The operator's programme data: centres, their daily sessions and the vaccinators registered at them. */

export interface Centre {
  id: number;
  name: string;
  pincode: string;
  district: string;
  state: string;
  timezone: string;
  /** A deactivated centre is hidden from citizens; appointments already booked there stay. */
  active: boolean;
  createdAt: Date;
}

export interface Session {
  id: number;
  centreId: number;
  date: string;
  vaccine: string;
  minAge: number;
  dose: number;
  capacity: number;
  booked: number;
  freeSeats: number;
  /** 'HH:MM' at the centre's time zone; booking closes at endTime ('24:00': the end of the day). */
  startTime: string;
  endTime: string;
  /** A deactivated session takes no new bookings; appointments already booked on it stay. */
  active: boolean;
}

export interface Vaccinator {
  id: number;
  phone: string;
  name: string;
  centreId: number;
  active: boolean;
}

export type ProgrammeErrorKind = 'not_found' | 'conflict' | 'invalid';

export interface ProgrammeIssue {
  /** The offending field, dotted for nested ones ('' for the input as a whole). */
  path: string;
  message: string;
}

export class ProgrammeError extends Error {
  constructor(
    readonly kind: ProgrammeErrorKind,
    message: string,
    readonly issues: ProgrammeIssue[] = [],
    /** For a conflict with a record that already exists: its id, so the caller can use it. */
    readonly existingId?: number,
  ) {
    super(message);
    this.name = 'ProgrammeError';
  }
}

// ---- Input schemas: shared with the admin API so both edges validate the same way. ----

/** "is required" when the field is absent, otherwise what it should have been. */
const expected = (what: string) => ({ error: (issue: { input: unknown }) => (issue.input === undefined ? 'is required' : `must be ${what}`) });
const string = () => z.string(expected('text'));
const number = () => z.number(expected('a number'));

/** PostgreSQL cannot store NUL, and no name shown in an SMS or a USSD screen has a line break or other control character. */
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;
const text = (max: number) =>
  string()
    .trim()
    .min(1, 'must not be empty')
    .max(max, `must be at most ${max} characters`)
    .refine((value) => !CONTROL_CHARACTERS.test(value), 'must not contain control characters');
const id = number().int('must be a whole number').positive('must be a positive id');
const pincode = z.string(expected('6 digits, as text')).trim().regex(/^[1-9][0-9]{5}$/, 'must be 6 digits, not starting with 0');
const calendarDay = string().refine(isCalendarDay, 'must be a real date written YYYY-MM-DD');
const intBetween = (min: number, max: number) =>
  number().int('must be a whole number').min(min, `must be at least ${min}`).max(max, `must be at most ${max}`);

const active = z.boolean(expected('true or false'));
const timezone = string().trim().refine(isTimeZone, 'must be an IANA time zone such as Asia/Kolkata');

/** A change must change something (said only when every field given was a known, valid one). */
const changesSomething = (fields: readonly string[]) =>
  [
    (change: object) => Object.values(change).some((value) => value !== undefined),
    { message: `give at least one field to change: ${fields.join(', ')}`, when: (payload: { issues: readonly unknown[] }) => payload.issues.length === 0 },
  ] as const;

export const newCentreSchema = z.strictObject({
  name: text(60),
  pincode,
  district: text(60),
  state: text(60),
  timezone: timezone.optional(),
});
export type NewCentre = z.input<typeof newCentreSchema>;

const centreChangeFields = { name: text(60), pincode, district: text(60), state: text(60), timezone, active };
export const centreChangeSchema = z
  .strictObject({
    name: centreChangeFields.name.optional(),
    pincode: centreChangeFields.pincode.optional(),
    district: centreChangeFields.district.optional(),
    state: centreChangeFields.state.optional(),
    timezone: centreChangeFields.timezone.optional(),
    active: centreChangeFields.active.optional(),
  })
  .refine(...changesSomething(Object.keys(centreChangeFields)));
export type CentreChange = z.input<typeof centreChangeSchema>;

export const centreFilterSchema = z.strictObject({ pincode: pincode.optional(), district: text(60).optional(), active: active.optional() });
export type CentreFilter = z.input<typeof centreFilterSchema>;

/** A time of day 'HH:MM'; an end time may also be '24:00', the end of the day. */
const startTime = string().regex(/^([01][0-9]|2[0-3]):[0-5][0-9]$/, 'must be a time of day HH:MM, e.g. 09:00');
const endTime = string().regex(/^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$/, 'must be a time of day HH:MM, e.g. 17:00 (24:00 for the end of the day)');
export const DEFAULT_START_TIME = '09:00';
export const DEFAULT_END_TIME = '17:00';
/** A big district hospital vaccinates a few thousand a day; more is a typing slip. */
export const MAX_SESSION_CAPACITY = 10_000;

/** 'HH:MM' strings of the same width compare as times do. */
const endsAfterStart = (times: { startTime?: string; endTime?: string }) =>
  times.startTime === undefined || times.endTime === undefined || times.endTime > times.startTime;
const END_AFTER_START = { message: 'must be after startTime', path: ['endTime'] };

export const newSessionSchema = z
  .strictObject({
    centreId: id,
    date: calendarDay,
    vaccine: text(30),
    minAge: intBetween(0, 120),
    dose: intBetween(1, 3),
    capacity: intBetween(1, MAX_SESSION_CAPACITY),
    startTime: startTime.default(DEFAULT_START_TIME),
    endTime: endTime.default(DEFAULT_END_TIME),
  })
  .refine(endsAfterStart, END_AFTER_START);
export type NewSession = z.input<typeof newSessionSchema>;

const sessionTimesSchema = z.strictObject({ startTime, endTime }).refine(endsAfterStart, END_AFTER_START);

const SESSION_CHANGE_FIELDS = ['date', 'vaccine', 'minAge', 'dose', 'capacity', 'startTime', 'endTime', 'active'];
/** Hours and capacity may change under bookings; date, vaccine and dose only while nobody is booked. */
export const sessionChangeSchema = z
  .strictObject({
    date: calendarDay.optional(),
    vaccine: text(30).optional(),
    minAge: intBetween(0, 120).optional(),
    dose: intBetween(1, 3).optional(),
    capacity: intBetween(1, MAX_SESSION_CAPACITY).optional(),
    startTime: startTime.optional(),
    endTime: endTime.optional(),
    active: active.optional(),
  })
  .refine(...changesSomething(SESSION_CHANGE_FIELDS))
  .refine(endsAfterStart, END_AFTER_START);
export type SessionChange = z.input<typeof sessionChangeSchema>;

export const sessionFilterSchema = z
  .strictObject({ centreId: id.optional(), date: calendarDay.optional(), from: calendarDay.optional(), to: calendarDay.optional(), active: active.optional() })
  .refine((filter) => filter.from === undefined || filter.to === undefined || filter.from <= filter.to, { message: 'must not be before from', path: ['to'] });
export type SessionFilter = z.input<typeof sessionFilterSchema>;

export const newVaccinatorSchema = z.strictObject({
  phone: string().trim().min(1, 'must not be empty').max(30, 'must be at most 30 characters'),
  name: text(60),
  centreId: id,
});
export type NewVaccinator = z.input<typeof newVaccinatorSchema>;

const vaccinatorPhone = string().trim().min(1, 'must not be empty').max(30, 'must be at most 30 characters');
export const vaccinatorChangeSchema = z
  .strictObject({ phone: vaccinatorPhone.optional(), name: text(60).optional(), centreId: id.optional(), active: active.optional() })
  .refine(...changesSomething(['phone', 'name', 'centreId', 'active']));
export type VaccinatorChange = z.input<typeof vaccinatorChangeSchema>;

export const vaccinatorFilterSchema = z.strictObject({ centreId: id.optional(), active: active.optional() });
export type VaccinatorFilter = z.input<typeof vaccinatorFilterSchema>;

/** An operator finds appointments by the booking reference the citizen reads out, or by the mobile. */
export const appointmentFilterSchema = z
  .strictObject({
    ref: string()
      .trim()
      .transform((ref) => ref.replace(/[\s-]/g, '').toUpperCase())
      .refine((ref) => REFERENCE_PATTERN.test(ref), 'must be an 8-character booking reference such as K7Q2M9AX')
      .optional(),
    phone: string().trim().min(1, 'must not be empty').max(30, 'must be at most 30 characters').optional(),
  })
  .refine((filter) => (filter.ref === undefined) !== (filter.phone === undefined), 'give either ref or phone');
export type AppointmentFilter = z.input<typeof appointmentFilterSchema>;

/** What an operator sees of an appointment: never its code. */
export interface AppointmentRecord {
  id: number;
  reference: string;
  status: string;
  memberName: string;
  dose: number;
  locked: boolean;
  /** Wrong codes counted against it since its code was last sent or it was unlocked. */
  attempts: number;
  session: { id: number; date: string; startTime: string; endTime: string; vaccine: string };
  centre: { id: number; name: string; pincode: string };
}

/** Rows `offset` to `offset + limit - 1` of a list, in the list's order. */
export interface Range {
  limit: number;
  offset: number;
}

export const MAX_PAGE_SIZE = 1000;
export const DEFAULT_PAGE_SIZE = 100;

/** A page of a list; `next` is the cursor of the following page, null on the last one. */
export interface Page<T> {
  items: T[];
  next: string | null;
}

/** Reads one row more than the page holds: whether it exists says if there is a next page. */
export async function pageOf<T>(range: Range, read: (range: Range) => Promise<T[]>): Promise<Page<T>> {
  const rows = await read({ limit: range.limit + 1, offset: range.offset });
  const more = rows.length > range.limit;
  return { items: more ? rows.slice(0, range.limit) : rows, next: more ? String(range.offset + range.limit) : null };
}

function inRange<Q extends { limit(n: number): Q; offset(n: number): Q }>(query: Q, range: Range | undefined): Q {
  return range ? query.limit(range.limit).offset(range.offset) : query;
}

/** Parses input or throws an 'invalid' ProgrammeError whose message names every bad field. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issues = result.error.issues.flatMap(toIssues);
  throw new ProgrammeError('invalid', issues.map(describeIssue).join('; '), issues);
}

function toIssues(issue: z.core.$ZodIssue): ProgrammeIssue[] {
  const path = issue.path.map(String).join('.');
  if (issue.code !== 'unrecognized_keys') return [{ path, message: issue.message }];
  return issue.keys.map((key) => ({ path: path ? `${path}.${key}` : key, message: 'is not a known field' }));
}

function describeIssue(issue: ProgrammeIssue): string {
  return issue.path ? `${issue.path} ${issue.message}` : issue.message;
}

// ---- Rows as stored ----

interface CentreRow {
  id: number;
  name: string;
  pincode: string;
  district: string;
  state: string;
  timezone: string;
  active: boolean;
  created_at: Date;
}

interface SessionRow {
  id: number;
  centre_id: number;
  date: string;
  vaccine: string;
  min_age: number;
  dose: number;
  capacity: number;
  booked: number;
  start_time: string;
  end_time: string;
  active: boolean;
  created_at: Date;
}

interface VaccinatorRow {
  id: number;
  phone: string;
  name: string;
  centre_id: number;
  active: boolean;
  created_at: Date;
}

const toCentre = (row: CentreRow): Centre => ({
  id: row.id,
  name: row.name,
  pincode: row.pincode,
  district: row.district,
  state: row.state,
  timezone: row.timezone,
  active: row.active,
  createdAt: row.created_at,
});

const toSession = (row: SessionRow): Session => ({
  id: row.id,
  centreId: row.centre_id,
  date: row.date,
  vaccine: row.vaccine,
  minAge: row.min_age,
  dose: row.dose,
  capacity: row.capacity,
  booked: row.booked,
  freeSeats: row.capacity - row.booked,
  startTime: row.start_time.slice(0, 5),
  endTime: row.end_time.slice(0, 5),
  active: row.active,
});

const toVaccinator = (row: VaccinatorRow): Vaccinator => ({
  id: row.id,
  phone: row.phone,
  name: row.name,
  centreId: row.centre_id,
  active: row.active,
});

interface AppointmentRow {
  id: number;
  reference: string;
  status: string;
  dose: number;
  memberName: string;
  locked: boolean;
  attempts: number;
  sessionId: number;
  date: string;
  startTime: string;
  endTime: string;
  vaccine: string;
  centreId: number;
  centreName: string;
  pincode: string;
}

const toAppointmentRecord = (row: AppointmentRow): AppointmentRecord => ({
  id: row.id,
  reference: row.reference,
  status: row.status,
  memberName: row.memberName,
  dose: row.dose,
  locked: row.locked,
  attempts: row.attempts,
  session: { id: row.sessionId, date: row.date, startTime: row.startTime.slice(0, 5), endTime: row.endTime.slice(0, 5), vaccine: row.vaccine },
  centre: { id: row.centreId, name: row.centreName, pincode: row.pincode },
});

const PG_UNIQUE_VIOLATION = '23505';
const PG_FOREIGN_KEY_VIOLATION = '23503';

function pgCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

export interface ProgrammeOptions {
  defaultTimezone: string;
  defaultCountry: string;
  /** The vaccines the programme gives (the names DOSE_INTERVAL_DAYS lists); a session of any other is refused. */
  vaccines?: readonly string[];
  /** Decides which session days are in the past. */
  clock?: Clock;
}

export const DEFAULT_VACCINES: readonly string[] = ['Covishield', 'Covaxin'];

/** The programme's name for a vaccine given in any case, or why it is refused. */
export function knownVaccine(options: Pick<ProgrammeOptions, 'vaccines'>, input: string): { vaccine: string; message?: undefined } | { vaccine?: undefined; message: string } {
  const vaccines = options.vaccines ?? DEFAULT_VACCINES;
  const vaccine = vaccines.find((name) => name.toLowerCase() === input.toLowerCase());
  return vaccine ? { vaccine } : { message: `must be one of ${vaccines.join(', ')} (the vaccines of DOSE_INTERVAL_DAYS)` };
}

/** What createSession says of a day before today at the centre. */
export const pastDateMessage = (today: string) => `must not be in the past (today at the centre is ${today})`;

export class ProgrammeService {
  constructor(
    private readonly db: Db,
    private readonly options: ProgrammeOptions,
  ) {}

  async createCentre(input: NewCentre): Promise<Centre> {
    const centre = parseInput(newCentreSchema, input);
    const timezone = centre.timezone ?? this.options.defaultTimezone;
    await this.refuseUnknownTimeZone(timezone);
    return this.db.transaction(async (trx) => {
      await this.refuseDuplicateCentre(trx, centre.name, centre.pincode);
      const [row] = await trx<CentreRow>('centres').insert({ ...centre, timezone }).returning('*');
      return toCentre(row!);
    });
  }

  /**
   * Renames, moves or (de)activates a centre. A deactivated centre is no longer offered to
   * citizens; its appointments stay booked and keep their codes.
   */
  async updateCentre(centreId: number, input: CentreChange): Promise<Centre> {
    parseInput(z.strictObject({ id }), { id: centreId });
    const change = definedOnly(parseInput(centreChangeSchema, input));
    if (change.timezone !== undefined) await this.refuseUnknownTimeZone(change.timezone);
    return this.db.transaction(async (trx) => {
      const current = await trx<CentreRow>('centres').where({ id: centreId }).forUpdate().first();
      if (!current) throw new ProgrammeError('not_found', `centre ${centreId} does not exist`);
      if (change.name !== undefined || change.pincode !== undefined) {
        await this.refuseDuplicateCentre(trx, change.name ?? current.name, change.pincode ?? current.pincode, centreId);
      }
      const [row] = await trx<CentreRow>('centres').where({ id: centreId }).update(change).returning('*');
      return toCentre(row!);
    });
  }

  /** Every centre matching the filter, or only `range` of them. */
  async listCentres(filter: CentreFilter = {}, range?: Range): Promise<Centre[]> {
    const { pincode, district, active } = parseInput(centreFilterSchema, filter);
    const query = this.db<CentreRow>('centres').orderBy('id');
    if (pincode) query.where({ pincode });
    if (district !== undefined) query.whereRaw('lower(district) = lower(?)', [district]);
    if (active !== undefined) query.where({ active });
    return (await inRange(query, range)).map(toCentre);
  }

  /** Node and PostgreSQL know slightly different zone lists; "today" at the centre is decided in SQL. */
  private async refuseUnknownTimeZone(timezone: string): Promise<void> {
    const known = await this.db('pg_timezone_names').where('name', timezone).first('name');
    if (!known) throw new ProgrammeError('invalid', `timezone must be an IANA time zone such as Asia/Kolkata`, [{ path: 'timezone', message: `unknown time zone '${timezone}'` }]);
  }

  /** One centre per name (any case) and PIN code; `exceptId` is the centre being renamed. */
  private async refuseDuplicateCentre(trx: Tx, name: string, pincode: string, exceptId?: number): Promise<void> {
    // Writes of one PIN code happen one at a time, so two requests cannot both find no duplicate.
    await trx.raw('SELECT pg_advisory_xact_lock(hashtext(?))', [`centre:${pincode}`]);
    const existing = await trx<CentreRow>('centres')
      .where({ pincode })
      .whereRaw('lower(name) = lower(?)', [name])
      .modify((q) => (exceptId === undefined ? q : q.whereNot({ id: exceptId })))
      .first('id');
    if (existing) {
      const message = `centre "${name}" in PIN code ${pincode} already exists (id ${existing.id})`;
      throw new ProgrammeError('conflict', message, [{ path: 'name', message }], existing.id);
    }
  }

  async createSession(input: NewSession): Promise<Session> {
    const session = parseInput(newSessionSchema, input);
    const vaccine = this.knownVaccine(session.vaccine);
    const today = await this.todayAt(session.centreId);
    if (session.date < today) {
      const message = pastDateMessage(today);
      throw new ProgrammeError('invalid', `date ${message}`, [{ path: 'date', message }]);
    }
    const row = await this.insertForCentre(session.centreId, () =>
      this.db<SessionRow>('vaccination_sessions')
        .insert({
          centre_id: session.centreId,
          date: session.date,
          vaccine,
          min_age: session.minAge,
          dose: session.dose,
          capacity: session.capacity,
          start_time: session.startTime,
          end_time: session.endTime,
        })
        .returning('*'),
    );
    return toSession(row);
  }

  /**
   * Changes a session. Citizens already booked keep their seats and codes: hours may move and
   * capacity change (not below the seats booked), but the date, vaccine and dose they booked for,
   * and a higher minimum age, only while nobody is booked. Deactivated, it takes no new bookings.
   */
  async changeSession(sessionId: number, input: SessionChange): Promise<Session> {
    parseInput(z.strictObject({ id }), { id: sessionId });
    const change = parseInput(sessionChangeSchema, input);
    const vaccine = change.vaccine === undefined ? undefined : this.knownVaccine(change.vaccine);
    return this.db.transaction(async (trx) => {
      // Locked: a booking taking a seat meanwhile waits, so `booked` below is the real count.
      const current = await trx<SessionRow>('vaccination_sessions').where({ id: sessionId }).forUpdate().first();
      if (!current) throw new ProgrammeError('not_found', `session ${sessionId} does not exist`);
      const times = parseInput(sessionTimesSchema, { startTime: change.startTime ?? current.start_time.slice(0, 5), endTime: change.endTime ?? current.end_time.slice(0, 5) });
      if (change.date !== undefined && change.date !== current.date) {
        const today = await this.todayAt(current.centre_id);
        if (change.date < today) {
          const message = `must not be in the past (today at the centre is ${today})`;
          throw new ProgrammeError('invalid', `date ${message}`, [{ path: 'date', message }]);
        }
      }
      refuseChangesUnderBookings(current, { ...change, vaccine });
      const [row] = await trx<SessionRow>('vaccination_sessions')
        .where({ id: sessionId })
        .update(
          definedOnly({
            date: change.date,
            vaccine,
            min_age: change.minAge,
            dose: change.dose,
            capacity: change.capacity,
            start_time: times.startTime,
            end_time: times.endTime,
            active: change.active,
          }),
        )
        .returning('*');
      return toSession(row!);
    });
  }

  async listSessions(filter: SessionFilter = {}, range?: Range): Promise<Session[]> {
    const { centreId, date, from, to, active } = parseInput(sessionFilterSchema, filter);
    const query = this.db<SessionRow>('vaccination_sessions').orderBy(['date', 'centre_id', 'vaccine', 'min_age', 'dose', 'id']);
    if (centreId !== undefined) query.where({ centre_id: centreId });
    if (date !== undefined) query.where({ date });
    if (from !== undefined) query.where('date', '>=', from);
    if (to !== undefined) query.where('date', '<=', to);
    if (active !== undefined) query.where({ active });
    return (await inRange(query, range)).map(toSession);
  }

  async createVaccinator(input: NewVaccinator): Promise<Vaccinator> {
    const vaccinator = parseInput(newVaccinatorSchema, input);
    const phone = this.normalisePhone(vaccinator.phone);
    const [row] = await this.writeVaccinator(phone, vaccinator.centreId, () =>
      this.db<VaccinatorRow>('vaccinators')
        .insert({ phone, name: vaccinator.name, centre_id: vaccinator.centreId })
        .returning('*'),
    );
    return toVaccinator(row!);
  }

  async listVaccinators(filter: VaccinatorFilter = {}, range?: Range): Promise<Vaccinator[]> {
    const { centreId, active } = parseInput(vaccinatorFilterSchema, filter);
    const query = this.db<VaccinatorRow>('vaccinators').orderBy('id');
    if (centreId !== undefined) query.where({ centre_id: centreId });
    if (active !== undefined) query.where({ active });
    return (await inRange(query, range)).map(toVaccinator);
  }

  /** Renames, moves or (de)activates a vaccinator; a deactivated one can no longer confirm doses. */
  async updateVaccinator(vaccinatorId: number, input: VaccinatorChange): Promise<Vaccinator> {
    parseInput(z.strictObject({ id }), { id: vaccinatorId });
    const change = parseInput(vaccinatorChangeSchema, input);
    const phone = change.phone === undefined ? undefined : this.normalisePhone(change.phone);
    const [row] = await this.writeVaccinator(phone, change.centreId, () =>
      this.db<VaccinatorRow>('vaccinators')
        .where({ id: vaccinatorId })
        .update(definedOnly({ phone, name: change.name, centre_id: change.centreId, active: change.active }))
        .returning('*'),
    );
    if (!row) throw new ProgrammeError('not_found', `vaccinator ${vaccinatorId} does not exist`);
    return toVaccinator(row);
  }

  async setVaccinatorActive(vaccinatorId: number, active: boolean): Promise<Vaccinator> {
    return this.updateVaccinator(vaccinatorId, { active });
  }

  /** A vaccinator insert or update: the database's unique phone and the centre's foreign key decide. */
  private async writeVaccinator(phone: string | undefined, centreId: number | undefined, write: () => PromiseLike<VaccinatorRow[]>): Promise<VaccinatorRow[]> {
    try {
      return await write();
    } catch (error) {
      if (pgCode(error) === PG_UNIQUE_VIOLATION) {
        const message = `phone ${phone} is already registered to a vaccinator`;
        throw new ProgrammeError('conflict', message, [{ path: 'phone', message }]);
      }
      if (pgCode(error) === PG_FOREIGN_KEY_VIOLATION) throw centreNotFound(centreId);
      throw error;
    }
  }

  /** Appointments by booking reference or mobile, newest first, for an operator helping a citizen. */
  async findAppointments(filter: AppointmentFilter, range?: Range): Promise<AppointmentRecord[]> {
    const { ref, phone } = parseInput(appointmentFilterSchema, filter);
    const query = this.db('appointments as ap')
      .join('beneficiaries as b', 'b.id', 'ap.beneficiary_id')
      .join('accounts as a', 'a.id', 'b.account_id')
      .join('vaccination_sessions as s', 's.id', 'ap.session_id')
      .join('centres as c', 'c.id', 's.centre_id')
      .modify((q) => (ref !== undefined ? q.where('ap.reference', ref) : q.where('a.phone', this.normalisePhone(phone!))))
      .orderBy('ap.id', 'desc')
      .select<AppointmentRow[]>(
        'ap.id',
        'ap.reference',
        'ap.status',
        'ap.dose',
        'b.name as memberName',
        this.db.raw('ap.locked_at IS NOT NULL AS locked'),
        this.db.raw('(ap.failed_attempts + ap.family_attempts)::int AS attempts'),
        's.id as sessionId',
        's.date',
        's.start_time as startTime',
        's.end_time as endTime',
        's.vaccine',
        'c.id as centreId',
        'c.name as centreName',
        'c.pincode',
      );
    return (await inRange(query, range)).map(toAppointmentRecord);
  }

  private knownVaccine(input: string): string {
    const known = knownVaccine(this.options, input);
    if (known.message === undefined) return known.vaccine;
    throw new ProgrammeError('invalid', `vaccine ${known.message}`, [{ path: 'vaccine', message: known.message }]);
  }

  /** Today's date at the centre, decided in SQL like every other "today" of a centre. */
  private async todayAt(centreId: number): Promise<string> {
    const now = (this.options.clock ?? systemClock).now().toISOString();
    const row = await this.db('centres')
      .where({ id: centreId })
      .first<{ today: string } | undefined>(this.db.raw(`to_char((?::timestamptz AT TIME ZONE timezone)::date, 'YYYY-MM-DD') AS today`, [now]));
    if (!row) throw new ProgrammeError('not_found', `centre ${centreId} does not exist`, [{ path: 'centreId', message: 'no such centre' }]);
    return row.today;
  }

  private normalisePhone(input: string): string {
    const phone = toMobileE164(input, this.options.defaultCountry);
    if (phone) return phone;
    const message = `phone "${input}" is not a valid mobile number`;
    throw new ProgrammeError('invalid', message, [{ path: 'phone', message }]);
  }

  /** Runs an insert that references a centre; the foreign key, not a prior read, decides the centre exists. */
  private async insertForCentre<Row>(centreId: number, insert: () => PromiseLike<Row[]>): Promise<Row> {
    try {
      const [row] = await insert();
      return row!;
    } catch (error) {
      if (pgCode(error) !== PG_FOREIGN_KEY_VIOLATION) throw error;
      throw centreNotFound(centreId);
    }
  }
}

const centreNotFound = (centreId: number | undefined) =>
  new ProgrammeError('not_found', `centre ${centreId} does not exist`, [{ path: 'centreId', message: 'no such centre' }]);

/** The fields given, for an UPDATE that leaves the others as they are. */
function definedOnly<T extends object>(values: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined)) as { [K in keyof T]?: Exclude<T[K], undefined> };
}

/** What citizens booked for cannot change under them; the message says what to do instead. */
function refuseChangesUnderBookings(current: SessionRow, change: { date?: string; vaccine?: string; minAge?: number; dose?: number; capacity?: number }): void {
  if (change.capacity !== undefined && change.capacity < current.booked) {
    const message = `must be at least ${current.booked}, the seats already booked`;
    throw new ProgrammeError('conflict', `capacity ${message}`, [{ path: 'capacity', message }]);
  }
  if (current.booked === 0) return;
  const fixed = [
    change.date !== undefined && change.date !== current.date ? 'date' : undefined,
    change.vaccine !== undefined && change.vaccine !== current.vaccine ? 'vaccine' : undefined,
    change.dose !== undefined && change.dose !== current.dose ? 'dose' : undefined,
    change.minAge !== undefined && change.minAge > current.min_age ? 'minAge' : undefined,
  ].filter((field) => field !== undefined);
  if (fixed.length === 0) return;
  const why = `cannot change: session ${current.id} has ${current.booked} booking(s) (open a new session, or deactivate this one)`;
  throw new ProgrammeError('conflict', `${fixed.join(', ')} ${why}`, fixed.map((path) => ({ path, message: why })));
}
