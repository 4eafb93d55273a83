import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { CodeVault } from '../../src/domain/codes';
import { dayIn } from '../../src/domain/dates';
import { reportCsv, type DailyReport } from '../../src/domain/reports';
import { eventually, startTestApp, TEST_ADMIN_TOKEN, TEST_WEBHOOK_SECRET, type TestApp } from '../support/app';
import { pan, seedCentre } from '../support/programme';

/**
 * A day at two centres built through the services the product uses: bookings, a dose given with
 * its code, a cancellation, a lock from wrong codes, attempts refused by the vaccinator's hourly
 * budget (6 here), no-shows closed by the sweep, SMS sent through the fake Africa's Talking (KES
 * 0.8000 each) with delivery reports, and rows as a second provider (Exotel, INR) records them.
 */
let t: TestApp;
let day: string;
let smsToA: number;
let smsToB: number;
const VACCINATOR = '+919700000001';
const phoneOf = (n: number) => `+9196100000${String(n).padStart(2, '0')}`;

beforeAll(async () => {
  t = await startTestApp({ MAX_VACCINATOR_FAILURES_PER_HOUR: '6' });
  const { app } = t;
  const a = await seedCentre(app, { name: 'Report Centre A', pincode: '110011', daysFromToday: 0, capacity: 10 });
  const centreB = await app.programme.createCentre({ name: 'Report Centre B', pincode: '560011', district: 'Bengaluru Urban', state: 'Karnataka' });
  day = dayIn(a.centre.timezone, app.clock.now());
  const sessionB = await app.programme.createSession({ centreId: centreB.id, date: day, vaccine: 'Covishield', minAge: 18, dose: 1, capacity: 5, startTime: '00:00', endTime: '24:00' });
  await app.programme.createVaccinator({ phone: VACCINATOR, name: 'Nurse Report', centreId: a.centre.id });

  const vault = new CodeVault(app.config.CODE_SECRET);
  const book = async (n: number, sessionId: number) => {
    const registered = await app.booking.register(phoneOf(n), { name: `Report Member ${'ABCDE'[n - 1]}`, birthYear: 1980, gender: 'F', idType: 'PAN', idNumber: pan(700_000 + n) });
    if (registered.kind !== 'registered') throw new Error(registered.kind);
    const booked = await app.booking.book(phoneOf(n), registered.member.id, sessionId);
    if (booked.kind !== 'booked') throw new Error(booked.kind);
    const row = await app.db('appointments').where('id', booked.appointment.id).first('code_cipher');
    return { id: booked.appointment.id, reference: booked.appointment.reference, code: vault.decrypt(row.code_cipher) };
  };
  const [vaccinated, cancelled, locked, missed] = [await book(1, a.session.id), await book(2, a.session.id), await book(3, a.session.id), await book(4, a.session.id)];
  await book(5, sessionB.id);
  const verify = (target: { reference: string }, code: string) => app.vaccination.verify({ vaccinatorPhone: VACCINATOR, target: { kind: 'reference', reference: target.reference }, code, channel: 'sms' });
  const wrong = (code: string) => String((Number(code) + 1) % 10_000).padStart(4, '0');

  expect((await verify(vaccinated, vaccinated.code)).kind).toBe('accepted');
  expect((await app.booking.cancel(phoneOf(2), cancelled.id)).kind).toBe('cancelled');
  for (let i = 0; i < 5; i++) await verify(locked, wrong(locked.code));
  expect((await verify(missed, wrong(missed.code))).kind).toBe('wrong_code');
  // The sixth wrong code spent the hourly budget: these two are refused unchecked.
  expect((await verify(missed, missed.code)).kind).toBe('too_many_failures');
  expect((await verify(missed, missed.code)).kind).toBe('too_many_failures');

  await eventually('every SMS sent, the certificate SMS too', async () => {
    const open = await app.db('outbound_messages').whereNotIn('status', ['sent', 'failed', 'skipped']).count<{ count: string }[]>('* as count');
    const certificate = await app.db('outbound_messages').where({ template: 'sms.vaccinated', status: 'sent' }).first('id');
    return Number(open[0]!.count) === 0 && certificate ? true : undefined;
  }, 15_000);
  smsToA = t.at.sent.filter((s) => [1, 2, 3, 4].map(phoneOf).includes(s.to)).length;
  smsToB = t.at.sent.filter((s) => s.to === phoneOf(5)).length;

  // Delivery reports as Africa's Talking posts them: two delivered, one failed.
  const ids = (await app.db('outbound_messages').whereIn('phone', [1, 2, 3, 4].map(phoneOf)).orderBy('id').pluck('provider_message_id')) as string[];
  for (const [id, status] of [[ids[0], 'Success'], [ids[1], 'Success'], [ids[2], 'Failed']] as const) {
    const answer = await t.postForm(`/webhooks/africastalking/delivery?key=${TEST_WEBHOOK_SECRET}`, { id: id!, status, phoneNumber: phoneOf(1), networkCode: '40410', ...(status === 'Failed' ? { failureReason: 'UserInBlacklist' } : {}) });
    expect(answer.status).toBe(200);
  }
  // A second provider's rows, as its sender and delivery reports leave them.
  const exotel = { phone: phoneOf(1), template: 'sms.booked', appointment_id: vaccinated.id, provider: 'exotel', status: 'sent', sent_at: app.db.fn.now() };
  await app.db('outbound_messages').insert([
    { ...exotel, cost: 'INR 0.2500', delivery_state: 'delivered', delivery_final: true },
    { ...exotel, cost: 'INR 0.3000' },
    // Not of the day: three days earlier.
    { ...exotel, cost: 'INR 9.0000', created_at: app.db.raw(`now() - interval '3 days'`) },
  ]);
  // An SMS to nobody the programme knows: no centre.
  await app.db('outbound_messages').insert({ phone: '+919999900000', template: 'sms.help', provider: 'africastalking', status: 'sent', cost: 'KES 0.8000' });

  // Two days on, the no-show sweep closes what was still booked (two at A, one at B).
  t.clock.advanceDays(2);
  expect(await app.vaccination.markNoShows()).toBe(3);
}, 60_000);

afterAll(async () => {
  await t.close();
});

const kes = (count: number) => (count * 0.8).toFixed(4);
const noFigures = { booked: 0, vaccinated: 0, noShow: 0, cancelled: 0, codeAttemptsRefused: 0, locks: 0 };

const get = (query: string) => fetch(`${t.baseUrl}/admin/reports/daily?${query}`, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });

describe('GET /admin/reports/daily', () => {
  test('per centre, JSON: every figure of the day', async () => {
    const response = await get(`date=${day}`);
    expect(response.status).toBe(200);
    const report = (await response.json()) as DailyReport;
    // Four booking codes, the cancellation and the dose confirmation; one booking code at B.
    expect([smsToA, smsToB]).toEqual([6, 1]);
    expect(report).toEqual({
      date: day,
      by: 'centre',
      rows: [
        {
          centreId: expect.any(Number),
          centre: 'Report Centre A',
          pincode: '110011',
          district: 'New Delhi',
          state: 'Delhi',
          booked: 3,
          vaccinated: 1,
          noShow: 2,
          cancelled: 1,
          codeAttemptsRefused: 2,
          locks: 1,
          sms: [
            { provider: 'africastalking', sent: smsToA, delivered: 2, failed: 1, cost: { KES: kes(smsToA) } },
            { provider: 'exotel', sent: 2, delivered: 1, failed: 0, cost: { INR: '0.5500' } },
          ],
        },
        {
          centreId: expect.any(Number),
          centre: 'Report Centre B',
          pincode: '560011',
          district: 'Bengaluru Urban',
          state: 'Karnataka',
          ...noFigures,
          booked: 1,
          noShow: 1,
          sms: [{ provider: 'africastalking', sent: smsToB, delivered: 0, failed: 0, cost: { KES: kes(smsToB) } }],
        },
        { centreId: null, centre: null, pincode: null, district: null, state: null, ...noFigures, sms: [{ provider: 'africastalking', sent: 1, delivered: 0, failed: 0, cost: { KES: '0.8000' } }] },
      ],
    });
  });

  test('per district, CSV: a header row and one line each', async () => {
    const response = await get(`date=${day}&by=district&format=csv`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(response.headers.get('content-disposition')).toBe(`attachment; filename="tika-daily-${day}-by-district.csv"`);
    expect((await response.text()).split('\n')).toEqual([
      'date,state,district,centres,booked,vaccinated,no_show,cancelled,code_attempts_refused,locks,sms_sent,sms_delivered,sms_failed,africastalking_sent,africastalking_delivered,africastalking_failed,africastalking_cost_KES,exotel_sent,exotel_delivered,exotel_failed,exotel_cost_INR',
      `${day},Delhi,New Delhi,1,3,1,2,1,2,1,${smsToA + 2},3,1,${smsToA},2,1,${kes(smsToA)},2,1,0,0.5500`,
      `${day},Karnataka,Bengaluru Urban,1,1,0,1,0,0,0,${smsToB},0,0,${smsToB},0,0,${kes(smsToB)},0,0,0,0`,
      `${day},,,0,0,0,0,0,0,0,1,0,0,1,0,0,0.8000,0,0,0,0`,
      '',
    ]);
  });

  test('a day with nothing is an empty report', async () => {
    expect(await (await get('date=2020-01-01')).json()).toEqual({ date: '2020-01-01', by: 'centre', rows: [] });
    expect(await (await get('date=2020-01-01&format=csv')).text()).toBe(
      'date,centre_id,centre,pincode,district,state,booked,vaccinated,no_show,cancelled,code_attempts_refused,locks,sms_sent,sms_delivered,sms_failed\n',
    );
  });

  test.each([
    ['no date', '', 400, { error: 'invalid_request', message: 'date is required' }],
    ['a date that does not exist', 'date=2026-02-30', 400, { error: 'invalid_request', message: 'date must be a real date written YYYY-MM-DD' }],
    ['an unknown grouping', 'date=2026-12-01&by=state', 400, { error: 'invalid_request', message: 'by must be one of centre, district' }],
    ['an unknown format', 'date=2026-12-01&format=xlsx', 400, { error: 'invalid_request', message: 'format must be one of json, csv' }],
  ])('%s is refused', async (_label, query, status, expected) => {
    const response = await get(query);
    expect(response.status).toBe(status);
    expect(await response.json()).toMatchObject(expected);
  });

  test('needs the admin token', async () => {
    expect((await fetch(`${t.baseUrl}/admin/reports/daily?date=${day}`)).status).toBe(401);
  });
});

describe('tika report (the CLI as a process)', () => {
  const run = (args: string[]) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { cwd: join(__dirname, '..', '..'), env: { ...process.env, ...t.env } });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk) => (stdout += chunk));
      child.stderr.on('data', (chunk) => (stderr += chunk));
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });

  test('--by district writes the same CSV as the API', async () => {
    const result = await run(['report', '--date', day, '--by', 'district']);
    const api = (await (await get(`date=${day}&by=district&format=json`)).json()) as DailyReport;
    expect(result.stdout).toBe(reportCsv(api));
    expect(result.code).toBe(0);
  }, 30_000);

  test('--format json, and a bad date exits 1 with a message', async () => {
    const json = await run(['report', '--date', day, '--format', 'json']);
    expect(JSON.parse(json.stdout)).toEqual(await (await get(`date=${day}`)).json());
    const bad = await run(['report', '--date', '01/12/2026']);
    expect(bad.stderr).toContain('--date must be a real date written YYYY-MM-DD, not "01/12/2026"');
    expect(bad.code).toBe(1);
  }, 30_000);
});
