import type { Db, Tx } from '../db/knex';
import { REFERENCE_PATTERN } from './booking';
import { newCertificateId } from './certificates';
import type { Clock } from './clock';
import type { CodeVault } from './codes';
import { queueTask } from './outbox';
import { toMobileE164 } from './phone';

/**
 * The heart of the brief: a dose is recorded only when a vaccinator registered at the booked
 * centre enters the appointment's code, on the appointment's day in the centre's time zone.
 * Every attempt is audited (never the code). A wrong code is charged only to the appointment it
 * was aimed at (or, at a mobile with several open members, to that mobile as a whole), and spends
 * the vaccinator's and the centre's guessing budgets; see "Guessing the code" in the README.
 */
export interface VaccinationRules {
  /** Guesses at one code before its appointment locks (until a new code is sent or an operator unlocks). */
  maxAttemptsPerAppointment: number;
  /** Codes one vaccinator may get wrong in an hour, so nobody can sweep many appointments. */
  maxFailuresPerVaccinatorPerHour: number;
  /** The same, over 24 hours. */
  maxFailuresPerVaccinatorPerDay: number;
  /** Codes all vaccinators of one centre together may get wrong in 24 hours: the most a centre can lock. */
  maxFailuresPerCentrePerDay: number;
  /**
   * Wrong codes entered against a mobile with several open members, per 24 hours; then the
   * vaccinator must give the booking reference. Held below maxAttemptsPerAppointment, so guesses
   * at a family's mobile alone never lock a member.
   */
  maxFailuresPerMobilePerDay: number;
  /** Look-ups (who is booked today for this mobile or reference) one vaccinator may make in an hour. */
  maxLookupsPerVaccinatorPerHour: number;
}

export const DEFAULT_VACCINATION_RULES: VaccinationRules = {
  maxAttemptsPerAppointment: 5,
  maxFailuresPerVaccinatorPerHour: 10,
  maxFailuresPerVaccinatorPerDay: 20,
  maxFailuresPerCentrePerDay: 40,
  maxFailuresPerMobilePerDay: 2,
  maxLookupsPerVaccinatorPerHour: 60,
};

/** A limit that refused an attempt, named for the metric that counts refusals. */
export type LimitReason = 'vaccinator_hour' | 'vaccinator_day' | 'centre_day' | 'mobile_day' | 'lookups_hour';

/** What operators watch: a burst of locks, attempts refused by a limit. Called after the change commits. */
export interface VaccinationEvents {
  locked(count: number): void;
  refused(reason: LimitReason): void;
}

const NO_EVENTS: VaccinationEvents = { locked: () => undefined, refused: () => undefined };
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/**
 * How long after a session's end time its open bookings stay open. Citizens still in the queue
 * at closing time are vaccinated, and a vaccinator's VAX SMS sent then may arrive minutes late
 * on a busy network: an hour covers both, and still frees the day's records the same evening.
 * Booking itself closes at the end time exactly.
 */
export const NO_SHOW_GRACE_MS = HOUR_MS;

export type VerifyTarget = { kind: 'reference'; reference: string } | { kind: 'phone'; phone: string } | { kind: 'appointment'; appointmentId: number };

export interface VerifyRequest {
  vaccinatorPhone: string;
  target: VerifyTarget;
  code: string;
  channel: 'sms' | 'ussd';
  inboundMessageId?: number;
}

export interface Recipient {
  id: number;
  reference: string;
  memberName: string;
  dose: number;
  vaccine: string;
}

export type VerifyResult =
  | { kind: 'accepted'; appointment: Recipient; certificateId: string }
  | { kind: 'wrong_code'; attemptsLeft: number }
  | { kind: 'locked' }
  | { kind: 'already_vaccinated'; memberName: string }
  | { kind: 'no_booking_today' }
  | { kind: 'not_vaccinator' }
  | { kind: 'too_many_failures' }
  /** The centre's 24-hour budget of wrong codes is spent: no code is checked there for now. */
  | { kind: 'centre_limit' }
  /** This family mobile has had its wrong codes for today: the vaccinator must give the booking reference. */
  | { kind: 'mobile_limit' };

export type LookupResult = { kind: 'found'; bookings: Recipient[] } | { kind: 'limit' } | { kind: 'not_vaccinator' };

export type UnlockResult = { kind: 'unlocked'; id: number; reference: string } | { kind: 'not_locked' } | { kind: 'not_found' };

interface Candidate extends Recipient {
  status: string;
  codeHmac: string;
  failedAttempts: number;
  familyAttempts: number;
  lockedAt: Date | null;
  accountId: number;
  beneficiaryId: number;
  centreId: number;
  sessionDate: string;
}

interface Vaccinator {
  id: number;
  centreId: number;
  centreName: string;
}

/** What a vaccinator typed as "mobile or booking reference", understood; null when it is neither. */
export function parseTarget(input: string, defaultCountry: string): VerifyTarget | null {
  const compact = input.replace(/[\s-]/g, '').toUpperCase();
  if (REFERENCE_PATTERN.test(compact)) return { kind: 'reference', reference: compact };
  const phone = toMobileE164(compact, defaultCountry);
  return phone ? { kind: 'phone', phone } : null;
}

export class VaccinationService {
  constructor(
    private readonly db: Db,
    private readonly codes: CodeVault,
    private readonly clock: Clock,
    private readonly rules: VaccinationRules = DEFAULT_VACCINATION_RULES,
    private readonly events: VaccinationEvents = NO_EVENTS,
  ) {}

  async activeVaccinator(phone: string, db: Db | Tx = this.db): Promise<Vaccinator | undefined> {
    return db('vaccinators as v')
      .join('centres as c', 'c.id', 'v.centre_id')
      .where({ 'v.phone': phone, 'v.active': true })
      .first('v.id', 'v.centre_id as centreId', 'c.name as centreName');
  }

  /**
   * Appointments still to be vaccinated today at this vaccinator's centre for a mobile or reference.
   * Not audited: it only redraws the list of a look-up that was (see lookUp).
   */
  async bookingsToday(vaccinatorPhone: string, target: VerifyTarget): Promise<Recipient[]> {
    const vaccinator = await this.activeVaccinator(vaccinatorPhone);
    if (!vaccinator) return [];
    return openRecipients(await this.candidates(this.db, vaccinator, target));
  }

  /**
   * A vaccinator asks who is booked today for a mobile or reference: it reveals names, so each
   * look-up is audited and one vaccinator's look-ups are limited per hour.
   */
  async lookUp(vaccinatorPhone: string, target: VerifyTarget, channel: 'sms' | 'ussd'): Promise<LookupResult> {
    return this.db.transaction(async (trx) => {
      const vaccinator = await this.activeVaccinator(vaccinatorPhone, trx);
      if (!vaccinator) return { kind: 'not_vaccinator' };
      await trx('vaccinators').where('id', vaccinator.id).forNoKeyUpdate().first('id');
      const attempt = { vaccinatorPhone, channel };
      if ((await this.recentLookups(trx, vaccinator.id)) >= this.rules.maxLookupsPerVaccinatorPerHour) {
        this.afterCommit(trx, () => this.events.refused('lookups_hour'));
        await this.record(trx, attempt, vaccinator, { outcome: 'lookup_limit' });
        return { kind: 'limit' };
      }
      const rows = await this.candidates(trx, vaccinator, target);
      await this.record(trx, attempt, vaccinator, { outcome: 'lookup', accountId: rows[0]?.accountId, appointmentId: rows.length === 1 ? rows[0]!.id : undefined });
      return { kind: 'found', bookings: openRecipients(rows) };
    });
  }

  async verify(request: VerifyRequest): Promise<VerifyResult> {
    return this.db.transaction((trx) => this.verifyIn(trx, request));
  }

  /** Verification inside the caller's transaction, so a reply SMS can commit with its outcome. */
  async verifyIn(trx: Tx, request: VerifyRequest): Promise<VerifyResult> {
    const vaccinator = await this.activeVaccinator(request.vaccinatorPhone, trx);
    if (!vaccinator) return this.audit(trx, request, undefined, undefined, { kind: 'not_vaccinator' });
    // Attempts at one centre happen one at a time, so neither its budget nor a vaccinator's can be raced.
    await trx('centres').where('id', vaccinator.centreId).forNoKeyUpdate().first('id');
    const spent = await this.spentBudget(trx, vaccinator);
    if (spent) {
      this.afterCommit(trx, () => this.events.refused(spent));
      return this.audit(trx, request, vaccinator, undefined, spent === 'centre_day' ? { kind: 'centre_limit' } : { kind: 'too_many_failures' });
    }

    const candidates = await this.candidates(trx, vaccinator, request.target, true);
    const open = candidates.filter((c) => c.status === 'booked');
    const done = candidates.filter((c) => c.status === 'vaccinated');
    if (candidates.length === 0) return this.audit(trx, request, vaccinator, undefined, { kind: 'no_booking_today' });

    // A mobile with several open members: the guess is the family's, limited per mobile, checked before any code is.
    const family = request.target.kind === 'phone' && open.length > 1 ? open[0]!.accountId : undefined;
    if (family !== undefined && (await this.recentFamilyFailures(trx, family)) >= this.familyLimit()) {
      this.afterCommit(trx, () => this.events.refused('mobile_day'));
      return this.audit(trx, request, vaccinator, undefined, { kind: 'mobile_limit' });
    }

    const unlocked = open.filter((c) => !c.lockedAt);
    const match = unlocked.find((c) => this.codes.matches(c.reference, request.code, c.codeHmac));
    if (match) return this.accept(trx, request, vaccinator, match);

    const alreadyDone = done.find((c) => this.codes.matches(c.reference, request.code, c.codeHmac));
    if (alreadyDone || open.length === 0) {
      const who = alreadyDone ?? done[0]!;
      return this.audit(trx, request, vaccinator, who, { kind: 'already_vaccinated', memberName: who.memberName });
    }
    if (unlocked.length === 0) return this.audit(trx, request, vaccinator, open[0], { kind: 'locked' });
    if (family !== undefined) return this.wrongFamilyCode(trx, request, vaccinator, family, unlocked);
    return this.wrongCode(trx, request, vaccinator, unlocked[0]!);
  }

  /**
   * An operator lifts a lock after checking who is asking; the attempts start again from zero.
   * `key` is the appointment's id, or its booking reference (what the citizen can read out).
   */
  async unlock(key: number | string): Promise<UnlockResult> {
    const which = typeof key === 'number' ? { id: key } : { reference: key.toUpperCase() };
    const [unlocked] = await this.db('appointments')
      .where(which)
      .whereNotNull('locked_at')
      .update({ locked_at: null, failed_attempts: 0, family_attempts: 0, updated_at: this.db.fn.now() })
      .returning(['id', 'reference']);
    if (unlocked) return { kind: 'unlocked', id: unlocked.id, reference: unlocked.reference };
    return (await this.db('appointments').where(which).first('id')) ? { kind: 'not_locked' } : { kind: 'not_found' };
  }

  /**
   * Closes the appointments whose session ended (its end time on its date, in the centre's time
   * zone) more than NO_SHOW_GRACE_MS ago without a verified dose. A no-show gets no vaccination
   * SMS and no certificate; the code stops existing.
   */
  async markNoShows(): Promise<number> {
    const now = this.clock.now().toISOString();
    return this.db('appointments')
      .where('status', 'booked')
      .whereIn(
        'session_id',
        this.db('vaccination_sessions as s')
          .join('centres as c', 'c.id', 's.centre_id')
          .whereRaw(`(s.date + s.end_time) AT TIME ZONE c.timezone + ? * interval '1 millisecond' <= ?::timestamptz`, [NO_SHOW_GRACE_MS, now])
          .select('s.id'),
      )
      .update({ status: 'no_show', closed_at: now, code_cipher: null, updated_at: now });
  }

  private async accept(trx: Tx, request: VerifyRequest, vaccinator: Vaccinator, appointment: Candidate): Promise<VerifyResult> {
    const now = this.clock.now();
    await trx('appointments')
      .where('id', appointment.id)
      .update({ status: 'vaccinated', vaccinated_at: now, closed_at: now, code_cipher: null, updated_at: now });
    const [{ id: vaccinationId }] = await trx('vaccinations')
      .insert({
        appointment_id: appointment.id,
        beneficiary_id: appointment.beneficiaryId,
        dose: appointment.dose,
        vaccine: appointment.vaccine,
        centre_id: appointment.centreId,
        vaccinator_id: vaccinator.id,
        session_date: appointment.sessionDate,
        vaccinated_at: now,
      })
      .returning('id');
    const certificateId = newCertificateId();
    await trx('certificates').insert({ id: certificateId, vaccination_id: vaccinationId, beneficiary_id: appointment.beneficiaryId, dose: appointment.dose });
    await queueTask(trx, 'issue_certificate', { certificateId });
    const { id, reference, memberName, dose, vaccine } = appointment;
    return this.audit(trx, request, vaccinator, appointment, { kind: 'accepted', appointment: { id, reference, memberName, dose, vaccine }, certificateId });
  }

  /** The one appointment the code was aimed at is charged; it locks when its guesses are spent. */
  private async wrongCode(trx: Tx, request: VerifyRequest, vaccinator: Vaccinator, appointment: Candidate): Promise<VerifyResult> {
    const [row] = await this.charge(trx, [appointment.id], 'failed_attempts');
    await this.record(trx, request, vaccinator, { outcome: 'wrong_code', appointmentId: appointment.id, codesTested: 1 });
    const left = this.rules.maxAttemptsPerAppointment - row!.guesses;
    return left > 0 ? { kind: 'wrong_code', attemptsLeft: left } : { kind: 'locked' };
  }

  /**
   * A wrong code at a family mobile tested every unlocked member's code: it is charged to the
   * mobile (which refuses further guesses after a few) and counted on each member's guesses, so the
   * odds per code stay what they are; it cannot lock a member that was not also guessed at directly.
   */
  private async wrongFamilyCode(trx: Tx, request: VerifyRequest, vaccinator: Vaccinator, accountId: number, unlocked: Candidate[]): Promise<VerifyResult> {
    await this.charge(trx, unlocked.map((c) => c.id), 'family_attempts');
    await this.record(trx, request, vaccinator, { outcome: 'wrong_code', accountId, codesTested: unlocked.length });
    const left = this.familyLimit() - (await this.recentFamilyFailures(trx, accountId));
    return left > 0 ? { kind: 'wrong_code', attemptsLeft: left } : { kind: 'mobile_limit' };
  }

  /** One more guess on each appointment's code; those whose guesses are spent lock. */
  private async charge(trx: Tx, ids: number[], column: 'failed_attempts' | 'family_attempts'): Promise<{ id: number; guesses: number; locked: boolean }[]> {
    const now = this.clock.now();
    const guesses = `failed_attempts + family_attempts + 1`;
    const rows = (await trx('appointments')
      .whereIn('id', ids)
      .update({
        [column]: trx.raw('?? + 1', [column]),
        locked_at: trx.raw(`CASE WHEN ${guesses} >= ? THEN ?::timestamptz ELSE NULL END`, [this.rules.maxAttemptsPerAppointment, now.toISOString()]),
        updated_at: now,
      })
      .returning(['id', trx.raw('failed_attempts + family_attempts AS guesses'), trx.raw('locked_at IS NOT NULL AS locked')])) as { id: number; guesses: number; locked: boolean }[];
    const locks = rows.filter((r) => r.locked).length;
    if (locks > 0) this.afterCommit(trx, () => this.events.locked(locks));
    return rows;
  }

  /** Guesses at a family mobile may never use up a member's tries alone. */
  private familyLimit(): number {
    return Math.min(this.rules.maxFailuresPerMobilePerDay, this.rules.maxAttemptsPerAppointment - 1);
  }

  /**
   * The first budget spent, if any. A guess at a family mobile spends one per code it tested, so a
   * budget bounds the codes tried, whichever way they were entered.
   */
  private async spentBudget(trx: Tx, vaccinator: Vaccinator): Promise<LimitReason | undefined> {
    const now = this.clock.now().getTime();
    const hourAgo = new Date(now - HOUR_MS);
    const tested = 'COALESCE(codes_tested, 1)';
    const [row] = (await trx('verification_attempts')
      .where('outcome', 'wrong_code')
      .andWhere('created_at', '>', new Date(now - DAY_MS))
      .andWhere((q) => q.where('centre_id', vaccinator.centreId).orWhere('vaccinator_id', vaccinator.id))
      .select(
        trx.raw(`COALESCE(SUM(${tested}) FILTER (WHERE vaccinator_id = ? AND created_at > ?), 0)::int AS "vaccinatorHour"`, [vaccinator.id, hourAgo]),
        trx.raw(`COALESCE(SUM(${tested}) FILTER (WHERE vaccinator_id = ?), 0)::int AS "vaccinatorDay"`, [vaccinator.id]),
        trx.raw(`COALESCE(SUM(${tested}) FILTER (WHERE centre_id = ?), 0)::int AS "centreDay"`, [vaccinator.centreId]),
      )) as { vaccinatorHour: number; vaccinatorDay: number; centreDay: number }[];
    if (row!.centreDay >= this.rules.maxFailuresPerCentrePerDay) return 'centre_day';
    if (row!.vaccinatorDay >= this.rules.maxFailuresPerVaccinatorPerDay) return 'vaccinator_day';
    if (row!.vaccinatorHour >= this.rules.maxFailuresPerVaccinatorPerHour) return 'vaccinator_hour';
    return undefined;
  }

  private async recentFamilyFailures(trx: Tx, accountId: number): Promise<number> {
    return this.countAttempts(trx, { account_id: accountId, outcome: 'wrong_code' }, DAY_MS);
  }

  private async recentLookups(trx: Tx, vaccinatorId: number): Promise<number> {
    return this.countAttempts(trx, { vaccinator_id: vaccinatorId, outcome: 'lookup' }, HOUR_MS);
  }

  private async countAttempts(trx: Tx, where: Record<string, string | number>, windowMs: number): Promise<number> {
    const since = new Date(this.clock.now().getTime() - windowMs);
    const [{ count }] = (await trx('verification_attempts').where(where).andWhere('created_at', '>', since).count({ count: '*' })) as [{ count: number }];
    return Number(count);
  }

  /** Runs `effect` once the transaction has committed (never for a rolled-back one). */
  private afterCommit(trx: Tx, effect: () => void): void {
    trx.executionPromise.then(effect, () => undefined);
  }

  /** Booked or vaccinated appointments for the target, at this vaccinator's centre, on today's date there. */
  private async candidates(db: Db | Tx, vaccinator: Vaccinator, target: VerifyTarget, lock = false): Promise<Candidate[]> {
    const now = this.clock.now().toISOString();
    const query = db('appointments as ap')
      .join('beneficiaries as b', 'b.id', 'ap.beneficiary_id')
      .join('accounts as a', 'a.id', 'b.account_id')
      .join('vaccination_sessions as s', 's.id', 'ap.session_id')
      .join('centres as c', 'c.id', 's.centre_id')
      .whereIn('ap.status', ['booked', 'vaccinated'])
      .andWhere('s.centre_id', vaccinator.centreId)
      .andWhereRaw('s.date = (?::timestamptz AT TIME ZONE c.timezone)::date', [now])
      .modify((q) => {
        if (target.kind === 'reference') q.andWhere('ap.reference', target.reference);
        else if (target.kind === 'phone') q.andWhere('a.phone', target.phone);
        else q.andWhere('ap.id', target.appointmentId);
      })
      .orderBy('ap.id')
      .select(
        'ap.id',
        'ap.reference',
        'ap.status',
        'ap.dose',
        'ap.code_hmac as codeHmac',
        'ap.failed_attempts as failedAttempts',
        'ap.family_attempts as familyAttempts',
        'ap.locked_at as lockedAt',
        'a.id as accountId',
        'ap.beneficiary_id as beneficiaryId',
        'b.name as memberName',
        's.vaccine',
        's.centre_id as centreId',
        's.date as sessionDate',
      );
    return lock ? query.forUpdate('ap') : query;
  }

  private async audit<R extends VerifyResult>(trx: Tx, request: VerifyRequest, vaccinator: Vaccinator | undefined, appointment: { id: number } | undefined, result: R): Promise<R> {
    await this.record(trx, request, vaccinator, { outcome: result.kind, appointmentId: appointment?.id });
    return result;
  }

  /** One row of the audit; `created_at` from the service's clock, which the time windows are measured by. */
  private async record(
    trx: Tx,
    request: { vaccinatorPhone: string; channel: string; inboundMessageId?: number },
    vaccinator: Vaccinator | undefined,
    row: { outcome: string; appointmentId?: number; accountId?: number; codesTested?: number },
  ): Promise<void> {
    await trx('verification_attempts').insert({
      vaccinator_id: vaccinator?.id ?? null,
      vaccinator_phone: request.vaccinatorPhone,
      centre_id: vaccinator?.centreId ?? null,
      appointment_id: row.appointmentId ?? null,
      account_id: row.accountId ?? null,
      codes_tested: row.codesTested ?? null,
      channel: request.channel,
      outcome: row.outcome,
      inbound_message_id: request.inboundMessageId ?? null,
      created_at: this.clock.now(),
    });
  }
}

function openRecipients(candidates: Candidate[]): Recipient[] {
  return candidates.filter((c) => c.status === 'booked').map(({ id, reference, memberName, dose, vaccine }) => ({ id, reference, memberName, dose, vaccine }));
}
