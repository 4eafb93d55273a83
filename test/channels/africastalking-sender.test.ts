import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { AfricasTalkingSms } from '../../src/channels/africastalking';
import type { SendOutcome } from '../../src/contracts/messages';
import { startFakeAfricasTalking, type FakeAfricasTalking, type FakeResponse } from '../fakes/fake-africastalking';
import { runTable } from './table';

const API_KEY = 'atsk_0f3c9a7e51b24d8e9c6a1b2d3e4f5a6b7c8d9e0f';
const TO = '+254711000111';
const MESSAGE = 'Your vaccination code is 4821. Show it at the centre.';

interface SendCase {
  label: string;
  /** What the provider answers; 'refused' points the sender at a closed port. */
  provider: FakeResponse | 'refused';
  senderId?: string;
  timeoutMs?: number;
  expected: SendOutcome;
  /** The form we must have posted; undefined when nothing could reach the server. */
  request?: Record<string, string>;
}

const formWith = (extra: Record<string, string> = { from: 'TIKA' }) => ({
  username: 'tika',
  to: TO,
  message: MESSAGE,
  ...extra,
  enqueue: '1',
});

const accepted = (recipient: Record<string, unknown>, message = 'Sent to 1/1 Total Cost: KES 0.8000 Message parts: 1') => ({
  status: 201,
  json: { SMSMessageData: { Message: message, Recipients: [{ number: TO, ...recipient }] } },
});

const refusedRecipient = (status: string, statusCode: number) =>
  accepted({ cost: '0', messageId: 'None', status, statusCode }, 'Sent to 0/1 Total Cost: 0');

const cases: SendCase[] = [
  {
    label: '201, recipient 101 Success',
    provider: accepted({ cost: 'KES 0.8000', messageId: 'ATXid_09b5a410fd2f388a06f152f56ce95801', status: 'Success', statusCode: 101 }),
    expected: { kind: 'sent', providerMessageId: 'ATXid_09b5a410fd2f388a06f152f56ce95801', status: 'Success', statusCode: 101, cost: 'KES 0.8000' },
    request: formWith(),
  },
  {
    label: '201, recipient 102 Queued',
    provider: accepted({ cost: 'KES 0.8000', messageId: 'ATXid_5d8a1c6f0e7b4a3c9d2e1f0a9b8c7d6e', status: 'Queued', statusCode: 102 }),
    expected: { kind: 'sent', providerMessageId: 'ATXid_5d8a1c6f0e7b4a3c9d2e1f0a9b8c7d6e', status: 'Queued', statusCode: 102, cost: 'KES 0.8000' },
    request: formWith(),
  },
  {
    label: 'no sender id: no from field',
    provider: accepted({ cost: 'KES 0.8000', messageId: 'ATXid_a1b2c3d4e5f60718293a4b5c6d7e8f90', status: 'Success', statusCode: 101 }),
    senderId: '',
    expected: { kind: 'sent', providerMessageId: 'ATXid_a1b2c3d4e5f60718293a4b5c6d7e8f90', status: 'Success', statusCode: 101, cost: 'KES 0.8000' },
    request: formWith({}),
  },
  {
    label: '201, InvalidSenderId with no recipients',
    provider: { status: 201, json: { SMSMessageData: { Message: 'InvalidSenderId', Recipients: [] } } },
    expected: { kind: 'permanent', reason: 'InvalidSenderId' },
    request: formWith(),
  },
  {
    label: '201, recipient 403 InvalidPhoneNumber',
    provider: refusedRecipient('InvalidPhoneNumber', 403),
    expected: { kind: 'permanent', reason: 'InvalidPhoneNumber', statusCode: 403 },
    request: formWith(),
  },
  {
    label: '201, recipient 406 UserInBlacklist',
    provider: refusedRecipient('UserInBlacklist', 406),
    expected: { kind: 'permanent', reason: 'UserInBlacklist', statusCode: 406 },
    request: formWith(),
  },
  {
    label: '201, recipient 405 InsufficientBalance',
    provider: refusedRecipient('InsufficientBalance', 405),
    expected: { kind: 'account', reason: 'InsufficientBalance', statusCode: 405 },
    request: formWith(),
  },
  {
    label: '201, recipient 401 RiskHold',
    provider: refusedRecipient('RiskHold', 401),
    expected: { kind: 'account', reason: 'RiskHold', statusCode: 401 },
    request: formWith(),
  },
  {
    label: '201, recipient 500 InternalServerError',
    provider: refusedRecipient('InternalServerError', 500),
    expected: { kind: 'transient', reason: 'InternalServerError', statusCode: 500 },
    request: formWith(),
  },
  {
    label: 'HTTP 401, bad API key',
    provider: { status: 401, text: 'The supplied authentication is invalid' },
    expected: { kind: 'account', reason: 'HTTP 401: The supplied authentication is invalid', statusCode: 401 },
    request: formWith(),
  },
  {
    label: 'HTTP 500',
    provider: { status: 500, text: 'Internal Server Error' },
    expected: { kind: 'transient', reason: 'HTTP 500: Internal Server Error', statusCode: 500 },
    request: formWith(),
  },
  {
    label: 'HTTP 429',
    provider: { status: 429, text: 'Too Many Requests' },
    expected: { kind: 'transient', reason: 'HTTP 429: Too Many Requests', statusCode: 429 },
    request: formWith(),
  },
  {
    label: 'HTTP 400, long body trimmed to 200 characters',
    provider: { status: 400, text: `  Request is missing required form field 'to' ${'x'.repeat(300)}` },
    expected: {
      kind: 'permanent',
      reason: `HTTP 400: ${`Request is missing required form field 'to' ${'x'.repeat(300)}`.slice(0, 200)}`,
      statusCode: 400,
    },
    request: formWith(),
  },
  {
    label: 'HTTP 400 echoing the API key: key redacted',
    provider: { status: 400, text: `Unknown apiKey ${API_KEY}` },
    expected: { kind: 'permanent', reason: 'HTTP 400: Unknown apiKey [redacted]', statusCode: 400 },
    request: formWith(),
  },
  {
    label: '201 with a body that is not JSON',
    provider: { status: 201, text: '<html>gateway</html>' },
    expected: { kind: 'transient', reason: 'HTTP 201 with an unreadable body: <html>gateway</html>' },
    request: formWith(),
  },
  {
    label: 'no answer within timeoutMs',
    provider: { hang: true },
    timeoutMs: 300,
    expected: { kind: 'transient', reason: 'timeout after 300 ms' },
    request: formWith(),
  },
  {
    label: 'connection refused',
    provider: 'refused',
    expected: { kind: 'transient', reason: 'network error: ECONNREFUSED' },
  },
];

let fake: FakeAfricasTalking;
let closedPortUrl: string;

beforeAll(async () => {
  fake = await startFakeAfricasTalking();
  closedPortUrl = await urlOfClosedPort();
});
afterAll(() => fake.close());
beforeEach(() => fake.reset());

runTable("Africa's Talking: sending an SMS", cases, async (row) => {
  const sender = new AfricasTalkingSms({
    username: 'tika',
    apiKey: API_KEY,
    senderId: row.senderId ?? 'TIKA',
    baseUrl: row.provider === 'refused' ? closedPortUrl : `${fake.url}/`,
    timeoutMs: row.timeoutMs ?? 2000,
  });
  if (row.provider !== 'refused') fake.respondWith(row.provider);

  const outcome = await sender.send({ to: TO, message: MESSAGE, key: 'sms.booking_code', language: 'en', params: {} });

  expect(outcome).toEqual(row.expected);
  expect(JSON.stringify(outcome)).not.toContain(API_KEY);
  if (!row.request) return expect(fake.requests).toEqual([]);
  expect(fake.requests).toHaveLength(1);
  const [request] = fake.requests;
  expect(request).toMatchObject({ method: 'POST', path: '/version1/messaging', form: row.request });
  expect(request?.headers).toMatchObject({
    apikey: API_KEY,
    accept: 'application/json',
    'content-type': 'application/x-www-form-urlencoded',
  });
});

describe("the fake Africa's Talking", () => {
  it('answers with a fresh messageId by default and records the SMS as sent', async () => {
    const sender = new AfricasTalkingSms({ username: 'tika', apiKey: API_KEY, baseUrl: fake.url, timeoutMs: 2000 });
    const outcome = await sender.send({ to: TO, message: MESSAGE, key: 'sms.booking_code', language: 'en', params: {} });
    const [sent] = await fake.waitForSent(1);
    expect(sent).toEqual({ to: TO, message: MESSAGE, messageId: expect.stringMatching(/^ATXid_[0-9a-f]{32}$/) });
    expect(outcome).toEqual({ kind: 'sent', providerMessageId: sent?.messageId, status: 'Success', statusCode: 101, cost: 'KES 0.8000' });
  });

  it('refuses a request without an apiKey header, as AT does', async () => {
    const response = await fetch(`${fake.url}/version1/messaging`, { method: 'POST', body: 'username=tika' });
    expect(response.status).toBe(401);
    expect(await response.text()).toBe('The supplied authentication is invalid');
    expect(fake.sent).toEqual([]);
  });

  it('rejects waitForSent with a clear error when nothing is sent in time', async () => {
    await expect(fake.waitForSent(1, 50)).rejects.toThrow("fake Africa's Talking: expected 1 sent SMS within 50 ms, got 0");
  });
});

/** A port that was just free: connecting to it is refused. */
async function urlOfClosedPort(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}
