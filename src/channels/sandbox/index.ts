import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { OutgoingSms, SendOutcome, SmsSender } from '../../contracts/messages';
import type { Db } from '../../db/knex';
import { defineChannel } from '../handler';

/** PostgreSQL channel notified, with the phone number as payload, for each message the sandbox stores. */
export const SANDBOX_SMS_CHANNEL = 'sandbox_sms';

/**
 * The embedded default provider: "sends" by storing the message, so the whole product runs with
 * no telecom account. GET /dev/outbox (outside production) shows what was sent.
 */
export class SandboxSms implements SmsSender {
  readonly name = 'sandbox';

  constructor(private readonly db: Db) {}

  async send(sms: OutgoingSms): Promise<SendOutcome> {
    const providerMessageId = `SBXid_${randomUUID().replace(/-/g, '')}`;
    // The notice is part of the INSERT: it is sent when the row commits, never for a row that did not.
    await this.db.raw(
      `WITH stored AS (INSERT INTO sandbox_messages (phone, message, provider_message_id) VALUES (?, ?, ?) RETURNING phone)
       SELECT pg_notify('${SANDBOX_SMS_CHANNEL}', phone) FROM stored`,
      [sms.to, sms.message, providerMessageId],
    );
    return { kind: 'sent', providerMessageId, status: 'Success', statusCode: 101, cost: 'INR 0.0000' };
  }
}

/** Stored is as far as a sandbox message goes: it has no callbacks of its own. */
export const sandbox = defineChannel({
  name: 'sandbox',
  config: z.object({}),
  secrets: [],
  local: true,
  createSender: (_config, context) => new SandboxSms(context.db),
  statuses: { Success: { state: 'delivered', final: true, meaning: 'stored by the sandbox' } },
  webhooks: { body: 'form' },
});

export interface SandboxMessage {
  id: number;
  phone: string;
  message: string;
  providerMessageId: string;
  createdAt: Date;
}

/** What the sandbox has sent, newest first. */
export async function sandboxOutbox(db: Db, filter: { phone?: string; limit: number }): Promise<SandboxMessage[]> {
  return db('sandbox_messages')
    .modify((q) => {
      if (filter.phone) q.where('phone', filter.phone);
    })
    .orderBy('id', 'desc')
    .limit(filter.limit)
    .select('id', 'phone', 'message', 'provider_message_id as providerMessageId', 'created_at as createdAt');
}

/** Messages stored for `phone` after the message `afterId`, oldest first, at most `limit`. */
export async function sandboxMessagesAfter(db: Db, phone: string, afterId: number, limit: number): Promise<SandboxMessage[]> {
  return db('sandbox_messages')
    .where('phone', phone)
    .andWhere('id', '>', afterId)
    .orderBy('id', 'asc')
    .limit(limit)
    .select('id', 'phone', 'message', 'provider_message_id as providerMessageId', 'created_at as createdAt');
}
