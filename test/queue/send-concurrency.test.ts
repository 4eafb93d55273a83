import { queueSms } from '../../src/domain/outbox';
import { eventually, startTestApp, type TestApp } from '../support/app';

/**
 * SMS_SEND_CONCURRENCY: how many sends a worker has in flight per provider queue. Measured at the
 * fake Africa's Talking: it leaves every request unanswered, so each send holds its slot until the
 * sender's timeout, and the requests that arrived meanwhile are the sends in flight.
 */
describe('SMS sends in flight per worker', () => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it.each([
    ['3', 3],
    ['unset', 8],
  ])('SMS_SEND_CONCURRENCY %s: %i requests at the provider at once, the rest waiting', async (setting, expected) => {
    t = await startTestApp({ AT_TIMEOUT_MS: '4000', ...(setting === 'unset' ? {} : { SMS_SEND_CONCURRENCY: setting }) });
    const app = t.app;
    t.at.respondWith(...Array.from({ length: 12 }, () => ({ hang: true as const })));
    for (let n = 0; n < 12; n++) {
      await app.db.transaction((trx) => queueSms(trx, { phone: `+9198765100${String(n).padStart(2, '0')}`, language: 'en', template: 'appointments.code_resent', params: {} }));
    }
    const at = t.at;
    await eventually('the first sends at the provider', async () => (at.requests.length >= expected ? true : undefined), 3000);
    // Well inside the 4 s timeout: no slot has come free, so no further request may have arrived.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(at.requests.length).toBe(expected);
  }, 20_000);
});
