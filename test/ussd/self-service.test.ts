import { CodeVault } from '../../src/domain/codes';
import { shortDay } from '../../src/domain/dates';
import { verhoeffValid, normaliseIdNumber } from '../../src/domain/identity';
import { eventually, startTestApp, type TestApp } from '../support/app';
import { pan, registration, seedCentre } from '../support/programme';

/** Citizen self-service over USSD, exactly as Africa's Talking sends it, on the real database and Redis. */
let t: TestApp;
let next = 0;
const uniquePhone = () => `+9195${String(++next).padStart(8, '0')}`;

beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t.close();
});
beforeEach(() => t.at.reset());

async function codeSentTo(phone: string, after = 0): Promise<string> {
  const sms = await eventually(`a code SMS to ${phone}`, async () => t.at.sent.filter((s) => s.to === phone && /security code is \d{4}/.test(s.message))[after]);
  return /security code is (\d{4})/.exec(sms.message)![1]!;
}

async function bookOne(pincode: string, options: { capacity?: number; name?: string } = {}) {
  const { centre, session } = await seedCentre(t.app, { name: options.name ?? `Centre ${pincode}`, pincode, capacity: options.capacity ?? 10 });
  const phone = uniquePhone();
  const screens = await t.converse(`ATUid_${phone}`, phone, [...registration('Asha Devi', pan(20_000 + next)), pincode, '1', '1', '1']);
  expect(screens.at(-1)).toMatch(/^END Booked:/);
  const appointment = await t.app.db('appointments').orderBy('id', 'desc').first();
  return { centre, session, phone, appointment };
}

describe('family members', () => {
  it('registers up to 4 members on one mobile and refuses the fifth with a clear screen', async () => {
    const phone = uniquePhone();
    await t.converse(`ATUid_fam0_${next}`, phone, [...registration('Member One', pan(30_000 + next)), '110011']);
    for (let i = 2; i <= 4; i++) {
      // Each earlier dial stopped part-way, so the caller is first offered to continue it: "2 Start again".
      const screens = await t.converse(`ATUid_fam${i}_${next}`, phone, ['2', '1', String(i), `Member ${['One', 'Two', 'Three', 'Four'][i - 1]}`, '1990', '1', '2', pan(30_100 + next * 10 + i)]);
      expect(screens[0]).toMatch(/^CON Your last session was cut off\./);
      expect(screens[2]).toContain(`${i} New member`);
      expect(screens.at(-1)).toBe('CON Enter your 6-digit PIN code:');
    }
    const members = await t.app.booking.members(phone);
    expect(members).toHaveLength(4);
    // "New member" stays on the list, so a fifth is not a silent "Invalid choice": it answers with the limit.
    const list = await t.converse(`ATUid_fam5_${next}`, phone, ['2', '1', '5']);
    expect(list[2]).toMatch(/^CON Book for:\n1 Member One\n2 Member Two\n3 Member Three\n4 Member Four\n5 New member/);
    expect(list[3]).toBe('END This mobile already has 4 members, the most allowed. Use another mobile to register more.');
    // Racing past the list (an old screen) still cannot add a fifth.
    const refused = await t.app.booking.register(phone, { name: 'Member Five', birthYear: 1990, gender: 'F', idType: 'PAN', idNumber: pan(39_999) });
    expect(refused).toEqual({ kind: 'member_limit' });
    expect(await t.app.booking.members(phone)).toHaveLength(4);
  });

  it('says so when a fifth member is chosen from a screen shown before the fourth was added', async () => {
    const phone = uniquePhone();
    for (let i = 0; i < 3; i++) {
      await t.app.booking.register(phone, { name: `Person ${'ABC'[i]}`, birthYear: 1980, gender: 'M', idType: 'PAN', idNumber: pan(40_000 + next * 10 + i) });
    }
    const screens = await t.converse(`ATUid_five_${next}`, phone, ['1']);
    expect(screens[1]).toContain('4 New member');
    await t.app.booking.register(phone, { name: 'Person D', birthYear: 1980, gender: 'M', idType: 'PAN', idNumber: pan(40_000 + next * 10 + 3) });
    const refused = await t.ussd(`ATUid_five_${next}`, phone, '1*4');
    expect(refused.body).toBe('END This mobile already has 4 members, the most allowed. Use another mobile to register more.');
  });
});

describe('my appointments', () => {
  it('cancels a booking and frees its seat at once', async () => {
    const { session, phone, appointment } = await bookOne('120001', { capacity: 1 });
    expect((await t.app.db('vaccination_sessions').where('id', session.id).first()).booked).toBe(1);
    const code = await codeSentTo(phone);
    const screens = await t.converse(`ATUid_cancel_${next}`, phone, ['2', '1', '1', '3', '1']);
    expect(screens[3]).toMatch(/^CON Asha Devi .+\n1 New code by SMS\n2 Change date\n3 Cancel booking/);
    expect(screens[4]).toMatch(/^CON Cancel Asha Devi on .+\?\n1 Yes, cancel\n2 No/);
    expect(screens[5]).toBe('END Cancelled. The seat is free for someone else.');
    expect((await t.app.db('vaccination_sessions').where('id', session.id).first()).booked).toBe(0);
    expect(await t.app.db('appointments').where('id', appointment.id).first()).toMatchObject({ status: 'cancelled', code_cipher: null });
    const notice = await eventually('the cancellation SMS', async () => t.at.sent.find((s) => s.to === phone && s.message.includes('cancelled')));
    expect(notice.message).toContain(appointment.reference);
    expect(notice.message).not.toContain(code);

    // The freed seat can be booked by someone else straight away.
    const other = uniquePhone();
    const booked = await t.converse(`ATUid_after_cancel_${next}`, other, [...registration('Ravi Kumar', pan(50_000 + next)), '120001', '1', '1', '1']);
    expect(booked.at(-1)).toMatch(/^END Booked: Ravi Kumar/);
  });

  it('reschedules to another date at the same centre, keeping the code', async () => {
    const { centre, session, phone, appointment } = await bookOne('120002');
    const code = await codeSentTo(phone);
    const later = await t.app.programme.createSession({ centreId: centre.id, date: addDaysFrom(session.date, 2), vaccine: 'Covishield', minAge: 18, dose: 1, capacity: 5 });
    const screens = await t.converse(`ATUid_move_${next}`, phone, ['2', '1', '1', '2', '1', '1']);
    expect(screens[4]).toMatch(/^CON New date:\n1 .+ Covishield 18\+ \(5\)/);
    expect(screens[5]).toMatch(/^CON Move Asha Devi to .+\?\n1 Confirm\n2 Cancel/);
    expect(screens[6]).toMatch(/^END Moved: Asha Devi, Centre 120002, .+\. Ref [A-Z2-9]{8}\. Code unchanged\.$/);
    expect((await t.app.db('vaccination_sessions').where('id', session.id).first()).booked).toBe(0);
    expect((await t.app.db('vaccination_sessions').where('id', later.id).first()).booked).toBe(1);
    const moved = await t.app.db('appointments').where('id', appointment.id).first();
    expect(moved.session_id).toBe(later.id);
    expect(new CodeVault(t.app.config.CODE_SECRET).matches(moved.reference, code, moved.code_hmac)).toBe(true);
    await eventually('the reschedule SMS', async () => t.at.sent.find((s) => s.to === phone && s.message.includes('moved to')));
  });

  it('keeps both seat counts exact when 30 people reschedule between two sessions at once', async () => {
    const { centre } = await seedCentre(t.app, { name: 'Busy Centre', pincode: '120003', capacity: 20 });
    const sessions = await t.app.db('vaccination_sessions').where('centre_id', centre.id);
    const a = sessions[0]!;
    const b = await t.app.programme.createSession({ centreId: centre.id, date: addDaysFrom(a.date, 1), vaccine: 'Covishield', minAge: 18, dose: 1, capacity: 20 });
    // 15 people booked in each session; 15 move a→b and 15 move b→a, all at once.
    const people: { phone: string; appointmentId: number; from: number; to: number }[] = [];
    for (let i = 0; i < 30; i++) {
      const phone = uniquePhone();
      const registered = await t.app.booking.register(phone, { name: `Mover ${i}`, birthYear: 1980, gender: 'F', idType: 'PAN', idNumber: pan(60_000 + i) });
      if (registered.kind !== 'registered') throw new Error(registered.kind);
      const from = i < 15 ? a.id : b.id;
      const booked = await t.app.booking.book(phone, registered.member.id, from);
      if (booked.kind !== 'booked') throw new Error(booked.kind);
      people.push({ phone, appointmentId: booked.appointment.id, from, to: from === a.id ? b.id : a.id });
    }
    // Fill each session to 18 of 20 with others, so only some moves can find a seat.
    await t.app.db('vaccination_sessions').whereIn('id', [a.id, b.id]).update({ booked: t.app.db.raw('booked + 3') });

    const results = await Promise.all(people.map((p) => t.app.booking.reschedule(p.phone, p.appointmentId, p.to)));
    const moved = results.filter((r) => r.kind === 'rescheduled').length;
    expect(results.every((r) => r.kind === 'rescheduled' || r.kind === 'full')).toBe(true);

    const [sa, sb] = await Promise.all([a.id, b.id].map((id) => t.app.db('vaccination_sessions').where('id', id).first()));
    const live = async (sessionId: number) =>
      Number((await t.app.db('appointments').where({ session_id: sessionId, status: 'booked' }).count({ n: '*' }))[0]!.n);
    expect(sa.booked).toBe((await live(a.id)) + 3);
    expect(sb.booked).toBe((await live(b.id)) + 3);
    expect(sa.booked + sb.booked).toBe(36);
    expect(sa.booked).toBeLessThanOrEqual(20);
    expect(sb.booked).toBeLessThanOrEqual(20);
    expect(moved).toBeGreaterThan(0);
  });

  it('sends a new code on request: the old one stops working, the new one works, and a lock is lifted', async () => {
    const { centre, phone, appointment } = await bookOne('120004');
    const oldCode = await codeSentTo(phone);
    const vaccinator = await t.app.programme.createVaccinator({ phone: '+919700099001', name: 'Nurse Resend', centreId: centre.id });
    // Locked by wrong codes, as five guesses leave it.
    await t.app.db('appointments').where('id', appointment.id).update({ failed_attempts: 5, locked_at: new Date() });
    const screens = await t.converse(`ATUid_resend_${next}`, phone, ['2', '1', '1', '1']);
    expect(screens.at(-1)).toBe('END A new security code has been sent by SMS. The old code no longer works. A locked booking is open again.');
    const newCode = await codeSentTo(phone, 1);
    expect(await t.app.db('appointments').where('id', appointment.id).first('failed_attempts', 'locked_at')).toEqual({ failed_attempts: 0, locked_at: null });

    const sameDay = await t.app.db('vaccination_sessions').where('id', appointment.session_id).first();
    t.clock.set(new Date(`${sameDay.date}T06:00:00Z`));
    try {
      if (oldCode !== newCode) {
        await t.incomingSms(vaccinator.phone, `VAX ${appointment.reference} ${oldCode}`);
        const refusal = await eventually('the refusal', async () => t.at.sent.find((s) => s.to === vaccinator.phone));
        expect(refusal.message).toContain('WRONG CODE');
        t.at.reset();
      }
      await t.incomingSms(vaccinator.phone, `VAX ${appointment.reference} ${newCode}`);
      const accepted = await eventually('the acceptance', async () => t.at.sent.find((s) => s.to === vaccinator.phone));
      expect(accepted.message).toContain('ACCEPTED');
    } finally {
      t.clock.set(new Date());
    }
  });
});

describe('second dose', () => {
  it('is refused before the interval for the vaccine, offered from the first eligible date, and only of the same vaccine', async () => {
    const { centre, session, phone, appointment } = await bookOne('120005');
    const vaccinator = await t.app.programme.createVaccinator({ phone: '+919700099002', name: 'Nurse Two', centreId: centre.id });
    const code = await codeSentTo(phone);
    t.clock.set(new Date(`${session.date}T06:00:00Z`));
    try {
      await t.incomingSms(vaccinator.phone, `VAX ${appointment.reference} ${code}`);
      await eventually('dose 1 recorded', async () => ((await t.app.db('appointments').where('id', appointment.id).first()).status === 'vaccinated' ? true : undefined));

      // Dose-2 sessions: one too early (day 30), one of another vaccine (day 90), one in time (day 85).
      const early = await t.app.programme.createSession({ centreId: centre.id, date: addDaysFrom(session.date, 30), vaccine: 'Covishield', minAge: 18, dose: 2, capacity: 5 });
      const other = await t.app.programme.createSession({ centreId: centre.id, date: addDaysFrom(session.date, 90), vaccine: 'Covaxin', minAge: 18, dose: 2, capacity: 5 });
      const onTime = await t.app.programme.createSession({ centreId: centre.id, date: addDaysFrom(session.date, 85), vaccine: 'Covishield', minAge: 18, dose: 2, capacity: 5 });

      // 25 days after dose 1: the screen says from when, and nothing is bookable yet.
      t.clock.advanceDays(25);
      const before = await t.converse(`ATUid_dose2a_${next}`, phone, ['1', '1', '1', '120005']);
      expect(before[2]).toMatch(/^CON Asha Devi: dose 2 of Covishield, from \w{3} \d+ \w{3} on\.\n1 Continue/);
      expect(before[2]).toContain(shortDayOf(addDaysFrom(session.date, 84)));
      expect(before.at(-1)).toBe(`CON Asha Devi: Covishield dose 2 is due from ${shortDay(addDaysFrom(session.date, 84))}.\n1 Try another PIN code\n0 Back`);
      const memberId = (await t.app.booking.members(phone))[0]!.id;
      expect(await t.app.booking.book(phone, memberId, early.id)).toEqual({ kind: 'not_eligible' });

      // 80 days after: the in-time Covishield session is offered; the Covaxin one never is.
      t.clock.advanceDays(55);
      const after = await t.converse(`ATUid_dose2b_${next}`, phone, ['2', '1', '1', '1', '120005', '1']);
      expect(after.at(-1)).toMatch(/^CON Choose a date:\n1 .+ Covishield 18\+ \(5\)\n0 Back$/);
      expect(await t.app.booking.book(phone, memberId, other.id)).toEqual({ kind: 'not_eligible' });
      const booked = await t.app.booking.book(phone, memberId, onTime.id);
      expect(booked).toMatchObject({ kind: 'booked', appointment: { dose: 2, vaccine: 'Covishield' } });
    } finally {
      t.clock.set(new Date());
    }
  });

  it('honours a booked second dose when the interval is changed, and applies the new interval to new bookings', async () => {
    const stricter = await startTestApp({ DOSE_INTERVAL_DAYS: 'Covishield:120,Covaxin:28' }, { at: t.at, keepState: true, worker: false });
    try {
      const dose2 = await t.app.db('appointments').where({ dose: 2, status: 'booked' }).orderBy('id', 'desc').first();
      expect(dose2).toBeDefined();
      const owner = await t.app.db('beneficiaries as b').join('accounts as a', 'a.id', 'b.account_id').where('b.id', dose2.beneficiary_id).first('a.phone', 'b.id');
      // The booked appointment stands under the new rule…
      expect(await stricter.app.booking.liveAppointments(owner.phone)).toEqual(expect.arrayContaining([expect.objectContaining({ id: dose2.id, dose: 2 })]));
      // …but a new booking of the same dose must wait for the new interval.
      stricter.clock.set(new Date(t.clock.now().getTime() + 90 * 86_400_000));
      await stricter.app.booking.cancel(owner.phone, dose2.id);
      const status = await stricter.app.booking.memberStatus(owner.phone, owner.id);
      expect(status).toMatchObject({ kind: 'can_book', dose: 2, vaccine: 'Covishield' });
      const firstDose = await stricter.app.db('vaccinations').where({ beneficiary_id: owner.id, dose: 1 }).first();
      expect(status.kind === 'can_book' && status.earliest).toBe(addDaysFrom(firstDose.session_date, 120));
    } finally {
      await stricter.close();
    }
  });
});

describe('resuming a dropped session', () => {
  it('offers to continue where the caller left off, and to start again', async () => {
    await seedCentre(t.app, { name: 'Resume Centre', pincode: '120006' });
    const phone = uniquePhone();
    const dropped = await t.converse(`ATUid_drop_${next}`, phone, [...registration('Kamla Devi', pan(70_000 + next)), '120006']);
    expect(dropped.at(-1)).toMatch(/^CON Centres with free seats:/);
    // The operator cut the session; the caller dials again.
    const resumed = await t.converse(`ATUid_resume_${next}`, phone, ['1']);
    expect(resumed[0]).toBe('CON Your last session was cut off.\n1 Continue where you left off\n2 Start again');
    expect(resumed[1]).toBe(dropped.at(-1));
    await t.ussd(`ATUid_resume_${next}`, phone, '1*1');
    await t.ussd(`ATUid_resume_${next}`, phone, '1*1*1');
    const booked = await t.ussd(`ATUid_resume_${next}`, phone, '1*1*1*1');
    expect(booked.body).toMatch(/^END Booked: Kamla Devi, Resume Centre/);

    // Finished: the next dial starts afresh.
    const fresh = await t.converse(`ATUid_fresh_${next}`, phone, []);
    expect(fresh[0]).toMatch(/^CON Tika vaccination/);
  });

  it('starts again when asked, and forgets the dropped session', async () => {
    const phone = uniquePhone();
    await t.converse(`ATUid_drop2_${next}`, phone, ['1', '1', 'Half Way']);
    const restarted = await t.converse(`ATUid_restart_${next}`, phone, ['2']);
    expect(restarted[1]).toMatch(/^CON Tika vaccination/);
    const later = await t.converse(`ATUid_later_${next}`, phone, []);
    expect(later[0]).toMatch(/^CON Tika vaccination/);
  });

  it('does not offer to resume after the resume window', async () => {
    const phone = uniquePhone();
    await t.converse(`ATUid_drop3_${next}`, phone, ['1', '1', 'Slow Caller']);
    const key = (await t.app.redis.keys(`${t.app.config.REDIS_PREFIX}:ussd:resume:*`)).find((k) => k.endsWith(phone))!;
    expect(await t.app.redis.ttl(key)).toBeGreaterThan(590);
    await t.app.redis.del(key); // what the 10-minute expiry does
    const later = await t.converse(`ATUid_late_${next}`, phone, []);
    expect(later[0]).toMatch(/^CON Tika vaccination/);
  });
});

describe('photo-ID numbers', () => {
  it.each([
    ['a valid Aadhaar (Verhoeff check digit right)', 'AADHAAR', '2341 2341 2346', '234123412346'],
    ['an Aadhaar with a wrong check digit', 'AADHAAR', '234123412345', null],
    ['an Aadhaar starting with 1', 'AADHAAR', '134123412346', null],
    ['a PAN', 'PAN', 'abcde1234f', 'ABCDE1234F'],
    ['a malformed PAN', 'PAN', 'ABCD1234F', null],
    ['a passport', 'PASSPORT', 'K1234567', 'K1234567'],
    ['a voter ID', 'VOTER', 'ABC1234567', 'ABC1234567'],
    ['a driving licence', 'DL', 'MH-1220110012345', 'MH1220110012345'],
  ] as const)('%s', (_label, type, input, expected) => {
    expect(normaliseIdNumber(type, input)).toBe(expected);
  });

  it('knows the Verhoeff check digit', () => {
    expect(verhoeffValid('2363')).toBe(true);
    expect(verhoeffValid('2364')).toBe(false);
  });

  it('re-asks for an Aadhaar number that fails its check digit, and accepts a valid one', async () => {
    const phone = uniquePhone();
    const screens = await t.converse(`ATUid_aadhaar_${next}`, phone, ['1', '1', 'Asha Devi', '1985', '1', '1', '234123412345', '234123412346']);
    expect(screens[7]).toBe('CON That is not a valid number for this ID.\nEnter the ID number:\n0 Back');
    expect(screens[8]).toBe('CON Enter your 6-digit PIN code:');
    const member = await t.app.db('beneficiaries as b').join('accounts as a', 'a.id', 'b.account_id').where('a.phone', phone).first('b.id_last4', 'b.id_hash');
    expect(member.id_last4).toBe('2346');
    expect(member.id_hash).not.toContain('234123412346');
  });
});

function addDaysFrom(day: string, days: number): string {
  const date = new Date(`${day}T00:00:00Z`);
  date.setUTCDate(date.getUTCDate() + days);
  return date.toISOString().slice(0, 10);
}

function shortDayOf(day: string): string {
  const date = new Date(`${day}T00:00:00Z`);
  return `${date.getUTCDate()} ${['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][date.getUTCMonth()]}`;
}
