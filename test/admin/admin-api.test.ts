import http from 'node:http';
import { ManualClock } from '../../src/domain/clock';
import { CodeVault } from '../../src/domain/codes';
import { VaccinationService } from '../../src/domain/vaccination';
import type { AddressInfo } from 'node:net';
import { ImportService } from '../../src/domain/import';
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
  /** Two appointments of one mobile (LOOKUP_PHONE): `locked` after five wrong codes, `open` not. */
  locked: { id: number; reference: string };
  open: { id: number; reference: string };
  /** Locked too, unlocked by its numeric id. */
  lockedById: number;
}

/** "Today" for these tests, at the centres (Asia/Kolkata): the fixtures' sessions are days after it. */
const TODAY = '2026-11-28';
const clock = new ManualClock(new Date(`${TODAY}T10:00:00+05:30`));
const LOOKUP_PHONE = '+919876500001';

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
  {
    label: 'centre: the same name and PIN code again (any case) is 409 with the existing id',
    method: 'POST',
    path: '/centres',
    body: { name: 'aiims delhi', pincode: '110001', district: 'New Delhi', state: 'Delhi' },
    status: 409,
    expected: (f) => ({ error: 'conflict', message: expect.stringContaining(`already exists (id ${f.delhi})`), existingId: f.delhi }),
    check: async (db) => expect(await db('centres').where({ pincode: '110001' })).toHaveLength(1),
  },
  { label: 'centre: the same name in another PIN code is a new centre', method: 'POST', path: '/centres', body: { name: 'AIIMS Delhi', pincode: '110002', district: 'New Delhi', state: 'Delhi' }, status: 201, expected: { name: 'AIIMS Delhi', pincode: '110002' } },
  { label: 'centre: unknown field is 400', method: 'POST', path: '/centres', body: { ...centre, timeZone: 'Asia/Kolkata' }, status: 400, expected: { ...invalid('timeZone'), message: 'timeZone is not a known field' } },
  { label: 'centre: malformed JSON is 400', method: 'POST', path: '/centres', raw: { contentType: 'application/json', text: '{"name": "AIIMS",' }, status: 400, expected: { error: 'invalid_request', message: 'request body is not valid JSON' } },
  { label: 'centre: a non-JSON body is 415, naming the type', method: 'POST', path: '/centres', raw: { contentType: 'text/plain', text: 'name=AIIMS' }, status: 415, expected: { error: 'unsupported_media_type', message: expect.stringContaining('application/json') } },
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
  {
    label: 'session: runs 09:00-17:00 unless told, and keeps the hours it is given',
    method: 'POST',
    path: '/sessions',
    body: (f) => ({ ...session(f.delhi), startTime: '14:00', endTime: '24:00' }),
    status: 201,
    expected: { startTime: '14:00', endTime: '24:00' },
    check: async (db, body) => expect(await db('vaccination_sessions').where({ id: body.id }).first()).toMatchObject({ start_time: '14:00:00', end_time: '24:00:00' }),
  },
  { label: 'session: default hours are 09:00-17:00', method: 'POST', path: '/sessions', body: (f) => ({ ...session(f.delhi), date: TODAY }), status: 201, expected: { date: TODAY, startTime: '09:00', endTime: '17:00' } },
  { label: 'session: the day before today at the centre is 400 naming date', method: 'POST', path: '/sessions', body: (f) => ({ ...session(f.delhi), date: '2026-11-27' }), status: 400, expected: { ...invalid('date'), message: 'date must not be in the past (today at the centre is 2026-11-28)' } },
  { label: 'session: a vaccine not in DOSE_INTERVAL_DAYS is 400 naming the known ones', method: 'POST', path: '/sessions', body: (f) => ({ ...session(f.delhi), vaccine: 'Sputnik' }), status: 400, expected: { ...invalid('vaccine'), message: expect.stringContaining('Covishield, Covaxin') } },
  {
    label: 'session: a known vaccine in another case is stored by its configured name',
    method: 'POST',
    path: '/sessions',
    body: (f) => ({ ...session(f.delhi), vaccine: 'covaxin' }),
    status: 201,
    expected: { vaccine: 'Covaxin' },
  },
  { label: 'session: capacity 10,001 is 400 naming capacity', method: 'POST', path: '/sessions', body: (f) => ({ ...session(f.delhi), capacity: 10_001 }), status: 400, expected: { ...invalid('capacity'), message: 'capacity must be at most 10000' } },
  { label: 'session: capacity 10,000 is accepted', method: 'POST', path: '/sessions', body: (f) => ({ ...session(f.delhi), capacity: 10_000 }), status: 201, expected: { capacity: 10_000 } },
  { label: 'session: end time before start time is 400 naming endTime', method: 'POST', path: '/sessions', body: (f) => ({ ...session(f.delhi), startTime: '14:00', endTime: '09:00' }), status: 400, expected: { ...invalid('endTime'), message: 'endTime must be after startTime' } },
  { label: 'session: end time equal to start time is 400', method: 'POST', path: '/sessions', body: (f) => ({ ...session(f.delhi), startTime: '09:00', endTime: '09:00' }), status: 400, expected: invalid('endTime') },
  { label: 'session: end time before the default start is 400', method: 'POST', path: '/sessions', body: (f) => ({ ...session(f.delhi), endTime: '08:00' }), status: 400, expected: invalid('endTime') },
  { label: 'session: start time 9:00 is 400 naming startTime', method: 'POST', path: '/sessions', body: (f) => ({ ...session(f.delhi), startTime: '9:00' }), status: 400, expected: invalid('startTime') },
  { label: 'session: start time 24:00 is 400', method: 'POST', path: '/sessions', body: (f) => ({ ...session(f.delhi), startTime: '24:00' }), status: 400, expected: invalid('startTime') },
  {
    label: 'session: PATCH moves its hours',
    method: 'PATCH',
    path: (f) => `/sessions/${f.delhiSession}`,
    body: { startTime: '08:00', endTime: '12:30' },
    status: 200,
    expected: (f) => ({ id: f.delhiSession, startTime: '08:00', endTime: '12:30' }),
    check: async (db, _body, f) => expect(await db('vaccination_sessions').where({ id: f.delhiSession }).first()).toMatchObject({ start_time: '08:00:00', end_time: '12:30:00' }),
  },
  { label: 'session: PATCH an end before the kept start is 400', method: 'PATCH', path: (f) => `/sessions/${f.delhiSession}`, body: { endTime: '07:00' }, status: 400, expected: invalid('endTime') },
  { label: 'session: PATCH with nothing to change is 400', method: 'PATCH', path: (f) => `/sessions/${f.delhiSession}`, body: {}, status: 400, expected: { error: 'invalid_request', message: expect.stringContaining('give at least one field to change: date, vaccine') } },
  { label: 'session: PATCH an unknown field is 400 naming it', method: 'PATCH', path: (f) => `/sessions/${f.delhiSession}`, body: { seats: 5 }, status: 400, expected: { ...invalid('seats'), message: 'seats is not a known field' } },
  { label: 'session: PATCH an unknown session is 404', method: 'PATCH', path: '/sessions/999999', body: { endTime: '18:00' }, status: 404, expected: { error: 'not_found', message: 'session 999999 does not exist' } },
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

  // Appointments: found and unlocked by what the citizen can read out
  {
    label: 'appointments: found by booking reference, in any case, never with the code',
    method: 'GET',
    path: (f) => `/appointments?ref=${f.locked.reference.toLowerCase()}`,
    status: 200,
    expected: (f) => ({
      appointments: [
        {
          id: f.locked.id,
          reference: f.locked.reference,
          status: 'booked',
          memberName: 'Lakshmi Menon',
          dose: 1,
          locked: true,
          attempts: 5,
          session: { id: f.delhiSession, date: '2026-12-01', startTime: expect.any(String), endTime: expect.any(String), vaccine: 'Covishield' },
          centre: { id: f.delhi, name: 'AIIMS Delhi', pincode: '110001' },
        },
      ],
      next: null,
    }),
    check: async (_db, body) => expect(JSON.stringify(body)).not.toMatch(/"code|hmac|cipher|not-a-real/i),
  },
  {
    label: 'appointments: found by mobile written nationally, newest first',
    method: 'GET',
    path: '/appointments?phone=98765%2000001',
    status: 200,
    expected: (f) => ({ appointments: [expect.objectContaining({ id: f.lockedById }), expect.objectContaining({ id: f.open.id, locked: false, attempts: 0 }), expect.objectContaining({ id: f.locked.id })], next: null }),
  },
  { label: 'appointments: paged by mobile', method: 'GET', path: '/appointments?phone=%2B919876500001&limit=1', status: 200, expected: (f) => ({ appointments: [expect.objectContaining({ id: f.lockedById })], next: '1' }) },
  { label: 'appointments: an unknown reference finds none', method: 'GET', path: '/appointments?ref=ZZZZZZZZ', status: 200, expected: { appointments: [], next: null } },
  { label: 'appointments: neither ref nor phone is 400', method: 'GET', path: '/appointments', status: 400, expected: { error: 'invalid_request', message: 'give either ref or phone' } },
  { label: 'appointments: both ref and phone is 400', method: 'GET', path: (f) => `/appointments?ref=${f.locked.reference}&phone=9876500001`, status: 400, expected: { error: 'invalid_request', message: 'give either ref or phone' } },
  { label: 'appointments: a malformed reference is 400 naming ref', method: 'GET', path: '/appointments?ref=K7Q2', status: 400, expected: invalid('ref') },
  { label: 'appointments: an invalid mobile is 400 naming phone', method: 'GET', path: '/appointments?phone=12345', status: 400, expected: invalid('phone') },
  {
    label: 'appointments: unlocked by booking reference, attempts back to zero',
    method: 'POST',
    path: (f) => `/appointments/${f.locked.reference.toLowerCase()}/unlock`,
    status: 200,
    expected: (f) => ({ id: f.locked.id, reference: f.locked.reference, unlocked: true }),
    check: async (db, _body, f) => expect(await db('appointments').where({ id: f.locked.id }).first()).toMatchObject({ locked_at: null, failed_attempts: 0, family_attempts: 0 }),
  },
  { label: 'appointments: unlocking it again is 409', method: 'POST', path: (f) => `/appointments/${f.locked.reference}/unlock`, status: 409, expected: (f) => ({ error: 'conflict', message: `appointment ${f.locked.reference} is not locked` }) },
  {
    label: 'appointments: unlocked by numeric id, as before',
    method: 'POST',
    path: (f) => `/appointments/${f.lockedById}/unlock`,
    status: 200,
    expected: (f) => ({ id: f.lockedById, unlocked: true }),
    check: async (db, _body, f) => expect(await db('appointments').where({ id: f.lockedById }).first()).toMatchObject({ locked_at: null }),
  },
  { label: 'appointments: an unknown reference cannot be unlocked', method: 'POST', path: '/appointments/ZZZZZZZZ/unlock', status: 404, expected: { error: 'not_found', message: 'appointment ZZZZZZZZ does not exist' } },
  { label: 'appointments: unlock by something neither id nor reference is 400', method: 'POST', path: '/appointments/K7Q2/unlock', status: 400, expected: invalid('key') },
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
  const [account] = await db('accounts').insert({ phone: LOOKUP_PHONE }).returning('id');
  const member = async (name: string, n: number) =>
    (await db('beneficiaries').insert({ account_id: account.id, name, birth_year: 1970, gender: 'F', id_type: 'pan', id_hash: `hash-${n}`, id_last4: '000F' }).returning('id'))[0].id;
  const appointment = async (beneficiary: number, reference: string, locked: boolean) =>
    (
      await db('appointments')
        .insert({ reference, beneficiary_id: beneficiary, session_id: delhiSession.id, dose: 1, code_hmac: 'not-a-real-hmac', code_cipher: 'not-a-real-cipher', failed_attempts: locked ? 5 : 0, locked_at: locked ? new Date() : null })
        .returning(['id', 'reference'])
    )[0];
  const locked = await appointment(await member('Lakshmi Menon', 1), 'K7Q2M9AX', true);
  const open = await appointment(await member('Gopal Menon', 2), 'K7Q2M9AY', false);
  const lockedById = (await appointment(await member('Anil Menon', 3), 'K7Q2M9AZ', true)).id;
  return { delhi: delhi.id, bengaluru: bengaluru.id, mumbai: mumbai.id, delhiSession: delhiSession.id, bengaluruVaccinator: bengaluruVaccinator.id, locked, open, lockedById };
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
  const programme = new ProgrammeService(db, { defaultTimezone: 'Asia/Kolkata', defaultCountry: 'IN', vaccines: ['Covishield', 'Covaxin'], clock });
  fx = await createFixtures(programme);
  const app = express();
  const vaccination = new VaccinationService(db, new CodeVault('admin-test-secret-0123456789abcdef'), clock);
  app.use('/admin', adminRouter({ programme, vaccination, imports: new ImportService(db, { defaultTimezone: 'Asia/Kolkata', defaultCountry: 'IN', vaccines: ['Covishield', 'Covaxin'], clock }), reports: { db, timezone: 'Asia/Kolkata' }, adminToken: TOKEN }));
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
    const programme = new ProgrammeService(db, { defaultTimezone: 'Asia/Kolkata', defaultCountry: 'IN', vaccines: ['Covishield', 'Covaxin'], clock });
    const vaccination = new VaccinationService(db, new CodeVault('admin-test-secret-0123456789abcdef'), clock);
    expect(() => adminRouter({ programme, vaccination, imports: new ImportService(db, { defaultTimezone: 'Asia/Kolkata', defaultCountry: 'IN', vaccines: ['Covishield', 'Covaxin'], clock }), reports: { db, timezone: 'Asia/Kolkata' }, adminToken: '' })).toThrow(/token/);
  });
});
