import type { InboundSms } from '../channels/types';
import type { Db, Tx } from '../db/knex';
import { queueSms, queueTask } from './outbox';
import { parseTarget, type VaccinationService, type VerifyResult } from './vaccination';

/**
 * Incoming SMS: stored once per provider message id (telcos retry for hours), processed once
 * through the task queue, answered once. The answer commits with the work it reports.
 */
export type SmsCommand = { kind: 'vax'; target: string; code: string } | { kind: 'vax_usage' } | { kind: 'help' };

/** `VAX <mobile or reference> <4-digit code>`; the keyword in any case, the mobile with spaces, 0 or +91. */
export function parseSmsCommand(text: string): SmsCommand {
  const words = text.trim().split(/\s+/);
  if (words[0]?.toUpperCase() !== 'VAX') return { kind: 'help' };
  const code = words.at(-1) ?? '';
  const target = words.slice(1, -1).join('');
  return words.length >= 3 && /^\d{4}$/.test(code) && target ? { kind: 'vax', target, code } : { kind: 'vax_usage' };
}

export interface Reply {
  template: string;
  params: Record<string, string | number>;
}

export class SmsInbox {
  constructor(
    private readonly db: Db,
    private readonly vaccination: VaccinationService,
    private readonly options: { defaultCountry: string; serviceCode: string },
  ) {}

  /** Stores the message and schedules its processing; the same provider id again changes nothing. */
  async receive(provider: string, sms: InboundSms): Promise<{ id: number; duplicate: boolean }> {
    return this.db.transaction(async (trx) => {
      const [row] = await trx('inbound_messages')
        .insert({
          provider,
          provider_message_id: sms.providerMessageId,
          phone: sms.phone,
          to: sms.to ?? null,
          text: sms.text,
          link_id: sms.linkId ?? null,
          network_code: sms.networkCode ?? null,
          provider_date: sms.date ?? null,
        })
        .onConflict(['provider', 'provider_message_id'])
        .ignore()
        .returning('id');
      if (!row) {
        const existing = await trx('inbound_messages').where({ provider, provider_message_id: sms.providerMessageId }).first('id');
        return { id: existing.id, duplicate: true };
      }
      await queueTask(trx, 'inbound_sms', { inboundId: row.id });
      return { id: row.id, duplicate: false };
    });
  }

  async process(inboundId: number): Promise<'processed' | 'already_processed' | 'not_found'> {
    return this.db.transaction(async (trx) => {
      const message = await trx('inbound_messages').where('id', inboundId).forUpdate().first('id', 'phone', 'text', 'status');
      if (!message) return 'not_found';
      if (message.status !== 'received') return 'already_processed';
      const reply = await this.answer(trx, message);
      const account = await trx('accounts').where('phone', message.phone).first('language');
      await queueSms(trx, {
        phone: message.phone,
        language: account?.language ?? 'en',
        template: reply.template,
        params: reply.params,
        dedupeKey: `reply-${inboundId}`,
      });
      await trx('inbound_messages').where('id', inboundId).update({ status: 'processed', processed_at: trx.fn.now() });
      return 'processed';
    });
  }

  private async answer(trx: Tx, message: { id: number; phone: string; text: string }): Promise<Reply> {
    const command = parseSmsCommand(message.text);
    if (command.kind === 'help') return { template: 'sms.help', params: { serviceCode: this.options.serviceCode } };
    if (command.kind === 'vax_usage') return { template: 'sms.vax_usage', params: {} };
    const target = parseTarget(command.target, this.options.defaultCountry);
    if (!target) return { template: 'sms.vax_usage', params: {} };
    const result = await this.vaccination.verifyIn(trx, {
      vaccinatorPhone: message.phone,
      target,
      code: command.code,
      channel: 'sms',
      inboundMessageId: message.id,
    });
    return verificationReply(result, command.target);
  }
}

/** What the vaccinator reads, for each outcome. */
export function verificationReply(result: VerifyResult, target: string): Reply {
  switch (result.kind) {
    case 'accepted':
      return {
        template: 'sms.vax_accepted',
        params: { memberName: result.appointment.memberName, dose: result.appointment.dose, vaccine: result.appointment.vaccine, ref: result.appointment.reference },
      };
    case 'wrong_code':
      return { template: 'sms.vax_wrong_code', params: { target, attemptsLeft: result.attemptsLeft } };
    case 'locked':
      return { template: 'sms.vax_locked', params: { target } };
    case 'already_vaccinated':
      return { template: 'sms.vax_already', params: { memberName: result.memberName } };
    case 'no_booking_today':
      return { template: 'sms.vax_no_booking', params: { target } };
    case 'not_vaccinator':
      return { template: 'sms.vax_not_vaccinator', params: {} };
    case 'too_many_failures':
      return { template: 'sms.vax_too_many', params: {} };
  }
}
