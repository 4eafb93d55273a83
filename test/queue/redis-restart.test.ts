import { Client } from 'pg';
import { listen } from '../../src/db/listen';
import { queueSms } from '../../src/domain/outbox';
import { startPrivateRedis, type PrivateRedis } from '../faults/support/services';
import { testDatabaseUrl } from '../support/db';
import { eventually, startTestApp, type TestApp } from '../support/app';

/**
 * Issue 7, finding 2: a Redis restarted without its data (the no-persistence default before) took the
 * job schedulers and every queued job with it; nothing registered the schedulers again, so relayed
 * SMS waited for a process restart and then the 30-minute stuck threshold.
 */
const MINUTE = 60_000;

describe('a Redis that restarts empty under a running worker', () => {
  let redis: PrivateRedis;
  let t: TestApp;
  beforeEach(async () => {
    redis = await startPrivateRedis('none');
    t = await startTestApp({ REDIS_URL: redis.url, OUTBOX_SWEEP_MS: '500' });
  });
  afterEach(async () => {
    await t.close();
    await redis.close();
  });

  const schedulers = async () => (await t.app.taskQueue.getJobSchedulers()).map((s) => s.key).sort();
  const sentTo = (phone: string) => t.at.sent.filter((s) => s.to === phone).length;

  it('registers the schedulers again and re-relays, once, an SMS whose job vanished', async () => {
    expect(await schedulers()).toEqual(['mark_no_shows', 'purge_retention', 'requeue_stuck']);
    await redis.kill();
    // Committed and relayed just before Redis died: its job went with Redis. (Marked relayed in the
    // same transaction, so the live relay never holds the row while it waits for Redis.)
    const phone = '+919876522001';
    const ninetySecondsAgo = new Date(t.app.clock.now().getTime() - 1.5 * MINUTE);
    const id = await t.app.db.transaction(async (trx) => {
      const queued = await queueSms(trx, { phone, language: 'en', template: 'appointments.code_resent', params: {} });
      await trx('outbound_messages').where('id', queued).update({ relayed_at: ninetySecondsAgo, updated_at: ninetySecondsAgo });
      return queued;
    });
    await redis.start();

    await eventually('the schedulers registered again', async () => ((await schedulers()).length === 3 ? true : undefined), 10_000);
    await eventually('the stranded SMS sent', async () => (sentTo(phone) > 0 ? true : undefined), 15_000);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(sentTo(phone)).toBe(1);
    expect(await t.app.db('outbound_messages').where('id', id).first('status')).toEqual({ status: 'sent' });
    expect(t.logs.join('')).toMatch(/"client":"[a-z-]+".*"msg":"redis error"/);
  });

  it('leaves alone a row whose job still exists, however old, and it is sent once', async () => {
    await t.app.smsQueues.get("africastalking")!.pause();
    const phone = '+919876522002';
    const id = await t.app.db.transaction((trx) => queueSms(trx, { phone, language: 'en', template: 'appointments.code_resent', params: {} }));
    await eventually('the row relayed', async () => ((await t.app.db('outbound_messages').where('id', id).first()).relayed_at ? true : undefined));
    const fiveMinutesAgo = new Date(t.app.clock.now().getTime() - 5 * MINUTE);
    await t.app.db('outbound_messages').where('id', id).update({ relayed_at: fiveMinutesAgo, updated_at: fiveMinutesAgo });
    const { job_key: jobKey } = await t.app.db('outbound_messages').where('id', id).first('job_key');

    await new Promise((resolve) => setTimeout(resolve, 2000)); // several sweeps
    expect((await t.app.db('outbound_messages').where('id', id).first('job_key')).job_key).toBe(jobKey);
    await t.app.smsQueues.get("africastalking")!.resume();
    await eventually('the SMS sent', async () => (sentTo(phone) > 0 ? true : undefined));
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(sentTo(phone)).toBe(1);
  });
});

it('reopens the outbox LISTEN connection after PostgreSQL cuts it', async () => {
  const url = testDatabaseUrl();
  let notified = 0;
  const errors: Error[] = [];
  const stop = await listen(url, 'tika_listen_test', () => notified++, (error) => errors.push(error), { minBackoffMs: 50 });
  const admin = new Client({ connectionString: url });
  await admin.connect();
  try {
    await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = 'LISTEN tika_listen_test' AND pid <> pg_backend_pid()`);
    await eventually('the cut noticed', async () => (errors.length > 0 ? true : undefined));
    const before = notified;
    // Once back it listens again: a NOTIFY reaches it.
    await eventually(
      'a notification after the reconnect',
      async () => {
        await admin.query('NOTIFY tika_listen_test');
        await new Promise((resolve) => setTimeout(resolve, 50));
        return notified > before + 1 ? true : undefined;
      },
      10_000,
    );
  } finally {
    await admin.end();
    await stop();
  }
});
