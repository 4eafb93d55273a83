import type { App } from '../../src/app';
import { createApp } from '../../src/app';
import { queueSms } from '../../src/domain/outbox';
import { createLogger, maskPhone } from '../../src/logger';
import { enqueueSms, smsJobId, type OutboxRef } from '../../src/queue/sms-queue';
import type { FakeResponse } from '../fakes/fake-africastalking';
import { eventually, startTestApp, TEST_API_KEY, type TestApp } from '../support/app';
import { truncateAll } from '../support/db';

/**
 * The outbound pipeline end to end: an outbox row committed through queueSms, the real relay
 * (LISTEN/NOTIFY + poll), BullMQ on the real Redis, the SMS worker, and the Africa's Talking
 * adapter talking to the local fake. Assertions are on outcomes: the row's final state and what
 * the fake provider received.
 */

/** An English message with no placeholders and no security code. */
const TEMPLATE = 'appointments.code_resent';

interface OutboundRow {
  id: number;
  phone: string;
  status: string;
  attempts: number;
  relayed_at: Date | null;
  provider: string | null;
  provider_message_id: string | null;
  provider_status_code: number | null;
  provider_status: string | null;
  cost: string | null;
  last_error: string | null;
  sent_at: Date | null;
}

const FINAL = new Set(['sent', 'failed', 'skipped']);
const WAIT_MS = 10_000;

/** Valid Indian mobiles, one per case: +91 98765 000NN. */
const phoneNo = (n: number) => `+9198765000${String(n).padStart(2, '0')}`;

async function writeSms(app: App, phone: string): Promise<number> {
  return app.db.transaction((trx) => queueSms(trx, { phone, language: 'en', template: TEMPLATE, params: {} }));
}

async function rowOf(app: App, id: number): Promise<OutboundRow | undefined> {
  return app.db<OutboundRow>('outbound_messages').where('id', id).first();
}

/** The row as the relay hands it to the queue. */
async function refOf(app: App, id: number): Promise<OutboxRef> {
  const row = await app.db('outbound_messages').where('id', id).first('id', 'job_key');
  return { id: row.id, jobKey: row.job_key };
}

async function jobOf(app: App, id: number) {
  return app.smsQueues.get("africastalking")!.getJob(smsJobId((await refOf(app, id)).jobKey));
}

/** Waits for the row to reach a final status and for its BullMQ job to be finished (no more attempts can come). */
async function settled(app: App, id: number): Promise<{ row: OutboundRow; jobState: string }> {
  await eventually(`outbox row ${id} to reach a final status`, async () => {
    const row = await rowOf(app, id);
    return row && FINAL.has(row.status) ? row : undefined;
  }, WAIT_MS);
  const jobState = await eventually(`job for outbox row ${id} to finish`, async () => {
    const job = await jobOf(app, id);
    const state = job ? await job.getState() : undefined;
    return state === 'completed' || state === 'failed' ? state : undefined;
  }, WAIT_MS);
  // Re-read: the job finishes after the outcome is recorded, never before.
  return { row: (await rowOf(app, id))!, jobState };
}

const stopped = new WeakSet<App>();

/** Closes whatever a restart test left running, even when it failed half-way. */
async function closeAll(t: TestApp | undefined, restarted: App | undefined): Promise<void> {
  await restarted?.close();
  if (t && !stopped.has(t.app)) await t.app.close();
  await t?.at.close();
}

/**
 * Stops the test app (relay, worker, connections; the provider fake stays up) and builds a new
 * process's app on the same database, Redis prefix and fake, without starting its worker.
 */
async function restart(t: TestApp): Promise<{ app: App; logs: string[] }> {
  stopped.add(t.app);
  await t.app.close();
  const logs: string[] = [];
  const logger = createLogger('debug', { write: (line: string) => void logs.push(line) });
  return { app: await createApp(t.app.config, { logger, smsRetryBaseMs: 20 }), logs };
}

const accepted = (recipient: Record<string, unknown>, message = 'Sent to 1/1 Total Cost: KES 0.8000 Message parts: 1'): FakeResponse => ({
  status: 201,
  json: { SMSMessageData: { Message: message, Recipients: [recipient] } },
});

const refusedRecipient = (phone: string, status: string, statusCode: number): FakeResponse =>
  accepted({ cost: '0', messageId: 'None', number: phone, status, statusCode }, 'Sent to 0/1 Total Cost: 0');

const http500: FakeResponse = { status: 500, text: 'Internal Server Error' };
const hang: FakeResponse = { hang: true };

interface PipelineCase {
  label: string;
  phone: string;
  /** Scripted answers for the first requests; after them the fake answers 201/101 with a fresh messageId. */
  responses: (phone: string) => FakeResponse[];
  status: 'sent' | 'failed';
  attempts: number;
  /** Requests the fake received for this phone. */
  requests: number;
  /** 'completed' when the job ended by itself, 'failed' when BullMQ gave up after the last attempt. */
  jobState: 'completed' | 'failed';
  providerStatusCode: number | null;
  /** Only for scripted successes: the exact id the fake answered with. */
  providerMessageId?: string;
  cost?: string;
  lastError?: string | RegExp;
}

const MAX_ATTEMPTS = 3;
const TIMEOUT_MS = 300;

const cases: PipelineCase[] = [
  {
    label: '201, recipient 101 Success: sent at once, id and cost recorded',
    phone: phoneNo(1),
    responses: (phone) => [
      accepted({ cost: 'KES 0.8000', messageId: 'ATXid_09b5a410fd2f388a06f152f56ce95801', number: phone, status: 'Success', statusCode: 101 }),
    ],
    status: 'sent',
    attempts: 1,
    requests: 1,
    jobState: 'completed',
    providerStatusCode: 101,
    providerMessageId: 'ATXid_09b5a410fd2f388a06f152f56ce95801',
    cost: 'KES 0.8000',
  },
  {
    label: '201, recipient 102 Queued: counts as sent',
    phone: phoneNo(2),
    responses: (phone) => [
      accepted({ cost: 'INR 0.2500', messageId: 'ATXid_5d8a1c6f0e7b4a3c9d2e1f0a9b8c7d6e', number: phone, status: 'Queued', statusCode: 102 }),
    ],
    status: 'sent',
    attempts: 1,
    requests: 1,
    jobState: 'completed',
    providerStatusCode: 102,
    providerMessageId: 'ATXid_5d8a1c6f0e7b4a3c9d2e1f0a9b8c7d6e',
    cost: 'INR 0.2500',
  },
  {
    label: '201, InvalidSenderId with no recipients: failed, no retry',
    phone: phoneNo(3),
    responses: () => [{ status: 201, json: { SMSMessageData: { Message: 'InvalidSenderId', Recipients: [] } } }],
    status: 'failed',
    attempts: 1,
    requests: 1,
    jobState: 'completed',
    providerStatusCode: null,
    lastError: /InvalidSenderId/,
  },
  {
    label: '201, recipient 403 InvalidPhoneNumber: failed, no retry',
    phone: phoneNo(4),
    responses: (phone) => [refusedRecipient(phone, 'InvalidPhoneNumber', 403)],
    status: 'failed',
    attempts: 1,
    requests: 1,
    jobState: 'completed',
    providerStatusCode: 403,
    lastError: 'InvalidPhoneNumber',
  },
  {
    label: '201, recipient 406 UserInBlacklist: failed, no retry',
    phone: phoneNo(5),
    responses: (phone) => [refusedRecipient(phone, 'UserInBlacklist', 406)],
    status: 'failed',
    attempts: 1,
    requests: 1,
    jobState: 'completed',
    providerStatusCode: 406,
    lastError: 'UserInBlacklist',
  },
  {
    label: 'HTTP 400 InvalidPhoneNumber: failed, no retry',
    phone: phoneNo(6),
    responses: () => [{ status: 400, text: 'InvalidPhoneNumber' }],
    status: 'failed',
    attempts: 1,
    requests: 1,
    jobState: 'completed',
    providerStatusCode: 400,
    lastError: 'HTTP 400: InvalidPhoneNumber',
  },
  {
    label: 'HTTP 400 echoing the API key: failed, key redacted from last_error',
    phone: phoneNo(7),
    responses: () => [{ status: 400, text: `Request rejected for apiKey=${TEST_API_KEY}` }],
    status: 'failed',
    attempts: 1,
    requests: 1,
    jobState: 'completed',
    providerStatusCode: 400,
    lastError: 'HTTP 400: Request rejected for apiKey=[redacted]',
  },
  {
    label: 'HTTP 500 twice, then 201/101: sent on the third attempt, once',
    phone: phoneNo(8),
    responses: () => [http500, http500],
    status: 'sent',
    attempts: 3,
    requests: 3,
    jobState: 'completed',
    providerStatusCode: 101,
    cost: 'KES 0.8000',
  },
  {
    label: '201, recipient 500 InternalServerError, then 201/101: sent on retry',
    phone: phoneNo(9),
    responses: (phone) => [refusedRecipient(phone, 'InternalServerError', 500)],
    status: 'sent',
    attempts: 2,
    requests: 2,
    jobState: 'completed',
    providerStatusCode: 101,
    cost: 'KES 0.8000',
  },
  {
    label: 'HTTP 429, then 201/101: sent on retry',
    phone: phoneNo(10),
    responses: () => [{ status: 429, text: 'Too Many Requests' }],
    status: 'sent',
    attempts: 2,
    requests: 2,
    jobState: 'completed',
    providerStatusCode: 101,
    cost: 'KES 0.8000',
  },
  {
    label: 'no answer within AT_TIMEOUT_MS, then 201/101: sent on retry, one success',
    phone: phoneNo(11),
    responses: () => [hang],
    status: 'sent',
    attempts: 2,
    requests: 2,
    jobState: 'completed',
    providerStatusCode: 101,
    cost: 'KES 0.8000',
  },
  {
    label: `HTTP 500 on every attempt: failed after ${MAX_ATTEMPTS} requests`,
    phone: phoneNo(12),
    responses: () => Array.from({ length: MAX_ATTEMPTS }, () => http500),
    status: 'failed',
    attempts: MAX_ATTEMPTS,
    requests: MAX_ATTEMPTS,
    jobState: 'failed',
    providerStatusCode: 500,
    lastError: 'HTTP 500: Internal Server Error',
  },
  {
    label: `no answer on every attempt: failed after ${MAX_ATTEMPTS} requests`,
    phone: phoneNo(13),
    responses: () => Array.from({ length: MAX_ATTEMPTS }, () => hang),
    status: 'failed',
    attempts: MAX_ATTEMPTS,
    requests: MAX_ATTEMPTS,
    jobState: 'failed',
    providerStatusCode: null,
    lastError: `timeout after ${TIMEOUT_MS} ms`,
  },
];

/** Every phone number this file hands to the pipeline, for the log check. */
const ALL_PHONES = new Set<string>();

describe('SMS pipeline: outbox → relay → BullMQ → worker → Africa\'s Talking (fake)', () => {
  let t: TestApp;
  let app: App;

  beforeAll(async () => {
    t = await startTestApp({ SMS_MAX_ATTEMPTS: String(MAX_ATTEMPTS), AT_TIMEOUT_MS: String(TIMEOUT_MS) });
    app = t.app;
  });
  afterAll(async () => {
    await t?.close();
  });
  beforeEach(() => t.at.reset());

  const requestsFor = (phone: string) => t.at.requests.filter((r) => r.form.to === phone);
  const sentTo = (phone: string) => t.at.sent.filter((s) => s.to === phone);

  test('case labels and phones are unique', () => {
    expect(new Set(cases.map((c) => c.label)).size).toBe(cases.length);
    expect(new Set(cases.map((c) => c.phone)).size).toBe(cases.length);
  });

  test.each(cases.map((c) => [c.label, c] as const))('%s', async (_label, c) => {
    ALL_PHONES.add(c.phone);
    t.at.respondWith(...c.responses(c.phone));
    const id = await writeSms(app, c.phone);

    const { row, jobState } = await settled(app, id);

    expect(row).toMatchObject({
      status: c.status,
      attempts: c.attempts,
      provider: 'africastalking',
      provider_status_code: c.providerStatusCode,
    });
    expect(row.relayed_at).not.toBeNull();
    expect(jobState).toBe(c.jobState);

    // What reached the provider: the right number of requests, each a well-formed send of this message.
    const requests = requestsFor(c.phone);
    expect(requests).toHaveLength(c.requests);
    const text = app.catalogue.render('en', TEMPLATE, {});
    for (const request of requests) {
      expect(request).toMatchObject({ method: 'POST', path: '/version1/messaging' });
      expect(request.headers.apikey).toBe(TEST_API_KEY);
      expect(request.form).toMatchObject({ username: 'sandbox', to: c.phone, message: text });
    }

    // The citizen gets the message exactly once when it is sent, never when it failed.
    const sent = sentTo(c.phone);
    if (c.status === 'sent') {
      expect(sent).toHaveLength(1);
      expect(row.provider_message_id).toBe(sent[0]!.messageId);
      if (c.providerMessageId) expect(row.provider_message_id).toBe(c.providerMessageId);
      expect(row.cost).toBe(c.cost);
      expect(row.last_error).toBeNull();
      expect(row.sent_at).not.toBeNull();
    } else {
      expect(sent).toHaveLength(0);
      expect(row.provider_message_id).toBeNull();
      expect(row.sent_at).toBeNull();
      if (typeof c.lastError === 'string') expect(row.last_error).toBe(c.lastError);
      else expect(row.last_error).toMatch(c.lastError!);
    }
  });

  describe('idempotency and crash safety', () => {
    test('enqueueing a sent message again adds no job and sends nothing more', async () => {
      const phone = phoneNo(20);
      ALL_PHONES.add(phone);
      const id = await writeSms(app, phone);
      const { row: before } = await settled(app, id);
      expect(before.status).toBe('sent');
      const job = (await jobOf(app, id))!;

      // As a relay would after a crash between enqueue and its commit.
      await enqueueSms(app.smsQueues.get("africastalking")!, [await refOf(app, id)]);
      await enqueueSms(app.smsQueues.get("africastalking")!, [await refOf(app, id)]);

      const again = (await jobOf(app, id))!;
      expect(await again.getState()).toBe('completed');
      expect(again.finishedOn).toBe(job.finishedOn);
      expect(again.attemptsMade).toBe(job.attemptsMade);
      // A message written after the re-enqueue goes through: the worker is alive and has drained the queue.
      const marker = phoneNo(21);
      ALL_PHONES.add(marker);
      await settled(app, await writeSms(app, marker));

      expect(requestsFor(phone)).toHaveLength(1);
      expect(sentTo(phone)).toHaveLength(1);
      expect(await rowOf(app, id)).toEqual(before);
    });

    test('a row relayed a second time (its relayed mark lost) is not sent again', async () => {
      const phone = phoneNo(22);
      ALL_PHONES.add(phone);
      const id = await writeSms(app, phone);
      const { row: before } = await settled(app, id);
      expect(before.status).toBe('sent');

      // The relay crashed after enqueueing but before marking the row relayed: it offers the row again.
      await app.db('outbound_messages').where('id', id).update({ relayed_at: null });
      await app.db.raw('NOTIFY tika_outbox');
      await eventually('the row to be relayed again', async () => ((await rowOf(app, id))?.relayed_at ? true : undefined), WAIT_MS);
      const marker = phoneNo(23);
      ALL_PHONES.add(marker);
      await settled(app, await writeSms(app, marker));

      expect(requestsFor(phone)).toHaveLength(1);
      expect(sentTo(phone)).toHaveLength(1);
      const after = (await rowOf(app, id))!;
      expect({ ...after, relayed_at: null }).toEqual({ ...before, relayed_at: null });
    });

    test.each([
      { label: 'sent', phone: phoneNo(24), responses: [] as FakeResponse[] },
      { label: 'failed', phone: phoneNo(25), responses: [refusedRecipient(phoneNo(25), 'InvalidPhoneNumber', 403)] },
    ])('a new job for a row already $label is a no-op (claim says already_done)', async ({ label, phone, responses }) => {
      ALL_PHONES.add(phone);
      t.at.respondWith(...responses);
      const id = await writeSms(app, phone);
      const { row: before } = await settled(app, id);
      expect(before.status).toBe(label);

      // The completed job is gone (removeOnComplete, or a Redis that lost it) and the id is enqueued again.
      await (await jobOf(app, id))!.remove();
      await enqueueSms(app.smsQueues.get("africastalking")!, [await refOf(app, id)]);
      const rerun = await eventually('the new job to complete', async () => {
        const job = await jobOf(app, id);
        // Read the job again once complete: a copy read just before completion has no return value yet.
        return job && (await job.getState()) === 'completed' ? jobOf(app, id) : undefined;
      }, WAIT_MS);
      expect(rerun!.returnvalue).toBe('already_done');

      expect(await app.outbound.claim(id, 0)).toEqual({ kind: 'already_done', status: label });
      expect(requestsFor(phone)).toHaveLength(1);
      expect(sentTo(phone)).toHaveLength(label === 'sent' ? 1 : 0);
      expect(await rowOf(app, id)).toEqual(before);
    });

    test('an outbox row whose transaction rolls back is never written nor sent', async () => {
      const phone = phoneNo(26);
      ALL_PHONES.add(phone);
      await expect(
        app.db.transaction(async (trx) => {
          await queueSms(trx, { phone, language: 'en', template: TEMPLATE, params: {} });
          throw new Error('the booking failed after the SMS was queued');
        }),
      ).rejects.toThrow('the booking failed');

      expect(await app.db('outbound_messages').where({ phone })).toHaveLength(0);
      const marker = phoneNo(27);
      ALL_PHONES.add(marker);
      await settled(app, await writeSms(app, marker));
      expect(await app.db('outbound_messages').where({ phone })).toHaveLength(0);
      expect(requestsFor(phone)).toHaveLength(0);
    });

  });

  test('logs never hold the API key or a full phone number', () => {
    const text = t.logs.join('');
    expect(text).toMatch(/sms sent/);
    expect(text).toMatch(/sms not sent/);
    expect(text).not.toContain(TEST_API_KEY);
    expect(ALL_PHONES.size).toBeGreaterThan(cases.length);
    for (const phone of ALL_PHONES) {
      expect(text).not.toContain(phone);
      expect(text).not.toContain(phone.slice(1));
      expect(text).not.toContain(phone.slice(3));
    }
    // A masked number is allowed: it keeps the country code and the last two digits only.
    expect(maskPhone(phoneNo(1))).toBe('+91********01');
  });
});

/**
 * Its own app with a timeout far above the fake's answer time: a send cut by our timeout after the
 * provider accepted it is sent again (at-least-once at the provider edge, no idempotency key), and
 * the 300 ms timeout above is short enough for a loaded machine to hit.
 */
describe('SMS pipeline: a burst committed together', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ AT_TIMEOUT_MS: '10000' });
  });
  afterAll(async () => {
    await t?.close();
  });

  test('many messages committed together are each sent exactly once', async () => {
    const phones = Array.from({ length: 20 }, (_, i) => phoneNo(40 + i));
    phones.forEach((p) => ALL_PHONES.add(p));
    const ids = await t.app.db.transaction(async (trx) => {
      const written: number[] = [];
      for (const phone of phones) written.push(await queueSms(trx, { phone, language: 'en', template: TEMPLATE, params: {} }));
      return written;
    });
    const rows = await Promise.all(ids.map((id) => settled(t.app, id)));
    expect(rows.map((r) => r.row.status)).toEqual(phones.map(() => 'sent'));
    for (const phone of phones) expect(t.at.requests.filter((r) => r.form.to === phone)).toHaveLength(1);
    expect(t.at.sent).toHaveLength(phones.length);
  });
});

describe('SMS pipeline across a restart: rows written while no worker runs', () => {
  let t: TestApp;
  let restarted: App | undefined;

  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => closeAll(t, restarted));

  test('rows committed while stopped, one half-relayed by a crash, are each sent exactly once after restart', async () => {
    // The process stops; rows are written while nothing relays or sends.
    const next = await restart(t);
    restarted = next.app;
    const { app, logs } = next;
    const phones = [phoneNo(30), phoneNo(31), phoneNo(32)];
    const ids: number[] = [];
    for (const phone of phones) ids.push(await writeSms(app, phone));

    // A relay that crashed after enqueueing the first row but before committing its relayed mark.
    await expect(
      app.outbound.relayBatch(1, async (batch) => {
        await enqueueSms(app.smsQueues.get("africastalking")!, batch);
        throw new Error('crash before commit');
      }),
    ).rejects.toThrow('crash before commit');
    expect((await rowOf(app, ids[0]!))!.relayed_at).toBeNull();
    expect(await jobOf(app, ids[0]!)).toBeDefined();
    expect(t.at.requests).toHaveLength(0);

    // Start the relay and worker: the relay offers every unrelayed row, the first one for the second time.
    await app.startWorker();
    const rows = await Promise.all(ids.map((id) => settled(app, id)));

    for (const [i, { row, jobState }] of rows.entries()) {
      expect(row).toMatchObject({ status: 'sent', attempts: 1, provider: 'africastalking' });
      expect(row.relayed_at).not.toBeNull();
      expect(jobState).toBe('completed');
      const sent = t.at.sent.filter((s) => s.to === phones[i]);
      expect(sent).toHaveLength(1);
      expect(row.provider_message_id).toBe(sent[0]!.messageId);
    }
    expect(t.at.requests).toHaveLength(phones.length);
    const text = logs.join('');
    expect(text).not.toContain(TEST_API_KEY);
    for (const phone of phones) expect(text).not.toContain(phone);
  });
});

describe('SMS pipeline: the provider account cannot send (405 InsufficientBalance)', () => {
  let t: TestApp;
  let restarted: App | undefined;

  beforeAll(async () => {
    // One attempt only: the account hold must not count as one, or the message is lost.
    t = await startTestApp({ SMS_MAX_ATTEMPTS: '1' });
  });
  afterAll(() => closeAll(t, restarted));

  test('the queue is held and the message kept, then sent once the hold is over', async () => {
    const phone = phoneNo(35);
    t.at.respondWith(refusedRecipient(phone, 'InsufficientBalance', 405));
    const id = await writeSms(t.app, phone);

    // A new job is 'waiting' too, before any worker takes it: wait for the refusal to be recorded as well.
    const held = await eventually('the job to go back to waiting after the account problem', async () => {
      const job = await jobOf(t.app, id);
      const recorded = (await rowOf(t.app, id))?.status === 'retrying';
      return job && recorded && (await job.getState()) === 'waiting' ? job : undefined;
    }, WAIT_MS);
    expect(held.attemptsMade).toBe(0);
    const row = (await rowOf(t.app, id))!;
    // Not final: the job will run again when the hold ends, so the row must not say 'failed'.
    expect(row).toMatchObject({ status: 'retrying', attempts: 1, provider_status_code: 405, last_error: 'InsufficientBalance' });
    expect(t.at.requests).toHaveLength(1);
    expect(t.logs.join('')).toMatch(/sms account problem: queue held/);

    // The hold ends (here: a restart after the balance was topped up, without the 60 s wait).
    const next = await restart(t);
    restarted = next.app;
    await restarted.smsQueues.get("africastalking")!.removeRateLimitKey();
    await restarted.startWorker();
    const { row: after, jobState } = await settled(restarted, id);

    expect(after).toMatchObject({ status: 'sent', attempts: 2, provider_status_code: 101, last_error: null });
    expect(jobState).toBe('completed');
    expect(t.at.requests).toHaveLength(2);
    expect(t.at.sent).toHaveLength(1);
    expect(after.provider_message_id).toBe(t.at.sent[0]!.messageId);
  });
});

describe('SMS pipeline: a database recreated under a live Redis', () => {
  it('still sends new rows whose ids were used before (job ids come from a per-row UUID)', async () => {
    const t = await startTestApp();
    try {
      const first = await writeSms(t.app, '+919876500090');
      await settled(t.app, first);
      // Ids start again at 1, while Redis still remembers the completed job of the old row 1.
      await truncateAll(t.app.db);
      const second = await writeSms(t.app, '+919876500091');
      expect(second).toBe(first);
      const { row } = await settled(t.app, second);
      expect(row.status).toBe('sent');
      expect(t.at.sent.map((s) => s.to)).toEqual(['+919876500090', '+919876500091']);
    } finally {
      await t.close();
    }
  });
});
