import { checkCodeSms, hopFigures, inPool, printFigures, seedCallers, UssdLoad, waitForAllCodeSms } from './support/load';
import { sleep, withStack } from './support/scenario';

/**
 * PostgreSQL restarted (pg_ctl restart -m fast: every connection cut) under USSD booking load:
 * no 5xx, no booking lost or doubled, every code SMS sent exactly once. The outbox LISTEN connection
 * is reopened, so new rows are relayed at once again, not only by the 1 s poll.
 */
const BOOKINGS = 200;
const CALLERS = 6;

it('PostgreSQL restarted under load: 0 5xx, 0 lost or doubled bookings or SMS', async () => {
  await withStack({ redisPersistence: 'none' }, async ({ pg, product, db, at, databaseUrl }) => {
    const phones = await seedCallers(databaseUrl, '9821', BOOKINGS);
    const load = new UssdLoad(product.baseUrl);
    const toldBooked: string[] = [];
    const outcomes = { booked: 0, ended: 0, 'no answer': 0 };
    const bookings = inPool(phones, CALLERS, async (phone) => {
      const outcome = await load.book(phone, 0);
      outcomes[outcome]++;
      if (outcome === 'booked') toldBooked.push(phone);
    });
    await sleep(3000);
    const restartAt = Date.now();
    await pg.restart();
    const restartMs = Date.now() - restartAt;
    await bookings;

    const { doneAt } = await waitForAllCodeSms(db, at, 60_000);
    await sleep(3000);
    const sms = await checkCodeSms(db, at);
    const bookedPhones = new Set(
      (await db('appointments').join('beneficiaries', 'beneficiaries.id', 'appointments.beneficiary_id').join('accounts', 'accounts.id', 'beneficiaries.account_id').select('accounts.phone')).map(
        (r: { phone: string }) => r.phone,
      ),
    );
    const lost = toldBooked.filter((phone) => !bookedPhones.has(phone)).length;
    const [doubled] = await db('appointments').select(db.raw('count(*) - count(distinct beneficiary_id) as n'));
    const hops = hopFigures(load.hops);
    const listenerBack = product.logs.some((line) => line.includes('outbox listener failed'));
    printFigures(`PostgreSQL restarted (fast) under ${BOOKINGS} USSD bookings (${CALLERS} callers)`, {
      'restart took (ms)': restartMs,
      'bookings completed (END Booked)': outcomes.booked,
      'bookings ended early (END screen)': outcomes.ended,
      'appointments committed': sms.appointments,
      'told booked, no appointment (lost)': lost,
      'second appointment for a member (doubled)': Number((doubled as { n: string }).n),
      'USSD hops': hops.hops,
      '5xx answers': hops.http5xx,
      'hops unanswered': hops.noAnswer,
      'slowest hop (ms)': hops.maxMs,
      'code SMS sent once': sms.once,
      'code SMS missing': sms.missing,
      'code SMS doubled': sms.doubled,
      'all code SMS sent, s after restart': doneAt ? ((doneAt - restartAt) / 1000).toFixed(1) : 'not within 60 s',
      'listener noticed the cut': listenerBack ? 'yes' : 'no',
    });

    expect(hops.http5xx).toBe(0);
    expect(hops.noAnswer).toBe(0);
    expect(lost).toBe(0);
    expect(Number((doubled as { n: string }).n)).toBe(0);
    expect(sms).toMatchObject({ missing: 0, doubled: 0, stray: 0 });
    expect(sms.appointments).toBeGreaterThan(BOOKINGS / 2);
  });
});
