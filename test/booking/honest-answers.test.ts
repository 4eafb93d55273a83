import { CodeVault } from '../../src/domain/codes';
import { addDays, dayIn, shortDay } from '../../src/domain/dates';
import { eventually, startTestApp, type TestApp } from '../support/app';
import { pan, seedCentre } from '../support/programme';

/**
 * Every refusal names its real reason, on USSD and by SMS: a member too young for every session at
 * the PIN code, one whose dose 2 is not yet due, one fully vaccinated, a PIN code with no sessions,
 * and one whose seats are all taken. Each case is one row, run through both channels.
 */
let t: TestApp;
let people = 0;
let mobiles = 0;
const thisYear = () => t.app.clock.now().getUTCFullYear();
const newMobile = () => `+9198300${String(++mobiles).padStart(5, '0')}`;

beforeAll(async () => {
  t = await startTestApp({ SMS_REPLIES_PER_MINUTE: '100' });
});
afterAll(async () => {
  await t.close();
});
beforeEach(() => t.at.reset());

async function registerMember(phone: string, name: string, birthYear = 1985): Promise<number> {
  const result = await t.app.booking.register(phone, { name, birthYear, gender: 'F', idType: 'PAN', idNumber: pan(70_000 + ++people) });
  if (result.kind !== 'registered') throw new Error(`could not register ${name}: ${result.kind}`);
  return result.member.id;
}

/** Records a dose the real way: booked today at a centre of its own, confirmed by its vaccinator with the code. */
async function recordDose(phone: string, memberId: number, vaccine: string, dose: number): Promise<void> {
  const n = ++people;
  const { centre, session } = await seedCentre(t.app, { name: `Dose Centre ${n}`, pincode: String(690_000 + n), daysFromToday: 0, vaccine, dose });
  const vaccinatorPhone = `+91970${String(n).padStart(7, '0')}`;
  await t.app.programme.createVaccinator({ phone: vaccinatorPhone, name: `Nurse ${n}`, centreId: centre.id });
  const booked = await t.app.booking.book(phone, memberId, session.id);
  if (booked.kind !== 'booked') throw new Error(`could not book dose ${dose}: ${booked.kind}`);
  const row = await t.app.db('appointments').where('id', booked.appointment.id).first('code_cipher');
  const code = new CodeVault(t.app.config.CODE_SECRET).decrypt(row.code_cipher);
  const verified = await t.app.vaccination.verify({ vaccinatorPhone, target: { kind: 'reference', reference: booked.appointment.reference }, code, channel: 'sms' });
  expect(verified.kind).toBe('accepted');
  // Its SMS are finished before anything else is asked, so they are never taken for a reply. The code
  // SMS may rightly never go: a worker that takes it after the dose was recorded skips it.
  await eventually('the certificate SMS sent and the code SMS sent or skipped', async () => {
    const unfinished = await t.app.db('outbound_messages').where({ phone }).whereIn('status', ['pending', 'sending', 'retrying']).first('id');
    return !unfinished && t.at.sent.some((s) => s.to === phone && s.message.includes(`(dose ${dose})`)) ? true : undefined;
  });
}

/** Runs `during` with the clock `days` ago, then puts it back. */
async function daysAgo(days: number, during: () => Promise<void>): Promise<void> {
  const now = t.app.clock.now();
  t.clock.set(new Date(now.getTime() - days * 86_400_000));
  try {
    await during();
  } finally {
    t.clock.set(now);
  }
}

interface Case {
  reason: string;
  /** Seeds the PIN code and the member; returns what the screens must say. */
  arrange(pincode: string, phone: string): Promise<{ ussd: string; sms: string; ussdPath?: string[] }>;
}

const cases: Case[] = [
  {
    reason: 'too young for every session at the PIN code (700 seats free)',
    async arrange(pincode, phone) {
      await seedCentre(t.app, { name: `Over 45 ${pincode}`, pincode, minAge: 45, capacity: 700 });
      await registerMember(phone, 'Young Adult', thisYear() - 20);
      return {
        ussd: `CON Young Adult: sessions near ${pincode} are for ages 45+.\n1 Try another PIN code\n0 Back`,
        sms: `Tika: Young Adult is too young for the sessions near ${pincode}: they are for ages 45+. Send BOOK with another PIN code.`,
      };
    },
  },
  {
    reason: 'dose 2 not yet due (700 seats free for dose 2)',
    async arrange(pincode, phone) {
      const memberId = await registerMember(phone, 'Dose One');
      await recordDose(phone, memberId, 'Covishield', 1);
      await seedCentre(t.app, { name: `Dose Two ${pincode}`, pincode, dose: 2, daysFromToday: 10, capacity: 700 });
      const due = shortDay(addDays(dayIn('Asia/Kolkata', t.app.clock.now()), 84));
      return {
        ussdPath: ['1'],
        ussd: `CON Dose One: Covishield dose 2 is due from ${due}.\n1 Try another PIN code\n0 Back`,
        sms: `Tika: Dose One can have dose 2 of Covishield from ${due} on. No session near ${pincode} from that day yet. Try again later.`,
      };
    },
  },
  {
    reason: 'fully vaccinated',
    async arrange(pincode, phone) {
      await seedCentre(t.app, { name: `Any ${pincode}`, pincode, capacity: 700 });
      const memberId = await registerMember(phone, 'Both Doses');
      await daysAgo(100, () => recordDose(phone, memberId, 'Covaxin', 1));
      await recordDose(phone, memberId, 'Covaxin', 2);
      return { ussd: 'END Both Doses has had all doses. Thank you!', sms: 'Tika: Both Doses has had all doses. Thank you!' };
    },
  },
  {
    reason: 'no sessions at the PIN code',
    async arrange(pincode, phone) {
      await seedCentre(t.app, { name: `Too Far ${pincode}`, pincode, daysFromToday: 40 });
      await registerMember(phone, 'Nobody Near');
      return {
        ussd: `CON No vaccination sessions near ${pincode} in the coming days.\n1 Try another PIN code\n0 Back`,
        sms: `Tika: no vaccination sessions near ${pincode} in the coming days. Send BOOK with another PIN code, or try again later.`,
      };
    },
  },
  {
    reason: 'all seats taken',
    async arrange(pincode, phone) {
      const { session } = await seedCentre(t.app, { name: `Full ${pincode}`, pincode, capacity: 1 });
      const other = newMobile();
      const booked = await t.app.booking.book(other, await registerMember(other, 'Early Bird'), session.id);
      expect(booked.kind).toBe('booked');
      await registerMember(phone, 'Late Comer');
      return {
        ussd: `CON No free seats near ${pincode} in the coming days.\n1 Try another PIN code\n0 Back`,
        sms: `Tika: no free seats near ${pincode} in the coming days. Send BOOK with another PIN code, or try again later.`,
      };
    },
  },
];

describe.each(cases.map((c, i) => [c.reason, c, i] as const))('refused: %s', (_reason, c, i) => {
  it('says so on USSD, and books nothing', async () => {
    const pincode = String(680_000 + i * 10);
    const phone = newMobile();
    const expected = await c.arrange(pincode, phone);
    const screens = await t.converse(`ATUid_reason_${i}_${mobiles}`, phone, ['1', '1', ...(expected.ussdPath ?? []), pincode]);
    const shown = expected.ussd.startsWith('END') ? screens.find((s) => s.startsWith('END')) : screens.at(-1);
    expect(shown).toBe(expected.ussd);
    expect(await liveBookings(phone)).toBe(0);
  });

  it('says so by SMS BOOK, and books nothing', async () => {
    const pincode = String(680_000 + i * 10 + 1);
    const phone = newMobile();
    const expected = await c.arrange(pincode, phone);
    t.at.reset();
    await t.incomingSms(phone, `BOOK ${pincode}`);
    const reply = await eventually('the reply', async () => t.at.sent.find((s) => s.to === phone)?.message);
    expect(reply).toBe(expected.sms);
    expect(await liveBookings(phone)).toBe(0);
  });
});

async function liveBookings(phone: string): Promise<number> {
  return (await t.app.booking.liveAppointments(phone)).length;
}

describe('registration of someone too young for any session', () => {
  it('is refused once the year of birth is given, before a family slot is used: no member row', async () => {
    await seedCentre(t.app, { name: 'Adult Centre', pincode: '681001', minAge: 18, capacity: 700 });
    const phone = newMobile();
    const screens = await t.converse(`ATUid_child_${mobiles}`, phone, ['1', '1', 'Little One', '2015']);
    expect(screens.at(-1)).toBe('END Vaccination is for people aged 18 and over. No one was registered.');
    expect(await t.app.booking.members(phone)).toEqual([]);
    // The domain refuses too, whatever channel asks.
    const direct = await t.app.booking.register(phone, { name: 'Little One', birthYear: 2015, gender: 'M', idType: 'PAN', idNumber: pan(79_999) });
    expect(direct).toEqual({ kind: 'too_young', minAge: 18 });
    expect(await t.app.db('beneficiaries').where('name', 'Little One')).toEqual([]);
  });

  it('follows a session an administrator opened for younger people', async () => {
    await seedCentre(t.app, { name: 'Teen Centre', pincode: '681002', minAge: 12, capacity: 50 });
    const phone = newMobile();
    const teen = await t.app.booking.register(phone, { name: 'Teen Ager', birthYear: thisYear() - 13, gender: 'F', idType: 'PAN', idNumber: pan(79_998) });
    expect(teen.kind).toBe('registered');
    const child = await t.app.booking.register(phone, { name: 'Small Child', birthYear: thisYear() - 11, gender: 'F', idType: 'PAN', idNumber: pan(79_997) });
    expect(child).toEqual({ kind: 'too_young', minAge: 12 });
    await t.app.db('vaccination_sessions').where('min_age', 12).delete();
  });
});

describe('choices a person can tell apart', () => {
  it('shows the age group of each session: two on one day at one centre, 18+ and 45+, on USSD and by SMS', async () => {
    const { centre, session } = await seedCentre(t.app, { name: 'Two Groups', pincode: '682001', vaccine: 'Covaxin', minAge: 18, capacity: 60 });
    await t.app.programme.createSession({ centreId: centre.id, date: session.date, vaccine: 'Covaxin', minAge: 45, dose: 1, capacity: 60 });
    const phone = newMobile();
    await registerMember(phone, 'Old Enough', thisYear() - 50);
    const day = shortDay(session.date);

    const screens = await t.converse(`ATUid_groups_${mobiles}`, phone, ['1', '1', '682001', '1']);
    expect(screens.at(-1)).toBe(`CON Choose a date:\n1 ${day} Covaxin 18+ (60)\n2 ${day} Covaxin 45+ (60)\n0 Back`);

    t.at.reset();
    await t.incomingSms(phone, 'BOOK 682001');
    const reply = await eventually('the list', async () => t.at.sent.find((s) => s.to === phone)?.message);
    expect(reply).toBe(`Tika: free seats near 682001. Reply with the number:\n1 Two Groups ${day} Covaxin 18+: 60 seats\n2 Two Groups ${day} Covaxin 45+: 60 seats`);
  });
});

describe('the code sent again, "3 a day"', () => {
  it('counts per calendar day at the centre: three before local midnight, three more just after', async () => {
    const { session } = await seedCentre(t.app, { name: 'Midnight Centre', pincode: '683001', daysFromToday: 3 });
    const phone = newMobile();
    const booked = await t.app.booking.book(phone, await registerMember(phone, 'Night Owl'), session.id);
    if (booked.kind !== 'booked') throw new Error(booked.kind);
    const now = t.app.clock.now();
    // 23:50 in India (UTC+5:30) today, then 00:10 the next day there: 20 minutes apart.
    const beforeMidnight = new Date(`${dayIn('Asia/Kolkata', now)}T18:20:00Z`);
    const afterMidnight = new Date(beforeMidnight.getTime() + 20 * 60_000);
    try {
      t.clock.set(beforeMidnight);
      for (let i = 0; i < 3; i++) expect(await t.app.booking.resendCode(phone, booked.appointment.id)).toEqual({ kind: 'sent' });
      // The outbox stamps rows with the database's time: give them the instants the clock says they were sent at.
      await t.app.db('outbound_messages').where({ appointment_id: booked.appointment.id, template: 'sms.code_resent' }).update({ created_at: beforeMidnight });
      expect(await t.app.booking.resendCode(phone, booked.appointment.id)).toEqual({ kind: 'limit' });

      t.clock.set(afterMidnight);
      for (let i = 0; i < 3; i++) {
        expect(await t.app.booking.resendCode(phone, booked.appointment.id)).toEqual({ kind: 'sent' });
        await t.app.db('outbound_messages').where({ appointment_id: booked.appointment.id, template: 'sms.code_resent' }).whereNot('created_at', beforeMidnight).update({ created_at: afterMidnight });
      }
      expect(await t.app.booking.resendCode(phone, booked.appointment.id)).toEqual({ kind: 'limit' });
    } finally {
      t.clock.set(now);
    }
  });
});
