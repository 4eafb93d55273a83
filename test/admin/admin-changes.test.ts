import { spawnSync } from 'node:child_process';
import { addDays, dayIn } from '../../src/domain/dates';
import type { Centre, Session } from '../../src/domain/programme';
import { startTestApp, TEST_ADMIN_TOKEN, type TestApp } from '../support/app';
import { pan, registration, seedCentre } from '../support/programme';

/** Update, deactivate, paging and filters of the admin API, on the whole app (real PostgreSQL, USSD). */

type Json = Record<string, unknown>;

let t: TestApp;
let today: string;

async function admin(method: string, path: string, body?: Json): Promise<{ status: number; body: Json }> {
  const headers: Record<string, string> = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };
  if (body) headers['content-type'] = 'application/json';
  const response = await fetch(`${t.baseUrl}/admin${path}`, { method, headers, body: body && JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as Json };
}

const invalid = (field: string) => ({ error: 'invalid_request', message: expect.stringContaining(field), issues: expect.arrayContaining([expect.objectContaining({ path: field })]) });

beforeAll(async () => {
  t = await startTestApp();
  today = dayIn('Asia/Kolkata', t.app.clock.now());
});
afterAll(async () => {
  await t.close();
});

describe('a deactivated session or centre is no longer offered over USSD; appointments on it stay', () => {
  test('session deactivated, then the centre', async () => {
    const { centre, session: first } = await seedCentre(t.app, { name: 'Lodhi Road PHC', pincode: '110003', capacity: 10 });
    const second = await t.app.programme.createSession({ centreId: centre.id, date: addDays(today, 2), vaccine: 'Covishield', minAge: 18, dose: 1, capacity: 10, startTime: '00:00', endTime: '24:00' });
    const booked = await t.converse('ATUid_deact1', '+919876540001', [...registration('Meera Das', pan(101)), '110003', '1', '1', '1']);
    expect(booked.at(-1)).toMatch(/^END Booked: Meera Das, Lodhi Road PHC/);
    const appointment = await t.app.db('appointments').first();
    expect(appointment.session_id).toBe(first.id);

    const sessionsOffered = async (sessionId: string, phone: string, n: number) =>
      (await t.converse(sessionId, phone, [...registration(`Person ${'ABCDEFGH'[n % 8]}`, pan(n)), '110003'])).at(-1)!;

    // Both sessions offered: the centre shows all 19 free seats.
    expect(await sessionsOffered('ATUid_deact2', '+919876540002', 102)).toMatch(/Lodhi Road PHC \(19/);
    expect(await admin('POST', `/sessions/${first.id}/deactivate`)).toMatchObject({ status: 200, body: { id: first.id, active: false, booked: 1 } });
    expect(await admin('POST', `/sessions/${second.id}/deactivate`)).toMatchObject({ status: 200, body: { id: second.id, active: false } });
    expect(await sessionsOffered('ATUid_deact3', '+919876540003', 103)).toBe('CON No vaccination sessions near 110003 in the coming days.\n1 Try another PIN code\n0 Back');

    // Reactivated, it is offered again; then the centre is deactivated and nothing there is.
    expect(await admin('PATCH', `/sessions/${second.id}`, { active: true })).toMatchObject({ status: 200, body: { active: true } });
    expect(await sessionsOffered('ATUid_deact4', '+919876540004', 104)).toMatch(/Lodhi Road PHC \(10/);
    expect(await admin('POST', `/centres/${centre.id}/deactivate`)).toMatchObject({ status: 200, body: { id: centre.id, active: false } });
    expect(await sessionsOffered('ATUid_deact5', '+919876540005', 105)).toBe('CON No vaccination sessions near 110003 in the coming days.\n1 Try another PIN code\n0 Back');

    // The appointment booked before is untouched: same session, same code, still booked.
    expect(await t.app.db('appointments').where('id', appointment.id).first()).toMatchObject({ status: 'booked', session_id: first.id, code_hmac: appointment.code_hmac });
  });

  test('a deactivated vaccinator dials in as a citizen: the vaccinator menu (and confirming doses) is gone', async () => {
    const { centre } = await seedCentre(t.app, { name: 'Vaccinator Test PHC', pincode: '110004' });
    const vaccinator = await t.app.programme.createVaccinator({ phone: '+919812309999', name: 'Asha Verma', centreId: centre.id });
    const before = (await t.converse('ATUid_vac1', vaccinator.phone, []))[0]!;
    expect(before).toContain('Vaccinator Test PHC');
    expect(await admin('POST', `/vaccinators/${vaccinator.id}/deactivate`)).toMatchObject({ status: 200, body: { active: false } });
    const after = (await t.converse('ATUid_vac2', vaccinator.phone, []))[0]!;
    expect(after).toBe('CON Choose language / भाषा चुनें\n1 English\n2 हिन्दी');
  });
});

describe('updates', () => {
  let delhi: Centre;
  let kem: Centre;
  let open: Session;
  let taken: Session;
  let vaccinatorId: number;

  beforeAll(async () => {
    delhi = await t.app.programme.createCentre({ name: 'Safdarjung Hospital', pincode: '110029', district: 'New Delhi', state: 'Delhi' });
    kem = await t.app.programme.createCentre({ name: 'KEM Hospital', pincode: '400012', district: 'Mumbai', state: 'Maharashtra' });
    open = await t.app.programme.createSession({ centreId: delhi.id, date: addDays(today, 3), vaccine: 'Covishield', minAge: 45, dose: 1, capacity: 20 });
    taken = await t.app.programme.createSession({ centreId: delhi.id, date: addDays(today, 3), vaccine: 'Covishield', minAge: 45, dose: 1, capacity: 20 });
    // Seats booked, as a booking leaves them (the appointments themselves do not matter here).
    await t.app.db('vaccination_sessions').where('id', taken.id).update({ booked: 5 });
    vaccinatorId = (await t.app.programme.createVaccinator({ phone: '+919812300077', name: 'Ravi Shetty', centreId: delhi.id })).id;
    await t.app.programme.createVaccinator({ phone: '+919812300078', name: 'Other', centreId: delhi.id });
  });

  interface Change {
    label: string;
    method?: 'PATCH' | 'POST';
    path: () => string;
    body?: Json | (() => Json);
    status: number;
    expected: () => Json;
  }

  const changes: Change[] = [
    { label: 'centre: renamed and moved', path: () => `/centres/${delhi.id}`, body: { name: 'Safdarjung Hospital OPD', district: 'South Delhi' }, status: 200, expected: () => ({ id: delhi.id, name: 'Safdarjung Hospital OPD', district: 'South Delhi', pincode: '110029' }) },
    { label: 'centre: renamed to another centre of its PIN code is 409', path: () => `/centres/${kem.id}`, body: { pincode: '110029', name: 'safdarjung hospital opd' }, status: 409, expected: () => ({ error: 'conflict', existingId: delhi.id }) },
    { label: 'centre: an unknown id is 404', path: () => '/centres/999999', body: { name: 'X' }, status: 404, expected: () => ({ error: 'not_found', message: 'centre 999999 does not exist' }) },
    { label: 'centre: a bad PIN code is 400 naming it', path: () => `/centres/${kem.id}`, body: { pincode: '012345' }, status: 400, expected: () => invalid('pincode') },
    { label: 'centre: an unknown time zone is 400 naming it', path: () => `/centres/${kem.id}`, body: { timezone: 'Mars/Olympus' }, status: 400, expected: () => invalid('timezone') },
    { label: 'centre: an unknown field is 400 naming it', path: () => `/centres/${kem.id}`, body: { pin: '400012' }, status: 400, expected: () => ({ ...invalid('pin'), message: 'pin is not a known field' }) },
    { label: 'centre: nothing to change is 400', path: () => `/centres/${kem.id}`, body: {}, status: 400, expected: () => ({ message: expect.stringContaining('give at least one field to change: name, pincode') }) },
    { label: 'centre: deactivating an unknown one is 404', method: 'POST', path: () => '/centres/999999/deactivate', status: 404, expected: () => ({ error: 'not_found' }) },
    { label: 'session: capacity and hours change under bookings', path: () => `/sessions/${taken.id}`, body: { capacity: 5, startTime: '10:00' }, status: 200, expected: () => ({ capacity: 5, booked: 5, freeSeats: 0, startTime: '10:00' }) },
    { label: 'session: capacity below the seats booked is 409', path: () => `/sessions/${taken.id}`, body: { capacity: 4 }, status: 409, expected: () => ({ error: 'conflict', message: 'capacity must be at least 5, the seats already booked' }) },
    { label: 'session: the date of a booked session is 409', path: () => `/sessions/${taken.id}`, body: () => ({ date: addDays(today, 4) }), status: 409, expected: () => ({ error: 'conflict', message: expect.stringMatching(/^date cannot change: session \d+ has 5 booking/) }) },
    { label: 'session: vaccine and dose of a booked session are 409 naming both', path: () => `/sessions/${taken.id}`, body: { vaccine: 'Covaxin', dose: 2 }, status: 409, expected: () => ({ message: expect.stringMatching(/^vaccine, dose cannot change/) }) },
    { label: 'session: a booked session may open to younger people', path: () => `/sessions/${taken.id}`, body: { minAge: 18 }, status: 200, expected: () => ({ minAge: 18 }) },
    { label: 'session: but not close to them', path: () => `/sessions/${taken.id}`, body: { minAge: 60 }, status: 409, expected: () => ({ message: expect.stringMatching(/^minAge cannot change/) }) },
    { label: 'session: an unbooked one changes date, vaccine, dose', path: () => `/sessions/${open.id}`, body: () => ({ date: addDays(today, 4), vaccine: 'covaxin', dose: 2 }), status: 200, expected: () => ({ date: addDays(today, 4), vaccine: 'Covaxin', dose: 2 }) },
    { label: 'session: a day in the past is 400', path: () => `/sessions/${open.id}`, body: () => ({ date: addDays(today, -1) }), status: 400, expected: () => invalid('date') },
    { label: 'session: an unknown vaccine is 400', path: () => `/sessions/${open.id}`, body: { vaccine: 'Sputnik' }, status: 400, expected: () => invalid('vaccine') },
    { label: 'session: an end before the kept start is 400', path: () => `/sessions/${taken.id}`, body: { endTime: '09:00' }, status: 400, expected: () => invalid('endTime') },
    { label: 'session: deactivating an unknown one is 404', method: 'POST', path: () => '/sessions/999999/deactivate', status: 404, expected: () => ({ message: 'session 999999 does not exist' }) },
    { label: 'vaccinator: renamed and moved', path: () => `/vaccinators/${vaccinatorId}`, body: () => ({ name: 'Ravi S.', centreId: kem.id }), status: 200, expected: () => ({ name: 'Ravi S.', centreId: kem.id, active: true }) },
    { label: 'vaccinator: another vaccinator\'s phone is 409', path: () => `/vaccinators/${vaccinatorId}`, body: { phone: '098123 00078' }, status: 409, expected: () => ({ message: 'phone +919812300078 is already registered to a vaccinator' }) },
    { label: 'vaccinator: a new phone is stored as +E.164', path: () => `/vaccinators/${vaccinatorId}`, body: { phone: '98123 00079' }, status: 200, expected: () => ({ phone: '+919812300079' }) },
    { label: 'vaccinator: an unknown centre is 404', path: () => `/vaccinators/${vaccinatorId}`, body: { centreId: 999999 }, status: 404, expected: () => ({ message: 'centre 999999 does not exist' }) },
    { label: 'vaccinator: deactivating an unknown one is 404', method: 'POST', path: () => '/vaccinators/999999/deactivate', status: 404, expected: () => ({ message: 'vaccinator 999999 does not exist' }) },
  ];

  test.each(changes.map((c) => [c.label, c] as const))('%s', async (_label, c) => {
    const { status, body } = await admin(c.method ?? 'PATCH', c.path(), typeof c.body === 'function' ? c.body() : c.body);
    expect({ status, body }).toMatchObject({ status: c.status, body: c.expected() });
  });
});

describe('lists: filters and pages', () => {
  const ids: Record<string, number> = {};

  beforeAll(async () => {
    const add = async (name: string, pincode: string, district: string) =>
      (ids[name] = (await t.app.programme.createCentre({ name, pincode, district, state: 'Karnataka' })).id);
    await add('Mysuru A', '570001', 'Mysuru');
    await add('Mysuru B', '570002', 'Mysuru');
    await add('Mysuru C', '570002', 'Mysuru');
    await add('Hassan A', '573201', 'Hassan');
    await t.app.programme.updateCentre(ids['Mysuru C']!, { active: false });
    for (const [day, name] of [[5, 'Mysuru A'], [6, 'Mysuru A'], [7, 'Mysuru A'], [6, 'Mysuru B']] as const) {
      const session = await t.app.programme.createSession({ centreId: ids[name]!, date: addDays(today, day), vaccine: 'Covishield', minAge: 18, dose: 1, capacity: 10 });
      ids[`${name} +${day}`] = session.id;
    }
    await t.app.programme.changeSession(ids['Mysuru A +7']!, { active: false });
    const v1 = await t.app.programme.createVaccinator({ phone: '+919812301001', name: 'V1', centreId: ids['Mysuru A']! });
    const v2 = await t.app.programme.createVaccinator({ phone: '+919812301002', name: 'V2', centreId: ids['Mysuru A']! });
    await t.app.programme.updateVaccinator(v2.id, { active: false });
    ids.v1 = v1.id;
    ids.v2 = v2.id;
  });

  const names = (body: Json, key: string) => (body[key] as { name: string }[]).map((row) => row.name);
  const sessionIds = (body: Json) => (body.sessions as { id: number }[]).map((row) => row.id);

  test.each([
    ['district=Mysuru', ['Mysuru A', 'Mysuru B', 'Mysuru C']],
    ['district=mysuru&active=true', ['Mysuru A', 'Mysuru B']],
    ['district=Mysuru&active=false', ['Mysuru C']],
    ['pincode=570002', ['Mysuru B', 'Mysuru C']],
    ['pincode=570002&district=Hassan', []],
    ['district=Hassan', ['Hassan A']],
  ])('centres ?%s', async (query, expected) => {
    const { status, body } = await admin('GET', `/centres?${query}`);
    expect({ status, names: names(body, 'centres'), next: body.next }).toEqual({ status: 200, names: expected, next: null });
  });

  test.each<[string, string[]]>([
    ['centreId={Mysuru A}', ['Mysuru A +5', 'Mysuru A +6', 'Mysuru A +7']],
    ['centreId={Mysuru A}&active=true', ['Mysuru A +5', 'Mysuru A +6']],
    ['centreId={Mysuru A}&active=false', ['Mysuru A +7']],
    ['centreId={Mysuru A}&from=+6', ['Mysuru A +6', 'Mysuru A +7']],
    ['centreId={Mysuru A}&from=+6&to=+6', ['Mysuru A +6']],
    ['centreId={Mysuru A}&to=+5', ['Mysuru A +5']],
    ['centreId={Mysuru B}&date=+6', ['Mysuru B +6']],
  ])('sessions ?%s', async (query, expected) => {
    const resolved = query.replace(/\{([^}]+)\}/g, (_m, name: string) => String(ids[name])).replace(/=\+(\d+)/g, (_m, days: string) => `=${addDays(today, Number(days))}`);
    const { status, body } = await admin('GET', `/sessions?${resolved}`);
    expect({ status, ids: sessionIds(body) }).toEqual({ status: 200, ids: expected.map((name) => ids[name]) });
  });

  test.each([
    ['active=true', ['V1']],
    ['active=false', ['V2']],
    ['', ['V1', 'V2']],
  ])('vaccinators of Mysuru A ?%s', async (query, expected) => {
    const { status, body } = await admin('GET', `/vaccinators?centreId=${ids['Mysuru A']}&${query}`);
    expect({ status, names: names(body, 'vaccinators') }).toEqual({ status: 200, names: expected });
  });

  test.each([
    ['/centres?active=yes', 'active'],
    ['/sessions?from=2026-02-30', 'from'],
    ['/sessions?from=2027-01-02&to=2027-01-01', 'to'],
    ['/sessions?limit=0', 'limit'],
    ['/sessions?limit=1001', 'limit'],
    ['/vaccinators?cursor=-1', 'cursor'],
    ['/vaccinators?centre=1', 'centre'],
  ])('%s is 400 naming %s', async (path, field) => {
    expect(await admin('GET', path)).toMatchObject({ status: 400, body: invalid(field) });
  });

  test('pages follow each other by cursor until next is null, each row once', async () => {
    const seen: string[] = [];
    let cursor: string | null = '0';
    const pages: number[] = [];
    while (cursor !== null) {
      const { status, body } = await admin('GET', `/centres?district=Mysuru&limit=2&cursor=${cursor}`);
      expect(status).toBe(200);
      seen.push(...names(body, 'centres'));
      pages.push((body.centres as unknown[]).length);
      cursor = body.next as string | null;
    }
    expect({ seen, pages }).toEqual({ seen: ['Mysuru A', 'Mysuru B', 'Mysuru C'], pages: [2, 1] });
  });
});

describe('the same changes from the CLI', () => {
  const cli = (...args: string[]) => {
    const child = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { encoding: 'utf8', timeout: 60_000, env: { PATH: process.env.PATH, ...t.env } });
    return { status: child.status, stdout: child.stdout, stderr: child.stderr };
  };

  test('centres:update, sessions:deactivate, vaccinators:deactivate; an unknown id says so and exits 1', async () => {
    const { centre, session } = await seedCentre(t.app, { name: 'Cli PHC', pincode: '110099' });
    const vaccinator = await t.app.programme.createVaccinator({ phone: '+919812302001', name: 'Cli Vaccinator', centreId: centre.id });

    const renamed = cli('centres:update', String(centre.id), '--name', 'Cli PHC Annexe', '--district', 'North Delhi');
    expect(renamed.status).toBe(0);
    expect(JSON.parse(renamed.stdout)).toMatchObject({ id: centre.id, name: 'Cli PHC Annexe', district: 'North Delhi' });
    expect(cli('sessions:deactivate', String(session.id)).status).toBe(0);
    expect(cli('vaccinators:deactivate', String(vaccinator.id)).status).toBe(0);
    expect(await t.app.db('vaccination_sessions').where('id', session.id).first()).toMatchObject({ active: false });
    expect(await t.app.db('vaccinators').where('id', vaccinator.id).first()).toMatchObject({ active: false });

    const unknown = cli('sessions:update', '999999', '--capacity', '5');
    expect({ status: unknown.status, stderr: unknown.stderr.trim() }).toEqual({ status: 1, stderr: 'not_found: session 999999 does not exist' });
  }, 120_000);
});
