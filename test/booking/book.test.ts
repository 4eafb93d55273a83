import { Client } from 'pg';
import { CodeVault } from '../../src/domain/codes';
import { longDay } from '../../src/domain/dates';
import { startTestApp, type TestApp } from '../support/app';
import { testDatabaseUrl } from '../support/db';
import { pan, seedCentre } from '../support/programme';

/**
 * BookingService.book reads everything first and takes the seat, the appointment and its SMS in
 * one statement: what it returns and writes must be what a booking read back from the database
 * shows, whatever happens to the session between the reads and the seat.
 */
let t: TestApp;
let people = 0;
let mobiles = 0;
const newMobile = () => `+9198400${String(++mobiles).padStart(5, '0')}`;

beforeAll(async () => {
  t = await startTestApp({}, { worker: false });
});
afterAll(async () => {
  await t.close();
});

async function registerMember(phone: string, name = `Person ${people + 1}`): Promise<number> {
  const result = await t.app.booking.register(phone, { name, birthYear: 1985, gender: 'F', idType: 'PAN', idNumber: pan(80_000 + ++people) });
  if (result.kind !== 'registered') throw new Error(`could not register ${name}: ${result.kind}`);
  return result.member.id;
}

async function codeSms(appointmentId: number) {
  return t.app.db('outbound_messages').where({ appointment_id: appointmentId, template: 'sms.booking_code' }).select('phone', 'language', 'params');
}

/**
 * Runs `meanwhile` while a booking waits for the session's row: another transaction holds the row
 * until the booking is seen waiting on it, then `meanwhile` runs in that transaction and commits.
 */
async function whileBookingWaits<T>(sessionId: number, book: () => Promise<T>, meanwhile: (client: Client) => Promise<void>): Promise<T> {
  const client = new Client({ connectionString: testDatabaseUrl() });
  await client.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT id FROM vaccination_sessions WHERE id = $1 FOR UPDATE', [sessionId]);
    const booking = book();
    // Watched from another connection: a transaction sees pg_stat_activity as it was when first read.
    for (let waited = 0; ; waited += 20) {
      const { rows } = await t.app.db.raw(
        `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%UPDATE vaccination_sessions SET booked%'`,
      );
      if (rows.length > 0) break;
      if (waited > 10_000) throw new Error('the booking never waited for the session row');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await meanwhile(client);
    await client.query('COMMIT');
    return await booking;
  } finally {
    await client.end();
  }
}

describe('booking', () => {
  it('returns the appointment as the database then shows it, with its code SMS and its code stored only as HMAC and cipher', async () => {
    const { centre, session } = await seedCentre(t.app, { name: 'Lok Nayak Hospital', pincode: '110002', startTime: '09:30', endTime: '16:00' });
    const phone = newMobile();
    const memberId = await registerMember(phone, 'Asha Verma');
    const result = await t.app.booking.book(phone, memberId, session.id);
    if (result.kind !== 'booked') throw new Error(result.kind);

    const stored = await t.app.booking.appointmentFor(phone, result.appointment.id);
    expect(result.appointment).toStrictEqual(stored);
    expect(result.appointment).toMatchObject({ beneficiaryId: memberId, sessionId: session.id, centreId: centre.id, memberName: 'Asha Verma', centreName: 'Lok Nayak Hospital', date: session.date, dose: 1, startTime: '09:30', endTime: '16:00' });

    expect(await codeSms(result.appointment.id)).toEqual([
      { phone, language: 'en', params: { memberName: 'Asha Verma', centre: 'Lok Nayak Hospital', date: longDay(session.date, 'en'), time: '09:30-16:00', ref: result.appointment.reference } },
    ]);
    const row = await t.app.db('appointments').where('id', result.appointment.id).first();
    const vault = new CodeVault(t.app.config.CODE_SECRET);
    const code = vault.decrypt(row.code_cipher);
    expect(code).toMatch(/^\d{4}$/);
    expect(vault.matches(row.reference, code, row.code_hmac)).toBe(true);
    expect(JSON.stringify(row)).not.toContain(`"${code}"`);
    expect((await t.app.db('vaccination_sessions').where('id', session.id).first()).booked).toBe(1);
  });

  it('books with the hours an operator moved while the booking waited for the seat, and says those hours in the SMS', async () => {
    const { session } = await seedCentre(t.app, { pincode: '110003', startTime: '09:00', endTime: '17:00' });
    const phone = newMobile();
    const memberId = await registerMember(phone);
    const result = await whileBookingWaits(
      session.id,
      () => t.app.booking.book(phone, memberId, session.id),
      async (client) => {
        await client.query(`UPDATE vaccination_sessions SET start_time = '10:00', end_time = '14:00' WHERE id = $1`, [session.id]);
      },
    );
    if (result.kind !== 'booked') throw new Error(result.kind);
    expect(result.appointment).toMatchObject({ startTime: '10:00', endTime: '14:00' });
    expect(result.appointment).toStrictEqual(await t.app.booking.appointmentFor(phone, result.appointment.id));
    const sms = await codeSms(result.appointment.id);
    expect(sms).toHaveLength(1);
    expect(sms[0].params.time).toBe('10:00-14:00');
  });

  it('refuses as full, writing nothing, when the session is deactivated while the booking waits for the seat', async () => {
    const { session } = await seedCentre(t.app, { pincode: '110004' });
    const phone = newMobile();
    const memberId = await registerMember(phone);
    const result = await whileBookingWaits(
      session.id,
      () => t.app.booking.book(phone, memberId, session.id),
      async (client) => {
        await client.query('UPDATE vaccination_sessions SET active = false WHERE id = $1', [session.id]);
      },
    );
    expect(result).toEqual({ kind: 'full' });
    expect(await t.app.db('appointments').where('session_id', session.id).count({ n: '*' })).toEqual([{ n: 0 }]);
    expect(await t.app.db('outbound_messages').where('phone', phone).count({ n: '*' })).toEqual([{ n: 0 }]);
    expect((await t.app.db('vaccination_sessions').where('id', session.id).first()).booked).toBe(0);
  });

  it('takes exactly the seats there are, one appointment and one code SMS each, when 40 mobiles book 7 seats at once', async () => {
    const { session } = await seedCentre(t.app, { pincode: '110005', capacity: 7 });
    const members = [];
    for (let i = 0; i < 40; i++) {
      const phone = newMobile();
      members.push({ phone, memberId: await registerMember(phone) });
    }
    const results = await Promise.all(members.map((m) => t.app.booking.book(m.phone, m.memberId, session.id)));
    expect(results.filter((r) => r.kind === 'booked')).toHaveLength(7);
    expect(results.filter((r) => r.kind === 'full')).toHaveLength(33);
    expect((await t.app.db('vaccination_sessions').where('id', session.id).first()).booked).toBe(7);
    const appointments = await t.app.db('appointments').where('session_id', session.id).select('id');
    expect(appointments).toHaveLength(7);
    const sms = await t.app.db('outbound_messages').whereIn('appointment_id', appointments.map((a) => a.id)).select('appointment_id');
    expect(sms.map((s) => s.appointment_id).sort()).toEqual(appointments.map((a) => a.id).sort());
  });

  it('books four members of one mobile at once one after another, each once, with four different codes', async () => {
    const { session } = await seedCentre(t.app, { pincode: '110006', capacity: 10 });
    const phone = newMobile();
    const memberIds = [];
    for (let i = 0; i < 4; i++) memberIds.push(await registerMember(phone));
    // Each member twice at once: the second of each is refused as already booked, never booked twice.
    const results = await Promise.all([...memberIds, ...memberIds].map((id) => t.app.booking.book(phone, id, session.id)));
    expect(results.filter((r) => r.kind === 'booked')).toHaveLength(4);
    expect(results.filter((r) => r.kind === 'already_booked')).toHaveLength(4);
    const rows = await t.app.db('appointments').where('session_id', session.id).select('reference', 'code_cipher', 'beneficiary_id');
    expect(rows.map((r) => r.beneficiary_id).sort()).toEqual([...memberIds].sort());
    const vault = new CodeVault(t.app.config.CODE_SECRET);
    expect(new Set(rows.map((r) => vault.decrypt(r.code_cipher))).size).toBe(4);
    expect((await t.app.db('vaccination_sessions').where('id', session.id).first()).booked).toBe(4);
  });

  it('creates one account for a new mobile whose first requests arrive at once, and keeps its family limit', async () => {
    const phone = newMobile();
    const results = await Promise.all(
      Array.from({ length: 6 }, () => t.app.booking.register(phone, { name: 'Same Family', birthYear: 1980, gender: 'M', idType: 'PAN', idNumber: pan(80_000 + ++people) })),
    );
    expect(results.filter((r) => r.kind === 'registered')).toHaveLength(4);
    expect(results.filter((r) => r.kind === 'member_limit')).toHaveLength(2);
    expect(await t.app.db('accounts').where('phone', phone).count({ n: '*' })).toEqual([{ n: 1 }]);
  });
});
