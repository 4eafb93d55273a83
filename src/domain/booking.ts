import { randomInt } from 'node:crypto';
import type { Db, Tx } from '../db/knex';
import type { Clock } from './clock';
import type { CodeVault } from './codes';
import { addDays, dayIn, longDay } from './dates';
import type { IdType } from './identity';
import { NOTIFY_RELAY, queueSms, smsInsert } from './outbox';

/**
 * Booking: members of a mobile, the seats they may take, and the appointment that carries the
 * security code. Every write happens in one transaction that also writes the SMS it causes.
 */
export interface BookingRules {
  /** How far ahead a citizen may book, in days from today at the centre. */
  daysAhead: number;
  /** CoWIN's rule: at most 4 beneficiaries on one mobile. */
  maxMembersPerMobile: number;
  /** Codes sent again by SMS, per appointment per calendar day at the appointment's centre. */
  maxResendsPerDay: number;
  /**
   * The programme's minimum age: younger people are refused at registration, before a family slot
   * is spent. A session an administrator opens for younger people lowers it (see checkAge).
   */
  minAge: number;
  /**
   * Days from a recorded dose to the earliest next dose, per vaccine. Read when a dose is booked:
   * a change applies to new bookings and leaves booked appointments as they are.
   */
  doseIntervalDays: Record<string, number>;
}

/** Used for a vaccine the configuration does not name. */
export const DEFAULT_DOSE_INTERVAL_DAYS = 28;

export const DEFAULT_BOOKING_RULES: BookingRules = {
  daysAhead: 14,
  maxMembersPerMobile: 4,
  maxResendsPerDay: 3,
  minAge: 18,
  doseIntervalDays: { Covishield: 84, Covaxin: 28 },
};

export interface Member {
  id: number;
  name: string;
  birthYear: number;
}

export interface NewMember {
  name: string;
  birthYear: number;
  gender: 'F' | 'M' | 'O';
  idType: IdType;
  idNumber: string;
}

export type AgeCheck = { kind: 'old_enough' } | { kind: 'too_young'; minAge: number };

export type RegisterResult =
  | { kind: 'registered'; member: Member }
  | { kind: 'member_limit' }
  | { kind: 'id_taken' }
  | { kind: 'too_young'; minAge: number };

export interface CentreOption {
  id: number;
  name: string;
  freeSeats: number;
}

export interface SessionOption {
  id: number;
  date: string;
  vaccine: string;
  dose: number;
  minAge: number;
  freeSeats: number;
}

export interface SessionSummary extends SessionOption {
  centreName: string;
}

export interface AppointmentView {
  id: number;
  reference: string;
  beneficiaryId: number;
  sessionId: number;
  centreId: number;
  memberName: string;
  centreName: string;
  date: string;
  vaccine: string;
  dose: number;
  /** The session's hours, 'HH:MM' at the centre. */
  startTime: string;
  endTime: string;
}

export type MemberStatus =
  | { kind: 'can_book'; member: Member; dose: number; vaccine?: string; earliest?: string }
  | { kind: 'already_booked'; appointment: AppointmentView }
  | { kind: 'fully_vaccinated'; member: Member }
  | { kind: 'not_found' };

/**
 * Why a member can book nothing at a PIN code, the most fundamental reason first: a member too
 * young for every session is not told the seats are taken, nor one whose dose 2 is not yet due.
 */
export type BookingRefusal =
  | { kind: 'fully_vaccinated' }
  | { kind: 'dose_not_due'; vaccine: string; earliest: string }
  | { kind: 'too_young'; minAge: number }
  | { kind: 'no_sessions' }
  | { kind: 'full' };

export type Availability = { kind: 'open'; centres: CentreOption[] } | BookingRefusal | { kind: 'not_found' };

export type BookingResult =
  | { kind: 'booked'; appointment: AppointmentView }
  | { kind: 'full' }
  | { kind: 'already_booked'; appointment: AppointmentView }
  | { kind: 'not_eligible' }
  /** The session has ended (its end time on its date has passed): no more bookings. */
  | { kind: 'closed' }
  | { kind: 'not_found' };

export type ResendResult = { kind: 'sent' } | { kind: 'limit' } | { kind: 'not_found' };
export type CancelResult = { kind: 'cancelled'; appointment: AppointmentView } | { kind: 'not_found' };
export type RescheduleResult =
  | { kind: 'rescheduled'; appointment: AppointmentView }
  | { kind: 'full' }
  | { kind: 'not_eligible' }
  | { kind: 'closed' }
  | { kind: 'not_found' };

const MAX_DOSE = 2;
export const CODE_TEMPLATE = 'sms.booking_code';
export const RESENT_CODE_TEMPLATE = 'sms.code_resent';
const REFERENCE_ALPHABET = '23456789ABCDEFGHJKMNPQRSTUVWXYZ';
/** A booking reference: 8 characters without 0/O, 1/I/L, easy to read out and type. */
export const REFERENCE_PATTERN = /^[2-9A-HJKMNP-Z]{8}$/;

export class BookingService {
  constructor(
    private readonly db: Db,
    private readonly codes: CodeVault,
    private readonly clock: Clock,
    private readonly rules: BookingRules = DEFAULT_BOOKING_RULES,
  ) {}

  async members(phone: string): Promise<Member[]> {
    return this.db('beneficiaries as b')
      .join('accounts as a', 'a.id', 'b.account_id')
      .where('a.phone', phone)
      .orderBy('b.id')
      .select('b.id', 'b.name', 'b.birth_year as birthYear');
  }

  /**
   * Whether someone born in `birthYear` is old enough for any session the programme runs: the
   * configured minimum age, or a lower one if an upcoming session is open to younger people. The
   * configured floor keeps the answer steady from day to day (an 18-year-old is not refused because
   * this week's sessions happen to be 45+); the sessions keep it honest when younger ones exist.
   */
  async checkAge(birthYear: number, db: Db | Tx = this.db): Promise<AgeCheck> {
    const now = this.clock.now();
    const [{ lowest }] = (await db('vaccination_sessions')
      .where('active', true)
      .andWhere('date', '>=', addDays(now.toISOString().slice(0, 10), -1))
      .min({ lowest: 'min_age' })) as [{ lowest: number | null }];
    const minAge = Math.min(this.rules.minAge, lowest ?? this.rules.minAge);
    return ageIn(now, birthYear) >= minAge ? { kind: 'old_enough' } : { kind: 'too_young', minAge };
  }

  async register(phone: string, member: NewMember): Promise<RegisterResult> {
    const idHash = this.codes.hashIdentity(member.idType, member.idNumber);
    return this.db.transaction(async (trx) => {
      const age = await this.checkAge(member.birthYear, trx);
      if (age.kind === 'too_young') return age;
      const account = await lockAccount(trx, phone);
      const [{ count }] = (await trx('beneficiaries').where('account_id', account.id).count({ count: '*' })) as [{ count: string }];
      if (Number(count) >= this.rules.maxMembersPerMobile) return { kind: 'member_limit' };
      const taken = await trx('beneficiaries').where({ id_type: member.idType, id_hash: idHash }).first('id');
      if (taken) return { kind: 'id_taken' };
      const [row] = await trx('beneficiaries')
        .insert({
          account_id: account.id,
          name: member.name,
          birth_year: member.birthYear,
          gender: member.gender,
          id_type: member.idType,
          id_hash: idHash,
          id_last4: member.idNumber.slice(-4),
        })
        .returning(['id', 'name', 'birth_year']);
      return { kind: 'registered', member: { id: row.id, name: row.name, birthYear: row.birth_year } };
    });
  }

  /** What the member may do next: book the next dose, or why not. */
  async memberStatus(phone: string, memberId: number): Promise<MemberStatus> {
    const booker = await this.booker(this.db, phone, memberId);
    if (!booker) return { kind: 'not_found' };
    const live = booker.live.find((appointment) => appointment.beneficiaryId === memberId);
    if (live) return { kind: 'already_booked', appointment: (await this.appointmentView(this.db, live.id))! };
    const member: Member = { id: booker.id, name: booker.name, birthYear: booker.birthYear };
    const eligibility = this.eligibilityOf(booker.birthYear, booker.doses);
    if (!eligibility) return { kind: 'fully_vaccinated', member };
    return { kind: 'can_book', member, dose: eligibility.dose, vaccine: eligibility.vaccine, earliest: eligibility.earliest };
  }

  async centresWithSeats(pincode: string, memberId: number): Promise<CentreOption[]> {
    const eligibility = await this.eligibility(memberId);
    return eligibility ? this.openCentres(pincode, eligibility) : [];
  }

  private async openCentres(pincode: string, eligibility: Eligibility): Promise<CentreOption[]> {
    const rows = await this.openSessions(eligibility)
      .where('c.pincode', pincode)
      .groupBy('c.id', 'c.name')
      .orderBy('c.name')
      .limit(50)
      .select('c.id', 'c.name', this.db.raw('SUM(s.capacity - s.booked)::int AS "freeSeats"'));
    return rows as CentreOption[];
  }

  /**
   * Centres at the PIN code where this member can book, or the real reason there are none. Only a
   * refusal costs the extra query that finds the reason.
   */
  async availability(phone: string, pincode: string, memberId: number): Promise<Availability> {
    const booker = await this.booker(this.db, phone, memberId);
    if (!booker) return { kind: 'not_found' };
    const eligibility = this.eligibilityOf(booker.birthYear, booker.doses);
    if (!eligibility) return { kind: 'fully_vaccinated' };
    const centres = await this.openCentres(pincode, eligibility);
    if (centres.length > 0) return { kind: 'open', centres };
    return this.refusalAt(pincode, eligibility);
  }

  /** Relaxes the booking rules one at a time over the sessions in the window at the PIN code. */
  private async refusalAt(pincode: string, e: Eligibility): Promise<BookingRefusal> {
    const forDose = 's.dose = ? AND s.vaccine = COALESCE(?::text, s.vaccine)';
    const due = `${forDose} AND s.date >= COALESCE(?::date, s.date)`;
    const doseBindings = [e.dose, e.vaccine ?? null];
    const dueBindings = [...doseBindings, e.earliest ?? null];
    const counts = (await this.sessionsInWindow(e)
      .where('c.pincode', pincode)
      .first(
        this.db.raw(`(COUNT(*) FILTER (WHERE ${forDose}))::int AS "forDose"`, doseBindings),
        this.db.raw(`(COUNT(*) FILTER (WHERE ${due}))::int AS "due"`, dueBindings),
        this.db.raw(`MIN(s.min_age) FILTER (WHERE ${due}) AS "lowestMinAge"`, dueBindings),
        this.db.raw(`(COUNT(*) FILTER (WHERE ${due} AND s.min_age <= ?))::int AS "oldEnough"`, [...dueBindings, e.age]),
      )) as { forDose: number; due: number; lowestMinAge: number | null; oldEnough: number };
    if (counts.oldEnough > 0) return { kind: 'full' };
    if (counts.due > 0) return { kind: 'too_young', minAge: counts.lowestMinAge! };
    // With no session at all, "not yet due" is judged by the UTC date: at worst a day early.
    if (e.vaccine && e.earliest && (counts.forDose > 0 || e.earliest > e.now.toISOString().slice(0, 10))) {
      return { kind: 'dose_not_due', vaccine: e.vaccine, earliest: e.earliest };
    }
    return { kind: 'no_sessions' };
  }

  async sessionsWithSeats(centreId: number, memberId: number): Promise<SessionOption[]> {
    const eligibility = await this.eligibility(memberId);
    if (!eligibility) return [];
    const rows = await this.openSessions(eligibility)
      .where('c.id', centreId)
      .orderBy([{ column: 's.date' }, { column: 's.id' }])
      .limit(50)
      .select('s.id', 's.date', 's.vaccine', 's.dose', 's.min_age as minAge', this.db.raw('(s.capacity - s.booked)::int AS "freeSeats"'));
    return rows as SessionOption[];
  }

  async sessionSummary(sessionId: number): Promise<SessionSummary | undefined> {
    return this.db('vaccination_sessions as s')
      .join('centres as c', 'c.id', 's.centre_id')
      .where('s.id', sessionId)
      .first('s.id', 's.date', 's.vaccine', 's.dose', 'c.name as centreName', this.db.raw('(s.capacity - s.booked)::int AS "freeSeats"'));
  }

  /**
   * Takes a seat and creates the appointment with a fresh code, and writes the code SMS, all in
   * one transaction. Capacity holds under any concurrency: the seat is taken by a conditional
   * UPDATE, and the database's CHECK refuses anything beyond capacity.
   *
   * Everything that decides the booking is read first, under the account lock only; the seat, the
   * appointment and the SMS are then written by one statement, so the session's row (every booking
   * into it queues on that lock) is held for that statement and the COMMIT alone.
   */
  async book(phone: string, memberId: number, sessionId: number): Promise<BookingResult> {
    return this.db.transaction(async (trx) => {
      const account = await lockAccount(trx, phone);
      const booker = await this.booker(trx, phone, memberId);
      if (!booker) return { kind: 'not_found' };
      const live = booker.live.find((appointment) => appointment.beneficiaryId === memberId);
      if (live) return { kind: 'already_booked', appointment: (await this.appointmentView(trx, live.id))! };

      const eligibility = this.eligibilityOf(booker.birthYear, booker.doses);
      let session = eligibility && (await this.openSession(trx, eligibility, sessionId));
      if (!session) {
        if (await this.hasEnded(trx, sessionId)) return { kind: 'closed' };
        return (await this.isFull(trx, sessionId)) ? { kind: 'full' } : { kind: 'not_eligible' };
      }
      for (let attempt = 1; ; attempt++) {
        const appointment = await this.takeSeat(trx, { phone, language: account.language, memberId, memberName: booker.name, session, otherCodes: booker.live });
        if (appointment) return { kind: 'booked', appointment };
        // No seat: it was taken, or the session deactivated, since it was read; or an operator moved
        // its hours, and the SMS must not carry the old ones: then it is read again and retried.
        session = attempt < 3 ? eligibility && (await this.openSession(trx, eligibility, sessionId)) : undefined;
        if (!session) return { kind: 'full' };
      }
    });
  }

  /**
   * The member of this account with what booking needs to know: doses had (eligibility), and the
   * live appointments of every member of the account (one of them this member's, or the codes a
   * new one must differ from). One statement.
   */
  private async booker(db: Db | Tx, phone: string, memberId: number): Promise<Booker | undefined> {
    const { rows } = await db.raw<{ rows: Booker[] }>(
      `SELECT b.id, b.name, b.birth_year AS "birthYear",
         ${DOSES_OF_B} AS doses,
         COALESCE((SELECT json_agg(json_build_object('id', ap.id, 'beneficiaryId', ap.beneficiary_id, 'reference', ap.reference, 'code_hmac', ap.code_hmac))
                     FROM appointments ap JOIN beneficiaries o ON o.id = ap.beneficiary_id
                    WHERE o.account_id = b.account_id AND ap.status = 'booked'), '[]') AS live
       FROM beneficiaries b JOIN accounts a ON a.id = b.account_id WHERE b.id = ? AND a.phone = ?`,
      [memberId, phone],
    );
    return rows[0];
  }

  /** The session if this member may book it now, with what the appointment and its SMS show. */
  private async openSession(trx: Tx, eligibility: Eligibility, sessionId: number): Promise<OpenSession | undefined> {
    return this.openSessions(eligibility, trx)
      .where('s.id', sessionId)
      .first(
        's.id',
        's.centre_id as centreId',
        'c.name as centreName',
        's.date',
        's.vaccine',
        's.dose',
        's.min_age as minAge',
        's.start_time as startsAt',
        's.end_time as endsAt',
        trx.raw(`to_char(s.start_time, 'HH24:MI') AS "startTime"`),
        trx.raw(`to_char(s.end_time, 'HH24:MI') AS "endTime"`),
      );
  }

  /**
   * One statement: takes a seat if one is free and the session is still active and as read (so the
   * SMS and the view show what was booked), inserts the appointment and writes its code SMS. The
   * view is built from what was read, not read again. Undefined when no seat was taken.
   */
  private async takeSeat(
    trx: Tx,
    booking: { phone: string; language: string; memberId: number; memberName: string; session: OpenSession; otherCodes: { reference: string; code_hmac: string }[] },
  ): Promise<AppointmentView | undefined> {
    const { session, language } = booking;
    const reference = referenceCode();
    const code = this.pickCode(booking.otherCodes);
    const view: AppointmentView = {
      id: 0,
      reference,
      beneficiaryId: booking.memberId,
      sessionId: session.id,
      centreId: session.centreId,
      memberName: booking.memberName,
      centreName: session.centreName,
      date: session.date,
      vaccine: session.vaccine,
      dose: session.dose,
      startTime: session.startTime,
      endTime: session.endTime,
    };
    const sms = smsInsert({ phone: booking.phone, language, template: CODE_TEMPLATE, params: codeSmsParams(view, language) }, 'ap');
    const { rows } = await trx.raw<{ rows: { id: number }[] }>(
      `WITH seat AS (
         UPDATE vaccination_sessions SET booked = booked + 1
          WHERE id = ? AND active AND booked < capacity
            AND date = ?::date AND vaccine = ? AND dose = ? AND min_age = ? AND start_time = ?::time AND end_time = ?::time
         RETURNING id
       ), ap AS (
         INSERT INTO appointments (reference, beneficiary_id, session_id, dose, code_hmac, code_cipher)
         SELECT ?, ?::bigint, seat.id, ?::int, ?, ? FROM seat RETURNING id
       ), sms AS (${sms.sql})
       SELECT ap.id, ${NOTIFY_RELAY} FROM ap, sms`,
      [
        session.id,
        session.date,
        session.vaccine,
        session.dose,
        session.minAge,
        session.startsAt,
        session.endsAt,
        reference,
        booking.memberId,
        session.dose,
        this.codes.mac(reference, code),
        this.codes.encrypt(code),
        ...sms.bindings,
      ],
    );
    return rows[0] && { ...view, id: rows[0].id };
  }

  /** Live (booked, not yet vaccinated) appointments of every member of this mobile. */
  async liveAppointments(phone: string): Promise<AppointmentView[]> {
    return this.appointmentQuery(this.db).where('a.phone', phone).andWhere('ap.status', 'booked').orderBy('ap.id');
  }

  async appointmentFor(phone: string, appointmentId: number): Promise<AppointmentView | undefined> {
    return this.liveAppointmentOf(this.db, phone, appointmentId).first();
  }

  /**
   * A new code replaces the old one (which stops working) and goes out by SMS. `requestId` names
   * the request that asked (an inbound SMS): asked again after a crash, nothing new is minted.
   * Wrong codes were guesses at the old code, so the new one starts with every attempt and a lock
   * is lifted: only the citizen's own phone can ask, so a vaccinator cannot unlock by guessing.
   */
  async resendCode(phone: string, appointmentId: number, requestId?: string): Promise<ResendResult> {
    const dedupeKey = requestId ? `resend-${requestId}` : undefined;
    return this.db.transaction(async (trx) => {
      const account = await lockAccount(trx, phone);
      if (dedupeKey && (await trx('outbound_messages').where('dedupe_key', dedupeKey).first('id'))) return { kind: 'sent' };
      const appointment = await this.lockedLiveAppointment(trx, phone, appointmentId);
      if (!appointment) return { kind: 'not_found' };
      // "3 a day" as the citizen reads it: since midnight at the centre, not in the last 24 hours.
      const { timezone } = await trx('centres').where('id', appointment.centreId).first('timezone');
      const [{ count }] = (await trx('outbound_messages')
        .where({ appointment_id: appointmentId, template: RESENT_CODE_TEMPLATE })
        .andWhereRaw('created_at >= (?::date::timestamp AT TIME ZONE ?)', [dayIn(timezone, this.clock.now()), timezone])
        .count({ count: '*' })) as [{ count: string }];
      if (Number(count) >= this.rules.maxResendsPerDay) return { kind: 'limit' };

      const code = await this.uniqueCode(trx, account.id, appointmentId);
      await trx('appointments')
        .where('id', appointmentId)
        .update({
          code_hmac: this.codes.mac(appointment.reference, code),
          code_cipher: this.codes.encrypt(code),
          failed_attempts: 0,
          family_attempts: 0,
          locked_at: null,
          updated_at: trx.fn.now(),
        });
      await queueSms(trx, {
        phone,
        language: account.language,
        template: RESENT_CODE_TEMPLATE,
        params: codeSmsParams(appointment, account.language),
        appointmentId,
        dedupeKey,
      });
      return { kind: 'sent' };
    });
  }

  async findLiveByReference(phone: string, reference: string): Promise<AppointmentView | undefined> {
    return this.appointmentQuery(this.db).where({ 'a.phone': phone, 'ap.reference': reference.toUpperCase(), 'ap.status': 'booked' }).first();
  }

  /** Cancels a booking of this mobile and frees its seat in the same transaction; the code stops working. */
  async cancel(phone: string, appointmentId: number): Promise<CancelResult> {
    return this.db.transaction(async (trx) => {
      const account = await lockAccount(trx, phone);
      const appointment = await this.lockedLiveAppointment(trx, phone, appointmentId);
      if (!appointment) return { kind: 'not_found' };
      const now = this.clock.now();
      await trx('appointments').where('id', appointmentId).update({ status: 'cancelled', closed_at: now, code_cipher: null, updated_at: now });
      await trx('vaccination_sessions').where('id', appointment.sessionId).decrement('booked', 1);
      await queueSms(trx, { phone, language: account.language, template: 'sms.cancelled', params: codeSmsParams(appointment, account.language) });
      return { kind: 'cancelled', appointment };
    });
  }

  /**
   * Moves a booking to another session: the new seat is taken and the old one freed in one
   * transaction (never both held, never neither). The code stays the same.
   */
  async reschedule(phone: string, appointmentId: number, newSessionId: number): Promise<RescheduleResult> {
    return this.db.transaction(async (trx) => {
      const account = await lockAccount(trx, phone);
      const appointment = await this.lockedLiveAppointment(trx, phone, appointmentId);
      if (!appointment) return { kind: 'not_found' };
      if (appointment.sessionId === newSessionId) return { kind: 'not_eligible' };
      const eligibility = await this.eligibilityFor(trx, appointment);
      // Both seat rows are locked in id order, so moves in opposite directions cannot deadlock.
      const lockSeats = () => trx('vaccination_sessions').whereIn('id', [appointment.sessionId, newSessionId]).orderBy('id').forUpdate().select('id');
      const open = async () => eligibility && (await this.openSessions(eligibility, trx).where('s.id', newSessionId).first('s.id'));
      if (!(await open())) {
        // Read again under the seat locks: a concurrent move may be between taking its new seat and
        // freeing its old one, and the answer must be the settled one (full, closed), never a guess.
        await lockSeats();
        if (!(await open())) {
          if (await this.hasEnded(trx, newSessionId)) return { kind: 'closed' };
          return (await this.isFull(trx, newSessionId)) ? { kind: 'full' } : { kind: 'not_eligible' };
        }
      }

      await lockSeats();
      const taken = await trx('vaccination_sessions').where({ id: newSessionId, active: true }).andWhere('booked', '<', trx.ref('capacity')).increment('booked', 1).returning('id');
      if (taken.length === 0) return { kind: 'full' };
      await trx('vaccination_sessions').where('id', appointment.sessionId).decrement('booked', 1);
      await trx('appointments').where('id', appointmentId).update({ session_id: newSessionId, updated_at: this.clock.now() });
      const moved = (await this.appointmentView(trx, appointmentId))!;
      await queueSms(trx, { phone, language: account.language, template: 'sms.rescheduled', params: codeSmsParams(moved, account.language) });
      return { kind: 'rescheduled', appointment: moved };
    });
  }

  /** Sessions an appointment could move to: same rules as booking it, other than the one it holds. */
  async rescheduleOptions(phone: string, appointmentId: number): Promise<SessionOption[]> {
    const appointment = await this.appointmentFor(phone, appointmentId);
    if (!appointment) return [];
    const eligibility = await this.eligibilityFor(this.db, appointment);
    if (!eligibility) return [];
    return this.openSessions(eligibility)
      .where('c.id', appointment.centreId)
      .whereNot('s.id', appointment.sessionId)
      .orderBy([{ column: 's.date' }, { column: 's.id' }])
      .limit(50)
      .select('s.id', 's.date', 's.vaccine', 's.dose', 's.min_age as minAge', this.db.raw('(s.capacity - s.booked)::int AS "freeSeats"'));
  }

  /** The rules the appointment was booked under, for its own dose (the member's later doses do not count). */
  private async eligibilityFor(db: Db | Tx, appointment: AppointmentView): Promise<Eligibility | undefined> {
    const eligibility = await this.eligibility(appointment.beneficiaryId, db);
    return eligibility && eligibility.dose === appointment.dose ? eligibility : undefined;
  }

  private async lockedLiveAppointment(trx: Tx, phone: string, appointmentId: number): Promise<AppointmentView | undefined> {
    return this.liveAppointmentOf(trx, phone, appointmentId).forUpdate('ap').first();
  }

  /** A booked (not yet vaccinated, cancelled or missed) appointment of a member of this mobile. */
  private liveAppointmentOf(db: Db | Tx, phone: string, appointmentId: number) {
    return this.appointmentQuery(db).where({ 'a.phone': phone, 'ap.id': appointmentId, 'ap.status': 'booked' });
  }

  private async hasEnded(db: Db | Tx, sessionId: number): Promise<boolean> {
    const now = this.clock.now().toISOString();
    const ended = await db('vaccination_sessions as s')
      .join('centres as c', 'c.id', 's.centre_id')
      .where('s.id', sessionId)
      .andWhereRaw(SESSION_ENDED, [now])
      .first('s.id');
    return ended !== undefined;
  }

  private async isFull(db: Db | Tx, sessionId: number): Promise<boolean> {
    const session = await db('vaccination_sessions').where('id', sessionId).first('capacity', 'booked');
    return session !== undefined && session.booked >= session.capacity;
  }

  /** A code unlike the codes of this mobile's other live appointments, so a vaccinator can tell members apart by code. */
  private async uniqueCode(trx: Tx, accountId: number, exceptAppointmentId?: number): Promise<string> {
    const others: { reference: string; code_hmac: string }[] = await trx('appointments as ap')
      .join('beneficiaries as b', 'b.id', 'ap.beneficiary_id')
      .where({ 'b.account_id': accountId, 'ap.status': 'booked' })
      .modify((q) => {
        if (exceptAppointmentId) q.whereNot('ap.id', exceptAppointmentId);
      })
      .select('ap.reference', 'ap.code_hmac');
    return this.pickCode(others);
  }

  private pickCode(others: { reference: string; code_hmac: string }[]): string {
    for (;;) {
      const code = this.codes.generate();
      if (!others.some((other) => this.codes.matches(other.reference, code, other.code_hmac))) return code;
    }
  }

  private async eligibility(memberId: number, db: Db | Tx = this.db): Promise<Eligibility | undefined> {
    const { rows } = await db.raw<{ rows: { birthYear: number; doses: Dose[] }[] }>(`SELECT b.birth_year AS "birthYear", ${DOSES_OF_B} AS doses FROM beneficiaries b WHERE b.id = ?`, [memberId]);
    return rows[0] && this.eligibilityOf(rows[0].birthYear, rows[0].doses);
  }

  /** What a member born in `birthYear` who had `doses` (in dose order) may book next; undefined when fully vaccinated. */
  private eligibilityOf(birthYear: number, doses: Dose[]): Eligibility | undefined {
    if (doses.length >= MAX_DOSE) return undefined;
    const now = this.clock.now();
    const eligibility: Eligibility = { dose: doses.length + 1, age: ageIn(now, birthYear), now, daysAhead: this.rules.daysAhead };
    const last = doses.at(-1);
    if (last) {
      // The next dose is of the same vaccine, and not before the configured interval.
      eligibility.vaccine = last.vaccine;
      eligibility.earliest = addDays(last.session_date, this.rules.doseIntervalDays[last.vaccine] ?? DEFAULT_DOSE_INTERVAL_DAYS);
    }
    return eligibility;
  }

  /** Active sessions at active centres from today (at the centre) to the end of the booking window. */
  private sessionsInWindow(e: Eligibility, db: Db | Tx = this.db) {
    return db('vaccination_sessions as s')
      .join('centres as c', 'c.id', 's.centre_id')
      .where({ 'c.active': true, 's.active': true })
      .andWhereRaw('s.date >= (?::timestamptz AT TIME ZONE c.timezone)::date', [e.now.toISOString()])
      .andWhereRaw('s.date <= (?::timestamptz AT TIME ZONE c.timezone)::date + ?::int', [e.now.toISOString(), e.daysAhead])
      .andWhereNot((q) => q.whereRaw(SESSION_ENDED, [e.now.toISOString()]));
  }

  /** Sessions with free seats this member may book: right dose, old enough, within the booking window. */
  private openSessions(e: Eligibility, db: Db | Tx = this.db) {
    return this.sessionsInWindow(e, db)
      .andWhere('s.dose', e.dose)
      .andWhere('s.min_age', '<=', e.age)
      .andWhere('s.booked', '<', db.ref('s.capacity'))
      .modify((q) => {
        if (e.vaccine) q.andWhere('s.vaccine', e.vaccine);
        if (e.earliest) q.andWhere('s.date', '>=', e.earliest);
      });
  }

  private async appointmentView(db: Db | Tx, appointmentId: number): Promise<AppointmentView | undefined> {
    return this.appointmentQuery(db).where('ap.id', appointmentId).first();
  }

  private appointmentQuery(db: Db | Tx) {
    return db('appointments as ap')
      .join('beneficiaries as b', 'b.id', 'ap.beneficiary_id')
      .join('accounts as a', 'a.id', 'b.account_id')
      .join('vaccination_sessions as s', 's.id', 'ap.session_id')
      .join('centres as c', 'c.id', 's.centre_id')
      .select(
        'ap.id',
        'ap.reference',
        'ap.beneficiary_id as beneficiaryId',
        'ap.session_id as sessionId',
        's.centre_id as centreId',
        'b.name as memberName',
        'c.name as centreName',
        's.date',
        's.vaccine',
        'ap.dose',
        db.raw(`to_char(s.start_time, 'HH24:MI') AS "startTime"`),
        db.raw(`to_char(s.end_time, 'HH24:MI') AS "endTime"`),
      );
  }
}

/** The doses had by member `b`, in dose order, as a JSON array of Dose: part of the one statement that reads a member. */
const DOSES_OF_B = `COALESCE((SELECT json_agg(json_build_object('vaccine', v.vaccine, 'session_date', v.session_date) ORDER BY v.dose)
                      FROM vaccinations v WHERE v.beneficiary_id = b.id), '[]')`;

/** A session has ended once its end time on its date has passed at its centre (s and c joined; one parameter: now). */
const SESSION_ENDED = '(s.date + s.end_time) AT TIME ZONE c.timezone <= ?::timestamptz';

interface Dose {
  vaccine: string;
  /** 'YYYY-MM-DD' */
  session_date: string;
}

interface Booker {
  id: number;
  name: string;
  birthYear: number;
  /** Doses had, in dose order. */
  doses: Dose[];
  /** Live appointments of every member of the account. */
  live: { id: number; beneficiaryId: number; reference: string; code_hmac: string }[];
}

interface OpenSession {
  id: number;
  centreId: number;
  centreName: string;
  date: string;
  vaccine: string;
  dose: number;
  minAge: number;
  /** The stored times ('HH:MM:SS'), to check they have not moved when the seat is taken. */
  startsAt: string;
  endsAt: string;
  startTime: string;
  endTime: string;
}

interface Eligibility {
  dose: number;
  age: number;
  now: Date;
  daysAhead: number;
  /** For a later dose: the vaccine of the doses before, and the first day it may be given. */
  vaccine?: string;
  earliest?: string;
}

/**
 * The account row of a mobile, created on first use and locked: one mobile's bookings happen one
 * at a time. One statement: ON CONFLICT DO UPDATE locks the existing row as an UPDATE does (a
 * concurrent caller waits for this transaction, then locks the row as committed), and a row it
 * inserts is this transaction's until commit, so either way no other locker gets past it. The
 * no-op SET only makes RETURNING give the existing row (DO NOTHING returns no row).
 */
async function lockAccount(trx: Tx, phone: string): Promise<{ id: number; language: string }> {
  const { rows } = await trx.raw<{ rows: { id: number; language: string }[] }>(
    'INSERT INTO accounts (phone) VALUES (?) ON CONFLICT (phone) DO UPDATE SET phone = EXCLUDED.phone RETURNING id, language',
    [phone],
  );
  return rows[0]!;
}

function codeSmsParams(appointment: AppointmentView, language: string): Record<string, string> {
  return {
    memberName: appointment.memberName,
    centre: appointment.centreName,
    date: longDay(appointment.date, language),
    time: sessionHours(appointment),
    ref: appointment.reference,
  };
}

/** Age as the programme counts it: years since the year of birth (only the year is registered). */
function ageIn(now: Date, birthYear: number): number {
  return now.getUTCFullYear() - birthYear;
}

/** "09:00-17:00": when to come, in the centre's local time. */
export function sessionHours(session: { startTime: string; endTime: string }): string {
  return `${session.startTime}-${session.endTime}`;
}

function referenceCode(): string {
  return Array.from({ length: 8 }, () => REFERENCE_ALPHABET[randomInt(REFERENCE_ALPHABET.length)]).join('');
}
