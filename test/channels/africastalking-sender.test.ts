import { africasTalking, AfricasTalkingSms } from '../../src/channels/africastalking';
import type { OutgoingSms } from '../../src/contracts/messages';
import { startFakeAfricasTalking, type FakeAfricasTalking, type FakeResponse } from '../fakes/fake-africastalking';
import { runSenderTable, type SendCase } from './harness';

const API_KEY = 'atsk_0f3c9a7e51b24d8e9c6a1b2d3e4f5a6b7c8d9e0f';
const TO = '+254711000111';
const MESSAGE = 'Your vaccination code is 4821. Show it at the centre.';
const SMS: OutgoingSms = { to: TO, message: MESSAGE, key: 'sms.booking_code', language: 'en', params: {} };

/** The request every send makes; only the form changes from case to case. */
const posted = (form: Record<string, string>) => ({
  method: 'POST',
  path: '/version1/messaging',
  headers: { apiKey: API_KEY, Accept: 'application/json', 'Content-Type': 'application/x-www-form-urlencoded' },
  form,
});

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

const cases: SendCase<FakeResponse>[] = [
  {
    label: '201, recipient 101 Success',
    sms: SMS,
    responses: [accepted({ cost: 'KES 0.8000', messageId: 'ATXid_09b5a410fd2f388a06f152f56ce95801', status: 'Success', statusCode: 101 })],
    expected: { kind: 'sent', providerMessageId: 'ATXid_09b5a410fd2f388a06f152f56ce95801', status: 'Success', statusCode: 101, cost: 'KES 0.8000' },
    request: posted(formWith()),
  },
  {
    label: '201, recipient 102 Queued',
    sms: SMS,
    responses: [accepted({ cost: 'KES 0.8000', messageId: 'ATXid_5d8a1c6f0e7b4a3c9d2e1f0a9b8c7d6e', status: 'Queued', statusCode: 102 })],
    expected: { kind: 'sent', providerMessageId: 'ATXid_5d8a1c6f0e7b4a3c9d2e1f0a9b8c7d6e', status: 'Queued', statusCode: 102, cost: 'KES 0.8000' },
    request: posted(formWith()),
  },
  {
    label: 'no sender id: no from field',
    sms: SMS,
    responses: [accepted({ cost: 'KES 0.8000', messageId: 'ATXid_a1b2c3d4e5f60718293a4b5c6d7e8f90', status: 'Success', statusCode: 101 })],
    env: { AT_SENDER_ID: '' },
    expected: { kind: 'sent', providerMessageId: 'ATXid_a1b2c3d4e5f60718293a4b5c6d7e8f90', status: 'Success', statusCode: 101, cost: 'KES 0.8000' },
    request: posted(formWith({})),
  },
  {
    label: '201, InvalidSenderId with no recipients',
    sms: SMS,
    responses: [{ status: 201, json: { SMSMessageData: { Message: 'InvalidSenderId', Recipients: [] } } }],
    expected: { kind: 'permanent', reason: 'InvalidSenderId' },
    request: posted(formWith()),
  },
  {
    label: '201, recipient 403 InvalidPhoneNumber',
    sms: SMS,
    responses: [refusedRecipient('InvalidPhoneNumber', 403)],
    expected: { kind: 'permanent', reason: 'InvalidPhoneNumber', statusCode: 403 },
    request: posted(formWith()),
  },
  {
    label: '201, recipient 406 UserInBlacklist',
    sms: SMS,
    responses: [refusedRecipient('UserInBlacklist', 406)],
    expected: { kind: 'permanent', reason: 'UserInBlacklist', statusCode: 406 },
    request: posted(formWith()),
  },
  {
    label: '201, recipient 405 InsufficientBalance',
    sms: SMS,
    responses: [refusedRecipient('InsufficientBalance', 405)],
    expected: { kind: 'account', reason: 'InsufficientBalance', statusCode: 405 },
    request: posted(formWith()),
  },
  {
    label: '201, recipient 401 RiskHold',
    sms: SMS,
    responses: [refusedRecipient('RiskHold', 401)],
    expected: { kind: 'account', reason: 'RiskHold', statusCode: 401 },
    request: posted(formWith()),
  },
  {
    label: '201, recipient 500 InternalServerError',
    sms: SMS,
    responses: [refusedRecipient('InternalServerError', 500)],
    expected: { kind: 'transient', reason: 'InternalServerError', statusCode: 500 },
    request: posted(formWith()),
  },
  {
    label: 'HTTP 401, bad API key',
    sms: SMS,
    responses: [{ status: 401, text: 'The supplied authentication is invalid' }],
    expected: { kind: 'account', reason: 'HTTP 401: The supplied authentication is invalid', statusCode: 401 },
    request: posted(formWith()),
  },
  {
    label: 'HTTP 500',
    sms: SMS,
    responses: [{ status: 500, text: 'Internal Server Error' }],
    expected: { kind: 'transient', reason: 'HTTP 500: Internal Server Error', statusCode: 500 },
    request: posted(formWith()),
  },
  {
    label: 'HTTP 429',
    sms: SMS,
    responses: [{ status: 429, text: 'Too Many Requests' }],
    expected: { kind: 'transient', reason: 'HTTP 429: Too Many Requests', statusCode: 429 },
    request: posted(formWith()),
  },
  {
    label: 'HTTP 400, long body trimmed to 200 characters',
    sms: SMS,
    responses: [{ status: 400, text: `  Request is missing required form field 'to' ${'x'.repeat(300)}` }],
    expected: {
      kind: 'permanent',
      reason: `HTTP 400: ${`Request is missing required form field 'to' ${'x'.repeat(300)}`.slice(0, 200)}`,
      statusCode: 400,
    },
    request: posted(formWith()),
  },
  {
    label: 'HTTP 400 echoing the API key: key redacted',
    sms: SMS,
    responses: [{ status: 400, text: `Unknown apiKey ${API_KEY}` }],
    expected: { kind: 'permanent', reason: 'HTTP 400: Unknown apiKey [redacted]', statusCode: 400 },
    request: posted(formWith()),
  },
  {
    label: '201 with a body that is not JSON',
    sms: SMS,
    responses: [{ status: 201, text: '<html>gateway</html>' }],
    expected: { kind: 'transient', reason: 'HTTP 201 with an unreadable body: <html>gateway</html>' },
    request: posted(formWith()),
  },
  {
    label: 'no answer within timeoutMs',
    sms: SMS,
    responses: [{ hang: true }],
    env: { AT_TIMEOUT_MS: '300' },
    expected: { kind: 'transient', reason: 'timeout after 300 ms' },
    request: posted(formWith()),
  },
  {
    label: 'connection refused',
    sms: SMS,
    unreachable: true,
    expected: { kind: 'transient', reason: 'network error: ECONNREFUSED' },
  },
];

let fake: FakeAfricasTalking;

beforeAll(async () => {
  fake = await startFakeAfricasTalking();
});
afterAll(() => fake.close());
beforeEach(() => fake.reset());

runSenderTable(
  africasTalking,
  {
    fake: () => fake,
    env: (url) => ({ AT_USERNAME: 'tika', AT_API_KEY: API_KEY, AT_SENDER_ID: 'TIKA', AT_BASE_URL: `${url}/`, AT_TIMEOUT_MS: '2000' }),
  },
  cases,
);

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
