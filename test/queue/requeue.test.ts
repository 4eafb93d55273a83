import { queueSms, requeueStuck } from '../../src/domain/outbox';
import { eventually, startTestApp } from '../support/app';

/**
 * The safety net for jobs the queue lost (retries used up while the database was down, a Redis
 * restart): rows left unfinished long after they were relayed are relayed again, and then sent once.
 */
const HOUR = 3_600_000;

it('relays again an SMS and a task whose jobs were lost, and each is done exactly once', async () => {
  const web = await startTestApp({}, { worker: false });
  let worker: Awaited<ReturnType<typeof startTestApp>> | undefined;
  try {
    const smsId = await web.app.db.transaction((trx) =>
      queueSms(trx, { phone: '+919876511001', language: 'en', template: 'appointments.code_resent', params: {} }),
    );
    const inbound = await web.incomingSms('+919876511002', 'HELP');
    expect(inbound.status).toBe(200);
    // As if both had been relayed an hour ago and Redis then lost their jobs.
    const anHourAgo = new Date(Date.now() - HOUR);
    await web.app.db('outbound_messages').where('id', smsId).update({ relayed_at: anHourAgo, updated_at: anHourAgo });
    await web.app.db('outbox_tasks').update({ relayed_at: anHourAgo });

    // Too recent to be judged lost: nothing moves.
    expect(await requeueStuck(web.app.db, new Date(), 2 * HOUR)).toEqual({ messages: 0, tasks: 0 });
    expect(await requeueStuck(web.app.db, new Date(), 30 * 60_000)).toEqual({ messages: 1, tasks: 1 });

    worker = await startTestApp({}, { keepState: true, at: web.at });
    await eventually('the requeued SMS', async () => web.at.sent.find((s) => s.to === '+919876511001'));
    await eventually('the reply to the requeued inbound SMS', async () => web.at.sent.find((s) => s.to === '+919876511002'));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(web.at.sent.map((s) => s.to).sort()).toEqual(['+919876511001', '+919876511002']);
    expect((await worker.app.db('outbound_messages').where('id', smsId).first()).status).toBe('sent');
    expect(await worker.app.db('outbox_tasks').whereNull('done_at').count({ n: '*' })).toEqual([{ n: 0 }]);

    // Finished rows are never relayed again.
    expect(await requeueStuck(worker.app.db, new Date(Date.now() + 2 * HOUR), 30 * 60_000)).toEqual({ messages: 0, tasks: 0 });
  } finally {
    await worker?.close();
    await web.close();
  }
});
