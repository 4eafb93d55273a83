import type { DeliveryState, SendOutcome } from '../contracts/messages';
import type { Db } from '../db/knex';
import { CODE_TEMPLATE, RESENT_CODE_TEMPLATE } from './booking';
import type { CodeVault } from './codes';
import { relayBatch } from './outbox';
import { preparedQuery } from '../db/prepared';

/**
 * The life of an outbound SMS after its outbox row commits: relayed to the queue once, claimed
 * by a worker before each send, and its provider outcome recorded. The row's status is what
 * keeps a re-run job from sending twice.
 */
export interface MessageToSend {
  id: number;
  phone: string;
  language: string;
  template: string;
  /** Includes the security code for code templates: in memory only, never logged or stored. */
  params: Record<string, string | number>;
}

export type Claim =
  | { kind: 'send'; message: MessageToSend }
  | { kind: 'already_done'; status: string }
  | { kind: 'skipped'; reason: string }
  /** Another attempt took it less than `inFlightMs` ago and has not said how it went: it may be sending now. */
  | { kind: 'in_flight' };

const CODE_TEMPLATES = new Set([CODE_TEMPLATE, RESENT_CODE_TEMPLATE]);
const FINISHED = new Set(['sent', 'failed', 'skipped']);
const APPOINTMENT_GONE = 'appointment no longer booked';

/**
 * $1 the message, $2 the code templates, $3 the finished statuses, $4 the skip reason, $5 how long
 * (ms) a claim is taken to be in flight. No row: the message is missing, finished, or in flight. A code template carries the code's cipher, or is skipped when its
 * appointment is not booked (or has no code) any more.
 */
interface ClaimedRow {
  status: string;
  phone: string;
  language: string;
  template: string;
  params: Record<string, string | number>;
  code_cipher: string | null;
}

const claimQuery = preparedQuery<ClaimedRow, [number, string[], string[], string, number]>(
  'claim_outbound_message',
  `UPDATE outbound_messages m
      SET status = CASE WHEN x.gone THEN 'skipped' ELSE 'sending' END,
          attempts = m.attempts + CASE WHEN x.gone THEN 0 ELSE 1 END,
          last_error = CASE WHEN x.gone THEN $4 ELSE m.last_error END,
          updated_at = now()
     FROM (SELECT o.id,
                  ap.code_cipher,
                  o.template = ANY($2::text[]) AND (ap.status IS DISTINCT FROM 'booked' OR ap.code_cipher IS NULL) AS gone
             FROM outbound_messages o
             LEFT JOIN appointments ap ON ap.id = o.appointment_id
            WHERE o.id = $1) x
    WHERE m.id = x.id AND m.status <> ALL($3::text[])
      AND NOT (m.status = 'sending' AND m.updated_at > now() - $5 * interval '1 millisecond')
    RETURNING m.status, m.phone, m.language, m.template, m.params, CASE WHEN m.template = ANY($2::text[]) THEN x.code_cipher END AS code_cipher`,
);

export class OutboundService {
  constructor(
    private readonly db: Db,
    private readonly codes: CodeVault,
  ) {}

  /** Relays unrelayed SMS rows (see relayBatch in outbox.ts for the crash guarantees); the phone picks the provider's queue. */
  async relayBatch(limit: number, enqueue: (rows: { id: number; jobKey: string; phone: string }[]) => Promise<void>): Promise<number> {
    return relayBatch(this.db, 'outbound_messages', ['id', 'job_key as jobKey', 'phone'], limit, enqueue);
  }

  /**
   * Takes the message for one send attempt, or says why there is nothing to send. One statement
   * (it was a five-round-trip transaction): the UPDATE locks the row and re-checks its status, so
   * two workers holding the same job still see each other's claim; a code SMS whose appointment is
   * no longer booked is marked skipped in the same statement.
   *
   * A row another attempt claimed less than `inFlightMs` ago (the queue's lock duration) is left
   * alone: that attempt may still be sending (a job whose lock lapsed while its worker was busy runs
   * again beside it), and sending now could send the SMS twice. Older than that, its worker is taken
   * to have died mid-send, and the message is sent again.
   */
  async claim(id: number, inFlightMs: number): Promise<Claim> {
    const [row] = await claimQuery(this.db, id, [...CODE_TEMPLATES], [...FINISHED], APPOINTMENT_GONE, inFlightMs);
    if (!row) {
      const found = await this.db('outbound_messages').where('id', id).first('status');
      if (!found) return { kind: 'skipped', reason: 'no such message' };
      return found.status === 'sending' ? { kind: 'in_flight' } : { kind: 'already_done', status: found.status };
    }
    if (row.status === 'skipped') return { kind: 'skipped', reason: APPOINTMENT_GONE };
    const params: Record<string, string | number> = { ...row.params };
    if (row.code_cipher) params.code = this.codes.decrypt(row.code_cipher);
    return { kind: 'send', message: { id, phone: row.phone, language: row.language, template: row.template, params } };
  }

  /** Records what the provider said. `lastAttempt` turns a transient failure into a final one. */
  async recordOutcome(id: number, provider: string, outcome: SendOutcome, lastAttempt: boolean): Promise<void> {
    const common = { provider, provider_status_code: outcome.statusCode ?? null, updated_at: this.db.fn.now() };
    const query = this.db('outbound_messages').where('id', id);
    switch (outcome.kind) {
      case 'sent':
        await query.update({
          ...common,
          status: 'sent',
          provider_message_id: outcome.providerMessageId,
          provider_status: outcome.status,
          cost: outcome.cost ?? null,
          last_error: null,
          sent_at: this.db.fn.now(),
        });
        return;
      case 'permanent':
        await query.update({ ...common, status: 'failed', last_error: outcome.reason });
        return;
      case 'transient':
        await query.update({ ...common, status: lastAttempt ? 'failed' : 'retrying', last_error: outcome.reason });
        return;
      case 'account':
        // The worker holds the queue and puts the job back without using up an attempt: it will
        // run again, so the row is never final here (a 'failed' row would be skipped by claim).
        await query.update({ ...common, status: 'retrying', last_error: outcome.reason });
        return;
    }
  }

  /**
   * A delivery report, found by (provider, provider's message id): two providers may use the same
   * id. Reports may arrive out of order: a final status (delivered, failed) is never replaced by an
   * intermediate one. Unknown ids change nothing.
   */
  async recordDelivery(
    provider: string,
    report: { providerMessageId: string; status: string; state: DeliveryState; final: boolean; failureReason?: string },
  ): Promise<boolean> {
    const message = () => this.db('outbound_messages').where({ provider, provider_message_id: report.providerMessageId });
    const updated = await message()
      // In the UPDATE itself, so two reports arriving together cannot put an intermediate status over a final one.
      .andWhere((q) => (report.final ? q : q.where('delivery_final', false)))
      .update({
        delivery_status: report.status,
        delivery_state: report.state,
        delivery_final: report.final,
        failure_reason: report.failureReason ?? null,
        delivered_at: report.state === 'delivered' ? this.db.fn.now() : null,
        delivery_reported_at: this.db.fn.now(),
        updated_at: this.db.fn.now(),
      });
    if (updated > 0) return true;
    return (await message().first('id')) !== undefined;
  }
}
