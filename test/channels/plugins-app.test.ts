import type { App } from '../../src/app';
import { CHANNELS } from '../../src/channels/registry';
import { queueSms } from '../../src/domain/outbox';
import { smsJobId } from '../../src/queue/sms-queue';
import { eventually, SERVICE_CODE, startTestApp, TEST_WEBHOOK_SECRET, type TestApp } from '../support/app';

/**
 * Providers as plug-ins, through the real app (PostgreSQL, Redis, BullMQ, the fake Africa's
 * Talking): webhooks mounted for every registered handler, delivery reports found by
 * (provider, id), and one queue per provider so that one provider's trouble stays its own.
 */

const TEMPLATE = 'appointments.code_resent';
const KENYAN = '+254711000111';
const INDIAN = '+919876500001';
const REPORT_ID = 'ATXid_dda018a640edfcc5d2ce455de3e4a6e7';

async function writeSms(app: App, ...phones: string[]): Promise<number[]> {
  return app.db.transaction(async (trx) => {
    const ids: number[] = [];
    for (const phone of phones) ids.push(await queueSms(trx, { phone, language: 'en', template: TEMPLATE, params: {} }));
    return ids;
  });
}

const rowOf = (app: App, id: number) => app.db('outbound_messages').where('id', id).first();
const withKey = (path: string) => `${path}?key=${TEST_WEBHOOK_SECRET}`;

describe('webhooks of every registered provider', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({}, { worker: false });
  });
  afterAll(() => t.close());

  const declared = CHANNELS.flatMap((channel) => {
    const callbacks = [channel.webhooks.ussd, channel.webhooks.ussdEnded, channel.webhooks.sms, channel.webhooks.status].filter((callback) => callback !== undefined);
    // A provider without callbacks (the sandbox) still has its mount, guarded like the others.
    const paths = callbacks.length ? callbacks.map((callback) => callback.path) : ['/anything'];
    return paths.map((path) => [`/webhooks/${channel.name}${path}`] as const);
  });

  test('every registered provider declares a mount', () => {
    expect(declared.map(([path]) => path.split('/')[2])).toEqual(expect.arrayContaining(CHANNELS.map((channel) => channel.name)));
  });

  test.each(declared)('%s answers 401 without the key, and with a wrong one', async (path) => {
    expect(await t.postForm(path, { id: REPORT_ID, status: 'Success' })).toEqual({ status: 401, body: 'Missing or wrong webhook key' });
    expect((await t.postForm(`${path}?key=wrong-key-0123456789abc`, { id: REPORT_ID, status: 'Success' })).status).toBe(401);
  });

  test('a HEAD check of a callback URL (Exotel makes one before its first GET) answers 200 and stores nothing; without the key 401', async () => {
    const head = (path: string) => fetch(`${t.baseUrl}${path}`, { method: 'HEAD' }).then((response) => response.status);
    expect(await head(withKey('/webhooks/exotel/sms'))).toBe(200);
    expect(await head('/webhooks/exotel/sms')).toBe(401);
    expect(await t.app.db('inbound_messages').where({ provider: 'exotel' }).count({ n: '*' })).toEqual([{ n: 0 }]);
  });

  test("Africa's Talking /ussd answers the first screen", async () => {
    const reply = await t.ussd('ATUid_plugins_1', KENYAN, '');
    expect(reply.status).toBe(200);
    expect(reply.body).toMatch(/^CON /);
  });

  test("Africa's Talking /ussd/events stores the session's end", async () => {
    const answer = await t.postForm(withKey('/webhooks/africastalking/ussd/events'), { sessionId: 'ATUid_plugins_2', serviceCode: SERVICE_CODE, phoneNumber: KENYAN, status: 'Success', hopsCount: '2' });
    expect(answer).toEqual({ status: 200, body: 'OK' });
    expect(await t.app.db('ussd_session_events').where({ provider: 'africastalking', session_id: 'ATUid_plugins_2' }).first()).toBeDefined();
  });

  test("Africa's Talking /sms stores the message under its provider", async () => {
    const posted = await t.incomingSms(KENYAN, 'HELP');
    expect(posted).toMatchObject({ status: 200, body: 'OK' });
    expect(await t.app.db('inbound_messages').where({ provider: 'africastalking', provider_message_id: posted.id }).first()).toMatchObject({ phone: KENYAN });
  });

  test("Africa's Talking /delivery answers 200 even for a message Tika does not know", async () => {
    expect(await t.postForm(withKey('/webhooks/africastalking/delivery'), { id: 'ATXid_never_sent', status: 'Success' })).toEqual({ status: 200, body: 'OK' });
  });

  test("Africa's Talking /delivery answers 400 naming the bad field", async () => {
    expect(await t.postForm(withKey('/webhooks/africastalking/delivery'), { status: 'Success' })).toEqual({ status: 400, body: 'Invalid payload: id is missing' });
  });
});

describe('delivery reports are found by (provider, message id)', () => {
  let t: TestApp;
  let ids: { africastalking: number; sandbox: number };

  beforeEach(async () => {
    // No worker: the rows stay as written here, "sent" by two providers under the same id.
    t = await startTestApp({}, { worker: false });
    const [atId, sandboxId] = await writeSms(t.app, KENYAN, INDIAN);
    ids = { africastalking: atId!, sandbox: sandboxId! };
    for (const [provider, id] of Object.entries(ids)) {
      await t.app.db('outbound_messages').where('id', id).update({ status: 'sent', provider, provider_message_id: REPORT_ID, provider_status: 'Success' });
    }
  });
  afterEach(() => t.close());

  const delivery = () => ({ id: REPORT_ID, status: 'Success', phoneNumber: KENYAN, networkCode: '63902', retryCount: '0' });

  test("a report to /webhooks/africastalking changes only Africa's Talking's message", async () => {
    expect(await t.postForm(withKey('/webhooks/africastalking/delivery'), delivery())).toEqual({ status: 200, body: 'OK' });

    expect(await rowOf(t.app, ids.africastalking)).toMatchObject({ delivery_status: 'Success', delivery_state: 'delivered', delivery_final: true });
    expect(await rowOf(t.app, ids.sandbox)).toMatchObject({ delivery_status: null, delivery_state: null, delivery_final: false });
  });

  test('an unknown status answers 200, changes nothing, and is counted for its provider', async () => {
    const answer = await t.postForm(withKey('/webhooks/africastalking/delivery'), { ...delivery(), status: 'SomethingNew' });

    expect(answer).toEqual({ status: 200, body: 'OK' });
    for (const id of Object.values(ids)) expect(await rowOf(t.app, id)).toMatchObject({ delivery_status: null, delivery_state: null, delivery_final: false });
    const metrics = await (await fetch(`${t.baseUrl}/metrics`)).text();
    expect(metrics).toMatch(/^tika_delivery_reports_unknown_status_total\{provider="africastalking"\} 1$/m);
    expect(t.logs.join('')).toMatch(/delivery report with an unknown status; not recorded/);
  });
});

describe("one queue per provider: Africa's Talking's trouble does not hold the sandbox's messages", () => {
  const ROUTES = { SMS_ROUTES: '+254=africastalking,*=sandbox' };
  let t: TestApp;
  afterEach(() => t?.close());

  async function jobState(app: App, provider: string, id: number): Promise<string | undefined> {
    const row = await app.db('outbound_messages').where('id', id).first('job_key');
    const job = await app.smsQueues.get(provider)?.getJob(smsJobId(row.job_key));
    return job?.getState();
  }

  const storedBySandbox = (app: App, phone: string) => eventually(`the sandbox to store the SMS to ${phone}`, async () => app.db('sandbox_messages').where('phone', phone).first(), 3000);

  test('each routed provider has its own queue, sms-<provider>', async () => {
    t = await startTestApp(ROUTES);
    expect([...t.app.smsQueues.keys()].sort()).toEqual(['africastalking', 'sandbox']);
    expect(Object.fromEntries([...t.app.smsQueues].map(([provider, queue]) => [provider, queue.name]))).toEqual({ africastalking: 'sms-africastalking', sandbox: 'sms-sandbox' });

    const [kenyan, indian] = await writeSms(t.app, KENYAN, INDIAN);
    await storedBySandbox(t.app, INDIAN);
    await t.at.waitForSent(1);
    expect(t.sentTo(KENYAN)).toHaveLength(1);
    expect(t.sentTo(INDIAN)).toEqual([]);
    // The fake has answered; the worker records the outcome a moment later.
    await eventually('the Kenyan row to be recorded as sent', async () => ((await rowOf(t.app, kenyan!))?.status === 'sent' ? true : undefined));
    expect(await rowOf(t.app, kenyan!)).toMatchObject({ status: 'sent', provider: 'africastalking' });
    await eventually('the Indian row to be recorded as sent by the sandbox', async () => ((await rowOf(t.app, indian!))?.status === 'sent' ? true : undefined));
    expect(await rowOf(t.app, indian!)).toMatchObject({ status: 'sent', provider: 'sandbox', provider_message_id: expect.stringMatching(/^SBXid_/) });
    expect(await jobState(t.app, 'africastalking', kenyan!)).toBe('completed');
    expect(await jobState(t.app, 'sandbox', indian!)).toBe('completed');
    expect(await jobState(t.app, 'sandbox', kenyan!)).toBeUndefined();
  });

  test("Africa's Talking refusing our account (401): its queue is held, the sandbox still sends at once", async () => {
    t = await startTestApp(ROUTES);
    t.at.respondWith({ status: 401, text: 'The supplied authentication is invalid' });

    const [kenyan, indian] = await writeSms(t.app, KENYAN, INDIAN);
    await t.at.waitForRequestTo(KENYAN);
    await storedBySandbox(t.app, INDIAN);

    await eventually('the Kenyan row to record the account problem', async () => ((await rowOf(t.app, kenyan!))?.status === 'retrying' ? true : undefined));
    expect(await rowOf(t.app, kenyan!)).toMatchObject({ provider: 'africastalking', last_error: 'HTTP 401: The supplied authentication is invalid' });
    expect(t.logs.join('')).toMatch(/sms account problem: queue held/);
    // Held for SMS_ACCOUNT_HOLD_MS (a minute): no second request while the sandbox carries on.
    await writeSms(t.app, '+919876500002');
    await storedBySandbox(t.app, '+919876500002');
    expect(t.at.requests.filter((request) => request.form.to === KENYAN)).toHaveLength(1);
    expect(await jobState(t.app, 'africastalking', kenyan!)).toMatch(/^(waiting|delayed|prioritized)$/);
    expect(await rowOf(t.app, indian!)).toMatchObject({ provider: 'sandbox' });
  });

  test("Africa's Talking not answering: the sandbox still sends at once while the Kenyan SMS waits", async () => {
    t = await startTestApp({ ...ROUTES, AT_TIMEOUT_MS: '4000' });
    t.at.respondWith({ hang: true });

    const [kenyan] = await writeSms(t.app, KENYAN, INDIAN);
    await t.at.waitForRequestTo(KENYAN);
    const started = Date.now();
    await storedBySandbox(t.app, INDIAN);

    expect(Date.now() - started).toBeLessThan(2500);
    expect(await rowOf(t.app, kenyan!)).toMatchObject({ status: 'sending', provider: null });
    expect(t.sentTo(KENYAN)).toEqual([]);
    expect(await jobState(t.app, 'africastalking', kenyan!)).toBe('active');
  });
});
