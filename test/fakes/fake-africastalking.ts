import { randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import { startFakeServer, waitUntil, type ArrivedRequest } from './fake-server';
import type { RecordingFake } from '../channels/harness';

/** A scripted answer: an HTTP response, or no answer at all (to test timeouts). */
export type FakeResponse = { status: number; json?: unknown; text?: string } | { hang: true };

export interface FakeRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  form: Record<string, string>;
}

export interface FakeSentSms {
  to: string;
  message: string;
  from?: string;
  messageId: string;
}

/** Also the harness's RecordingFake, so sender tables run against it. */
export interface FakeAfricasTalking extends RecordingFake<FakeResponse> {
  /** Base URL, no trailing slash: give it to AfricasTalkingSms as `baseUrl`. */
  url: string;
  /** Every request received, in order. */
  requests: FakeRequest[];
  /** Only the requests answered with a successful recipient. */
  sent: FakeSentSms[];
  /** Queues responses for the next requests, consumed in order; then the default success again. */
  respondWith(...responses: FakeResponse[]): void;
  /** Like respondWith, but only for messages to this number (taken before the general queue). */
  respondTo(to: string, ...responses: FakeResponse[]): void;
  /** Resolves when a request to this number arrives (answered or not). */
  waitForRequestTo(to: string, timeoutMs?: number): Promise<FakeRequest>;
  waitForSent(count: number, timeoutMs?: number): Promise<FakeSentSms[]>;
  reset(): void;
  close(): Promise<void>;
}

const SUCCESS_CODES = new Set([100, 101, 102]);

/** A local stand-in for POST /version1/messaging, speaking Africa's Talking's wire format. */
export async function startFakeAfricasTalking(): Promise<FakeAfricasTalking> {
  const requests: FakeRequest[] = [];
  const sent: FakeSentSms[] = [];
  const scripted: FakeResponse[] = [];
  const scriptedFor = new Map<string, FakeResponse[]>();
  const sentListeners = new Set<() => void>();
  const requestListeners = new Set<() => void>();

  async function handle(req: ArrivedRequest, res: ServerResponse): Promise<void> {
    const { path, form } = req;
    requests.push(req);
    for (const listener of requestListeners) listener();

    if (path !== '/version1/messaging') return void res.writeHead(404, { 'Content-Type': 'text/plain' }).end('Not Found');
    if (req.method !== 'POST') return void res.writeHead(405, { 'Content-Type': 'text/plain' }).end('Method Not Allowed');
    if (!req.headers.apikey) {
      return void res.writeHead(401, { 'Content-Type': 'text/plain' }).end('The supplied authentication is invalid');
    }

    const response = scriptedFor.get(form.to ?? '')?.shift() ?? scripted.shift() ?? successFor(form);
    if ('hang' in response) return;
    if (response.json !== undefined) {
      res.writeHead(response.status, { 'Content-Type': 'application/json' }).end(JSON.stringify(response.json));
    } else {
      res.writeHead(response.status, { 'Content-Type': 'text/plain' }).end(response.text ?? '');
    }
    const messageId = successfulMessageId(response);
    if (messageId) {
      sent.push({ to: form.to ?? '', message: form.message ?? '', ...(form.from ? { from: form.from } : {}), messageId });
      for (const listener of sentListeners) listener();
    }
  }

  const server = await startFakeServer(handle);

  return {
    url: server.url,
    requests,
    sent,
    respondWith(...responses) {
      scripted.push(...responses);
    },
    respondTo(to, ...responses) {
      scriptedFor.set(to, [...(scriptedFor.get(to) ?? []), ...responses]);
    },
    waitForRequestTo(to, timeoutMs = 10_000) {
      return waitUntil(requestListeners, () => requests.find((r) => r.form.to === to), timeoutMs, () => `fake Africa's Talking: no request to ${to} within ${timeoutMs} ms`);
    },
    waitForSent(count, timeoutMs = 5000) {
      return waitUntil(sentListeners, () => (sent.length >= count ? sent : undefined), timeoutMs, () => `fake Africa's Talking: expected ${count} sent SMS within ${timeoutMs} ms, got ${sent.length}`);
    },
    reset() {
      requests.length = 0;
      sent.length = 0;
      scripted.length = 0;
      scriptedFor.clear();
    },
    close: server.close,
  };
}

function successFor(form: Record<string, string>): FakeResponse {
  return {
    status: 201,
    json: {
      SMSMessageData: {
        Message: 'Sent to 1/1 Total Cost: KES 0.8000 Message parts: 1',
        Recipients: [
          {
            cost: 'KES 0.8000',
            messageId: `ATXid_${randomBytes(16).toString('hex')}`,
            number: form.to ?? '',
            status: 'Success',
            statusCode: 101,
          },
        ],
      },
    },
  };
}

/** The messageId of a 201 whose first recipient succeeded, whether default or scripted. */
function successfulMessageId(response: { status: number; json?: unknown }): string | undefined {
  if (response.status !== 201) return undefined;
  const recipient = (response.json as { SMSMessageData?: { Recipients?: Array<{ statusCode?: unknown; messageId?: unknown }> } })
    ?.SMSMessageData?.Recipients?.[0];
  if (!recipient || !SUCCESS_CODES.has(Number(recipient.statusCode)) || typeof recipient.messageId !== 'string') return undefined;
  return recipient.messageId;
}
