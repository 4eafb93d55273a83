import { postAdminLogin, TEST_ADMIN_TOKEN } from '../support/app';
import { hopFigures, inPool, postIncomingSms, printFigures, seedCallers, UssdLoad, waitForAllCodeSms } from './support/load';
import { sleep, withStack, type Stack } from './support/scenario';
import { waitFor } from './support/services';

/**
 * Redis lost for 10 s under USSD load and 300 bookings, first stopped (a crash of a Redis without
 * persistence: every queued job and schedule is gone) then frozen (SIGSTOP: connections open, no
 * answers). No webhook answers 5xx, every hop is answered within 6 s (an END screen at worst), and
 * every committed booking's code SMS reaches the provider exactly once within 90 s of Redis returning.
 */
const BOOKINGS = 300;
const CALLERS = 6;
const OUTAGE_MS = 10_000;
const SMS_WITHIN_MS = 90_000;
/** Slower than bookings arrive, so the SMS queue holds a backlog when Redis goes (as under real load). */
const env = { SMS_SEND_RATE_PER_SECOND: '10' };
/** Redis goes once this many bookings are done. */
const OUTAGE_AFTER_BOOKINGS = 120;
const INCOMING_SMS = 10;

async function outage(stack: Stack, kind: 'stopped' | 'frozen', series: string) {
  const { redis, product, db, at } = stack;
  const phones = await seedCallers(stack.databaseUrl, series, BOOKINGS);
  const load = new UssdLoad(product.baseUrl);
  const outcomes = { booked: 0, ended: 0, 'no answer': 0 };
  let done = 0;
  const bookings = inPool(phones, CALLERS, async (phone) => {
    outcomes[await load.book(phone, 0)]++;
    done++;
  });
  // Callers who only open the menu, all along.
  let browsing = true;
  const browsers = inPool([0, 1], 2, async (n) => {
    for (let i = 0; browsing && i < 2000; i++) {
      await load.hop(`ATUid_browse_${n}_${i}`, `+9198000000${n}${n}`, '');
      await sleep(100);
    }
  });

  await waitFor('the first bookings', async () => done >= OUTAGE_AFTER_BOOKINGS, 120_000);
  const backlogAtOutage = await unsentRelayed(stack);
  const down = Date.now();
  if (kind === 'stopped') await redis.kill();
  else redis.freeze();
  // Incoming SMS need only PostgreSQL to be stored and answered 200; their replies follow Redis's return.
  const smsSenders = Array.from({ length: INCOMING_SMS }, (_, i) => `+9197000001${String(i).padStart(2, '0')}`);
  const smsStatuses: number[] = [];
  for (const [i, from] of smsSenders.entries()) {
    smsStatuses.push(await postIncomingSms(product.baseUrl, from, 'HELP', `ATXid_fault_${kind}_${i}`));
    await sleep(OUTAGE_MS / INCOMING_SMS / 2);
  }
  // The admin login counts attempts in Redis: without it, the form refuses rather than allow unlimited guesses.
  const loginDuringOutage = await adminLogin(product.baseUrl);
  await sleep(Math.max(0, down + OUTAGE_MS - Date.now()));
  if (kind === 'stopped') await redis.start();
  else redis.thaw();
  const back = Date.now();
  const strandedAtReturn = kind === 'stopped' ? await unsentRelayed(stack, new Date(down)) : 0;
  await bookings;
  browsing = false;
  await browsers;
  const loginAfterOutage = await adminLogin(product.baseUrl);

  const { check, doneAt } = await waitForAllCodeSms(db, at, SMS_WITHIN_MS - (Date.now() - back));
  await waitFor('a reply to every incoming SMS', async () => smsSenders.every((from) => at.sent.some((s) => s.to === from)), 30_000).catch(() => undefined);
  await sleep(3000); // a second copy, if any, has time to arrive
  const final = await waitForAllCodeSms(db, at, 0);
  const replies = smsSenders.map((from) => at.sent.filter((s) => s.to === from).length);
  const hops = hopFigures(load.hops);
  const duringOutage = hopFigures(load.hops.filter((h) => h.at >= down && h.at <= back));
  const redisErrorLines = product.logs.filter((line) => line.includes('"msg":"redis error"')).length;
  const unstructured = product.logs.filter((line) => line.includes('[ioredis]')).length;
  printFigures(`Redis ${kind} ${OUTAGE_MS / 1000} s under USSD load + ${BOOKINGS} bookings (${CALLERS} callers, SMS at ${env.SMS_SEND_RATE_PER_SECOND}/s)`, {
    'code SMS relayed, unsent when Redis went': backlogAtOutage,
    'of those, still unsent when Redis came back': kind === 'stopped' ? strandedAtReturn : 'n/a (data kept)',
    'bookings completed (END Booked)': outcomes.booked,
    'bookings ended early (END screen)': outcomes.ended,
    'bookings with a hop unanswered': outcomes['no answer'],
    'appointments committed': final.check.appointments,
    'USSD hops': hops.hops,
    'hops during the outage': duringOutage.hops,
    'END screens (not booked)': hops.endScreens,
    '5xx answers': hops.http5xx,
    'hops unanswered': hops.noAnswer,
    'hops over 6 s': hops.over6s,
    'slowest hop (ms)': hops.maxMs,
    'median hop (ms)': hops.p50Ms,
    'code SMS sent once': final.check.once,
    'code SMS missing': final.check.missing,
    'code SMS doubled': final.check.doubled,
    'all code SMS sent, s after Redis back': doneAt ? ((doneAt - back) / 1000).toFixed(1) : `not within ${SMS_WITHIN_MS / 1000} s`,
    'incoming SMS during the outage': INCOMING_SMS,
    'incoming SMS answered 200': smsStatuses.filter((s) => s === 200).length,
    'replies sent once / missing / doubled': `${replies.filter((n) => n === 1).length} / ${replies.filter((n) => n === 0).length} / ${replies.filter((n) => n > 1).length}`,
    'admin login during / after the outage (HTTP status)': `${loginDuringOutage} / ${loginAfterOutage}`,
    'structured redis error lines': redisErrorLines,
    'unstructured [ioredis] lines': unstructured,
  });

  expect(hops.http5xx).toBe(0);
  expect(hops.noAnswer).toBe(0);
  expect(hops.over6s).toBe(0);
  expect(check.missing).toBe(0);
  expect(final.check).toMatchObject({ missing: 0, doubled: 0, stray: 0 });
  expect(final.check.appointments).toBeGreaterThan(BOOKINGS / 2);
  expect(unstructured).toBe(0);
  expect(smsStatuses).toEqual(smsSenders.map(() => 200));
  expect(replies).toEqual(smsSenders.map(() => 1));
  expect([loginDuringOutage, loginAfterOutage]).toEqual([503, 303]);
}

/** The right admin token at the login form: 303 (logged in), 503 (attempts cannot be counted), 0 (no answer). */
async function adminLogin(baseUrl: string): Promise<number> {
  try {
    const response = await postAdminLogin(baseUrl, { token: TEST_ADMIN_TOKEN, signal: AbortSignal.timeout(8000) });
    await response.text();
    return response.status;
  } catch {
    return 0;
  }
}

it('Redis stopped 10 s (no persistence): no 5xx, every hop answered within 6 s, every code SMS once within 90 s', async () => {
  await withStack({ redisPersistence: 'none', env }, (stack) => outage(stack, 'stopped', '9811'));
});

it('Redis frozen (SIGSTOP) 10 s: the same', async () => {
  await withStack({ redisPersistence: 'none', env }, (stack) => outage(stack, 'frozen', '9812'));
});

/** Relayed (before `before`, if given) and not yet sent. */
async function unsentRelayed({ db }: Stack, before?: Date): Promise<number> {
  const query = db('outbound_messages').whereNotNull('relayed_at').whereIn('status', ['pending', 'sending', 'retrying']);
  if (before) query.andWhere('relayed_at', '<', before);
  const [row] = await query.count({ n: '*' });
  return Number(row!.n);
}
