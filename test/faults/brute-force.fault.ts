import { randomInt } from 'node:crypto';
import { startTestApp, type TestApp } from '../support/app';
import { seedGuessingCentre, type GuessingCentre } from '../support/guessing';

/**
 * Brute force (issue 7): 10,000 code guesses spread over 200 appointments (25 families of 4 and 100
 * single members) from the 5 vaccinators of one centre, every guess a real `VAX` SMS through the
 * Africa's Talking webhook, processed by the task worker and answered by SMS, on real PostgreSQL
 * and Redis. The guesses are random and never repeat at one target, as a careful attacker's would.
 *
 * Twice: once with the vaccinator and centre budgets raised to 10,000 so that every guess reaches
 * the per-appointment limit (this measures the odds of that limit), once with the default budgets
 * (this measures how many citizens the attack can lock out).
 */

const GUESSES = 10_000;
const APPOINTMENTS = 200;
const FAMILIES = 25;
const VACCINATORS = 5;
const ATTEMPTS_PER_APPOINTMENT = 5;
const CODES = 10_000;
/** Guesses in flight at once. */
const IN_FLIGHT = 8;
/** Morning at the centre (09:00 in Asia/Kolkata), whatever time the suite runs. */
const MORNING = new Date(`${new Date().toISOString().slice(0, 10)}T03:30:00Z`);

interface Figures {
  phase: string;
  made: number;
  refused: number;
  refusedBy: Record<string, number>;
  codesTested: number;
  maxGuessesAtOneCode: number;
  accepted: number;
  expectedAccepted: number;
  acceptedBound: number;
  locked: number;
  statedLocks: number;
  seconds: number;
}

const figures: Figures[] = [];

afterAll(() => {
  const rows = figures.map((f) => [
    f.phase,
    String(f.made),
    `${f.refused} (${Object.entries(f.refusedBy).map(([k, v]) => `${k} ${v}`).join(', ')})`,
    String(f.codesTested),
    String(f.maxGuessesAtOneCode),
    `${f.accepted} (expected ${f.expectedAccepted.toFixed(3)}, bound ${f.acceptedBound})`,
    `${f.locked} (stated at most ${f.statedLocks})`,
    f.seconds.toFixed(1),
  ]);
  const head = ['phase', 'guesses made', 'refused by a limit', 'codes tested', 'max guesses at one code', 'accepted without the code', 'members locked', 'seconds'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  process.stdout.write(`\nBrute force: ${GUESSES} guesses over ${APPOINTMENTS} appointments from ${VACCINATORS} vaccinators of one centre (SMS inbox path, real PostgreSQL)\n`);
  process.stdout.write([line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n') + '\n');
});

/**
 * Each guess: who sends it, at which target, which code; random codes, never twice at one target.
 * Spread: round after round over every booking. Concentrated: 50 guesses at one booking after
 * another (its reference, then its family's mobile), the way to lock the most.
 */
function planGuesses(seeded: GuessingCentre, order: 'spread' | 'concentrated'): { vaccinator: string; target: string; code: string }[] {
  const families = [...seeded.mobiles].filter(([, members]) => members.length > 1).map(([phone]) => phone);
  const tried = new Map<string, Set<string>>();
  const fresh = (target: string) => {
    const seen = tried.get(target) ?? new Set<string>();
    tried.set(target, seen);
    for (;;) {
      const code = String(randomInt(0, CODES)).padStart(4, '0');
      if (!seen.has(code)) return seen.add(code), code;
    }
  };
  return Array.from({ length: GUESSES }, (_, g) => {
    const perBooking = GUESSES / APPOINTMENTS;
    const booking = seeded.bookings[order === 'spread' ? g % APPOINTMENTS : Math.floor(g / perBooking)]!;
    const round = order === 'spread' ? Math.floor(g / APPOINTMENTS) : g % perBooking;
    // Half the guesses at a family member go to the family's mobile instead of the reference.
    const atMobile = families.includes(booking.phone) && (order === 'spread' ? round % 2 === 1 : round >= perBooking / 2);
    const target = atMobile ? booking.phone : booking.reference;
    return { vaccinator: seeded.vaccinators[g % VACCINATORS]!, target, code: fresh(target) };
  });
}

/** The attack sends thousands of SMS a minute: reply limits (a separate defence) would hide the answers counted here. */
const EVERY_REPLY_SENT = { VACCINATOR_SMS_REPLIES_PER_MINUTE: '100000', VACCINATOR_SMS_REPLIES_PER_DAY: '100000' };

async function attack(t: TestApp, seeded: GuessingCentre, order: 'spread' | 'concentrated'): Promise<number> {
  const plan = planGuesses(seeded, order);
  const started = Date.now();
  let next = 0;
  const sender = async () => {
    while (next < plan.length) {
      const g = next++;
      const guess = plan[g]!;
      const stored = await t.app.inbox.receive('africastalking', { providerMessageId: `brute-${g}`, phone: guess.vaccinator, text: `VAX ${guess.target} ${guess.code}` });
      expect(await t.app.inbox.process(stored.id)).toBe('processed');
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, sender));
  return (Date.now() - started) / 1000;
}

async function measure(t: TestApp, phase: string, seconds: number, statedLocks: number, acceptedBound: number): Promise<Figures> {
  const db = t.app.db;
  const outcomes = Object.fromEntries(
    (await db('verification_attempts').groupBy('outcome').select('outcome', db.raw('COUNT(*)::int AS n'), db.raw('COALESCE(SUM(codes_tested), 0)::int AS tested'))).map((r) => [r.outcome, r]),
  ) as Record<string, { n: number; tested: number }>;
  const count = (outcome: string) => outcomes[outcome]?.n ?? 0;
  const refusedBy = { locked: count('locked'), vaccinator: count('too_many_failures'), centre: count('centre_limit'), mobile: count('mobile_limit') };
  // Every wrong code tested, plus each accepted guess (it tested one code too).
  const codesTested = (outcomes.wrong_code?.tested ?? 0) + count('accepted');
  const [appointments] = await db('appointments').select(
    db.raw('COUNT(*) FILTER (WHERE locked_at IS NOT NULL)::int AS locked'),
    db.raw(`COUNT(*) FILTER (WHERE status = 'vaccinated')::int AS vaccinated`),
    db.raw('MAX(failed_attempts + family_attempts)::int AS "maxGuesses"'),
  );
  return {
    phase,
    made: Object.values(outcomes).reduce((sum, o) => sum + o.n, 0),
    refused: Object.values(refusedBy).reduce((a, b) => a + b, 0),
    refusedBy,
    codesTested,
    maxGuessesAtOneCode: appointments.maxGuesses,
    accepted: appointments.vaccinated,
    // A tested code matches with probability 1/10,000 (less one for each earlier miss at it).
    expectedAccepted: codesTested / CODES,
    acceptedBound,
    locked: appointments.locked,
    statedLocks,
    seconds,
  };
}

/** Checks every phase shares: each guess answered once, no code guessed more than the limit allows. */
async function expectSound(t: TestApp, f: Figures): Promise<void> {
  expect(f.made).toBe(GUESSES);
  expect(f.maxGuessesAtOneCode).toBeLessThanOrEqual(ATTEMPTS_PER_APPOINTMENT);
  const [{ n: replies }] = await t.app.db('outbound_messages').where('template', 'like', 'sms.vax_%').count({ n: '*' });
  expect(Number(replies)).toBe(GUESSES);
  expect(f.accepted).toBeLessThanOrEqual(f.acceptedBound);
  expect(f.locked).toBeLessThanOrEqual(f.statedLocks);
}

it('keeps the odds of the per-appointment limit: at most 5 guesses at any code, accepted doses within 5/10,000 per appointment', async () => {
  const budgets = String(GUESSES);
  const t = await startTestApp({ ...EVERY_REPLY_SENT, MAX_VACCINATOR_FAILURES_PER_HOUR: budgets, MAX_VACCINATOR_FAILURES_PER_DAY: budgets, MAX_CENTRE_FAILURES_PER_DAY: budgets }, { now: MORNING, worker: false });
  try {
    const seeded = await seedGuessingCentre(t.app, { bookings: APPOINTMENTS, families: FAMILIES, vaccinators: VACCINATORS });
    const seconds = await attack(t, seeded, 'spread');
    // At most 5 × 200 = 1,000 codes tested: 0.1 accepted expected. Accepted is close to Poisson(0.1),
    // so more than 3 has a probability under 5 in a million: a failure here is a real fault.
    const f = await measure(t, 'budgets raised to 10,000, spread', seconds, APPOINTMENTS, 3);
    figures.push(f);
    await expectSound(t, f);
    expect(f.codesTested).toBeLessThanOrEqual(APPOINTMENTS * ATTEMPTS_PER_APPOINTMENT);
  } finally {
    await t.close();
  }
});

it('with the default budgets, an attack aimed at locking locks at most 8 members and tests at most 43 codes', async () => {
  const t = await startTestApp(EVERY_REPLY_SENT, { now: MORNING, worker: false });
  try {
    const seeded = await seedGuessingCentre(t.app, { bookings: APPOINTMENTS, families: FAMILIES, vaccinators: VACCINATORS });
    const seconds = await attack(t, seeded, 'concentrated');
    const { MAX_CENTRE_FAILURES_PER_DAY: centre, MAX_CODE_ATTEMPTS: attempts } = t.app.config;
    // The centre's 40 wrong codes a day, plus at most 3 over from a last guess at a family of 4.
    const maxTested = centre + 3;
    // Expected accepted ≤ 43/10,000; more than 2 has a probability under 2 in 100 million.
    const f = await measure(t, 'default budgets, concentrated', seconds, Math.floor(maxTested / attempts), 2);
    figures.push(f);
    await expectSound(t, f);
    expect(f.statedLocks).toBe(8);
    expect(f.codesTested).toBeLessThanOrEqual(maxTested + f.accepted);
    // Once the centre's budget is spent, the rest of the attack is refused there.
    expect(f.refusedBy.centre).toBeGreaterThan(GUESSES / 2);
  } finally {
    await t.close();
  }
});
