import { createServer, type AddressInfo } from 'node:net';
import type { CallbackBody, ChannelHandler, HttpAnswer, ParseOptions, SenderContext } from '../../src/channels/handler';
import type { DeliveryState, OutgoingSms, Parsed, SendOutcome, UssdReply } from '../../src/contracts/messages';
import { runTable } from './table';

/**
 * The harness every provider's tests run on (courier's handler tests are the model): raw payloads
 * exactly as the provider sends them in, the parsed message or the reply out; for sending, the
 * outcome and the request the provider's (fake) server received. A new provider brings tables,
 * not test code.
 */

export type CallbackName = 'ussd' | 'ussdEnded' | 'sms' | 'status';

export interface CallbackCase {
  label: string;
  callback: CallbackName;
  /** The body (or, for a GET, the query string) exactly as the provider sends it. */
  raw: string;
  expected: Parsed<unknown>;
}

const OPTIONS: ParseOptions = { defaultCountry: 'IN' };

/** Parses each raw payload with the handler's own callback, as the webhook router would. */
export function runCallbackTable(channel: ChannelHandler, cases: readonly CallbackCase[], options: ParseOptions = OPTIONS): void {
  runTable(`${channel.name}: parsing callbacks`, cases, (row) => {
    const callback = channel.webhooks[row.callback];
    if (!callback) throw new Error(`${channel.name} declares no ${row.callback} callback`);
    const body = channel.webhooks.body === 'json' && !(callback.methods ?? []).includes('GET') ? JSON.parse(row.raw) : decodeFormAsExpress(row.raw);
    expect(callback.parse(body, options)).toEqual(row.expected);
  });
}

/**
 * A form body or query string as express hands it to the router: a field sent twice becomes a
 * list (qs, which body-parser and express's query parser use), so a table row can show how a
 * provider's parser meets it.
 */
export function decodeFormAsExpress(raw: string): CallbackBody {
  const fields: Record<string, string | string[]> = {};
  for (const [name, value] of new URLSearchParams(raw)) {
    const earlier = fields[name];
    fields[name] = earlier === undefined ? value : [...(Array.isArray(earlier) ? earlier : [earlier]), value];
  }
  return fields;
}

export interface ReplyCase {
  label: string;
  reply: UssdReply;
  expected: HttpAnswer;
}

export function runReplyTable(channel: ChannelHandler, cases: readonly ReplyCase[]): void {
  runTable(`${channel.name}: USSD replies`, cases, (row) => {
    const ussd = channel.webhooks.ussd;
    if (!ussd) throw new Error(`${channel.name} declares no ussd callback`);
    expect(ussd.reply(row.reply)).toEqual(row.expected);
  });
}

/**
 * The handler's status table is exactly the documented list, each read as given: a status added or
 * dropped by a change shows up here.
 */
export function runStatusTable(channel: ChannelHandler, documented: Readonly<Record<string, { state: DeliveryState; final: boolean }>>): void {
  runTable(
    `${channel.name}: delivery statuses`,
    Object.entries(documented).map(([status, expected]) => ({ label: status, status, expected })),
    (row) => expect(channel.statuses[row.status]).toMatchObject(row.expected),
  );
  test(`${channel.name}: no status beyond the documented ones`, () => expect(Object.keys(channel.statuses).sort()).toEqual(Object.keys(documented).sort()));
}

/** What a fake provider server must offer the sender table: every request recorded, answers scripted. */
export interface RecordingFake<Response> {
  url: string;
  requests: RecordedRequest[];
  respondWith(...responses: Response[]): void;
  reset(): void;
}

export interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  form: Record<string, string>;
}

export interface SendCase<Response> {
  label: string;
  sms: OutgoingSms;
  /** What the fake answers, in order (a retry inside one send would take the next); none: the default success. */
  responses?: Response[];
  expected: SendOutcome;
  /** The request as the provider received it; undefined when none may be made. */
  request?: { method: string; path: string; headers?: Record<string, string>; form?: Record<string, string> };
  /** Variables for this case only, over the setup's (a shorter timeout, no sender id). */
  env?: Record<string, string>;
  /** The sender is pointed at a port nobody listens on (connection refused) instead of the fake. */
  unreachable?: boolean;
}

/**
 * Sends each case's SMS through the handler's own sender, built from `env(fake.url)` by the
 * handler's own config schema, and compares the outcome and the recorded request. No outcome may
 * quote a value of the handler's secrets (its API key), whatever the provider echoed back.
 */
export function runSenderTable<Response>(
  channel: ChannelHandler,
  setup: { fake: () => RecordingFake<Response>; env: (fakeUrl: string) => Record<string, string>; context?: Partial<SenderContext> },
  cases: readonly SendCase<Response>[],
): void {
  let closedPortUrl: string;
  beforeAll(async () => {
    closedPortUrl = await urlOfClosedPort();
  });

  // The app keys each provider's queue and outbound_messages.provider by these: a sender named
  // otherwise would have its jobs put in a queue no worker reads.
  test(`${channel.name}: its sender is named ${channel.name}`, () => {
    const sender = channel.createSender(channel.config.parse(setup.env(setup.fake().url)), { db: undefined as never, publicBaseUrl: 'https://tika.example.org', webhookSecret: 'test-webhook-secret-0123', ...setup.context });
    expect(sender.name).toBe(channel.name);
  });

  runTable(`${channel.name}: sending`, cases, async (row) => {
    const fake = setup.fake();
    fake.reset();
    const env = { ...setup.env(row.unreachable ? closedPortUrl : fake.url), ...row.env };
    const config = channel.config.parse(env);
    const context: SenderContext = { db: undefined as never, publicBaseUrl: 'https://tika.example.org', webhookSecret: 'test-webhook-secret-0123', ...setup.context };
    const sender = channel.createSender(config, context);
    if (row.responses) fake.respondWith(...row.responses);

    const outcome = await sender.send(row.sms);

    expect(outcome).toEqual(row.expected);
    for (const secret of channel.secrets.map((name) => env[name]).filter(Boolean)) expect(JSON.stringify(outcome)).not.toContain(secret);
    if (!row.request) return expect(fake.requests).toEqual([]);
    expect(fake.requests).toHaveLength(1);
    const [request] = fake.requests;
    expect(request).toMatchObject({ method: row.request.method, path: row.request.path });
    if (row.request.headers) expect(request?.headers).toMatchObject(lowerCaseKeys(row.request.headers));
    if (row.request.form) expect(request?.form).toEqual(row.request.form);
  });
}

/** A port that was just free: connecting to it is refused. */
async function urlOfClosedPort(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

const lowerCaseKeys = (headers: Record<string, string>) => Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
