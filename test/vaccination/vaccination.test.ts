import { createLocalJWKSet, jwtVerify } from 'jose';
import { eventually, startTestApp, type TestApp } from '../support/app';
import { pan, registration, seedCentre } from '../support/programme';
import { addDays } from '../../src/domain/dates';

/**
 * The heart of the brief, over HTTP exactly as Africa's Talking speaks: a citizen books by USSD
 * and gets a code by SMS; the vaccinator texts the code; only then is a dose recorded, a
 * certificate issued and the confirmation SMS sent.
 */
let t: TestApp;
let people = 0;

beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t.close();
});
beforeEach(() => t.at.reset());

/** A centre with a session today, one vaccinator there, and a citizen booked with their code in hand. */
async function bookedCitizen(options: { daysFromToday?: number; pincode?: string } = {}) {
  const n = ++people;
  const pincode = options.pincode ?? String(300000 + n);
  const { centre, session } = await seedCentre(t.app, { name: `Centre ${n}`, pincode, daysFromToday: options.daysFromToday ?? 0 });
  const vaccinator = await t.app.programme.createVaccinator({ phone: `+9197000${String(n).padStart(5, '0')}`, name: `Nurse ${n}`, centreId: centre.id });
  const phone = `+9196000${String(n).padStart(5, '0')}`;
  const end = (await t.converse(`ATUid_book_${n}`, phone, [...registration(`Citizen ${letters(n)}`, pan(5000 + n)), pincode, '1', '1', '1'])).at(-1)!;
  expect(end).toMatch(/^END Booked:/);
  const sms = await eventually('the code SMS', async () => t.at.sent.find((s) => s.to === phone));
  const code = /security code is (\d{4})/.exec(sms.message)![1]!;
  const appointment = await t.app.db('appointments').where('session_id', session.id).orderBy('id', 'desc').first();
  t.at.reset();
  return { centre, session, vaccinator, phone, code, appointment, n };
}

/** Noon in India the day after `day`: past any session of `day` and the no-show grace, whatever the hour the test runs. */
function dayAfter(day: string): Date {
  return new Date(`${addDays(day, 1)}T12:00:00+05:30`);
}

function letters(n: number): string {
  return [...String(n)].map((d) => 'ABCDEFGHIJ'[Number(d)]).join('');
}

function wrong(code: string): string {
  return String((Number(code) + 1) % 10_000).padStart(4, '0');
}

async function replyTo(phone: string): Promise<string> {
  return (await eventually(`a reply SMS to ${phone}`, async () => t.at.sent.find((s) => s.to === phone))).message;
}

async function counts(appointmentId: number) {
  const vaccinations = await t.app.db('vaccinations').where('appointment_id', appointmentId).count({ n: '*' });
  const certificates = await t.app.db('certificates as c').join('vaccinations as v', 'v.id', 'c.vaccination_id').where('v.appointment_id', appointmentId).count({ n: '*' });
  return { vaccinations: Number(vaccinations[0]!.n), certificates: Number(certificates[0]!.n) };
}

describe('the whole story', () => {
  it('books, verifies by SMS, records the dose, issues a verifiable certificate and confirms by SMS', async () => {
    const { centre, vaccinator, phone, code, appointment } = await bookedCitizen();
    const local = phone.slice(3);
    const posted = await t.incomingSms(vaccinator.phone, `vax 0${local.slice(0, 5)} ${local.slice(5)} ${code}`);
    expect(posted.status).toBe(200);

    const reply = await replyTo(vaccinator.phone);
    expect(reply).toMatch(/^Tika: ACCEPTED\. Citizen \w+, dose 1, Covishield, ref [A-Z2-9]{8}\. Vaccination recorded\.$/);
    const confirmation = await replyTo(phone);
    expect(confirmation).toMatch(/Tika: Citizen \w+ vaccinated \(dose 1\)\. Certificate: http:\/\/tika\.test\/c\/[a-z0-9]+$/);
    const certificateId = /\/c\/([a-z0-9]+)$/.exec(confirmation)![1]!;

    const row = await t.app.db('appointments').where('id', appointment.id).first();
    expect(row).toMatchObject({ status: 'vaccinated', code_cipher: null });
    const vaccination = await t.app.db('vaccinations').where('appointment_id', appointment.id).first();
    expect(vaccination).toMatchObject({ centre_id: centre.id, vaccinator_id: vaccinator.id, dose: 1, vaccine: 'Covishield' });
    expect(vaccination.vaccinated_at).toBeInstanceOf(Date);

    const response = await fetch(`${t.baseUrl}/certificates/${certificateId}`);
    expect(response.status).toBe(200);
    const certificate = (await response.json()) as { jws: string; claims: Record<string, unknown> };
    // Verified with a JOSE library and the published keys only: no code of ours.
    const jwks = await (await fetch(`${t.baseUrl}/.well-known/jwks.json`)).json();
    const { payload } = await jwtVerify(certificate.jws, createLocalJWKSet(jwks as Parameters<typeof createLocalJWKSet>[0]));
    expect(payload).toMatchObject({ jti: certificateId, dose: 1, vaccine: 'Covishield', vaccinator: vaccinator.name });
    expect(JSON.stringify(payload)).not.toContain(code);

    const page = await fetch(`${t.baseUrl}/c/${certificateId}`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<svg');

    const attempts = await t.app.db('verification_attempts').where('appointment_id', appointment.id);
    expect(attempts.map((a) => a.outcome)).toEqual(['accepted']);
    const inbound = await t.app.db('inbound_messages').where('provider_message_id', posted.id).first();
    expect(inbound.text).toBe(`vax 0${local.slice(0, 5)} ${local.slice(5)} ****`);
    expect(JSON.stringify(attempts)).not.toContain(code);
    expect(t.logs.join('')).not.toContain(`code is ${code}`);
  });

  it('picks the family member whose code it is', async () => {
    const first = await bookedCitizen();
    const end = (await t.converse(`ATUid_family_${first.n}`, first.phone, ['1', String(2), 'Second Member', '1990', '2', '2', pan(7000 + first.n), first.centre.pincode, '1', '1', '1'])).at(-1)!;
    expect(end).toMatch(/^END Booked: Second Member/);
    const sms = await eventually('the second code', async () => t.at.sent.find((s) => s.to === first.phone));
    const secondCode = /security code is (\d{4})/.exec(sms.message)![1]!;
    expect(secondCode).not.toBe(first.code);
    t.at.reset();

    await t.incomingSms(first.vaccinator.phone, `VAX ${first.phone} ${secondCode}`);
    expect(await replyTo(first.vaccinator.phone)).toContain('ACCEPTED. Second Member');
    expect((await t.app.db('appointments').where('id', first.appointment.id).first()).status).toBe('booked');
  });
});

describe('refusals', () => {
  it('refuses a wrong code, says how many attempts are left, and records nothing', async () => {
    const { vaccinator, phone, code, appointment } = await bookedCitizen();
    await t.incomingSms(vaccinator.phone, `VAX ${phone} ${wrong(code)}`);
    expect(await replyTo(vaccinator.phone)).toBe(`Tika: WRONG CODE for ${phone}. 4 attempt(s) left. Nothing recorded.`);
    expect(await t.app.db('appointments').where('id', appointment.id).first()).toMatchObject({ status: 'booked', failed_attempts: 1 });
    expect(await counts(appointment.id)).toEqual({ vaccinations: 0, certificates: 0 });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(t.at.sent.filter((s) => s.to === phone)).toEqual([]);
  });

  it('locks after 5 wrong codes, then refuses the right one until an operator unlocks', async () => {
    const { vaccinator, code, appointment } = await bookedCitizen();
    const ref = appointment.reference;
    for (let i = 0; i < 5; i++) {
      t.at.reset();
      await t.incomingSms(vaccinator.phone, `VAX ${ref} ${wrong(code)}`);
      const reply = await replyTo(vaccinator.phone);
      if (i < 4) expect(reply).toContain(`${4 - i} attempt(s) left`);
      else expect(reply).toMatch(/REFUSED\. Too many wrong codes for .*locked/);
    }
    t.at.reset();
    await t.incomingSms(vaccinator.phone, `VAX ${ref} ${code}`);
    expect(await replyTo(vaccinator.phone)).toMatch(/locked/);
    expect(await counts(appointment.id)).toEqual({ vaccinations: 0, certificates: 0 });

    const unlock = await fetch(`${t.baseUrl}/admin/appointments/${appointment.id}/unlock`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.app.config.ADMIN_TOKEN}` },
    });
    expect(unlock.status).toBe(200);
    t.at.reset();
    await t.incomingSms(vaccinator.phone, `VAX ${ref} ${code}`);
    expect(await replyTo(vaccinator.phone)).toContain('ACCEPTED');
  });

  it('charges a wrong code at a family mobile to the mobile, counting it on each member\'s code without locking the others', async () => {
    const first = await bookedCitizen();
    const end = (await t.converse(`ATUid_family_lock_${first.n}`, first.phone, ['1', '2', 'Other Member', '1990', '2', '2', pan(9000 + first.n), first.centre.pincode, '1', '1', '1'])).at(-1)!;
    expect(end).toMatch(/^END Booked: Other Member/);
    const second = await t.app.db('appointments').orderBy('id', 'desc').first();
    const secondSms = await eventually('the second code', async () => t.at.sent.find((s) => s.to === first.phone));
    const secondCode = /security code is (\d{4})/.exec(secondSms.message)![1]!;
    t.at.reset();
    await t.app.db('appointments').where('id', first.appointment.id).update({ failed_attempts: 4 });

    const guess = ['0000', '0001', '0002'].find((c) => c !== first.code && c !== secondCode)!;
    await t.incomingSms(first.vaccinator.phone, `VAX ${first.phone} ${guess}`);
    // The answer counts the mobile's guesses. The guess was the fifth at the first member's code (four
    // were aimed at it directly), so that one locks; the second member is only one guess down.
    expect(await replyTo(first.vaccinator.phone)).toBe(`Tika: WRONG CODE for ${first.phone}. 1 attempt(s) left. Nothing recorded.`);
    const [a, b] = await Promise.all([first.appointment.id, second.id].map((id) => t.app.db('appointments').where('id', id).first()));
    expect(a.locked_at).not.toBeNull();
    expect(b).toMatchObject({ failed_attempts: 0, family_attempts: 1, locked_at: null });
  });

  it('refuses the right code from a vaccinator of another centre', async () => {
    const booked = await bookedCitizen();
    const other = await bookedCitizen();
    await t.incomingSms(other.vaccinator.phone, `VAX ${booked.phone} ${booked.code}`);
    expect(await replyTo(other.vaccinator.phone)).toBe(`Tika: REFUSED. No booking for ${booked.phone} at your centre today. Nothing recorded.`);
    expect(await counts(booked.appointment.id)).toEqual({ vaccinations: 0, certificates: 0 });
  });

  it('refuses the right code on the wrong day, and accepts it on the day', async () => {
    const { vaccinator, phone, code, appointment } = await bookedCitizen({ daysFromToday: 1 });
    const early = await t.incomingSms(vaccinator.phone, `VAX ${phone} ${code}`);
    expect(await replyTo(vaccinator.phone)).toContain('No booking for');
    // The refused code still works tomorrow, so it is not kept readable.
    expect((await t.app.db('inbound_messages').where('provider_message_id', early.id).first()).text).toBe(`VAX ${phone} ****`);
    t.at.reset();
    t.clock.advanceDays(1);
    try {
      await t.incomingSms(vaccinator.phone, `VAX ${phone} ${code}`);
      expect(await replyTo(vaccinator.phone)).toContain('ACCEPTED');
      expect(await counts(appointment.id)).toEqual({ vaccinations: 1, certificates: 1 });
    } finally {
      t.clock.set(new Date());
    }
  });

  it('tells an unregistered number only that it is not a vaccinator', async () => {
    const { phone, code, appointment } = await bookedCitizen();
    const stranger = '+919555500001';
    await t.incomingSms(stranger, `VAX ${phone} ${code}`);
    const reply = await replyTo(stranger);
    expect(reply).toBe('Tika: this number is not registered as a vaccinator. Nothing recorded.');
    expect(await counts(appointment.id)).toEqual({ vaccinations: 0, certificates: 0 });
    expect((await t.app.db('verification_attempts').where('vaccinator_phone', stranger).first()).outcome).toBe('not_vaccinator');
  });

  it('refuses a second confirmation of the same dose', async () => {
    const { vaccinator, phone, code, appointment } = await bookedCitizen();
    await t.incomingSms(vaccinator.phone, `VAX ${phone} ${code}`);
    expect(await replyTo(vaccinator.phone)).toContain('ACCEPTED');
    await replyTo(phone);
    t.at.reset();
    await t.incomingSms(vaccinator.phone, `VAX ${phone} ${code}`);
    expect(await replyTo(vaccinator.phone)).toMatch(/REFUSED\. Citizen \w+ is already vaccinated/);
    expect(await counts(appointment.id)).toEqual({ vaccinations: 1, certificates: 1 });
  });

  it('limits the wrong codes one vaccinator may enter in an hour', async () => {
    const small = await startTestApp({ MAX_VACCINATOR_FAILURES_PER_HOUR: '2' }, { at: t.at, keepState: true });
    try {
      const { vaccinator, phone, code } = await bookedCitizen();
      for (let i = 0; i < 2; i++) await small.app.inbox.process((await small.app.inbox.receive('africastalking', { providerMessageId: `limit-${i}`, phone: vaccinator.phone, text: `VAX ${phone} ${wrong(code)}` })).id);
      const last = await small.app.inbox.receive('africastalking', { providerMessageId: 'limit-2', phone: vaccinator.phone, text: `VAX ${phone} ${code}` });
      await small.app.inbox.process(last.id);
      expect((await small.app.db('verification_attempts').where('inbound_message_id', last.id).first()).outcome).toBe('too_many_failures');
    } finally {
      await small.close();
    }
  });

  it('answers a malformed VAX with how to write it, and anything else with help', async () => {
    const { vaccinator } = await bookedCitizen();
    await t.incomingSms(vaccinator.phone, 'VAX 12');
    expect(await replyTo(vaccinator.phone)).toMatch(/^Tika: to confirm a vaccination send VAX <mobile or ref> <4-digit code>/);
    t.at.reset();
    await t.incomingSms('+919555500002', 'hello');
    expect(await replyTo('+919555500002')).toBe('Tika: to book a vaccination send REGISTER, or dial *384*1234#. Vaccinators confirm a dose with VAX <mobile or ref> <code>.');
  });
});

describe('retried callbacks and crashes', () => {
  it('processes the same incoming SMS id once, however often Africa\'s Talking sends it', async () => {
    const { vaccinator, phone, code, appointment } = await bookedCitizen();
    const id = 'ec9adc86-51d5-4bc8-8eb0-d8ab0bb53dc3';
    const answers = await Promise.all([1, 2, 3].map(() => t.incomingSms(vaccinator.phone, `VAX ${phone} ${code}`, id)));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
    await replyTo(phone);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(t.at.sent.filter((s) => s.to === vaccinator.phone)).toHaveLength(1);
    expect(t.at.sent.filter((s) => s.to === phone)).toHaveLength(1);
    expect(await counts(appointment.id)).toEqual({ vaccinations: 1, certificates: 1 });
    expect(await t.app.db('inbound_messages').where('provider_message_id', id).count({ n: '*' })).toEqual([{ n: 1 }]);
  });

  it('after a worker dies between acceptance and sending, a restart sends exactly one confirmation and issues one certificate', async () => {
    const { vaccinator, phone, code, appointment } = await bookedCitizen();
    const web = await startTestApp({}, { at: t.at, keepState: true, worker: false });
    try {
      const posted = await web.incomingSms(vaccinator.phone, `VAX ${phone} ${code}`);
      expect(posted.status).toBe(200);
      // The acceptance commits (dose, pending certificate, task, reply) and the process dies before any send.
      const inbound = await web.app.db('inbound_messages').where('provider_message_id', posted.id).first();
      expect(await web.app.inbox.process(inbound.id)).toBe('processed');
    } finally {
      await web.close();
    }
    expect(await t.app.db('certificates').where('status', 'issued').whereIn('vaccination_id', t.app.db('vaccinations').where('appointment_id', appointment.id).select('id')).count({ n: '*' })).toEqual([{ n: 0 }]);

    const restarted = await startTestApp({}, { at: t.at, keepState: true });
    try {
      await eventually('the confirmation SMS', async () => t.at.sent.find((s) => s.to === phone));
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(t.at.sent.filter((s) => s.to === phone)).toHaveLength(1);
      expect(t.at.sent.filter((s) => s.to === vaccinator.phone)).toHaveLength(1);
      const certificate = await restarted.app.db('certificates as c').join('vaccinations as v', 'v.id', 'c.vaccination_id').where('v.appointment_id', appointment.id).first('c.status', 'c.id');
      expect(certificate.status).toBe('issued');
      // Running the certificate task again (a re-delivered job) changes nothing.
      expect((await restarted.app.certificates.issue(certificate.id)).kind).toBe('already_issued');
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(t.at.sent.filter((s) => s.to === phone)).toHaveLength(1);
    } finally {
      await restarted.close();
    }
  });

  it('a crash before the acceptance commits leaves nothing behind', async () => {
    const { vaccinator, phone, code, appointment } = await bookedCitizen();
    await expect(
      t.app.db.transaction(async (trx) => {
        await t.app.vaccination.verifyIn(trx, { vaccinatorPhone: vaccinator.phone, target: { kind: 'phone', phone }, code, channel: 'sms' });
        throw new Error('the process died here');
      }),
    ).rejects.toThrow('died');
    expect(await counts(appointment.id)).toEqual({ vaccinations: 0, certificates: 0 });
    expect((await t.app.db('appointments').where('id', appointment.id).first()).status).toBe('booked');
    expect(await t.app.db('outbox_tasks').where('kind', 'issue_certificate').whereRaw("payload->>'certificateId' NOT IN (SELECT id FROM certificates)").count({ n: '*' })).toEqual([{ n: 0 }]);
  });
});

describe('no-shows', () => {
  it('closes unverified appointments after their day, and a no-show never gets a vaccination SMS or certificate', async () => {
    const { vaccinator, phone, code, appointment, session } = await bookedCitizen();
    t.clock.set(dayAfter(session.date));
    try {
      const closed = await t.app.vaccination.markNoShows();
      expect(closed).toBeGreaterThanOrEqual(1);
      expect(await t.app.db('appointments').where('id', appointment.id).first()).toMatchObject({ status: 'no_show', code_cipher: null });
      await t.incomingSms(vaccinator.phone, `VAX ${phone} ${code}`);
      expect(await replyTo(vaccinator.phone)).toContain('REFUSED. No booking');
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(t.at.sent.filter((s) => s.to === phone)).toEqual([]);
      expect(await counts(appointment.id)).toEqual({ vaccinations: 0, certificates: 0 });
    } finally {
      t.clock.set(new Date());
    }
  });

  it('runs the no-show sweep from the task queue', async () => {
    const { appointment, session } = await bookedCitizen();
    t.clock.set(dayAfter(session.date));
    try {
      await t.app.taskQueue.add('mark_no_shows', { kind: 'mark_no_shows', payload: {} });
      await eventually('the no-show mark', async () => ((await t.app.db('appointments').where('id', appointment.id).first()).status === 'no_show' ? true : undefined));
    } finally {
      t.clock.set(new Date());
    }
  });
});

describe('the vaccinator USSD menu', () => {
  it('lets a registered vaccinator confirm by USSD: mobile, beneficiary, code', async () => {
    const { vaccinator, phone, code, appointment, centre } = await bookedCitizen();
    const session = `ATUid_vax_${appointment.id}`;
    expect((await t.ussd(session, vaccinator.phone, '')).body).toBe(`CON Tika vaccinator\n${centre.name}\n1 Confirm a vaccination\n2 Language`);
    expect((await t.ussd(session, vaccinator.phone, '1')).body).toMatch(/^CON Enter the citizen's mobile or booking ref:/);
    expect((await t.ussd(session, vaccinator.phone, `1*${phone.slice(3)}`)).body).toMatch(/^CON Booked today:\n1 Citizen \w+ dose 1/);
    expect((await t.ussd(session, vaccinator.phone, `1*${phone.slice(3)}*1`)).body).toMatch(/^CON Ask for the 4-digit security code/);
    const wrongReply = await t.ussd(session, vaccinator.phone, `1*${phone.slice(3)}*1*${wrong(code)}`);
    expect(wrongReply.body).toBe('CON WRONG CODE. 4 attempt(s) left. Nothing recorded.\n1 Enter the code again\n0 Back');
    expect((await t.ussd(session, vaccinator.phone, `1*${phone.slice(3)}*1*${wrong(code)}*1`)).body).toMatch(/^CON Ask for the 4-digit/);
    const accepted = await t.ussd(session, vaccinator.phone, `1*${phone.slice(3)}*1*${wrong(code)}*1*${code}`);
    expect(accepted.body).toMatch(/^CON ACCEPTED: Citizen \w+, dose 1, Covishield\. Recorded\.\n1 Next citizen$/);
    expect(await counts(appointment.id)).toEqual({ vaccinations: 1, certificates: 1 });
    await replyTo(phone);

    const stored = JSON.stringify(await t.app.sessions.get(`${t.app.config.REDIS_PREFIX}:ussd:session:${session}`));
    expect(stored).not.toContain(`"code":"${code}"`);
    // Africa's Talking's whole input history ("1*9600000012*1*4821") is kept only as a digest.
    expect(stored).not.toContain(`*${code}`);
    const channels = await t.app.db('verification_attempts').where('appointment_id', appointment.id).select('channel', 'outcome').orderBy('id');
    expect(channels).toEqual([
      { channel: 'ussd', outcome: 'lookup' },
      { channel: 'ussd', outcome: 'wrong_code' },
      { channel: 'ussd', outcome: 'accepted' },
    ]);
  });

  it('lets a vaccinator choose Hindi on the menu: the menu and the SMS answers to VAX are then in Hindi', async () => {
    const { vaccinator, phone, code, centre } = await bookedCitizen();
    const session = `ATUid_vax_hindi_${vaccinator.id}`;
    await t.ussd(session, vaccinator.phone, '');
    expect((await t.ussd(session, vaccinator.phone, '2')).body).toBe('CON Choose language / भाषा चुनें\n1 English\n2 हिन्दी\n0 Back');
    expect((await t.ussd(session, vaccinator.phone, '2*2')).body).toBe(`CON टीका वैक्सीनेटर\n${centre.name}\n1 टीकाकरण पक्का करें\n2 भाषा / Language`);
    expect((await t.ussd(`${session}_again`, vaccinator.phone, '')).body).toMatch(/^CON टीका वैक्सीनेटर\n/);

    await t.incomingSms(vaccinator.phone, `VAX ${phone} ${code}`);
    expect(await replyTo(vaccinator.phone)).toMatch(/^टीका: सफल। Citizen \w+, डोज 1, Covishield, Ref [A-Z2-9]{8}। टीकाकरण दर्ज हुआ।$/);
    // The citizen's own language is the citizen's: still English.
    expect(await replyTo(phone)).toMatch(/^Tika: Citizen \w+ vaccinated \(dose 1\)/);
  });
});

/**
 * This booking's code SMS once its send is recorded: the fake provider has it a moment before our
 * row holds its message id, and the latest row with an id may still be an earlier test's.
 */
async function sentCodeSms(phone: string) {
  return eventually('the code SMS recorded as sent', async () => t.app.db('outbound_messages').where({ phone }).whereNotNull('provider_message_id').orderBy('id', 'desc').first());
}

describe('delivery reports', () => {
  const statuses = ['Sent', 'Submitted', 'Buffered', 'Success', 'Rejected', 'Failed', 'AbsentSubscriber', 'Expired'];

  it.each(statuses)('records %s on the message it reports', async (status) => {
    const { phone } = await bookedCitizen();
    const message = await sentCodeSms(phone);
    const failureReason = status === 'Failed' || status === 'Rejected' ? 'UserInBlackList' : '';
    const reply = await t.postForm(`/webhooks/africastalking/delivery?key=${t.app.config.WEBHOOK_SECRET}`, {
      id: message.provider_message_id,
      status,
      phoneNumber: message.phone,
      networkCode: '40410',
      retryCount: '0',
      ...(failureReason ? { failureReason } : {}),
    });
    expect(reply.status).toBe(200);
    const updated = await t.app.db('outbound_messages').where('id', message.id).first();
    expect(updated.delivery_status).toBe(status);
    expect(updated.failure_reason).toBe(failureReason || null);
    expect(updated.delivered_at !== null).toBe(status === 'Success');
  });

  it('keeps a final status when an intermediate one arrives late', async () => {
    const { phone } = await bookedCitizen();
    const message = await sentCodeSms(phone);
    const path = `/webhooks/africastalking/delivery?key=${t.app.config.WEBHOOK_SECRET}`;
    await t.postForm(path, { id: message.provider_message_id, status: 'Success', phoneNumber: message.phone });
    await t.postForm(path, { id: message.provider_message_id, status: 'Buffered', phoneNumber: message.phone });
    expect((await t.app.db('outbound_messages').where('id', message.id).first()).delivery_status).toBe('Success');
  });

  it.each([
    ['an unknown status', { id: 'ATXid_unknown_status', status: 'Teleported' }],
    ['an unknown id', { id: 'ATXid_never_sent', status: 'Success' }],
  ])('answers 200 to %s', async (_label, form) => {
    const reply = await t.postForm(`/webhooks/africastalking/delivery?key=${t.app.config.WEBHOOK_SECRET}`, { ...form, phoneNumber: '+919812345678' });
    expect(reply.status).toBe(200);
  });

  it('refuses a report without the webhook key', async () => {
    expect((await t.postForm('/webhooks/africastalking/delivery', { id: 'x', status: 'Success' })).status).toBe(401);
  });
});
