import { z } from 'zod';
import type { OutgoingSms, SendOutcome, SmsSender } from '../../contracts/messages';
import { describeFetchError } from '../fetch-errors';

export interface AfricasTalkingSmsOptions {
  username: string;
  apiKey: string;
  /** Sender id or short code; sent as `from` only when non-empty (otherwise AT uses its default). */
  senderId?: string;
  /** `https://api.africastalking.com`, `https://api.sandbox.africastalking.com`, or a local fake. */
  baseUrl: string;
  /** Whole request, body included. */
  timeoutMs: number;
  fetchImpl?: typeof fetch;
}

/** Per-recipient statusCode in the send response. */
const SENT_CODES = new Set([100, 101, 102]);
const ACCOUNT_CODES = new Set([401, 405]);

const sendResponseSchema = z.object({
  SMSMessageData: z.object({
    Message: z.string().optional(),
    Recipients: z.array(
      z.object({
        statusCode: z.coerce.number(),
        status: z.string(),
        messageId: z.string().optional(),
        cost: z.string().optional(),
        number: z.string().optional(),
      }),
    ),
  }),
});
type SendResponse = z.infer<typeof sendResponseSchema>;

const MAX_BODY_IN_REASON = 200;

/**
 * Africa's Talking bulk SMS over its REST API with Node's fetch. The official SDK is not used:
 * it hard-codes the hosts (no local fake in tests) and sets no request timeout.
 */
export class AfricasTalkingSms implements SmsSender {
  readonly name = 'africastalking';
  private readonly endpoint: string;
  private readonly fetchImpl: typeof fetch;

  constructor(private readonly options: AfricasTalkingSmsOptions) {
    this.endpoint = `${options.baseUrl.replace(/\/+$/, '')}/version1/messaging`;
    this.fetchImpl = options.fetchImpl ?? fetch;
  }

  /** Never throws: every failure becomes a SendOutcome. */
  async send(sms: OutgoingSms): Promise<SendOutcome> {
    const outcome = await this.attempt(sms);
    return outcome.kind === 'sent' ? outcome : { ...outcome, reason: this.redact(outcome.reason) };
  }

  private async attempt(sms: OutgoingSms): Promise<SendOutcome> {
    const form = new URLSearchParams({ username: this.options.username, to: sms.to, message: sms.message });
    if (this.options.senderId) form.set('from', this.options.senderId);
    form.set('enqueue', '1');

    const { timeoutMs } = this.options;
    try {
      const response = await this.fetchImpl(this.endpoint, {
        method: 'POST',
        headers: {
          apiKey: this.options.apiKey,
          Accept: 'application/json',
          'Content-Type': 'application/x-www-form-urlencoded',
        },
        body: form.toString(),
        signal: AbortSignal.timeout(timeoutMs),
      });
      // Redacted before any reason quotes it (and cuts it short): a cut could leave part of the key.
      const body = this.redact(await response.text());
      return outcomeOfResponse(response.status, body);
    } catch (error) {
      return { kind: 'transient', reason: describeFetchError(error, timeoutMs) };
    }
  }

  /** Reasons may quote the provider's body; make sure our key can never end up in a log or the database. */
  private redact(reason: string): string {
    const { apiKey } = this.options;
    return apiKey ? reason.split(apiKey).join('[redacted]') : reason;
  }
}

function outcomeOfResponse(httpStatus: number, body: string): SendOutcome {
  if (httpStatus === 201) return outcomeOfAccepted(body);
  const reason = `HTTP ${httpStatus}: ${body.trim().slice(0, MAX_BODY_IN_REASON) || '(empty body)'}`;
  if (httpStatus === 401) return { kind: 'account', reason, statusCode: httpStatus };
  if (httpStatus === 429 || httpStatus >= 500) return { kind: 'transient', reason, statusCode: httpStatus };
  return { kind: 'permanent', reason, statusCode: httpStatus };
}

/** HTTP 201 only means AT read the request: the verdict is in the recipient's statusCode. */
function outcomeOfAccepted(body: string): SendOutcome {
  const parsed = parseSendResponse(body);
  if (!parsed) {
    return { kind: 'transient', reason: `HTTP 201 with an unreadable body: ${body.trim().slice(0, MAX_BODY_IN_REASON)}` };
  }
  const { Message, Recipients } = parsed.SMSMessageData;
  const recipient = Recipients[0];
  if (!recipient) {
    // No recipient means AT refused the whole request (documented case: InvalidSenderId); the same
    // request would be refused again, so nothing to retry.
    return { kind: 'permanent', reason: Message?.trim() || 'no recipients in the response' };
  }
  const { statusCode, status } = recipient;
  if (SENT_CODES.has(statusCode)) {
    if (!recipient.messageId) return { kind: 'transient', reason: `${status} (${statusCode}) without a messageId`, statusCode };
    return { kind: 'sent', providerMessageId: recipient.messageId, status, statusCode, cost: recipient.cost };
  }
  if (ACCOUNT_CODES.has(statusCode)) return { kind: 'account', reason: status, statusCode };
  if (statusCode >= 500) return { kind: 'transient', reason: status, statusCode };
  return { kind: 'permanent', reason: status, statusCode };
}

function parseSendResponse(body: string): SendResponse | undefined {
  try {
    const result = sendResponseSchema.safeParse(JSON.parse(body));
    return result.success ? result.data : undefined;
  } catch {
    return undefined;
  }
}
