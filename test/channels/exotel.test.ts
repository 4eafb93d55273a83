import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { exotel } from '../../src/channels/exotel';
import type { DeliveryState, OutgoingSms, Parsed } from '../../src/contracts/messages';
import type { RegisteredTemplate, TemplateBook } from '../../src/contracts/templates';
import { exotelAccepted, startFakeExotel, type FakeExotel, type FakeExotelResponse } from '../fakes/fake-exotel';
import { runCallbackTable, runSenderTable, runStatusTable, type CallbackCase, type SendCase } from './harness';

// ---- statuses ----

/** Every Status Exotel documents (the Send SMS reference, the support articles, the newer status page). */
runStatusTable(exotel, {
  queued: { state: 'sent', final: false },
  sending: { state: 'sent', final: false },
  submitted: { state: 'sent', final: false },
  sent: { state: 'delivered', final: true },
  delivered: { state: 'delivered', final: true },
  failed: { state: 'failed-permanent', final: true },
  failed_dnd: { state: 'failed-permanent', final: true },
  'failed-dnd': { state: 'failed-permanent', final: true },
  expired: { state: 'failed-permanent', final: true },
  undelivered: { state: 'failed-permanent', final: true },
});

// ---- callbacks ----

const SID = 'b6cf4f2d1f3e2a9c8d7e6f5a4b3c2d1e';
const PHONE = '+919812345678';

/** A StatusCallback body as Exotel posts it (form-encoded, To as a national number). */
const statusBody = (status: string, detailed?: [string, number]) =>
  `SmsSid=${SID}&To=09812345678&Status=${status}&SmsUnits=1` +
  (detailed ? `&DetailedStatus=${detailed[0]}&DetailedStatusCode=${detailed[1]}` : '') +
  '&DateSent=2024-03-11+10%3A15%3A47';

const report = (status: string, state: DeliveryState, final: boolean, failureReason?: string): Parsed<unknown> => ({
  ok: true,
  value: { providerMessageId: SID, status, state, final, phone: PHONE, ...(failureReason ? { failureReason } : {}) },
});

const statusCase = (label: string, status: string, detailed: [string, number] | undefined, expected: Parsed<unknown>): CallbackCase => ({
  label: `status: ${label}`,
  callback: 'status',
  raw: statusBody(status, detailed),
  expected,
});

/** A failure Exotel explains with a documented DetailedStatusCode: the reason names it in words. */
const failedWith = (status: string, name: string, code: number, words: string): CallbackCase =>
  statusCase(`${status} ${code} ${name}`, status, [name, code], report(status, 'failed-permanent', true, `${words} (DetailedStatusCode ${code})`));

const DLT_TEMPLATE = 'DLT template mismatch: the text does not match the registered template';
const DLT_ENTITY = 'DLT entity (PE ID) not registered or invalid';
const DLT_HEADER = 'DLT header (sender id) not registered or not approved';
const DLT_CONSENT = 'DLT consent not found for the recipient';
const DLT_SCRUBBING = 'blocked by DLT scrubbing';
const DND = 'the number is on the national Do Not Disturb registry';

const callbackCases: CallbackCase[] = [
  // Every Status.
  statusCase('queued 21010', 'queued', ['PENDING_TO_OPERATOR', 21010], report('queued', 'sent', false)),
  statusCase('sending 21015', 'sending', ['SENDING_TO_OPERATOR', 21015], report('sending', 'sent', false)),
  statusCase('submitted 21020', 'submitted', ['PENDING_ON_OPERATOR', 21020], report('submitted', 'sent', false)),
  statusCase('sent 20005 DELIVERED_TO_HANDSET', 'sent', ['DELIVERED_TO_HANDSET', 20005], report('sent', 'delivered', true)),
  statusCase('sent 20006 DELIVERED_TO_OPERATOR: not yet on the handset', 'sent', ['DELIVERED_TO_OPERATOR', 20006], report('sent', 'sent', false)),
  statusCase('sent without a detail', 'sent', undefined, report('sent', 'delivered', true)),
  statusCase('sent 20000 DELIVERED_TO_HANDSET (newer page)', 'sent', ['DELIVERED_TO_HANDSET', 20000], report('sent', 'delivered', true)),
  statusCase('sent 20001 DELIVERED_TO_OPERATOR (newer page)', 'sent', ['DELIVERED_TO_OPERATOR', 20001], report('sent', 'sent', false)),
  statusCase('submitted 20002 SUBMITTED_TO_CARRIER (newer page)', 'submitted', ['SUBMITTED_TO_CARRIER', 20002], report('submitted', 'sent', false)),
  statusCase('delivered 20000', 'delivered', ['DELIVERED_TO_HANDSET', 20000], report('delivered', 'delivered', true)),
  statusCase('failed without a detail', 'failed', undefined, report('failed', 'failed-permanent', true)),
  statusCase('expired', 'expired', undefined, report('expired', 'failed-permanent', true)),
  statusCase('undelivered', 'undelivered', undefined, report('undelivered', 'failed-permanent', true)),
  failedWith('failed_dnd', 'FAILED_DND', 23005, DND),
  failedWith('failed-dnd', 'FAILED_DND', 30004, DND),
  // Every DetailedStatusCode of the API reference and the SMS stats glossary.
  failedWith('failed', 'FAILED_INVALID_NUMBER', 23010, 'invalid number or no such subscriber'),
  failedWith('failed', 'FAILED_SPAM', 23015, 'flagged as spam by the operator'),
  failedWith('failed', 'FAILED_SPAM_DETECTED', 23015, 'flagged as spam by the operator'),
  failedWith('failed', 'FAILED_BLACKLISTED', 23020, 'the recipient number is blacklisted'),
  failedWith('failed', 'FAILED_UNAVAILABLE_ROUTE', 23030, 'no route to the operator'),
  failedWith('failed', 'FAILED_SUBSCRIBER_UNAVAILABLE', 23035, 'subscriber unavailable (phone off or out of coverage)'),
  failedWith('failed', 'FAILED_REJECTED', 23060, 'rejected by the operator'),
  failedWith('failed', 'FAILED_INVALID_SENDER', 23072, DLT_HEADER),
  failedWith('failed', 'FAILED_DLT_SCRUBBING', 23080, DLT_SCRUBBING),
  failedWith('failed', 'SENDER_BLOCKED_BY_DLT', 23080, 'DLT header (sender id) blocked by DLT'),
  failedWith('failed', 'FAILED_DLT_ENTITY', 23081, DLT_ENTITY),
  failedWith('failed', 'ENTITY_BLOCKED_BY_DLT', 23081, 'DLT entity (PE ID) blocked by DLT'),
  failedWith('failed', 'FAILED_DLT_TEMPLATE', 23082, DLT_TEMPLATE),
  failedWith('failed', 'TEMPLATE_BLOCKED_BY_DLT', 23082, 'DLT template blocked by DLT'),
  failedWith('failed', 'FAILED_DLT_CONSENT', 23083, DLT_CONSENT),
  failedWith('failed', 'FAILED_DLT_SCRUBBING_ERROR', 23083, DLT_SCRUBBING),
  failedWith('failed', 'FAILED_DLT_CONSENT_ERROR', 23084, DLT_CONSENT),
  failedWith('failed', 'DLT_TEMPLATE_ID_INVALID', 23181, 'DLT template id invalid'),
  failedWith('failed', 'DLT_TEMPLATE_NOT_FOUND', 23182, 'DLT template not found (not registered)'),
  failedWith('failed', 'DLT_TEMPLATE_ID_INACTIVE', 23183, 'DLT template inactive'),
  failedWith('failed', 'DLT_TEMPLATE_ID_BLACKLISTED', 23184, 'DLT template blacklisted'),
  failedWith('failed', 'DLT_TEMPLATE_DOES_NOT_MATCH', 23185, DLT_TEMPLATE),
  failedWith('failed', 'DLT_LENGTH_EXCEEDED', 23186, 'DLT variable longer than allowed'),
  failedWith('failed', 'DLT_ENTITY_NOT_FOUND', 23281, 'DLT entity (PE ID) not found'),
  failedWith('failed', 'FAILED_SYSTEM_ERROR', 24010, 'Exotel system error'),
  failedWith('failed', 'FAILED_HANDSET_ERROR', 24105, 'handset error'),
  failedWith('failed', 'FAILED_OPERATOR_ERROR', 24110, 'operator error'),
  failedWith('failed', 'FAILED_SUBSCRIBER_ERROR', 24120, 'subscriber error (barred, inactive or not in service)'),
  failedWith('failed', 'FAILED_UNKNOWN_ERROR', 24990, 'unknown error'),
  // The newer status page's DLT codes.
  failedWith('failed', 'FAILED_DLT_TEMPLATE', 30001, DLT_TEMPLATE),
  failedWith('failed', 'FAILED_DLT_ENTITY', 30002, DLT_ENTITY),
  failedWith('failed', 'FAILED_INVALID_SENDER', 30003, DLT_HEADER),
  {
    label: 'status: failed 30007 code only reads as a DLT failure',
    callback: 'status',
    raw: `SmsSid=${SID}&To=09812345678&Status=failed&DetailedStatusCode=30007`,
    expected: report('failed', 'failed-permanent', true, 'DLT failure (DetailedStatusCode 30007)'),
  },
  {
    label: 'status: a name without a code',
    callback: 'status',
    raw: `SmsSid=${SID}&To=09812345678&Status=failed&DetailedStatus=DLT_TEMPLATE_DOES_NOT_MATCH`,
    expected: report('failed', 'failed-permanent', true, `${DLT_TEMPLATE} (DetailedStatus DLT_TEMPLATE_DOES_NOT_MATCH)`),
  },
  // What Exotel did not document.
  statusCase('failed with an undocumented code keeps the status', 'failed', ['FAILED_SOMETHING_NEW', 25555], report('failed', 'failed-permanent', true, 'undocumented DetailedStatusCode 25555 (FAILED_SOMETHING_NEW)')),
  statusCase('sent with an undocumented code keeps the status', 'sent', ['DELIVERED_SOMEHOW', 20999], report('sent', 'delivered', true)),
  statusCase('an undocumented Status', 'rejected_by_moon', undefined, report('rejected_by_moon', 'unknown', false)),
  {
    label: 'status: no To',
    callback: 'status',
    raw: `SmsSid=${SID}&Status=sent&DetailedStatus=DELIVERED_TO_HANDSET&DetailedStatusCode=20005`,
    expected: { ok: true, value: { providerMessageId: SID, status: 'sent', state: 'delivered', final: true } },
  },
  { label: 'status: no SmsSid', callback: 'status', raw: 'To=09812345678&Status=sent', expected: { ok: false, error: 'SmsSid is missing' } },
  { label: 'status: no Status', callback: 'status', raw: `SmsSid=${SID}&To=09812345678`, expected: { ok: false, error: 'Status is missing' } },
  {
    label: 'status: a DetailedStatusCode that is not a number',
    callback: 'status',
    raw: `SmsSid=${SID}&Status=failed&DetailedStatusCode=23x85`,
    expected: { ok: false, error: "DetailedStatusCode is not a whole number: '23x85'" },
  },
  {
    label: 'status: a To that is not a mobile',
    callback: 'status',
    raw: `SmsSid=${SID}&To=12&Status=sent`,
    expected: { ok: false, error: "To is not a valid mobile number: '12'" },
  },
  {
    label: 'status: an SmsSid over its cap',
    callback: 'status',
    raw: `SmsSid=${'a'.repeat(101)}&Status=sent`,
    expected: { ok: false, error: 'SmsSid is longer than 100 characters' },
  },

  // Incoming SMS: the query string of Exotel's GET (SmsSid, From, To, Date, Body).
  {
    label: 'incoming SMS: as documented',
    callback: 'sms',
    raw: 'SmsSid=4f6d0e7a9b8c7d6e5f4a3b2c1d0e9f8a&From=09812345678&To=08039512345&Date=2024-03-11+10%3A20%3A05&Body=STATUS+4821',
    expected: {
      ok: true,
      value: {
        providerMessageId: '4f6d0e7a9b8c7d6e5f4a3b2c1d0e9f8a',
        phone: PHONE,
        to: '08039512345',
        text: 'STATUS 4821',
        // India time, five and a half hours ahead of UTC.
        date: new Date('2024-03-11T04:50:05Z'),
      },
    },
  },
  {
    label: 'incoming SMS: Hindi text',
    callback: 'sms',
    raw: `SmsSid=5a6b&From=%2B919812345678&To=56070&Body=${encodeURIComponent('स्थिति 4821')}`,
    expected: { ok: true, value: { providerMessageId: '5a6b', phone: PHONE, to: '56070', text: 'स्थिति 4821' } },
  },
  {
    label: 'incoming SMS: an empty body',
    callback: 'sms',
    raw: 'SmsSid=5a6c&From=09812345678&To=56070&Body=',
    expected: { ok: true, value: { providerMessageId: '5a6c', phone: PHONE, to: '56070', text: '' } },
  },
  {
    label: 'incoming SMS: a Date in no known format is left out, the SMS kept',
    callback: 'sms',
    raw: 'SmsSid=5a6d&From=09812345678&Date=xxxxx&Body=Hello+World',
    expected: { ok: true, value: { providerMessageId: '5a6d', phone: PHONE, text: 'Hello World' } },
  },
  { label: 'incoming SMS: no SmsSid', callback: 'sms', raw: 'From=09812345678&Body=hi', expected: { ok: false, error: 'SmsSid is missing' } },
  { label: 'incoming SMS: no From', callback: 'sms', raw: 'SmsSid=5a6e&Body=hi', expected: { ok: false, error: 'From is missing' } },
  { label: 'incoming SMS: no Body', callback: 'sms', raw: 'SmsSid=5a6e&From=09812345678', expected: { ok: false, error: 'Body is missing' } },
  {
    label: 'incoming SMS: a Body over its cap',
    callback: 'sms',
    raw: `SmsSid=5a6f&From=09812345678&Body=${'x'.repeat(1001)}`,
    expected: { ok: false, error: 'Body is longer than 1000 characters' },
  },
];

runCallbackTable(exotel, callbackCases);

test('exotel: the incoming SMS webhook takes GET (as the SMS app calls it) and POST', () => {
  expect(exotel.webhooks.sms).toMatchObject({ path: '/sms', methods: ['GET', 'POST'] });
  expect(exotel.webhooks.status).toMatchObject({ path: '/status' });
  // Exotel sends a 200's body back to the citizen as a reply: none.
  expect(exotel.webhooks.accepted).toEqual({ contentType: 'text/plain', body: '' });
});

// ---- configuration ----

test('exotel: each missing variable is named with why it is needed', () => {
  const result = exotel.config.safeParse({ EXOTEL_API_KEY: 'k' });
  expect(result.success).toBe(false);
  const problems = result.error!.issues.map((issue) => `${issue.path.join('.')} ${issue.message}`);
  for (const name of ['EXOTEL_SID', 'EXOTEL_API_TOKEN', 'EXOTEL_SENDER', 'DLT_ENTITY_ID']) {
    expect(problems).toContainEqual(expect.stringMatching(new RegExp(`^${name} is required when a route sends through exotel`)));
  }
  expect(exotel).toMatchObject({ secrets: ['EXOTEL_API_TOKEN'], rateVariable: 'EXOTEL_SEND_RATE_PER_SECOND', needsTemplates: true });
});

// ---- sending ----

const ACCOUNT = { sid: 'tika1', apiKey: 'a1b2c3d4e5f60718293a4b5c6d7e8f90', apiToken: 'f0e1d2c3b4a5968778695a4b3c2d1e0f0e1d2c3b' };
const BASIC = `Basic ${Buffer.from(`${ACCOUNT.apiKey}:${ACCOUNT.apiToken}`).toString('base64')}`;
const WEBHOOK_SECRET = 'test-webhook-secret-0123';
const SENDER = 'TIKAVX';
const ENTITY = '1101456789012345678';
const TIMEOUT_MS = 300;

const TEMPLATES: Record<string, RegisteredTemplate> = {
  'sms.booking_code/en': { templateId: '1107170000000000011', text: 'Your Tika vaccination code is {#var#}. Show it at {#var#} on {#var#}. -TIKAVX' },
  'sms.booking_code/hi': { templateId: '1107170000000000012', text: 'आपका टीका कोड {#var#} है। इसे {#var#} पर {#var#} को दिखाएँ। -TIKAVX' },
};
const templateBook: TemplateBook = { find: (key, language) => TEMPLATES[`${key}/${language}`] };

const codeSms = (overrides: Partial<OutgoingSms> = {}): OutgoingSms => ({
  to: PHONE,
  message: 'Your Tika vaccination code is 4821. Show it at PHC Andheri on 12 Mar. -TIKAVX',
  key: 'sms.booking_code',
  language: 'en',
  params: { code: '4821', centre: 'PHC Andheri', date: '12 Mar' },
  ...overrides,
});
const HINDI = 'आपका टीका कोड 4821 है। इसे PHC अंधेरी पर 12 मार्च को दिखाएँ। -TIKAVX';

const SEND_PATH = `/v1/Accounts/${ACCOUNT.sid}/Sms/send.json`;
const STATUS_CALLBACK = `https://tika.example.org/webhooks/exotel/status?key=${WEBHOOK_SECRET}`;
const formOf = (sms: OutgoingSms, templateId: string, unicode = false) => ({
  From: SENDER,
  To: sms.to,
  Body: sms.message,
  ...(unicode ? { EncodingType: 'unicode' } : {}),
  DltEntityId: ENTITY,
  DltTemplateId: templateId,
  SmsType: 'transactional',
  StatusCallback: STATUS_CALLBACK,
});
const requestOf = (sms: OutgoingSms, templateId: string, unicode = false) => ({
  method: 'POST',
  path: SEND_PATH,
  headers: { Authorization: BASIC, 'Content-Type': 'application/x-www-form-urlencoded' },
  form: formOf(sms, templateId, unicode),
});

const SENT_SID = '0f477d60517e6e6a0f6d9a7e9af8630e';
const accepted = (sms: OutgoingSms) => exotelAccepted(SENT_SID, formOf(sms, ''));
const refusedAtOnce = (detailedStatus: string, code: number): FakeExotelResponse => ({
  status: 200,
  json: { SMSMessage: { Sid: SENT_SID, AccountSid: ACCOUNT.sid, Status: 'failed', DetailedStatus: detailedStatus, DetailedStatusCode: code } },
});
const restException = (status: number, message: string, code: string): FakeExotelResponse => ({ status, json: { RestException: { Status: status, Message: message, Code: code } } });

let fake: FakeExotel;
let closedPort: number;
beforeAll(async () => {
  fake = await startFakeExotel(ACCOUNT);
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  closedPort = (probe.address() as AddressInfo).port;
  await new Promise((resolve) => probe.close(resolve));
});
afterAll(() => fake.close());

const envFor = (url: string, token = ACCOUNT.apiToken): Record<string, string> => ({
  EXOTEL_SID: ACCOUNT.sid,
  EXOTEL_API_KEY: ACCOUNT.apiKey,
  EXOTEL_API_TOKEN: token,
  EXOTEL_SENDER: SENDER,
  DLT_ENTITY_ID: ENTITY,
  EXOTEL_BASE_URL: url,
  EXOTEL_TIMEOUT_MS: String(TIMEOUT_MS),
});

const EN = '1107170000000000011';
const HI = '1107170000000000012';
const hindi = codeSms({ language: 'hi', message: HINDI });

const sendCases: SendCase<FakeExotelResponse>[] = [
  {
    label: 'success, GSM-7: queued, with Sid',
    sms: codeSms(),
    responses: [accepted(codeSms())],
    expected: { kind: 'sent', providerMessageId: SENT_SID, status: 'queued', statusCode: 21010 },
    request: requestOf(codeSms(), EN),
  },
  {
    label: 'success, Hindi: sent as unicode on the Hindi template',
    sms: hindi,
    responses: [accepted(hindi)],
    expected: { kind: 'sent', providerMessageId: SENT_SID, status: 'queued', statusCode: 21010 },
    request: requestOf(hindi, HI, true),
  },
  {
    label: 'success with HTTP 202 (the newer errors page)',
    sms: codeSms(),
    responses: [{ ...(accepted(codeSms()) as { status: number; json: unknown }), status: 202 }],
    expected: { kind: 'sent', providerMessageId: SENT_SID, status: 'queued', statusCode: 21010 },
    request: requestOf(codeSms(), EN),
  },
  {
    label: '401: the account is held, not the message failed',
    sms: codeSms(),
    responses: [restException(401, 'Authentication failed. Invalid API Key or Token.', 'UNAUTHORIZED')],
    expected: {
      kind: 'account',
      reason: 'HTTP 401: {"RestException":{"Status":401,"Message":"Authentication failed. Invalid API Key or Token.","Code":"UNAUTHORIZED"}}',
      statusCode: 401,
    },
    request: requestOf(codeSms(), EN),
  },
  {
    label: '403 insufficient balance: account',
    sms: codeSms(),
    responses: [restException(403, 'Insufficient balance to send the SMS', 'FORBIDDEN')],
    expected: { kind: 'account', reason: 'HTTP 403: {"RestException":{"Status":403,"Message":"Insufficient balance to send the SMS","Code":"FORBIDDEN"}}', statusCode: 403 },
    request: requestOf(codeSms(), EN),
  },
  {
    label: '429: transient',
    sms: codeSms(),
    responses: [{ status: 429, text: 'Too Many Requests' }],
    expected: { kind: 'transient', reason: 'HTTP 429: Too Many Requests', statusCode: 429 },
    request: requestOf(codeSms(), EN),
  },
  {
    label: '500: transient',
    sms: codeSms(),
    responses: [{ status: 500, text: 'Internal Server Error' }],
    expected: { kind: 'transient', reason: 'HTTP 500: Internal Server Error', statusCode: 500 },
    request: requestOf(codeSms(), EN),
  },
  {
    label: '502 echoing our credentials: none of them in the reason',
    sms: codeSms(),
    responses: [{ status: 502, text: `upstream said: auth=${BASIC} token=${ACCOUNT.apiToken} cb=${STATUS_CALLBACK}` }],
    expected: { kind: 'transient', reason: 'HTTP 502: upstream said: auth=Basic [redacted] token=[redacted] cb=https://tika.example.org/webhooks/exotel/status?key=[redacted]', statusCode: 502 },
    request: requestOf(codeSms(), EN),
  },
  {
    label: 'no answer: a timeout, transient',
    sms: codeSms(),
    responses: [{ hang: true }],
    expected: { kind: 'transient', reason: `timeout after ${TIMEOUT_MS} ms` },
    request: requestOf(codeSms(), EN),
  },
  {
    label: 'DLT refusal in the response: permanent, in words',
    sms: codeSms(),
    responses: [refusedAtOnce('DLT_TEMPLATE_DOES_NOT_MATCH', 23185)],
    expected: { kind: 'permanent', reason: `${DLT_TEMPLATE} (DetailedStatusCode 23185)`, statusCode: 23185 },
    request: requestOf(codeSms(), EN),
  },
  {
    label: 'DLT refusal in a 400: permanent',
    sms: codeSms(),
    responses: [restException(400, 'Invalid sender id for the body', 'BAD_REQUEST')],
    expected: { kind: 'permanent', reason: 'HTTP 400: {"RestException":{"Status":400,"Message":"Invalid sender id for the body","Code":"BAD_REQUEST"}}', statusCode: 400 },
    request: requestOf(codeSms(), EN),
  },
  {
    label: 'no template for the key and language: nothing sent',
    sms: codeSms({ language: 'mr' }),
    expected: { kind: 'permanent', reason: 'no DLT template registered for sms.booking_code in mr' },
  },
  {
    label: 'a text the template refuses: nothing sent',
    sms: codeSms({ message: 'Your Tika vaccination code is 4821. Show it at PHC Andheri on 12 Mar. Thanks! -TIKAVX' }),
    expected: { kind: 'permanent', reason: `text does not match DLT template ${EN} for sms.booking_code (en)` },
  },
  {
    label: 'a variable over 30 characters: nothing sent',
    sms: codeSms({ message: `Your Tika vaccination code is 4821. Show it at ${'Primary Health Centre Andheri West'} on 12 Mar. -TIKAVX` }),
    expected: { kind: 'permanent', reason: `text does not match DLT template ${EN} for sms.booking_code (en)` },
  },
];

runSenderTable(exotel, { fake: () => fake, env: (url) => envFor(url), context: { templates: templateBook } }, sendCases);

describe('exotel: what the fake itself decides', () => {
  runSenderTable(exotel, { fake: () => fake, env: (url) => envFor(url, 'not-the-token'), context: { templates: templateBook } }, [
    {
      label: 'a wrong token: Exotel answers 401, the account is held and the token is in no reason',
      sms: codeSms(),
      expected: {
        kind: 'account',
        reason: 'HTTP 401: {"RestException":{"Status":401,"Message":"Authentication failed. Invalid API Key or Token.","Code":"UNAUTHORIZED"}}',
        statusCode: 401,
      },
      request: { method: 'POST', path: SEND_PATH },
    },
  ]);

  runSenderTable(exotel, { fake: () => fake, env: () => envFor(`http://127.0.0.1:${closedPort}`), context: { templates: templateBook } }, [
    { label: 'connection refused: transient', sms: codeSms(), expected: { kind: 'transient', reason: 'network error: ECONNREFUSED' } },
  ]);

  test('the default answer has a fresh Sid each time, and is listed as sent', async () => {
    fake.reset();
    const sender = exotel.createSender(exotel.config.parse(envFor(fake.url)), {
      db: undefined as never,
      publicBaseUrl: 'https://tika.example.org/',
      webhookSecret: WEBHOOK_SECRET,
      templates: templateBook,
    });
    const [first, second] = await Promise.all([sender.send(codeSms()), sender.send(hindi)]);
    const sent = await fake.waitForSent(2);
    expect(first).toMatchObject({ kind: 'sent', providerMessageId: expect.stringMatching(/^[0-9a-f]{32}$/) });
    expect(second).toMatchObject({ kind: 'sent', providerMessageId: expect.stringMatching(/^[0-9a-f]{32}$/) });
    expect(first.kind === 'sent' && second.kind === 'sent' && first.providerMessageId !== second.providerMessageId).toBe(true);
    expect(sent.map((sms) => sms.dltTemplateId).sort()).toEqual([EN, HI]);
    expect(sent.every((sms) => sms.statusCallback === STATUS_CALLBACK)).toBe(true);
  });

  test('without a template book nothing is sent and the account is held', async () => {
    fake.reset();
    const sender = exotel.createSender(exotel.config.parse(envFor(fake.url)), { db: undefined as never, publicBaseUrl: 'https://tika.example.org', webhookSecret: WEBHOOK_SECRET });
    expect(await sender.send(codeSms())).toMatchObject({ kind: 'account' });
    expect(fake.requests).toEqual([]);
  });
});
