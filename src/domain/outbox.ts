import type { Tx } from '../db/knex';

/** The channel the outbox relay listens on: a committed outbox row wakes it at once. */
export const OUTBOX_CHANNEL = 'tika_outbox';

export interface OutboxSms {
  phone: string;
  language: string;
  /** A message key of the catalogue (flows/messages). */
  template: string;
  /** Placeholder values; never a security code (that is read from the appointment at send time). */
  params: Record<string, string | number>;
  appointmentId?: number;
  /** One SMS per cause: a second write with the same key is ignored (e.g. `confirm-<certificateId>`). */
  dedupeKey?: string;
}

/**
 * Writes an SMS we owe someone, in the caller's transaction: it exists if and only if the event
 * that causes it commits.
 */
export async function queueSms(trx: Tx, sms: OutboxSms): Promise<number> {
  const [row] = await trx('outbound_messages')
    .insert({
      phone: sms.phone,
      language: sms.language,
      template: sms.template,
      params: JSON.stringify(sms.params),
      appointment_id: sms.appointmentId ?? null,
      dedupe_key: sms.dedupeKey ?? null,
    })
    .onConflict('dedupe_key')
    .ignore()
    .returning('id');
  if (!row) return (await trx('outbound_messages').where('dedupe_key', sms.dedupeKey!).first('id')).id;
  await trx.raw(`NOTIFY ${OUTBOX_CHANNEL}`);
  return (row as { id: number }).id;
}

/** Work that must follow a commit (issue a certificate, process an inbound SMS), relayed to the task queue. */
export async function queueTask(trx: Tx, kind: string, payload: Record<string, string | number>): Promise<number> {
  const [row] = await trx('outbox_tasks').insert({ kind, payload: JSON.stringify(payload) }).returning('id');
  await trx.raw(`NOTIFY ${OUTBOX_CHANNEL}`);
  return (row as { id: number }).id;
}
