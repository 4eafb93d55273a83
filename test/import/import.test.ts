import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImportService, type ImportResult } from '../../src/domain/import';
import { startTestApp, TEST_ADMIN_TOKEN, type TestApp } from '../support/app';

/** "Today" at the centres (Asia/Kolkata); the files' sessions are on days after it unless a row says otherwise. */
const TODAY = '2026-11-28';
let t: TestApp;
let imports: ImportService;

beforeAll(async () => {
  t = await startTestApp({}, { worker: false, now: new Date(`${TODAY}T10:00:00+05:30`) });
  imports = new ImportService(t.app.db, { defaultTimezone: 'Asia/Kolkata', defaultCountry: 'IN', vaccines: ['Covishield', 'Covaxin'], clock: t.clock });
});

afterAll(async () => {
  await t.close();
});

const CENTRES = `name,pincode,district,state,timezone
AIIMS Delhi,110001,New Delhi,Delhi,
Safdarjung Hospital,110029,New Delhi,Delhi,Asia/Kolkata
"Victoria Hospital, Fort",560002,Bengaluru Urban,Karnataka,
`;
const SESSIONS = `centre_name,centre_pincode,date,vaccine,min_age,dose,capacity,start_time,end_time
AIIMS Delhi,110001,2026-12-01,Covishield,18,1,100,09:00,17:00
aiims delhi,110001,2026-12-01,covaxin,45,1,50,,
"Victoria Hospital, Fort",560002,2026-12-02,Covishield,18,2,80,14:00,24:00
`;
const VACCINATORS = `phone,name,centre_name,centre_pincode
09876543210,Nurse Asha,AIIMS Delhi,110001
+919876543211,Nurse Kiran,"Victoria Hospital, Fort",560002
`;

const counts = async () => {
  const count = async (table: string) => Number((await t.app.db(table).count<{ count: string }[]>('* as count'))[0]!.count);
  return { centres: await count('centres'), sessions: await count('vaccination_sessions'), vaccinators: await count('vaccinators') };
};
const imported = (created: number, updated: number, unchanged: number): ImportResult => ({ kind: 'imported', imported: created + updated + unchanged, created, updated, unchanged });

describe('a good file, then the same file again', () => {
  test.each([
    ['centres', CENTRES, { centres: 3, sessions: 0, vaccinators: 0 }],
    ['sessions', SESSIONS, { centres: 3, sessions: 3, vaccinators: 0 }],
    ['vaccinators', VACCINATORS, { centres: 3, sessions: 3, vaccinators: 2 }],
  ] as const)('%s: every row created, then all unchanged on re-import', async (kind, csv, after) => {
    expect(await imports.importCsv(kind, csv)).toEqual(imported(3 - (kind === 'vaccinators' ? 1 : 0), 0, 0));
    expect(await counts()).toEqual(after);
    expect(await imports.importCsv(kind, csv)).toEqual(imported(0, 0, 3 - (kind === 'vaccinators' ? 1 : 0)));
    expect(await counts()).toEqual(after);
  });

  test('the rows hold what the file said, in the programme\'s spelling', async () => {
    const sessions = await t.app.programme.listSessions();
    expect(sessions.map(({ date, vaccine, minAge, dose, capacity, startTime, endTime }) => ({ date, vaccine, minAge, dose, capacity, startTime, endTime }))).toEqual([
      { date: '2026-12-01', vaccine: 'Covaxin', minAge: 45, dose: 1, capacity: 50, startTime: '09:00', endTime: '17:00' },
      { date: '2026-12-01', vaccine: 'Covishield', minAge: 18, dose: 1, capacity: 100, startTime: '09:00', endTime: '17:00' },
      { date: '2026-12-02', vaccine: 'Covishield', minAge: 18, dose: 2, capacity: 80, startTime: '14:00', endTime: '24:00' },
    ]);
    expect((await t.app.programme.listVaccinators()).map((v) => v.phone)).toEqual(['+919876543210', '+919876543211']);
    expect((await t.app.programme.listCentres({ pincode: '560002' }))[0]).toMatchObject({ name: 'Victoria Hospital, Fort', district: 'Bengaluru Urban', timezone: 'Asia/Kolkata' });
  });
});

describe('a re-import changes what it may', () => {
  test('capacity and hours of a session, district of a centre, name and centre of a vaccinator', async () => {
    const sessions = SESSIONS.replace('Covishield,18,1,100,09:00,17:00', 'Covishield,18,1,120,10:00,16:00');
    expect(await imports.importCsv('sessions', sessions)).toEqual(imported(0, 1, 2));
    expect((await t.app.programme.listSessions({ date: '2026-12-01' })).find((s) => s.vaccine === 'Covishield')).toMatchObject({ capacity: 120, startTime: '10:00', endTime: '16:00' });

    expect(await imports.importCsv('centres', CENTRES.replace('Bengaluru Urban,Karnataka', 'Bengaluru,Karnataka'))).toEqual(imported(0, 1, 2));
    expect((await t.app.programme.listCentres({ pincode: '560002' }))[0]!.district).toBe('Bengaluru');

    expect(await imports.importCsv('vaccinators', VACCINATORS.replace('09876543210,Nurse Asha,AIIMS Delhi,110001', '09876543210,Nurse Asha Devi,"Victoria Hospital, Fort",560002'))).toEqual(imported(0, 1, 1));
    const asha = (await t.app.programme.listVaccinators()).find((v) => v.phone === '+919876543210')!;
    const victoria = (await t.app.programme.listCentres({ pincode: '560002' }))[0]!;
    expect(asha).toMatchObject({ name: 'Nurse Asha Devi', centreId: victoria.id });
  });

  test('capacity below the seats already booked is a row error, and nothing of the file is written', async () => {
    const session = (await t.app.programme.listSessions({ date: '2026-12-02' }))[0]!;
    await t.app.db('vaccination_sessions').where('id', session.id).update({ booked: 30 });
    const csv = `${SESSIONS.replace('Covishield,18,2,80,14:00,24:00', 'Covishield,18,2,20,14:00,24:00')}AIIMS Delhi,110001,2026-12-05,Covishield,18,1,10,,\n`;
    expect(await imports.importCsv('sessions', csv)).toEqual({ kind: 'invalid', errors: [{ line: 4, reason: 'capacity 20 is below the 30 seats already booked' }] });
    expect(await t.app.programme.listSessions({ date: '2026-12-05' })).toEqual([]);
    expect((await t.app.programme.listSessions({ date: '2026-12-02' }))[0]!.capacity).toBe(80);
  });
});

describe('bad rows: each named by its line, nothing imported', () => {
  const header = 'centre_name,centre_pincode,date,vaccine,min_age,dose,capacity,start_time,end_time';
  const good = 'AIIMS Delhi,110001,2026-12-10,Covishield,18,1,100,09:00,17:00';
  test.each([
    ['pincode of 5 digits', 'AIIMS Delhi,11001,2026-12-10,Covishield,18,1,100,,', 'centre_pincode must be 6 digits, not starting with 0'],
    ['an unknown centre', 'Nowhere PHC,110001,2026-12-10,Covishield,18,1,100,,', 'centre "Nowhere PHC" in PIN code 110001 does not exist (import centres first)'],
    ['a date that does not exist', 'AIIMS Delhi,110001,2026-02-30,Covishield,18,1,100,,', 'date must be a real date written YYYY-MM-DD'],
    ['a day before today at the centre', 'AIIMS Delhi,110001,2026-11-27,Covishield,18,1,100,,', 'date must not be in the past (today at the centre is 2026-11-28)'],
    ['a vaccine the programme does not give', 'AIIMS Delhi,110001,2026-12-10,Sputnik,18,1,100,,', 'vaccine must be one of Covishield, Covaxin (the vaccines of DOSE_INTERVAL_DAYS)'],
    ['a capacity that is not a number', 'AIIMS Delhi,110001,2026-12-10,Covishield,18,1,lots,,', 'capacity must be a number'],
    ['a capacity over 10,000', 'AIIMS Delhi,110001,2026-12-10,Covishield,18,1,10001,,', 'capacity must be at most 10000'],
    ['dose 4', 'AIIMS Delhi,110001,2026-12-10,Covishield,18,4,100,,', 'dose must be at most 3'],
    ['an end before the start', 'AIIMS Delhi,110001,2026-12-10,Covishield,18,1,100,14:00,09:00', 'end_time must be after start_time'],
    ['a missing vaccine', 'AIIMS Delhi,110001,2026-12-10,,18,1,100,,', 'vaccine is required'],
    ['the same session as line 2', good, 'the same centre, date, vaccine, min_age and dose as line 2'],
    ['too few cells', 'AIIMS Delhi,110001,2026-12-10', 'has 3 cells, the header names 9 columns'],
  ])('%s', async (_label, row, reason) => {
    const before = await counts();
    expect(await imports.importCsv('sessions', `${header}\n${good}\n${row}\n`)).toEqual({ kind: 'invalid', errors: [{ line: 3, reason }] });
    expect(await counts()).toEqual(before);
  });

  test('several bad rows are all reported, in line order, a quoted line break counted', async () => {
    const csv = `name,pincode,district,state\nGood PHC,110003,New Delhi,Delhi\n"Two\nLines PHC",01100,New Delhi,Delhi\n\nShort PIN PHC,1100,New Delhi,Delhi\n`;
    expect(await imports.importCsv('centres', csv)).toEqual({
      kind: 'invalid',
      errors: [
        { line: 3, reason: 'name must not contain control characters; pincode must be 6 digits, not starting with 0' },
        { line: 6, reason: 'pincode must be 6 digits, not starting with 0' },
      ],
    });
    expect(await imports.importCsv('centres', 'name,pincode,district,state,timezone\nA PHC,110003,New Delhi,Delhi,Mars/Olympus\nB PHC,110003,New Delhi,Delhi,\nAIIMS Delhi,110001,New Delhi,Delhi,Asia/Dubai\n')).toEqual({
      kind: 'invalid',
      errors: [
        { line: 2, reason: 'timezone must be an IANA time zone such as Asia/Kolkata' },
        { line: 4, reason: 'timezone cannot be changed by an import (centre "AIIMS Delhi" in PIN code 110001 is in Asia/Kolkata)' },
      ],
    });
    expect(await t.app.programme.listCentres({ pincode: '110003' })).toEqual([]);
  });

  test('vaccinators: a number that is not a mobile, the same phone twice in other spellings', async () => {
    const csv = 'phone,name,centre_name,centre_pincode\n12345,Nurse X,AIIMS Delhi,110001\n9876500001,Nurse Y,AIIMS Delhi,110001\n+91 98765 00001,Nurse Z,AIIMS Delhi,110001\n';
    expect(await imports.importCsv('vaccinators', csv)).toEqual({
      kind: 'invalid',
      errors: [
        { line: 2, reason: 'phone "12345" is not a valid mobile number' },
        { line: 4, reason: 'the same phone as line 3' },
      ],
    });
  });

  test.each([
    ['', 'the file is empty: its first line must name the columns (the columns of vaccinators are phone, name, centre_name, centre_pincode)'],
    ['phone,name,centre\n', 'unknown column "centre"; missing column "centre_name"; missing column "centre_pincode" (the columns of vaccinators are phone, name, centre_name, centre_pincode)'],
  ])('header problems are line 1: %j', async (csv, reason) => {
    expect(await imports.importCsv('vaccinators', csv)).toEqual({ kind: 'invalid', errors: [{ line: 1, reason }] });
  });

  test('a quote left open is reported where the parser stopped', async () => {
    const result = await imports.importCsv('centres', 'name,pincode,district,state\n"Open PHC,110005,New Delhi,Delhi\n');
    expect(result).toEqual({ kind: 'invalid', errors: [{ line: expect.any(Number), reason: expect.stringContaining('not readable as CSV') }] });
  });
});

describe('10,000 sessions', () => {
  test('import in one transaction, well under 10 s; again: all unchanged', async () => {
    const rows = ['centre_name,centre_pincode,date,vaccine,min_age,dose,capacity,start_time,end_time'];
    for (let day = 0; day < 1000; day++) {
      const date = new Date(Date.UTC(2027, 0, 1 + day)).toISOString().slice(0, 10);
      for (let i = 0; i < 10; i++) rows.push(`AIIMS Delhi,110001,${date},${i % 2 ? 'Covaxin' : 'Covishield'},${18 + Math.floor(i / 2)},1,${50 + i},09:00,17:00`);
    }
    const csv = rows.join('\n') + '\n';
    const phases = new Set<string>();
    let started = process.hrtime.bigint();
    const first = await imports.importCsv('sessions', csv, (p) => phases.add(p.phase));
    const firstSeconds = Number(process.hrtime.bigint() - started) / 1e9;
    started = process.hrtime.bigint();
    const again = await imports.importCsv('sessions', csv);
    const againSeconds = Number(process.hrtime.bigint() - started) / 1e9;
    console.log(`10,000 sessions (${(csv.length / 1024).toFixed(0)} KB): imported in ${firstSeconds.toFixed(2)} s, re-imported (all unchanged) in ${againSeconds.toFixed(2)} s`);
    expect(first).toEqual(imported(10_000, 0, 0));
    expect(again).toEqual(imported(0, 0, 10_000));
    expect([...phases]).toEqual(['validate', 'import']);
  });
});

describe('POST /admin/import/:kind', () => {
  const post = (path: string, body: string, headers: Record<string, string> = {}) =>
    fetch(`${t.baseUrl}/admin/import/${path}`, { method: 'POST', headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'text/csv', ...headers }, body });

  test('200 with the counts', async () => {
    const response = await post('centres', 'name,pincode,district,state\nHTTP PHC,110006,New Delhi,Delhi\n');
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ imported: 1, created: 1, updated: 0, unchanged: 0 });
  });

  test('422 naming each bad row; nothing imported', async () => {
    const response = await post('centres', 'name,pincode,district,state\nOther PHC,110007,New Delhi,Delhi\nBad PHC,0110,New Delhi,Delhi\n');
    expect(response.status).toBe(422);
    expect(await response.json()).toEqual({ error: 'invalid_rows', message: '1 row was refused; nothing was imported', errors: [{ line: 3, reason: 'pincode must be 6 digits, not starting with 0' }] });
    expect(await t.app.programme.listCentres({ pincode: '110007' })).toEqual([]);
  });

  test.each([
    ['no token', 'centres', 'x', { authorization: '' }, 401, { error: 'unauthorized' }],
    ['a kind it does not know', 'patients', 'x', {}, 400, { error: 'invalid_request', message: 'kind must be one of centres, sessions, vaccinators' }],
    ['JSON instead of CSV', 'centres', '{}', { 'content-type': 'application/json' }, 415, { error: 'unsupported_media_type', message: expect.stringContaining('Content-Type: text/csv') }],
    ['a file over 8 MB', 'sessions', 'x'.repeat(8 * 1024 * 1024 + 1), {}, 413, { error: 'payload_too_large', message: 'the CSV file is larger than 8 MB: split it into several files and import each' }],
  ])('%s', async (_label, kind, body, headers, status, expected) => {
    const response = await post(kind, body, headers);
    expect(response.status).toBe(status);
    expect(await response.json()).toMatchObject(expected);
  });
});

describe('tika import (the CLI as a process)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tika-import-'));
  const run = (args: string[]) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { cwd: join(__dirname, '..', '..'), env: { ...process.env, ...t.env } });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk) => (stdout += chunk));
      child.stderr.on('data', (chunk) => (stderr += chunk));
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });

  test('a good file: a progress bar per phase, the counts, exit 0', async () => {
    const file = join(dir, 'sessions.csv');
    const rows = Array.from({ length: 1200 }, (_, i) => `Safdarjung Hospital,110029,2031-01-${String((i % 28) + 1).padStart(2, '0')},Covishield,${18 + Math.floor(i / 28)},1,40,,`);
    writeFileSync(file, ['centre_name,centre_pincode,date,vaccine,min_age,dose,capacity,start_time,end_time', ...rows].join('\n'));
    const result = await run(['import', 'sessions', file]);
    expect(result.stderr).toContain('checking rows [');
    expect(result.stderr).toMatch(/checking rows \[=+\] 100% \| 1200\/1200/);
    expect(result.stderr).toMatch(/writing rows +\[=+\] 100% \| 1200\/1200/);
    expect(JSON.parse(result.stdout)).toEqual({ imported: 1200, created: 1200, updated: 0, unchanged: 0 });
    expect(result.code).toBe(0);
  }, 60_000);

  test('a bad file: each "line N: reason", nothing imported, exit 1', async () => {
    const file = join(dir, 'vaccinators.csv');
    writeFileSync(file, 'phone,name,centre_name,centre_pincode\n9876500002,Nurse P,AIIMS Delhi,110001\n555,Nurse Q,AIIMS Delhi,110001\n9876500003,Nurse R,Nowhere,110001\n');
    const result = await run(['import', 'vaccinators', file]);
    expect(result.stderr).toContain('line 3: phone "555" is not a valid mobile number\n');
    expect(result.stderr).toContain('line 4: centre "Nowhere" in PIN code 110001 does not exist (import centres first)\n');
    expect(result.stderr).toContain(`invalid: 2 rows refused in ${file}; nothing was imported`);
    expect(result.stdout).toBe('');
    expect(result.code).toBe(1);
    expect(await t.app.db('vaccinators').where('phone', '+919876500002')).toEqual([]);
  }, 60_000);
});
