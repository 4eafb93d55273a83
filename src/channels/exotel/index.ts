import { z } from 'zod';
import { defineChannel, type SenderContext } from '../handler';
import { parseDeliveryReport, parseIncomingSms } from './callbacks';
import { ExotelSms } from './sms-sender';
import { EXOTEL_STATUSES } from './statuses';

export { ExotelSms, type ExotelSmsOptions } from './sms-sender';
export { DETAILED_STATUS_CODES, EXOTEL_STATUSES, readDetailedStatus } from './statuses';
export { FIELD_LIMITS, parseDeliveryReport, parseIncomingSms } from './callbacks';

const WHY = 'is required when a route sends through exotel';
const required = (what: string) => z.string({ error: `${WHY} (${what})` }).trim().min(1, `${WHY} (${what})`);

const config = z.object({
  EXOTEL_SID: required('the account SID in the API path'),
  EXOTEL_API_KEY: required('Basic auth user name'),
  EXOTEL_API_TOKEN: required('Basic auth password'),
  EXOTEL_SENDER: required('the registered DLT header, sent as From'),
  DLT_ENTITY_ID: required('the principal entity id registered on DLT'),
  /** https://api.exotel.com (Singapore), https://api.in.exotel.com (Mumbai), or a local fake in tests. */
  EXOTEL_BASE_URL: z.string().url().default('https://api.exotel.com'),
  EXOTEL_TIMEOUT_MS: z.coerce.number().int().positive().default(8000),
});

type ExotelConfig = z.infer<typeof config>;

function createSender(env: ExotelConfig, context: SenderContext): ExotelSms {
  const statusCallbackUrl = `${context.publicBaseUrl.replace(/\/+$/, '')}/webhooks/exotel/status?key=${encodeURIComponent(context.webhookSecret)}`;
  return new ExotelSms({
    accountSid: env.EXOTEL_SID,
    apiKey: env.EXOTEL_API_KEY,
    apiToken: env.EXOTEL_API_TOKEN,
    sender: env.EXOTEL_SENDER,
    dltEntityId: env.DLT_ENTITY_ID,
    baseUrl: env.EXOTEL_BASE_URL,
    timeoutMs: env.EXOTEL_TIMEOUT_MS,
    statusCallbackUrl,
    alsoRedact: [context.webhookSecret, encodeURIComponent(context.webhookSecret)],
    templates: context.templates,
  });
}

/** Exotel (India): SMS on DLT-registered templates, form-encoded callbacks. */
export const exotel = defineChannel({
  name: 'exotel',
  config,
  // The API key is Basic auth's user name, which Exotel calls a public identifier; the token is the secret.
  secrets: ['EXOTEL_API_TOKEN'],
  rateVariable: 'EXOTEL_SEND_RATE_PER_SECOND',
  needsTemplates: true,
  createSender,
  statuses: EXOTEL_STATUSES,
  webhooks: {
    body: 'form',
    status: { path: '/status', parse: parseDeliveryReport },
    // The SMS app's URL is called with GET (and a HEAD first); the newer dashboard lets the method be chosen.
    sms: { path: '/sms', methods: ['GET', 'POST'], parse: parseIncomingSms },
    // Exotel sends a 200's body back to the citizen as a reply SMS: an empty body sends none.
    accepted: { contentType: 'text/plain', body: '' },
  },
});
