import { z } from 'zod';
import type { OutgoingSms, SendOutcome, SmsSender } from '../../contracts/messages';
import type { TemplateBook } from '../../contracts/templates';
import { encodingOf } from '../../dialogue/encoding';
import { matchesTemplate } from '../dlt';
import { describeFetchError } from '../fetch-errors';
import { readDetailedStatus } from './statuses';

export interface ExotelSmsOptions {
  accountSid: string;
  /** Basic auth user name; Exotel calls it a public identifier. */
  apiKey: string;
  /** Basic auth password: the secret. */
  apiToken: string;
  /** The registered DLT header (sender id). */
  sender: string;
  /** The principal entity id (PE ID) registered on DLT. */
  dltEntityId: string;
  /** https://api.exotel.com (Singapore), https://api.in.exotel.com (Mumbai), or a local fake. */
  baseUrl: string;
  /** Whole request, body included. */
  timeoutMs: number;
  /** Where Exotel posts delivery reports, key included. */
  statusCallbackUrl: string;
  /** Secrets that must never appear in a reason (the webhook key rides in statusCallbackUrl). */
  alsoRedact?: readonly string[];
  templates?: TemplateBook;
}

/** `.json` on the path asks Exotel for JSON instead of XML. */
const sendResponseSchema = z.object({
  SMSMessage: z.object({
    Sid: z.string().min(1),
    Status: z.string(),
    DetailedStatus: z.string().nullish(),
    DetailedStatusCode: z.coerce.number().int().nullish(),
  }),
});

const MAX_BODY_IN_REASON = 200;

/**
 * Exotel's Send SMS API (v1) over Node's fetch, bound by India's DLT: every message names its
 * registered template, and a text the operators' scrubbers would refuse is never sent.
 */
export class ExotelSms implements SmsSender {
  readonly name = 'exotel';
  private readonly endpoint: string;
  private readonly authorization: string;

  constructor(private readonly options: ExotelSmsOptions) {
    this.endpoint = `${options.baseUrl.replace(/\/+$/, '')}/v1/Accounts/${encodeURIComponent(options.accountSid)}/Sms/send.json`;
    // Node's fetch refuses credentials in the URL, so Basic auth goes in the header.
    this.authorization = `Basic ${Buffer.from(`${options.apiKey}:${options.apiToken}`).toString('base64')}`;
  }

  /** Never throws: every failure becomes a SendOutcome. */
  async send(sms: OutgoingSms): Promise<SendOutcome> {
    const outcome = await this.attempt(sms);
    return outcome.kind === 'sent' ? outcome : { ...outcome, reason: this.redact(outcome.reason) };
  }

  private async attempt(sms: OutgoingSms): Promise<SendOutcome> {
    const { templates } = this.options;
    if (!templates) return { kind: 'account', reason: 'no DLT template book loaded (DLT_TEMPLATES): nothing may be sent through exotel' };
    const template = templates.find(sms.key, sms.language);
    if (!template) return { kind: 'permanent', reason: `no DLT template registered for ${sms.key} in ${sms.language}` };
    if (!matchesTemplate(template.text, sms.message)) {
      return { kind: 'permanent', reason: `text does not match DLT template ${template.templateId} for ${sms.key} (${sms.language})` };
    }

    const form = new URLSearchParams({ From: this.options.sender, To: sms.to, Body: sms.message });
    if (encodingOf(sms.message) === 'UCS-2') form.set('EncodingType', 'unicode');
    form.set('DltEntityId', this.options.dltEntityId);
    form.set('DltTemplateId', template.templateId);
    // Every Tika SMS answers the citizen's or vaccinator's own action: DLT's "service implicit", which
    // Exotel sends as `transactional`. Saying so spares adding each template on Exotel's dashboard.
    form.set('SmsType', 'transactional');
    form.set('StatusCallback', this.options.statusCallbackUrl);

    const { timeoutMs } = this.options;
    try {
      const response = await fetch(this.endpoint, {
        method: 'POST',
        headers: { Authorization: this.authorization, Accept: 'application/json', 'Content-Type': 'application/x-www-form-urlencoded' },
        body: form.toString(),
        signal: AbortSignal.timeout(timeoutMs),
      });
      // Redacted before any reason is cut to length, so no part of a secret survives the cut.
      return outcomeOfResponse(response.status, this.redact(await response.text()));
    } catch (error) {
      return { kind: 'transient', reason: describeFetchError(error, timeoutMs) };
    }
  }

  /** Reasons may quote Exotel's body (which may echo the request): no credential may reach a log or a row. */
  private redact(reason: string): string {
    const { apiToken, apiKey, alsoRedact = [] } = this.options;
    const secrets = [this.authorization.slice('Basic '.length), `${apiKey}:${apiToken}`, apiToken, ...alsoRedact].filter((secret) => secret.length > 0);
    return secrets.reduce((text, secret) => text.split(secret).join('[redacted]'), reason);
  }
}

function outcomeOfResponse(httpStatus: number, body: string): SendOutcome {
  // The API reference says 200 on success, the newer errors page 202: any 2xx carries the verdict in the body.
  if (httpStatus >= 200 && httpStatus < 300) return outcomeOfAccepted(httpStatus, body);
  const reason = `HTTP ${httpStatus}: ${body.trim().slice(0, MAX_BODY_IN_REASON) || '(empty body)'}`;
  // The account cannot send at all: bad key or token (401), account suspended, inactive, expired or
  // out of balance (403, and 402 on the newer errors page). Failing each message permanently would
  // throw away every citizen's code SMS queued behind it; 'account' holds the queue and alerts an
  // operator, and the messages go out once the account is mended.
  if (httpStatus === 401 || httpStatus === 402 || httpStatus === 403) return { kind: 'account', reason, statusCode: httpStatus };
  if (httpStatus === 429 || httpStatus >= 500) return { kind: 'transient', reason, statusCode: httpStatus };
  // 400: invalid parameters, invalid recipient, or a sender id not valid for the body (DLT header).
  return { kind: 'permanent', reason, statusCode: httpStatus };
}

function outcomeOfAccepted(httpStatus: number, body: string): SendOutcome {
  const message = parseSendResponse(body)?.SMSMessage;
  if (!message) return { kind: 'transient', reason: `HTTP ${httpStatus} with an unreadable body: ${body.trim().slice(0, MAX_BODY_IN_REASON)}`, statusCode: httpStatus };
  const statusCode = message.DetailedStatusCode ?? undefined;
  const reading = readDetailedStatus(message.Status, message.DetailedStatus ?? undefined, statusCode);
  // A refusal at once (a DLT failure, DND) is in the Status: the same request would be refused again.
  if (reading.state === 'failed-permanent' || reading.state === 'failed-transient') {
    return { kind: 'permanent', reason: reading.failureReason ?? `Exotel answered Status ${message.Status}`, statusCode };
  }
  return { kind: 'sent', providerMessageId: message.Sid, status: message.Status, statusCode };
}

function parseSendResponse(body: string): z.infer<typeof sendResponseSchema> | undefined {
  try {
    const result = sendResponseSchema.safeParse(JSON.parse(body));
    return result.success ? result.data : undefined;
  } catch {
    return undefined;
  }
}
