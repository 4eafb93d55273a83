import { dayIn, longDay, shortDay } from '../../src/domain/dates';
import { eventually, SERVICE_CODE, startTestApp, type TestApp } from '../support/app';
import { pan, seedCentre } from '../support/programme';

/** The hours of the test sessions (seedCentre opens them all day), as every booking message names them. */
const HOURS = '00:00-24:00';

/**
 * A phone without USSD does everything by SMS: REGISTER (or BOOK, or a Hindi keyword) registers a
 * member in a conversation and flows on into booking; the vaccinator's VAX then brings the
 * certificate SMS. Over HTTP exactly as Africa's Talking posts an incoming SMS; what we assert is
 * what reaches the fake provider and what the database holds. No USSD hop anywhere.
 */
let t: TestApp;
let mobiles = 0;
let people = 0;

beforeAll(async () => {
  // Bookings close when the session does: the day runs at 10:00 at the centre (India), whenever the suite runs.
  const today = dayIn('Asia/Kolkata', new Date());
  // A whole life is a dozen SMS from one phone in a few seconds.
  t = await startTestApp({ SMS_REPLIES_PER_MINUTE: '100' }, { now: new Date(`${today}T04:30:00Z`) });
});
afterAll(async () => {
  await t.close();
});
beforeEach(() => t.at.reset());

function newMobile(): string {
  return `+9198200${String(++mobiles).padStart(5, '0')}`;
}

const sentTo = (phone: string) => t.sentTo(phone);
const exchange = (phone: string, text: string, count = 1) => t.exchange(phone, text, count);

async function reply(phone: string, text: string): Promise<string> {
  const [first] = await exchange(phone, text);
  return first!;
}

/** The conversation as the citizen's phone shows it, kept to be printed. */
class Transcript {
  private readonly lines: string[] = [];
  constructor(private readonly title: string) {}
  sent(from: string, text: string): void {
    this.lines.push(`${from} > ${text}`);
  }
  received(to: string, texts: string[]): void {
    for (const text of texts) this.lines.push(...text.split('\n').map((line, i) => `${i === 0 ? `${to} <` : ' '.repeat(to.length + 2)} ${line}`));
  }
  print(): void {
    process.stdout.write(`\n=== ${this.title} ===\n${this.lines.join('\n')}\n`);
  }
}

/** The citizen sends `text` and reads `count` SMS; each step goes into the transcript. */
async function say(transcript: Transcript, phone: string, text: string, count = 1): Promise<string[]> {
  transcript.sent('citizen', text);
  const messages = await exchange(phone, text, count);
  transcript.received('citizen', messages);
  return messages;
}

async function membersOf(phone: string) {
  return t.app.db('beneficiaries as b').join('accounts as a', 'a.id', 'b.account_id').where('a.phone', phone).orderBy('b.id').select('b.*', 'a.language');
}

/** A centre with a session today in `pincode`, and its vaccinator. */
async function centreWithVaccinator(n: number, pincode: string) {
  const { centre, session } = await seedCentre(t.app, { name: `Sector ${n} PHC`, pincode, daysFromToday: 0 });
  const vaccinator = await t.app.programme.createVaccinator({ phone: `+9197100${String(n).padStart(5, '0')}`, name: `Nurse ${n}`, centreId: centre.id });
  return { centre, session, vaccinator };
}

describe('an SMS-only life', () => {
  it('in English: REGISTER, the answers, the booking, the code SMS, VAX by the vaccinator, the certificate SMS', async () => {
    const { centre, session, vaccinator } = await centreWithVaccinator(1, '230001');
    const phone = newMobile();
    const idNumber = pan(++people);
    const day = shortDay(session.date);
    const chat = new Transcript('SMS-only life, English');

    expect(await say(chat, phone, 'REGISTER')).toEqual(['Tika: to register, send the full name as on the photo ID, e.g. Asha Devi.']);
    expect(await say(chat, phone, 'Asha Devi')).toEqual(['Tika: send the year of birth, e.g. 1985.\n0 Back']);
    expect(await say(chat, phone, '1985')).toEqual(['Tika: gender? Reply with the number:\n1 Female\n2 Male\n3 Other\n0 Back']);
    expect(await say(chat, phone, '1')).toEqual([
      'Tika: which photo ID? Reply with the number:\n1 Aadhaar\n2 PAN card\n3 Passport\n4 Voter ID\n5 Driving licence\n0 Back',
    ]);
    expect(await say(chat, phone, '2')).toEqual(['Tika: send the ID number.\n0 Back']);
    expect(await say(chat, phone, idNumber.toLowerCase())).toEqual([
      'Registered: Asha Devi. To add another family member later, send REGISTER.\nTika: send your 6-digit PIN code to see centres with free seats, e.g. 110001.',
    ]);
    const [member] = await membersOf(phone);
    expect(member).toMatchObject({ name: 'Asha Devi', birth_year: 1985, gender: 'F', id_type: 'PAN', id_last4: idNumber.slice(-4), language: 'en' });

    expect(await say(chat, phone, '230001')).toEqual([`Tika: free seats near 230001. Reply with the number:\n1 Sector 1 PHC ${day} Covishield 18+: 10 seats\n0 Back`]);
    expect(await say(chat, phone, '1')).toEqual([`Tika: book Asha Devi at Sector 1 PHC on ${day}, Covishield dose 1? Reply YES to book, NO for another date.\n0 Back`]);
    const booked = await say(chat, phone, 'YES', 2);
    const appointment = await t.app.db('appointments').where('session_id', session.id).first();
    expect(appointment).toMatchObject({ beneficiary_id: member.id, status: 'booked' });
    expect(booked).toContain(`Tika: booked Asha Devi at Sector 1 PHC on ${day} ${HOURS}. Ref ${appointment.reference}. Your security code comes in a separate SMS.`);
    const codeSms = booked.find((m) => m.includes('security code is'))!;
    expect(codeSms).toMatch(new RegExp(`^Tika: booked Asha Devi, Sector 1 PHC, ${longDay(session.date)} ${HOURS}\\. Ref ${appointment.reference}\\. Your security code is \\d{4}\\.`));
    const code = /security code is (\d{4})/.exec(codeSms)![1]!;

    const seen = sentTo(phone).length;
    const vax = `VAX ${phone.slice(3)} ${code}`;
    chat.sent('vaccinator', vax);
    const accepted = await exchange(vaccinator.phone, vax);
    chat.received('vaccinator', accepted);
    expect(accepted).toEqual([`Tika: ACCEPTED. Asha Devi, dose 1, Covishield, ref ${appointment.reference}. Vaccination recorded.`]);
    const [certificateSms] = await eventually('the certificate SMS', async () => (sentTo(phone).length > seen ? sentTo(phone).slice(seen) : undefined));
    chat.received('citizen', [certificateSms!]);
    expect(certificateSms).toMatch(/^Tika: Asha Devi vaccinated \(dose 1\)\. Certificate: http:\/\/tika\.test\/c\/[a-z0-9]+$/);
    expect(await t.app.db('vaccinations').where('appointment_id', appointment.id).first()).toMatchObject({ centre_id: centre.id, dose: 1 });
    chat.print();
  });

  it('in Hindi: पंजीकरण, a Devanagari name, the booking in Hindi, the code SMS, VAX, the certificate SMS in Hindi', async () => {
    const { session, vaccinator } = await centreWithVaccinator(2, '230002');
    const phone = newMobile();
    const idNumber = pan(++people);
    const day = shortDay(session.date, 'hi');
    const chat = new Transcript('SMS-only life, Hindi');

    expect(await say(chat, phone, 'पंजीकरण')).toEqual(['टीका: पंजीकरण: पहचान पत्र पर लिखा पूरा नाम भेजें।']);
    expect(await t.app.db('accounts').where('phone', phone).first('language')).toEqual({ language: 'hi' });
    expect(await say(chat, phone, 'सीता देवी')).toEqual(['टीका: जन्म का साल भेजें, जैसे 1985।\n0 वापस']);
    expect(await say(chat, phone, '1990')).toEqual(['टीका: लिंग? नंबर भेजें:\n1 महिला\n2 पुरुष\n3 अन्य\n0 वापस']);
    expect(await say(chat, phone, '1')).toEqual(['टीका: कौन सा पहचान पत्र? नंबर भेजें:\n1 आधार\n2 पैन कार्ड\n3 पासपोर्ट\n4 वोटर आईडी\n5 ड्राइविंग लाइसेंस\n0 वापस']);
    expect(await say(chat, phone, '2')).toEqual(['टीका: पहचान पत्र का नंबर भेजें।\n0 वापस']);
    expect(await say(chat, phone, idNumber)).toEqual([
      'सीता देवी का पंजीकरण हो गया।\nटीका: खाली सीट वाले केंद्र देखने के लिए अपना 6 अंकों का पिन कोड भेजें, जैसे 110001।',
    ]);
    expect(await say(chat, phone, '230002')).toEqual([`टीका: 230002 के पास खाली सीटें। नंबर भेजें:\n1 Sector 2 PHC ${day} Covishield 18+: 10 सीट\n0 वापस`]);
    expect(await say(chat, phone, '1')).toEqual([`टीका: सीता देवी, Sector 2 PHC, ${day}, Covishield खुराक 1 बुक करें? हाँ: YES, दूसरी तारीख: NO।\n0 वापस`]);
    const booked = await say(chat, phone, 'हाँ', 2);
    const appointment = await t.app.db('appointments').where('session_id', session.id).first();
    expect(booked).toContain(`टीका: सीता देवी की बुकिंग Sector 2 PHC, ${day} ${HOURS}। Ref ${appointment.reference}। कोड अलग SMS में आएगा।`);
    const code = /सुरक्षा कोड (\d{4})\n/.exec(booked.join('\n'))![1]!;

    const seen = sentTo(phone).length;
    const vax = `VAX ${phone.slice(3)} ${code}`;
    chat.sent('vaccinator', vax);
    const accepted = await exchange(vaccinator.phone, vax);
    chat.received('vaccinator', accepted);
    expect(accepted[0]).toMatch(/^Tika: ACCEPTED\. सीता देवी, dose 1, Covishield/);
    const [certificateSms] = await eventually('the certificate SMS', async () => (sentTo(phone).length > seen ? sentTo(phone).slice(seen) : undefined));
    chat.received('citizen', [certificateSms!]);
    expect(certificateSms).toMatch(/^टीका: सीता देवी को डोज 1 लग गई। प्रमाणपत्र: http:\/\/tika\.test\/c\/[a-z0-9]+$/);
    expect((await membersOf(phone)).map((m) => [m.name, m.language])).toEqual([['सीता देवी', 'hi']]);
    chat.print();
  });
});

describe('registering by SMS', () => {
  it('BOOK with a PIN code from a new mobile registers first, then lists the seats at that PIN code; BUK does it in Hindi', async () => {
    const { session } = await seedCentre(t.app, { name: 'Book First PHC', pincode: '230003', daysFromToday: 1 });
    const phone = newMobile();
    expect(await reply(phone, 'BOOK 230003')).toBe(
      `No one is registered on this mobile yet: register first, here by SMS or by dialling ${SERVICE_CODE}.\nTika: to register, send the full name as on the photo ID, e.g. Asha Devi.`,
    );
    for (const answer of ['Ravi Kumar', '1980', '2', '2']) await reply(phone, answer);
    expect(await reply(phone, pan(++people))).toBe(
      `Registered: Ravi Kumar. To add another family member later, send REGISTER.\nTika: free seats near 230003. Reply with the number:\n1 Book First PHC ${shortDay(session.date)} Covishield 18+: 10 seats`,
    );

    const hindi = newMobile();
    expect(await reply(hindi, 'buk 230003')).toBe(
      `कोई सदस्य दर्ज नहीं। पहले पंजीकरण करें, यहीं SMS से या ${SERVICE_CODE} डायल करके।\nटीका: पंजीकरण: पहचान पत्र पर लिखा पूरा नाम भेजें।`,
    );
    expect(await t.app.db('accounts').where('phone', hindi).first('language')).toEqual({ language: 'hi' });
  });

  it('asks again, with the reason, for an invalid name, year or ID number; the third invalid answer ends the conversation', async () => {
    const phone = newMobile();
    const year = t.app.clock.now().getUTCFullYear();
    await reply(phone, 'Register.');
    expect(await reply(phone, 'A1')).toBe('Enter the name in letters, 2 to 40 long.\nTika: to register, send the full name as on the photo ID, e.g. Asha Devi.');
    await reply(phone, 'Meena Kumari');
    expect(await reply(phone, '85')).toBe(`Enter a 4-digit year from ${year - 120} to ${year}.\nTika: send the year of birth, e.g. 1985.\n0 Back`);
    expect(await reply(phone, String(year + 1))).toBe(`Enter a 4-digit year from ${year - 120} to ${year}.\nTika: send the year of birth, e.g. 1985.\n0 Back`);
    expect(await reply(phone, '1970')).toMatch(/^Tika: gender\?/);
    expect(await reply(phone, '4')).toBe('Invalid choice.\nTika: gender? Reply with the number:\n1 Female\n2 Male\n3 Other\n0 Back');
    await reply(phone, '1');
    await reply(phone, '1');
    expect(await reply(phone, '1234 5678 9012')).toBe('That is not a valid number for this ID.\nTika: send the ID number.\n0 Back');
    expect(await reply(phone, 'ABCDE1234F')).toBe('That is not a valid number for this ID.\nTika: send the ID number.\n0 Back');
    expect(await reply(phone, '12345')).toBe('Tika: too many invalid answers. Send HELP for the commands.');
    expect(await membersOf(phone)).toEqual([]);
    // The conversation is over: a number now is not an answer.
    expect(await reply(phone, '1')).toMatch(/^Tika: to book a vaccination send REGISTER/);
  });

  it('adds a family member to a registered mobile and books for that member; a fifth is refused with the limit message', async () => {
    const { session } = await seedCentre(t.app, { name: 'Family PHC', pincode: '230004', daysFromToday: 1 });
    const phone = newMobile();
    for (const name of ['Kamla Devi', 'Ramesh Lal', 'Suresh Lal']) {
      await t.app.booking.register(phone, { name, birthYear: 1970, gender: 'M', idType: 'PAN', idNumber: pan(++people) });
    }
    expect(await reply(phone, 'register')).toMatch(/^Tika: to register, send the full name/);
    for (const answer of ['Gita Lal', '2001', '1', '2', pan(++people)]) await reply(phone, answer);
    // Straight to the new member's booking: no "book for whom?" among four.
    expect(await reply(phone, '230004')).toMatch(/^Tika: free seats near 230004/);
    expect(await reply(phone, '1')).toMatch(/^Tika: book Gita Lal at Family PHC/);
    const messages = await exchange(phone, 'yes', 2);
    expect(messages.some((m) => m.startsWith('Tika: booked Gita Lal at Family PHC'))).toBe(true);
    const booked = await t.app.db('appointments as ap').join('beneficiaries as b', 'b.id', 'ap.beneficiary_id').where('ap.session_id', session.id).select('b.name');
    expect(booked).toEqual([{ name: 'Gita Lal' }]);

    // A Hindi keyword from an English account: the account keeps its language.
    expect(await reply(phone, 'PANJIKARAN')).toBe('Tika: this mobile already has 4 members, the most allowed. Use another mobile to register more.');
    expect((await membersOf(phone)).map((m) => [m.name, m.language])).toEqual([
      ['Kamla Devi', 'en'],
      ['Ramesh Lal', 'en'],
      ['Suresh Lal', 'en'],
      ['Gita Lal', 'en'],
    ]);
  });

  it('refuses a photo ID already registered, from another mobile or the same one, and writes nothing', async () => {
    const idNumber = pan(++people);
    const first = newMobile();
    for (const answer of ['REGISTER', 'Lata Mehra', '1960', '1', '2']) await reply(first, answer);
    expect(await reply(first, idNumber)).toMatch(/^Registered: Lata Mehra\./);

    const second = newMobile();
    for (const answer of ['REGISTER', 'Lata Mehra', '1960', '1', '2']) await reply(second, answer);
    expect(await reply(second, idNumber.toLowerCase())).toBe('Tika: this photo ID is already registered. Send BOOK from the mobile it was registered with.');
    for (const answer of ['REGISTER', 'Lata M', '1960', '1', '2']) await reply(first, answer);
    expect(await reply(first, idNumber)).toBe('Tika: this photo ID is already registered. Send BOOK from the mobile it was registered with.');

    expect((await membersOf(first)).map((m) => m.name)).toEqual(['Lata Mehra']);
    expect(await membersOf(second)).toEqual([]);
  });
});
