import { addDays, dayIn, shortDay } from '../../src/domain/dates';
import { CodeVault } from '../../src/domain/codes';
import { eventually, SERVICE_CODE, startTestApp, type TestApp } from '../support/app';
import { pan, registration, seedCentre } from '../support/programme';

/**
 * Citizens' SMS commands for phones without USSD, over HTTP exactly as Africa's Talking posts an
 * incoming SMS; what we assert is what reaches the fake provider and what the database holds.
 * Citizens here register by USSD first; registering by SMS is test/sms/sms-register.test.ts.
 */
let t: TestApp;
let mobiles = 0;
let people = 0;

beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t.close();
});
beforeEach(() => t.at.reset());

const COMMANDS = `Tika: send BOOK <PIN code> to book, STATUS to see bookings, CODE for a new code, CANCEL <ref> to cancel, REGISTER to add a member. Or dial ${SERVICE_CODE}.`;

function newMobile(): string {
  return `+9198100${String(++mobiles).padStart(5, '0')}`;
}

/** A new mobile with these members registered over USSD (in English, or Hindi), nothing booked. */
async function registered(names: string[], language: 'en' | 'hi' = 'en'): Promise<string> {
  const phone = newMobile();
  const answers = names.flatMap((name, i) =>
    i === 0 ? registration(name, pan(++people)) : ['00', '1', String(i + 1), name, '1990', '2', '2', pan(++people)],
  );
  if (language === 'hi') answers[0] = '2';
  const screens = await t.converse(`ATUid_register_${phone}`, phone, answers);
  expect(screens.at(-1)).toMatch(language === 'hi' ? /^CON अपना 6 अंकों का पिन कोड/ : /^CON Enter your 6-digit PIN code/);
  return phone;
}

/** A new mobile whose members each booked the first session in `pincode` over USSD; the code SMS are cleared. */
async function bookedByUssd(names: string[], pincode: string) {
  const phone = newMobile();
  for (const [i, name] of names.entries()) {
    const member = i === 0 ? registration(name, pan(++people)) : ['1', String(i + 1), name, '1990', '2', '2', pan(++people)];
    const screens = await t.converse(`ATUid_book_${phone}_${i}`, phone, [...member, pincode, '1', '1', '1']);
    expect(screens.at(-1)).toMatch(new RegExp(`^END Booked: ${name}`));
  }
  const codeSms = await eventually('the code SMS', async () => (sentTo(phone).length === names.length ? sentTo(phone) : undefined));
  t.at.reset();
  const appointments = await t.app.db('appointments as ap').join('beneficiaries as b', 'b.id', 'ap.beneficiary_id').whereIn('b.name', names).orderBy('ap.id').select('ap.*', 'b.name');
  return { phone, appointments, codeSms };
}

const sentTo = (phone: string) => t.sentTo(phone);
const exchange = (phone: string, text: string, count = 1) => t.exchange(phone, text, count);

async function reply(phone: string, text: string): Promise<string> {
  const [first] = await exchange(phone, text);
  return first!;
}

/** No SMS beyond those already seen reaches `phone` for a while. */
async function nothingMoreTo(phone: string, seen: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 300));
  expect(sentTo(phone)).toHaveLength(seen);
}

function conversationKey(phone: string): string {
  return `${t.app.config.REDIS_PREFIX}:sms:session:${phone}`;
}

async function sessionOn(centreId: number, daysFromToday: number, capacity: number) {
  const centre = await t.app.db('centres').where('id', centreId).first('timezone');
  return t.app.programme.createSession({
    centreId,
    date: addDays(dayIn(centre.timezone, t.app.clock.now()), daysFromToday),
    vaccine: 'Covishield',
    minAge: 18,
    dose: 1,
    capacity,
  });
}

describe('HELP', () => {
  it('lists the commands, in any case and in Hindi transliteration, and records the reply with the message', async () => {
    const phone = await registered(['Asha Devi']);
    t.at.reset();
    expect(await reply(phone, 'help')).toBe(COMMANDS);
    expect(await reply(phone, 'Madad')).toBe(COMMANDS);
    expect(await reply(phone, 'SAHAYATA')).toBe(COMMANDS);

    const inbound = await t.app.db('inbound_messages').where('phone', phone).orderBy('id');
    expect(inbound.map((m) => [m.text, m.status])).toEqual([
      ['help', 'processed'],
      ['Madad', 'processed'],
      ['SAHAYATA', 'processed'],
    ]);
    const replies = await t.app.db('outbound_messages').whereIn('dedupe_key', inbound.map((m) => `reply-${m.id}`));
    expect(replies.map((r) => r.template)).toEqual(['sms.commands', 'sms.commands', 'sms.commands']);
  });

  it('tells a mobile with no one registered to send REGISTER or dial, and any text without a conversation gets help', async () => {
    const stranger = newMobile();
    expect(await reply(stranger, 'HELP')).toBe(`Tika: to book a vaccination send REGISTER, or dial ${SERVICE_CODE}. Vaccinators confirm a dose with VAX <mobile or ref> <code>.`);
    const phone = await registered(['Bina Rao']);
    expect(await reply(phone, '1')).toBe(COMMANDS);
    expect(await reply(phone, 'YES')).toBe(COMMANDS);
  });
});

describe('STATUS', () => {
  it('lists every live appointment of the mobile in one reply', async () => {
    await seedCentre(t.app, { name: 'Status Centre', pincode: '220001' });
    const { phone, appointments } = await bookedByUssd(['Chandra Das', 'Devi Das'], '220001');
    expect(appointments).toHaveLength(2);
    const day = shortDay((await t.app.db('vaccination_sessions').where('id', appointments[0].session_id).first()).date);

    const status = await reply(phone, 'status');
    expect(status).toBe(
      ['Tika: your bookings:', `Chandra Das ${day} Status Centre Ref ${appointments[0].reference}`, `Devi Das ${day} Status Centre Ref ${appointments[1].reference}`].join('\n'),
    );
    expect(await reply(phone, 'Sthiti')).toBe(status);
  });

  it('says when nothing is booked', async () => {
    const phone = await registered(['Esha Jain']);
    expect(await reply(phone, 'STATUS')).toBe('Tika: no appointment is booked on this mobile. To book send BOOK and your PIN code, e.g. BOOK 110001.');
  });
});

describe('CODE', () => {
  it('sends a new code in its own SMS for the one appointment; the old code stops matching', async () => {
    await seedCentre(t.app, { name: 'Code Centre', pincode: '220002' });
    const { phone, appointments, codeSms } = await bookedByUssd(['Farah Khan'], '220002');
    const oldCode = /security code is (\d{4})/.exec(codeSms[0]!)![1]!;

    const messages = await exchange(phone, 'code', 2);
    const answer = messages.find((m) => m.includes('comes in a separate SMS'));
    expect(answer).toBe('Tika: a new security code for Farah Khan comes in a separate SMS. The old code no longer works; a locked booking is open again.');
    const newCode = /new security code is (\d{4})/.exec(messages.find((m) => m !== answer)!)![1]!;
    expect(answer).not.toContain(newCode);

    const appointment = await t.app.db('appointments').where('id', appointments[0].id).first();
    const vault = new CodeVault(t.app.config.CODE_SECRET);
    expect(vault.matches(appointment.reference, newCode, appointment.code_hmac)).toBe(true);
    // A fresh code equals the old one once in 10,000 draws; only then may the old one still match.
    expect(vault.matches(appointment.reference, oldCode, appointment.code_hmac)).toBe(oldCode === newCode);
  });

  it('mints one new code for one CODE message, even when its processing runs again after a crash', async () => {
    await seedCentre(t.app, { name: 'Retry Centre', pincode: '220012' });
    const { phone, appointments } = await bookedByUssd(['Lalita Rao'], '220012');
    await exchange(phone, 'code', 2);
    const inbound = await t.app.db('inbound_messages').where('phone', phone).orderBy('id', 'desc').first();
    const resent = () => t.app.db('outbound_messages').where({ appointment_id: appointments[0].id, template: 'sms.code_resent' });
    // Once its send is recorded: the fake provider has the SMS a moment before our row says so.
    const before = await eventually('the new code SMS recorded as sent', async () => {
      const rows = await resent();
      return rows.every((row) => row.status === 'sent') ? rows : undefined;
    });
    expect(before).toHaveLength(1);
    const hmacBefore = (await t.app.db('appointments').where('id', appointments[0].id).first()).code_hmac;

    // The worker died after the new code committed, before its answer was recorded: the task runs again.
    await t.app.db('inbound_messages').where('id', inbound.id).update({ status: 'received', processed_at: null });
    await t.app.redis.del(conversationKey(phone));
    await t.app.taskQueue.add('inbound_sms', { kind: 'inbound_sms', payload: { inboundId: inbound.id } });
    await eventually('the message processed again', async () =>
      (await t.app.db('inbound_messages').where('id', inbound.id).first()).status === 'processed' ? true : undefined,
    );
    expect(await resent()).toEqual(before);
    expect((await t.app.db('appointments').where('id', appointments[0].id).first()).code_hmac).toBe(hmacBefore);
  });

  it('asks which booking when the mobile has several, and stops at the daily limit', async () => {
    const { session } = await seedCentre(t.app, { name: 'Limit Centre', pincode: '220003' });
    const { phone } = await bookedByUssd(['Gita Sen', 'Hari Sen'], '220003');
    const day = shortDay(session.date);
    const choice = `Tika: a new code for which booking? Reply with the number:\n1 Gita Sen ${day}\n2 Hari Sen ${day}`;

    expect(await reply(phone, 'KOD')).toBe(choice);
    for (let resent = 1; resent <= 3; resent++) {
      if (resent > 1) expect(await reply(phone, 'code')).toBe(choice);
      expect(await exchange(phone, '2', 2)).toContain('Tika: a new security code for Hari Sen comes in a separate SMS. The old code no longer works; a locked booking is open again.');
    }
    expect(await reply(phone, 'code')).toBe(choice);
    expect(await reply(phone, '2')).toBe('Tika: a code can be sent 3 times a day. Please try again tomorrow.');
  });
});

describe('CANCEL', () => {
  it('cancels the booking with that reference and frees its seat', async () => {
    const { session } = await seedCentre(t.app, { name: 'Cancel Centre', pincode: '220004', capacity: 5 });
    const { phone, appointments } = await bookedByUssd(['Indu Nair'], '220004');
    const ref: string = appointments[0].reference;
    expect((await t.app.db('vaccination_sessions').where('id', session.id).first()).booked).toBe(1);

    const seen = sentTo(phone).length;
    const messages = await exchange(phone, `cancel ${ref.toLowerCase()}`, 1);
    expect(messages).toEqual([expect.stringMatching(new RegExp(`^Tika: the booking ${ref} of .+ is cancelled\\.$`))]);
    await nothingMoreTo(phone, seen + 1);
    expect(await t.app.db('appointments').where('id', appointments[0].id).first()).toMatchObject({ status: 'cancelled', code_cipher: null });
    expect((await t.app.db('vaccination_sessions').where('id', session.id).first()).booked).toBe(0);
  });

  it('refuses a reference that is not a live booking of this mobile, and explains a bare CANCEL', async () => {
    await seedCentre(t.app, { name: 'Refuse Centre', pincode: '220005' });
    const { phone, appointments } = await bookedByUssd(['Jaya Iyer'], '220005');
    const ref: string = appointments[0].reference;
    const other = await registered(['Kamal Iyer']);

    expect(await reply(other, `CANCEL ${ref}`)).toBe(`Tika: no booking with ref ${ref} on this mobile. Send STATUS to see your bookings.`);
    expect(await reply(phone, 'RADD ZZZZ9999')).toBe('Tika: no booking with ref ZZZZ9999 on this mobile. Send STATUS to see your bookings.');
    expect(await reply(phone, 'cancel')).toBe('Tika: to cancel send CANCEL and the booking ref, e.g. CANCEL K7Q2M9AX. Send STATUS to see your refs.');
    expect(await t.app.db('appointments').where('id', appointments[0].id).first()).toMatchObject({ status: 'booked' });
  });
});

describe('BOOK', () => {
  it('books by SMS: PIN code, numbered sessions, the number, YES; the code comes in its own SMS', async () => {
    const near = await seedCentre(t.app, { name: 'AIIMS Delhi', pincode: '110001', capacity: 10, daysFromToday: 1 });
    const later = await seedCentre(t.app, { name: 'Safdarjung Hospital', pincode: '110001', capacity: 5, daysFromToday: 2 });
    const phone = await registered(['Asha Devi']);
    t.at.reset();
    const [day1, day2] = [shortDay(near.session.date), shortDay(later.session.date)];

    expect(await reply(phone, 'BOOK 110001')).toBe(
      `Tika: free seats near 110001. Reply with the number:\n1 AIIMS Delhi ${day1} Covishield 18+: 10 seats\n2 Safdarjung Hospital ${day2} Covishield 18+: 5 seats`,
    );
    expect(await reply(phone, '1')).toBe(`Tika: book Asha Devi at AIIMS Delhi on ${day1}, Covishield dose 1? Reply YES to book, NO for another date.\n0 Back`);
    const messages = await exchange(phone, 'yes', 2);

    const appointment = await t.app.db('appointments').where('session_id', near.session.id).first();
    expect(appointment).toMatchObject({ status: 'booked', dose: 1 });
    expect(messages).toContain(`Tika: booked Asha Devi at AIIMS Delhi on ${day1} 00:00-24:00. Ref ${appointment.reference}. Your security code comes in a separate SMS.`);
    const code = /security code is (\d{4})/.exec(messages.join('\n'))![1]!;
    expect(new CodeVault(t.app.config.CODE_SECRET).matches(appointment.reference, code, appointment.code_hmac)).toBe(true);
    expect((await t.app.db('vaccination_sessions').where('id', near.session.id).first()).booked).toBe(1);

    // The conversation is over: a number now is not an answer.
    expect((await t.app.sessions.get<{ dialogue: unknown }>(conversationKey(phone)))!.dialogue).toBeNull();
    expect(await reply(phone, '1')).toBe(COMMANDS);
  });

  it('asks whom and which PIN code, goes back with NO, books with HAAN', async () => {
    const { centre, session: first } = await seedCentre(t.app, { name: 'Family Centre', pincode: '220006', daysFromToday: 1 });
    const second = await sessionOn(centre.id, 2, 7);
    const phone = await registered(['Lata Shah', 'Mohan Shah']);
    t.at.reset();
    const list = `Tika: free seats near 220006. Reply with the number:\n1 Family Centre ${shortDay(first.date)} Covishield 18+: 10 seats\n2 Family Centre ${shortDay(second.date)} Covishield 18+: 7 seats`;

    expect(await reply(phone, 'buk')).toBe('Tika: book for whom? Reply with the number:\n1 Lata Shah\n2 Mohan Shah');
    expect(await reply(phone, '2')).toBe('Tika: send your 6-digit PIN code to see centres with free seats, e.g. 110001.\n0 Back');
    expect(await reply(phone, '22000')).toBe('A PIN code has 6 digits, e.g. 110001.\nTika: send your 6-digit PIN code to see centres with free seats, e.g. 110001.\n0 Back');
    expect(await reply(phone, '220006')).toBe(`${list}\n0 Back`);
    expect(await reply(phone, '2')).toMatch(/^Tika: book Mohan Shah at Family Centre on .+\? Reply YES/);
    expect(await reply(phone, 'maybe')).toMatch(/^Please reply YES or NO\.\nTika: book Mohan Shah/);
    expect(await reply(phone, 'No')).toBe(list);
    expect(await reply(phone, '1')).toMatch(new RegExp(`^Tika: book Mohan Shah at Family Centre on ${shortDay(first.date)}`));
    const messages = await exchange(phone, 'Haan', 2);
    expect(messages.some((m) => m.startsWith('Tika: booked Mohan Shah at Family Centre'))).toBe(true);

    const booked = await t.app.db('appointments as ap').join('beneficiaries as b', 'b.id', 'ap.beneficiary_id').where('ap.session_id', first.id).select('b.name');
    expect(booked).toEqual([{ name: 'Mohan Shah' }]);
  });

  it('registers a mobile with no one registered first, by SMS (or by dialling)', async () => {
    const stranger = newMobile();
    expect(await reply(stranger, 'BOOK 110001')).toBe(
      `No one is registered on this mobile yet: register first, here by SMS or by dialling ${SERVICE_CODE}.\nTika: to register, send the full name as on the photo ID, e.g. Asha Devi.`,
    );
  });

  it('a keyword starts over in the middle of a conversation', async () => {
    await seedCentre(t.app, { name: 'Restart Centre', pincode: '220007' });
    const phone = await registered(['Nita Roy']);
    t.at.reset();
    expect(await reply(phone, 'BOOK 220007')).toMatch(/^Tika: free seats near 220007/);
    expect(await reply(phone, 'status')).toMatch(/^Tika: no appointment is booked/);
    expect(await reply(phone, '1')).toBe(COMMANDS);
    expect(await t.app.db('appointments as ap').join('beneficiaries as b', 'b.id', 'ap.beneficiary_id').where('b.name', 'Nita Roy')).toEqual([]);
  });
});

describe('languages', () => {
  it('answers in the language of the account, Hindi here, and takes हाँ for yes', async () => {
    const { session } = await seedCentre(t.app, { name: 'Hindi Centre', pincode: '220010', daysFromToday: 1 });
    const phone = await registered(['Rekha Verma'], 'hi');
    t.at.reset();
    const day = shortDay(session.date, 'hi');

    expect(await reply(phone, 'madad')).toBe(
      `टीका: बुकिंग BOOK <पिन कोड>, देखें STATUS, नया कोड CODE, रद्द CANCEL <ref>, नया सदस्य REGISTER भेजें। या ${SERVICE_CODE} डायल करें।`,
    );
    expect(await reply(phone, 'BOOK 220010')).toBe(`टीका: 220010 के पास खाली सीटें। नंबर भेजें:\n1 Hindi Centre ${day} Covishield 18+: 10 सीट`);
    expect(await reply(phone, '1')).toBe(`टीका: Rekha Verma, Hindi Centre, ${day}, Covishield खुराक 1 बुक करें? हाँ: YES, दूसरी तारीख: NO।\n0 वापस`);
    const messages = await exchange(phone, 'हाँ', 2);
    const appointment = await t.app.db('appointments').where('session_id', session.id).first();
    expect(messages).toContain(`टीका: Rekha Verma की बुकिंग Hindi Centre, ${day} 00:00-24:00। Ref ${appointment.reference}। कोड अलग SMS में आएगा।`);
    expect(await reply(phone, 'sthiti')).toBe(`टीका: आपकी बुकिंग:\nRekha Verma ${day} Hindi Centre Ref ${appointment.reference}`);
  });
});

describe('conversations in Redis', () => {
  it('wait 30 minutes for the next SMS; after that a bare number gets help', async () => {
    await seedCentre(t.app, { name: 'Expiry Centre', pincode: '220008' });
    const phone = await registered(['Om Prakash']);
    t.at.reset();
    expect(await reply(phone, 'BOOK 220008')).toMatch(/^Tika: free seats near 220008/);
    const ttl = await t.app.redis.ttl(conversationKey(phone));
    expect(ttl).toBeGreaterThan(1790);
    expect(ttl).toBeLessThanOrEqual(1800);

    await t.app.redis.expire(conversationKey(phone), 1);
    await eventually('the conversation to expire', async () => ((await t.app.redis.exists(conversationKey(phone))) ? undefined : true), 3000);
    expect(await reply(phone, '1')).toBe(COMMANDS);
    expect(await t.app.db('appointments as ap').join('beneficiaries as b', 'b.id', 'ap.beneficiary_id').where('b.name', 'Om Prakash')).toEqual([]);
  });

  it('answer the same incoming SMS once, however often Africa\'s Talking posts it', async () => {
    await seedCentre(t.app, { name: 'Retry Centre', pincode: '220009' });
    const phone = await registered(['Priya Lal']);
    t.at.reset();
    const id = '5e1f1f0c-1d6b-4f3e-9a51-0c7a1de0a0b1';
    const posts = await Promise.all([1, 2, 3].map(() => t.incomingSms(phone, 'BOOK 220009', id)));
    expect(posts.map((p) => p.status)).toEqual([200, 200, 200]);
    const [list] = await eventually('the list', async () => (sentTo(phone).length ? sentTo(phone) : undefined));
    expect(list).toMatch(/^Tika: free seats near 220009\. Reply with the number:\n1 Retry Centre/);
    await nothingMoreTo(phone, 1);
    expect(await t.app.db('inbound_messages').where('provider_message_id', id).count({ n: '*' })).toEqual([{ n: 1 }]);

    // The conversation advanced once: "1" answers the list.
    expect(await reply(phone, '1')).toMatch(/^Tika: book Priya Lal at Retry Centre/);
  });
});
