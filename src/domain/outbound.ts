import type { DeliveryState, SendOutcome } from '../contracts/messages';
import type { Db } from '../db/knex';
import { CODE_TEMPLATE, RESENT_CODE_TEMPLATE } from './booking';
import type { CodeVault } from './codes';
import { relayBatch } from './outbox';

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

export type Claim = { kind: 'send'; message: MessageToSend } | { kind: 'already_done'; status: string } | { kind: 'skipped'; reason: string };

const CODE_TEMPLATES = new Set([CODE_TEMPLATE, RESENT_CODE_TEMPLATE]);
const FINISHED = new Set(['sent', 'failed', 'skipped']);

export class OutboundService {
  constructor(
    private readonly db: Db,
    private readonly codes: CodeVault,
  ) {}

  /** Relays unrelayed SMS rows (see relayBatch in outbox.ts for the crash guarantees); the phone picks the provider's queue. */
  async relayBatch(limit: number, enqueue: (rows: { id: number; jobKey: string; phone: string }[]) => Promise<void>): Promise<number> {
    return relayBatch(this.db, 'outbound_messages', ['id', 'job_key as jobKey', 'phone'], limit, enqueue);
  }

  /** Takes the message for one send attempt, or says why there is nothing to send. */
  async claim(id: number): Promise<Claim> {
    return this.db.transaction(async (trx) => {
      const row = await trx('outbound_messages').where('id', id).forUpdate().first();
      if (!row) return { kind: 'skipped', reason: 'no such message' };
      if (FINISHED.has(row.status)) return { kind: 'already_done', status: row.status };

      const params: Record<string, string | number> = { ...row.params };
      if (CODE_TEMPLATES.has(row.template)) {
        const appointment = await trx('appointments').where('id', row.appointment_id).first('status', 'code_cipher');
        if (!appointment || appointment.status !== 'booked' || !appointment.code_cipher) {
          const reason = 'appointment no longer booked';
          await trx('outbound_messages').where('id', id).update({ status: 'skipped', last_error: reason, updated_at: trx.fn.now() });
          return { kind: 'skipped', reason };
        }
        params.code = this.codes.decrypt(appointment.code_cipher);
      }
      await trx('outbound_messages')
        .where('id', id)
        .update({ status: 'sending', attempts: trx.raw('attempts + 1'), updated_at: trx.fn.now() });
      return { kind: 'send', message: { id, phone: row.phone, language: row.language, template: row.template, params } };
    });
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
