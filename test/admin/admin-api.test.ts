import http from 'node:http';
import { systemClock } from '../../src/domain/clock';
import { CodeVault } from '../../src/domain/codes';
import { VaccinationService } from '../../src/domain/vaccination';
import type { AddressInfo } from 'node:net';
import express from 'express';
import type { Db } from '../../src/db/knex';
import { ProgrammeService } from '../../src/domain/programme';
import { adminRouter } from '../../src/http/admin';
import { freshDb } from '../support/db';

const TOKEN = 'test-admin-token-0123456789';

interface Fixtures {
  delhi: number;
  bengaluru: number;
  mumbai: number;
  delhiSession: number;
  bengaluruVaccinator: number;
}

type Json = Record<string, unknown>;
type FromFixtures<T> = T | ((fx: Fixtures) => T);

interface Case {
  label: string;
  method: 'GET' | 'POST' | 'PATCH';
  path: FromFixtures<string>;
  /** Sent as JSON. */
  body?: FromFixtures<Json>;
  /** Sent verbatim, for bodies that are not valid JSON. */
  raw?: { contentType: string; text: string };
  auth?: 'none' | 'wrong' | 'basic';
  status: number;
  expected?: FromFixtures<Json>;
  /** Runs after the response: asserts what the database now holds. */
  check?: (db: Db, body: Json, fx: Fixtures) => Promise<void>;
}

let db: Db;
let server: http.Server;
let baseUrl: string;
let fx: Fixtures;

const resolve = <T>(value: FromFixtures<T>): T => (typeof value === 'function' ? (value as (f: Fixtures) => T)(fx) : value);

function invalid(field: string): Json {
  return {
    error: 'invalid_request',
    message: expect.stringContaining(field),
    issues: expect.arrayContaining([expect.objectContaining({ path: field })]),
  };
}

const centre = { name: 'Safdarjung Hospital', pincode: '110029', district: 'New Delhi', state: 'Delhi' };
const session = (centreId: number) => ({ centreId, date: '2026-12-03', vaccine: 'Covaxin', minAge: 18, dose: 1, capacity: 75 });

const cases: Case[] = [
  // Authentication
  { label: 'auth: no Authorization header is 401', method: 'GET', path: '/centres', auth: 'none', status: 401, expected: { error: 'unauthorized', message: expect.stringContaining('Bearer') } },
  { label: 'auth: wrong token is 401', method: 'GET', path: '/centres', auth: 'wrong', status: 401, expected: { error: 'unauthorized', message: 'the admin token is not valid' } },
  { label: 'auth: Basic scheme is 401', method: 'GET', path: '/centres', auth: 'basic', status: 401, expected: { error: 'unauthorized' } },
  { label: 'auth: checked before the body is parsed', method: 'POST', path: '/centres', raw: { contentType: 'application/json', text: '{"name":' }, auth: 'none', status: 401, expected: { error: 'unauthorized' } },
  { label: 'auth: right token is 200', method: 'GET', path: '/centres', status: 200, expected: { centres: expect.any(Array) } },

  // Centres
  {
    label: 'centre: created with the default time zone, row in the database',
    method: 'POST',
    path: '/centres',
    body: centre,
    status: 201,
    expected: { ...centre, id: expect.any(Number), timezone: 'Asia/Kolkata', createdAt: expect.any(String) },
    check: async (db, body) => {
      expect(await db('centres').where({ id: body.id }).first()).toMatchObject({ ...centre, timezone: 'Asia/Kolkata', active: true });
    },
  },
  {
    label: 'centre: names are trimmed and an explicit time zone is kept',
    method: 'POST',
    path: '/centres',
    body: { ...centre, name: '  Port Blair PHC ', pincode: '744101', timezone: 'Asia/Kolkata' },
    status: 201,
    expected: { name: 'Port Blair PHC', pincode: '744101', timezone: 'Asia/Kolkata' },
  },
  { label: 'centre: pincode starting with 0 is 400 naming pincode', method: 'POST', path: '/centres', body: { ...centre, pincode: '011001' }, status: 400, expected: invalid('pincode') },
  { label: 'centre: 5-digit pincode is 400 naming pincode', method: 'POST', path: '/centres', body: { ...centre, pincode: '11001' }, status: 400, expected: invalid('pincode') },
  { label: 'centre: numeric pincode is 400 naming pincode', method: 'POST', path: '/centres', body: { ...centre, pincode: 110001 }, status: 400, expected: invalid('pincode') },
  { label: 'centre: unknown time zone is 400 naming timezone', method: 'POST', path: '/centres', body: { ...centre, timezone: 'Mars/Olympus' }, status: 400, expected: invalid('timezone') },
  { label: 'centre: a zone Node knows but PostgreSQL does not is 400', method: 'POST', path: '/centres', body: { ...centre, timezone: 'US/Pacific-New' }, status: 400, expected: invalid('timezone') },
  { label: 'centre: UTC offset is not an IANA zone', method: 'POST', path: '/centres', body: { ...centre, timezone: '+05:30' }, status: 400, expected: invalid('timezone') },
  { label: 'centre: missing name is 400 naming name', method: 'POST', path: '/centres', body: { ...centre, name: undefined }, status: 400, expected: invalid('name') },
  { label: 'centre: 61-character name is 400', method: 'POST', path: '/centres', body: { ...centre, name: 'x'.repeat(61) }, status: 400, expected: invalid('name') },
  { label: 'centre: unknown field is 400', method: 'POST', path: '/centres', body: { ...centre, timeZone: 'Asia/Kolkata' }, status: 400, expected: { ...invalid('timeZone'), message: 'timeZone is not a known field' } },
  { label: 'centre: malformed JSON is 400', method: 'POST', path: '/centres', raw: { contentType: 'application/json', text: '{"name": "AIIMS",' }, status: 400, expected: { error: 'invalid_request', message: 'request body is not valid JSON' } },
  { label: 'centre: a non-JSON body is 400', method: 'POST', path: '/centres', raw: { contentType: 'text/plain', text: 'name=AIIMS' }, status: 400, expected: { error: 'invalid_request', message: expect.stringContaining('JSON') } },
  {
    label: 'centres: filtered by pincode',
    method: 'GET',
    path: '/centres?pincode=400001',
    status: 200,
    expected: (f) => ({ centres: [expect.objectContaining({ id: f.mumbai, name: 'KEM Hospital', pincode: '400001' })] }),
  },
  { label: 'centres: a bad pincode filter is 400', method: 'GET', path: '/centres?pincode=abc', status: 400, expected: invalid('pincode') },
  { label: 'centres: an unknown filter is 400', method: 'GET', path: '/centres?pin=110001', status: 400, expected: invalid('pin') },

  // Sessions
  {
    label: 'session: created with all seats free, row in the database',
    method: 'POST',
    path: '/sessions',
    body: (f) => session(f.delhi),
    status: 201,
    expected: (f) => ({ ...session(f.delhi), id: expect.any(Number), booked: 0, freeSeats: 75 }),
    check: async (db, body, f) => {
      expect(await db('vaccination_sessions').where({ id: body.id }).first()).toMatchObject({ centre_id: f.delhi, date: '2026-12-03', vaccine: 'Covaxin', min_age: 18, dose: 1, capacity: 75, booked: 0 });
    },
  },
  {
    label: 'session: unknown centre is 404',
    method: 'POST',
    path: '/sessions',
    body: session(999_999),
    status: 404,
    expected: { error: 'not_found', message: 'centre 999999 does not exist' },
    check: async (db) => expect(await db('vaccination_sessions').where({ centre_id: 999_999 })).toHaveLength(0),
  },
  { label: 'session: 2026-02-30 is 400 naming date', method: 'POST', path: '/sessions', body: (f) => ({ ...session(f.delhi), date: '2026-02-30' }), status: 400, expected: invalid('date') },
  { label: 'session: 03/12/2026 is 400 naming date', method: 'POST', path: '/sessions', body: (f) => ({ ...session(f.delhi), date: '03/12/2026' }), status: 400, expected: invalid('date') },
  { label: 'session: dose 4 is 400 naming dose', method: 'POST', path: '/sessions', body: (f) => ({ ...session(f.delhi), dose: 4 }), status: 400, expected: invalid('dose') },
  { label: 'session: minAge 121 is 400 naming minAge', method: 'POST', path: '/sessions', body: (f) => ({ ...session(f.delhi), minAge: 121 }), status: 400, expected: invalid('minAge') },
  { label: 'session: capacity 0 is 400 naming capacity', method: 'POST', path: '/sessions', body: (f) => ({ ...session(f.delhi), capacity: 0 }), status: 400, expected: invalid('capacity') },
  { label: 'session: fractional capacity is 400', method: 'POST', path: '/sessions', body: (f) => ({ ...session(f.delhi), capacity: 10.5 }), status: 400, expected: invalid('capacity') },
  { label: 'session: empty vaccine is 400 naming vaccine', method: 'POST', path: '/sessions', body: (f) => ({ ...session(f.delhi), vaccine: ' ' }), status: 400, expected: invalid('vaccine') },
  { label: 'session: centreId as text is 400', method: 'POST', path: '/sessions', body: (f) => ({ ...session(f.delhi), centreId: String(f.delhi) }), status: 400, expected: invalid('centreId') },
  {
    label: 'sessions: filtered by centre and date',
    method: 'GET',
    path: (f) => `/sessions?centreId=${f.delhi}&date=2026-12-01`,
    status: 200,
    expected: (f) => ({ sessions: [{ id: f.delhiSession, centreId: f.delhi, date: '2026-12-01', vaccine: 'Covishield', minAge: 45, dose: 1, capacity: 50, booked: 0, freeSeats: 50 }] }),
  },
  { label: 'sessions: a bad date filter is 400', method: 'GET', path: '/sessions?date=2026-13-01', status: 400, expected: invalid('date') },
  { label: 'sessions: a bad centre filter is 400', method: 'GET', path: '/sessions?centreId=abc', status: 400, expected: invalid('centreId') },

  // Vaccinators
  {
    label: 'vaccinator: phone "98765 43210" is stored as +919876543210',
    method: 'POST',
    path: '/vaccinators',
    body: (f) => ({ phone: '98765 43210', name: 'Asha Verma', centreId: f.delhi }),
    status: 201,
    expected: (f) => ({ id: expect.any(Number), phone: '+919876543210', name: 'Asha Verma', centreId: f.delhi, active: true }),
    check: async (db) => expect(await db('vaccinators').where({ phone: '+919876543210' })).toHaveLength(1),
  },
  {
    label: 'vaccinator: the same phone written another way is 409',
    method: 'POST',
    path: '/vaccinators',
    body: (f) => ({ phone: '098123-00002', name: 'Someone Else', centreId: f.delhi }),
    status: 409,
    expected: { error: 'conflict', message: expect.stringContaining('+919812300002') },
    check: async (db) => expect(await db('vaccinators').where({ phone: '+919812300002' })).toHaveLength(1),
  },
  { label: 'vaccinator: an invalid phone is 400 naming phone', method: 'POST', path: '/vaccinators', body: (f) => ({ phone: '12345', name: 'X', centreId: f.delhi }), status: 400, expected: invalid('phone') },
  { label: 'vaccinator: unknown centre is 404', method: 'POST', path: '/vaccinators', body: { phone: '+919812300099', name: 'X', centreId: 424_242 }, status: 404, expected: { error: 'not_found', message: 'centre 424242 does not exist' } },
  {
    label: 'vaccinators: filtered by centre',
    method: 'GET',
    path: (f) => `/vaccinators?centreId=${f.bengaluru}`,
    status: 200,
    expected: (f) => ({ vaccinators: [{ id: f.bengaluruVaccinator, phone: '+919812300002', name: 'Ravi Shetty', centreId: f.bengaluru, active: true }] }),
  },
  {
    label: 'vaccinator: PATCH active=false deactivates',
    method: 'PATCH',
    path: (f) => `/vaccinators/${f.bengaluruVaccinator}`,
    body: { active: false },
    status: 200,
    expected: (f) => ({ id: f.bengaluruVaccinator, active: false }),
    check: async (db, _body, f) => expect(await db('vaccinators').where({ id: f.bengaluruVaccinator }).first()).toMatchObject({ active: false }),
  },
  {
    label: 'vaccinator: PATCH active=true reactivates',
    method: 'PATCH',
    path: (f) => `/vaccinators/${f.bengaluruVaccinator}`,
    body: { active: true },
    status: 200,
    expected: { active: true },
    check: async (db, _body, f) => expect(await db('vaccinators').where({ id: f.bengaluruVaccinator }).first()).toMatchObject({ active: true }),
  },
  { label: 'vaccinator: PATCH an unknown id is 404', method: 'PATCH', path: '/vaccinators/999999', body: { active: false }, status: 404, expected: { error: 'not_found', message: 'vaccinator 999999 does not exist' } },
  { label: 'vaccinator: PATCH a non-numeric id is 400', method: 'PATCH', path: '/vaccinators/abc', body: { active: false }, status: 400, expected: invalid('id') },
  { label: 'vaccinator: PATCH active "no" is 400 naming active', method: 'PATCH', path: (f) => `/vaccinators/${f.bengaluruVaccinator}`, body: { active: 'no' }, status: 400, expected: invalid('active') },
];

async function createFixtures(programme: ProgrammeService): Promise<Fixtures> {
  const delhi = await programme.createCentre({ name: 'AIIMS Delhi', pincode: '110001', district: 'New Delhi', state: 'Delhi' });
  const bengaluru = await programme.createCentre({ name: 'Victoria Hospital', pincode: '560001', district: 'Bengaluru Urban', state: 'Karnataka' });
  const mumbai = await programme.createCentre({ name: 'KEM Hospital', pincode: '400001', district: 'Mumbai', state: 'Maharashtra' });
  const delhiSession = await programme.createSession({ centreId: delhi.id, date: '2026-12-01', vaccine: 'Covishield', minAge: 45, dose: 1, capacity: 50 });
  await programme.createSession({ centreId: delhi.id, date: '2026-12-02', vaccine: 'Covishield', minAge: 45, dose: 1, capacity: 50 });
  await programme.createSession({ centreId: bengaluru.id, date: '2026-12-01', vaccine: 'Covaxin', minAge: 18, dose: 1, capacity: 60 });
  await programme.createVaccinator({ phone: '+919812300001', name: 'Sunita Sharma', centreId: delhi.id });
  const bengaluruVaccinator = await programme.createVaccinator({ phone: '+919812300002', name: 'Ravi Shetty', centreId: bengaluru.id });
  return { delhi: delhi.id, bengaluru: bengaluru.id, mumbai: mumbai.id, delhiSession: delhiSession.id, bengaluruVaccinator: bengaluruVaccinator.id };
}

function authorization(auth: Case['auth']): Record<string, string> {
  switch (auth) {
    case 'none':
      return {};
    case 'wrong':
      return { authorization: 'Bearer not-the-token' };
    case 'basic':
      return { authorization: `Basic ${Buffer.from(`admin:${TOKEN}`).toString('base64')}` };
    default:
      return { authorization: `Bearer ${TOKEN}` };
  }
}

async function send(c: Case): Promise<{ status: number; body: Json }> {
  const headers = authorization(c.auth);
  let payload: string | undefined;
  if (c.raw) {
    headers['content-type'] = c.raw.contentType;
    payload = c.raw.text;
  } else if (c.body !== undefined) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(resolve(c.body));
  }
  const response = await fetch(`${baseUrl}${resolve(c.path)}`, { method: c.method, headers, body: payload });
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  return { status: response.status, body: (await response.json()) as Json };
}

beforeAll(async () => {
  db = await freshDb();
  const programme = new ProgrammeService(db, { defaultTimezone: 'Asia/Kolkata', defaultCountry: 'IN' });
  fx = await createFixtures(programme);
  const app = express();
  const vaccination = new VaccinationService(db, new CodeVault('admin-test-secret-0123456789abcdef'), systemClock);
  app.use('/admin', adminRouter({ programme, vaccination, adminToken: TOKEN }));
  server = http.createServer(app);
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/admin`;
});

afterAll(async () => {
  await new Promise((closed) => server.close(closed));
  await db.destroy();
});

describe('admin API', () => {
  test('case labels are unique', () => {
    expect(new Set(cases.map((c) => c.label)).size).toBe(cases.length);
  });

  test.each(cases.map((c) => [c.label, c] as const))('%s', async (_label, c) => {
    const { status, body } = await send(c);
    expect({ status, body }).toMatchObject({ status: c.status, body: c.expected ? resolve(c.expected) : {} });
    if (c.check) await c.check(db, body, fx);
  });
});

describe('adminRouter', () => {
  test('refuses to start without a token', () => {
    const programme = new ProgrammeService(db, { defaultTimezone: 'Asia/Kolkata', defaultCountry: 'IN' });
    const vaccination = new VaccinationService(db, new CodeVault('admin-test-secret-0123456789abcdef'), systemClock);
    expect(() => adminRouter({ programme, vaccination, adminToken: '' })).toThrow(/token/);
  });
});
