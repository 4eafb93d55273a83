import { z } from 'zod';
import { defineChannel } from '../handler';
import {
  DELIVERY_STATUSES,
  formatUssdReply,
  parseDeliveryReport,
  parseIncomingSms,
  parseUssdHop,
  parseUssdSessionEnded,
} from './inbound';
import { AfricasTalkingSms } from './sms-sender';

export { AfricasTalkingSms, type AfricasTalkingSmsOptions } from './sms-sender';
export {
  DELIVERY_FAILURE_REASONS,
  DELIVERY_STATUSES,
  COUNT_LIMITS,
  FIELD_LIMITS,
  OTHER_FAILURE_REASON,
  formatUssdReply,
  isFinalDeliveryStatus,
  isKnownDeliveryStatus,
  parseDeliveryReport,
  parseIncomingSms,
  parseUssdHop,
  parseUssdSessionEnded,
  parseUtcDateTime,
  type DeliveryFailureReason,
  type DeliveryStatus,
  type FormBody,
  type ParseOptions,
} from './inbound';

const config = z.object({
  AT_USERNAME: z.string().default('sandbox'),
  // Unset and empty alike (loadConfig drops empty variables): zod's own message would not say why it is needed.
  AT_API_KEY: z.string({ error: 'is required when a route sends through africastalking' }).min(1, 'is required when a route sends through africastalking'),
  /** Sender id or short code; AT's default when empty. */
  AT_SENDER_ID: z.string().default(''),
  /** https://api.africastalking.com, https://api.sandbox.africastalking.com, or a local fake in tests. */
  AT_BASE_URL: z.string().url().default('https://api.africastalking.com'),
  AT_TIMEOUT_MS: z.coerce.number().int().positive().default(8000),
});

/** Africa's Talking (Kenya, Uganda, Nigeria and more): USSD and SMS, form-encoded callbacks. */
export const africasTalking = defineChannel({
  name: 'africastalking',
  config,
  secrets: ['AT_API_KEY'],
  rateVariable: 'AT_SEND_RATE_PER_SECOND',
  createSender: (env: z.infer<typeof config>) =>
    new AfricasTalkingSms({ username: env.AT_USERNAME, apiKey: env.AT_API_KEY, senderId: env.AT_SENDER_ID, baseUrl: env.AT_BASE_URL, timeoutMs: env.AT_TIMEOUT_MS }),
  statuses: DELIVERY_STATUSES,
  webhooks: {
    body: 'form',
    ussd: { path: '/ussd', parse: parseUssdHop, reply: (reply) => ({ contentType: 'text/plain', body: formatUssdReply(reply) }) },
    ussdEnded: { path: '/ussd/events', parse: parseUssdSessionEnded },
    sms: { path: '/sms', parse: parseIncomingSms },
    status: { path: '/delivery', parse: parseDeliveryReport },
  },
});
