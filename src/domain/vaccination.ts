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
 * Every attempt is audited (never the code); wrong codes lock an appointment after a few tries.
 */
export interface VaccinationRules {
  /** Wrong codes before an appointment locks (until an operator unlocks it). */
  maxAttemptsPerAppointment: number;
  /** Wrong codes one vaccinator may enter in an hour, so nobody can sweep many appointments. */
  maxFailuresPerVaccinatorPerHour: number;
}

export const DEFAULT_VACCINATION_RULES: VaccinationRules = { maxAttemptsPerAppointment: 5, maxFailuresPerVaccinatorPerHour: 20 };

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
  | { kind: 'too_many_failures' };

export type UnlockResult = { kind: 'unlocked' } | { kind: 'not_locked' } | { kind: 'not_found' };

interface Candidate extends Recipient {
  status: string;
  codeHmac: string;
  failedAttempts: number;
  lockedAt: Date | null;
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
  ) {}

  async activeVaccinator(phone: string, db: Db | Tx = this.db): Promise<Vaccinator | undefined> {
    return db('vaccinators as v')
      .join('centres as c', 'c.id', 'v.centre_id')
      .where({ 'v.phone': phone, 'v.active': true })
      .first('v.id', 'v.centre_id as centreId', 'c.name as centreName');
  }

  /** Appointments still to be vaccinated today at this vaccinator's centre for a mobile or reference. */
  async bookingsToday(vaccinatorPhone: string, target: VerifyTarget): Promise<Recipient[]> {
    const vaccinator = await this.activeVaccinator(vaccinatorPhone);
    if (!vaccinator) return [];
    const rows = await this.candidates(this.db, vaccinator, target);
    return rows.filter((c) => c.status === 'booked').map(({ id, reference, memberName, dose, vaccine }) => ({ id, reference, memberName, dose, vaccine }));
  }

  async verify(request: VerifyRequest): Promise<VerifyResult> {
    return this.db.transaction((trx) => this.verifyIn(trx, request));
  }

  /** Verification inside the caller's transaction, so a reply SMS can commit with its outcome. */
  async verifyIn(trx: Tx, request: VerifyRequest): Promise<VerifyResult> {
    const vaccinator = await this.activeVaccinator(request.vaccinatorPhone, trx);
    if (!vaccinator) return this.audit(trx, request, undefined, undefined, { kind: 'not_vaccinator' });
    // One vaccinator's attempts happen one at a time, so the hourly limit cannot be raced.
    await trx('vaccinators').where('id', vaccinator.id).forUpdate().first('id');
    if ((await this.recentFailures(trx, vaccinator.id)) >= this.rules.maxFailuresPerVaccinatorPerHour) {
      return this.audit(trx, request, vaccinator, undefined, { kind: 'too_many_failures' });
    }

    const candidates = await this.candidates(trx, vaccinator, request.target, true);
    const open = candidates.filter((c) => c.status === 'booked');
    const done = candidates.filter((c) => c.status === 'vaccinated');
    if (candidates.length === 0) return this.audit(trx, request, vaccinator, undefined, { kind: 'no_booking_today' });

    const unlocked = open.filter((c) => !c.lockedAt);
    const match = unlocked.find((c) => this.codes.matches(c.reference, request.code, c.codeHmac));
    if (match) return this.accept(trx, request, vaccinator, match);

    const alreadyDone = done.find((c) => this.codes.matches(c.reference, request.code, c.codeHmac));
    if (alreadyDone || open.length === 0) {
      const who = alreadyDone ?? done[0]!;
      return this.audit(trx, request, vaccinator, who, { kind: 'already_vaccinated', memberName: who.memberName });
    }
    if (unlocked.length === 0) return this.audit(trx, request, vaccinator, open[0], { kind: 'locked' });
    return this.wrongCode(trx, request, vaccinator, unlocked);
  }

  /** An operator lifts a lock after checking who is asking; the attempts start again from zero. */
  async unlock(appointmentId: number): Promise<UnlockResult> {
    const unlocked = await this.db('appointments')
      .where('id', appointmentId)
      .whereNotNull('locked_at')
      .update({ locked_at: null, failed_attempts: 0, updated_at: this.db.fn.now() });
    if (unlocked > 0) return { kind: 'unlocked' };
    return (await this.db('appointments').where('id', appointmentId).first('id')) ? { kind: 'not_locked' } : { kind: 'not_found' };
  }

  /**
   * Closes the appointments whose day is over (in their centre's time zone) without a verified
   * dose. A no-show gets no vaccination SMS and no certificate; the code stops existing.
   */
  async markNoShows(): Promise<number> {
    const now = this.clock.now().toISOString();
    return this.db('appointments')
      .where('status', 'booked')
      .whereIn(
        'session_id',
        this.db('vaccination_sessions as s')
          .join('centres as c', 'c.id', 's.centre_id')
          .whereRaw('s.date < (?::timestamptz AT TIME ZONE c.timezone)::date', [now])
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

  /** Every candidate the code could have been for counts the failure: guessing across a family gains nothing. */
  private async wrongCode(trx: Tx, request: VerifyRequest, vaccinator: Vaccinator, unlocked: Candidate[]): Promise<VerifyResult> {
    const max = this.rules.maxAttemptsPerAppointment;
    const now = this.clock.now();
    const left: number[] = [];
    for (const candidate of unlocked) {
      const [row] = await trx('appointments')
        .where('id', candidate.id)
        .update({
          failed_attempts: trx.raw('failed_attempts + 1'),
          locked_at: trx.raw('CASE WHEN failed_attempts + 1 >= ? THEN ?::timestamptz ELSE NULL END', [max, now.toISOString()]),
          updated_at: now,
        })
        .returning('failed_attempts');
      left.push(Math.max(0, max - row.failed_attempts));
    }
    // "Locked" only when no appointment the code could be for is still open.
    const open = left.filter((n) => n > 0);
    const result: VerifyResult = open.length === 0 ? { kind: 'locked' } : { kind: 'wrong_code', attemptsLeft: Math.min(...open) };
    await this.audit(trx, request, vaccinator, unlocked[0], { kind: 'wrong_code', attemptsLeft: result.kind === 'wrong_code' ? result.attemptsLeft : 0 });
    return result;
  }

  private async recentFailures(trx: Tx, vaccinatorId: number): Promise<number> {
    const since = new Date(this.clock.now().getTime() - 3_600_000);
    const [{ count }] = (await trx('verification_attempts')
      .where({ vaccinator_id: vaccinatorId, outcome: 'wrong_code' })
      .andWhere('created_at', '>', since)
      .count({ count: '*' })) as [{ count: number }];
    return Number(count);
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
        'ap.locked_at as lockedAt',
        'ap.beneficiary_id as beneficiaryId',
        'b.name as memberName',
        's.vaccine',
        's.centre_id as centreId',
        's.date as sessionDate',
      );
    return lock ? query.forUpdate('ap') : query;
  }

  private async audit<R extends VerifyResult>(trx: Tx, request: VerifyRequest, vaccinator: Vaccinator | undefined, appointment: { id: number } | undefined, result: R): Promise<R> {
    await trx('verification_attempts').insert({
      vaccinator_id: vaccinator?.id ?? null,
      vaccinator_phone: request.vaccinatorPhone,
      appointment_id: appointment?.id ?? null,
      channel: request.channel,
      outcome: result.kind,
      inbound_message_id: request.inboundMessageId ?? null,
    });
    return result;
  }
}
