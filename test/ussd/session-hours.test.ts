import { eventually, startTestApp, type TestApp } from '../support/app';
import { pan, registration, seedCentre } from '../support/programme';

/**
 * A session runs from its start to its end time at the centre (India: UTC+05:30). Booking closes
 * at the end time, on USSD and SMS alike; bookings left open are closed by the no-show sweep an
 * hour after it, not at midnight; the citizen's SMS name the hours.
 */
let t: TestApp;
let people = 0;

const DAY = '2027-03-10';
/** An instant given as the time of day in India on DAY. */
const ist = (time: string) => new Date(`${DAY}T${time}:00+05:30`);

beforeAll(async () => {
  t = await startTestApp({ SMS_REPLIES_PER_MINUTE: '100' }, { now: ist('10:00') });
});
afterAll(async () => {
  await t.close();
});
beforeEach(() => {
  t.clock.set(ist('10:00'));
  t.at.reset();
});

function newPhone(): string {
  return `+9198555${String(++people).padStart(5, '0')}`;
}

/** A centre whose one session is today, 09:00-17:00. */
async function dayCentre(pincode: string) {
  return seedCentre(t.app, { name: `Hours Centre ${pincode}`, pincode, daysFromToday: 0, startTime: '09:00', endTime: '17:00' });
}

const sentTo = (phone: string) => t.at.sent.filter((s) => s.to === phone).map((s) => s.message);

async function reply(phone: string, text: string): Promise<string> {
  const before = sentTo(phone).length;
  expect((await t.incomingSms(phone, text)).status).toBe(200);
  return eventually(`a reply to "${text}"`, async () => sentTo(phone)[before]);
}

/** Registers and books today's session over USSD; returns the booking and its code. */
async function bookOverUssd(pincode: string, name: string) {
  const phone = newPhone();
  const screens = await t.converse(`ATUid_hours_${phone}`, phone, [...registration(name, pan(7000 + people)), pincode, '1', '1', '1']);
  expect(screens.at(-1)).toMatch(/^END Booked:/);
  const sms = await eventually('the code SMS', async () => sentTo(phone)[0]);
  const appointment = await t.app.db('appointments as ap').join('beneficiaries as b', 'b.id', 'ap.beneficiary_id').where('b.name', name).first('ap.*');
  return { phone, screen: screens.at(-1)!, sms, code: /security code is (\d{4})/.exec(sms)![1]!, appointment };
}

describe('booking closes at the session end time', () => {
  it('books up to the end time, and the confirmation and code SMS name the hours', async () => {
    await dayCentre('600001');
    t.clock.set(ist('16:59'));
    const { screen, sms, appointment } = await bookOverUssd('600001', 'Meena Iyer');
    expect(screen).toBe(`END Booked: Meena Iyer, Hours Centre 600001, Wed 10 Mar 09:00-17:00. Ref ${appointment.reference}. Code sent by SMS.`);
    expect(sms).toMatch(new RegExp(`^Tika: booked Meena Iyer, Hours Centre 600001, 10 Mar 2027 09:00-17:00\\. Ref ${appointment.reference}\\. Your security code is \\d{4}\\.`));
  });

  it('on USSD: a session listed before the end is refused when confirmed after it, and no longer listed', async () => {
    const { session } = await dayCentre('600002');
    const phone = newPhone();
    const answers = [...registration('Kavya Rao', pan(7100)), '600002', '1', '1'];
    t.clock.set(ist('16:58'));
    expect((await t.converse('ATUid_hours_late', phone, answers)).at(-1)).toMatch(/^CON Book Kavya Rao/);

    t.clock.set(ist('17:00'));
    const late = await t.ussd('ATUid_hours_late', phone, [...answers, '1'].join('*'));
    expect(late.body).toBe('CON Sorry, that session has ended: booking is closed.\n1 Choose another date\n2 Choose another centre\n0 Back');
    expect(await t.app.db('appointments').where('session_id', session.id)).toHaveLength(0);
    expect((await t.app.db('vaccination_sessions').where('id', session.id).first()).booked).toBe(0);

    const other = newPhone();
    const screens = await t.converse('ATUid_hours_after', other, [...registration('Ravi Rao', pan(7101)), '600002']);
    expect(screens.at(-1)).toContain('No vaccination sessions near 600002');
  });

  it('on SMS: refused after the end time with its reason, and no longer listed', async () => {
    const { session } = await dayCentre('600003');
    const phone = newPhone();
    await t.converse(`ATUid_hours_sms`, phone, registration('Asha Pillai', pan(7200)));
    t.clock.set(ist('16:50'));
    expect(await reply(phone, 'BOOK 600003')).toBe('Tika: free seats near 600003. Reply with the number:\n1 Hours Centre 600003 Wed 10 Mar Covishield 18+: 10 seats');
    expect(await reply(phone, '1')).toMatch(/^Tika: book Asha Pillai at Hours Centre 600003/);

    t.clock.set(ist('17:05'));
    expect(await reply(phone, 'YES')).toBe('Tika: sorry, that session has ended: booking is closed.\n1 Choose another date\n0 Back');
    expect(await t.app.db('appointments').where('session_id', session.id)).toHaveLength(0);
    expect(await reply(phone, 'BOOK 600003')).toMatch(/^Tika: no vaccination sessions near 600003/);
  });
});

describe('the no-show sweep', () => {
  it('closes a booking an hour (NO_SHOW_GRACE_MS) after its session ends, not before; until then the vaccinator can still confirm', async () => {
    const { centre, session } = await dayCentre('600004');
    const statuses = async () => (await t.app.db('appointments').where('session_id', session.id).orderBy('id').select('status')).map((row) => row.status);
    const vaccinator = await t.app.programme.createVaccinator({ phone: '+919700055501', name: 'Nurse Hours', centreId: centre.id });
    const late = await bookOverUssd('600004', 'Late Comer');
    const absent = await bookOverUssd('600004', 'Never Came');

    t.clock.set(ist('17:59'));
    await t.app.vaccination.markNoShows();
    expect(await statuses()).toEqual(['booked', 'booked']);
    expect(await reply(vaccinator.phone, `VAX ${late.appointment.reference} ${late.code}`)).toMatch(/^Tika: ACCEPTED\. Late Comer/);
    expect((await t.app.db('appointments').where('id', absent.appointment.id).first()).status).toBe('booked');

    t.clock.set(ist('18:00'));
    expect(await t.app.vaccination.markNoShows()).toBeGreaterThanOrEqual(1);
    expect(await statuses()).toEqual(['vaccinated', 'no_show']);
    expect(await t.app.db('appointments').where('id', absent.appointment.id).first()).toMatchObject({ status: 'no_show', code_cipher: null });
    expect((await t.app.db('appointments').where('id', late.appointment.id).first()).status).toBe('vaccinated');
  });
});
