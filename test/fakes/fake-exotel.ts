import { randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import { startFakeServer, waitUntil, type ArrivedRequest } from './fake-server';

/** A scripted answer: an HTTP response, or no answer at all (to test timeouts). */
export type FakeExotelResponse = { status: number; json?: unknown; text?: string } | { hang: true };

export interface FakeExotelRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  form: Record<string, string>;
}

/** Exotel's documented values of the optional SmsType parameter. */
const SMS_TYPES = ['transactional', 'transactional_opt_in', 'promotional'];

export interface FakeExotelSentSms {
  from: string;
  to: string;
  body: string;
  dltEntityId?: string;
  dltTemplateId?: string;
  smsType?: string;
  encodingType?: string;
  statusCallback?: string;
  sid: string;
}

export interface FakeExotelAccount {
  sid: string;
  apiKey: string;
  apiToken: string;
}

export interface FakeExotel {
  /** Base URL, no trailing slash: give it as EXOTEL_BASE_URL. */
  url: string;
  account: FakeExotelAccount;
  /** Every request received, in order. */
  requests: FakeExotelRequest[];
  /** Only the requests answered with an SMSMessage that was not refused. */
  sent: FakeExotelSentSms[];
  /** Queues responses for the next authenticated requests, consumed in order; then the default success again. */
  respondWith(...responses: FakeExotelResponse[]): void;
  waitForSent(count: number, timeoutMs?: number): Promise<FakeExotelSentSms[]>;
  reset(): void;
  close(): Promise<void>;
}

const REFUSED_STATUSES = new Set(['failed', 'failed_dnd', 'failed-dnd', 'expired', 'undelivered']);

/** A local stand-in for POST /v1/Accounts/<sid>/Sms/send(.json), speaking Exotel's wire format. */
export async function startFakeExotel(account: FakeExotelAccount): Promise<FakeExotel> {
  const requests: FakeExotelRequest[] = [];
  const sent: FakeExotelSentSms[] = [];
  const scripted: FakeExotelResponse[] = [];
  const sentListeners = new Set<() => void>();
  const expectedAuthorization = `Basic ${Buffer.from(`${account.apiKey}:${account.apiToken}`).toString('base64')}`;
  const sendPath = `/v1/Accounts/${account.sid}/Sms/send`;

  async function handle(req: ArrivedRequest, res: ServerResponse): Promise<void> {
    const { path, form } = req;
    requests.push(req);

    if (path !== sendPath && path !== `${sendPath}.json`) return void restException(res, 404, 'Resource not found', 'NOT_FOUND');
    if (req.method !== 'POST') return void restException(res, 405, 'Method not allowed', 'METHOD_NOT_ALLOWED');
    if (req.headers.authorization !== expectedAuthorization) {
      return void restException(res, 401, 'Authentication failed. Invalid API Key or Token.', 'UNAUTHORIZED');
    }

    if (form.SmsType !== undefined && !SMS_TYPES.includes(form.SmsType)) {
      return void restException(res, 400, `Invalid SmsType '${form.SmsType}': transactional, transactional_opt_in or promotional`, 'BAD_REQUEST');
    }
    const response = scripted.shift() ?? successFor(account.sid, form);
    if ('hang' in response) return;
    if (response.json !== undefined) {
      res.writeHead(response.status, { 'Content-Type': 'application/json' }).end(JSON.stringify(response.json));
    } else {
      res.writeHead(response.status, { 'Content-Type': 'text/plain' }).end(response.text ?? '');
    }
    const sid = acceptedSid(response);
    if (sid) {
      sent.push({
        from: form.From ?? '',
        to: form.To ?? '',
        body: form.Body ?? '',
        dltEntityId: form.DltEntityId,
        dltTemplateId: form.DltTemplateId,
        smsType: form.SmsType,
        encodingType: form.EncodingType,
        statusCallback: form.StatusCallback,
        sid,
      });
      for (const listener of sentListeners) listener();
    }
  }

  const server = await startFakeServer(handle);

  return {
    url: server.url,
    account,
    requests,
    sent,
    respondWith(...responses) {
      scripted.push(...responses);
    },
    waitForSent(count, timeoutMs = 5000) {
      return waitUntil(sentListeners, () => (sent.length >= count ? sent : undefined), timeoutMs, () => `fake Exotel: expected ${count} sent SMS within ${timeoutMs} ms, got ${sent.length}`);
    },
    reset() {
      requests.length = 0;
      sent.length = 0;
      scripted.length = 0;
    },
    close: server.close,
  };
}

/** Exotel's documented answer to a send: the SMSMessage, queued, with a fresh 32-hex Sid. */
export function exotelAccepted(sid: string, form: Record<string, string>, accountSid = 'tika1'): FakeExotelResponse {
  const now = '2024-03-11 10:15:42';
  return {
    status: 200,
    json: {
      SMSMessage: {
        Sid: sid,
        AccountSid: accountSid,
        From: `/${form.From ?? ''}`,
        To: form.To ?? '',
        DateCreated: now,
        DateUpdated: now,
        DateSent: null,
        Body: form.Body ?? '',
        Direction: 'outbound-api',
        Uri: `/v1/Accounts/${accountSid}/SMS/Messages/${sid}.json`,
        ApiVersion: null,
        Price: null,
        Status: 'queued',
        DetailedStatus: 'PENDING_TO_OPERATOR',
        DetailedStatusCode: 21010,
        SmsUnits: null,
      },
    },
  };
}

function successFor(accountSid: string, form: Record<string, string>): FakeExotelResponse {
  return exotelAccepted(randomBytes(16).toString('hex'), form, accountSid);
}

function restException(res: ServerResponse, status: number, message: string, code: string): void {
  res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify({ RestException: { Status: status, Message: message, Code: code } }));
}

/** The Sid of a 2xx SMSMessage that was not refused at once, whether default or scripted. */
function acceptedSid(response: { status: number; json?: unknown }): string | undefined {
  if (response.status < 200 || response.status >= 300) return undefined;
  const message = (response.json as { SMSMessage?: { Sid?: unknown; Status?: unknown } } | undefined)?.SMSMessage;
  if (!message || typeof message.Sid !== 'string' || REFUSED_STATUSES.has(String(message.Status))) return undefined;
  return message.Sid;
}
