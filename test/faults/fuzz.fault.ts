import http from 'node:http';
import fc from 'fast-check';
import { COUNT_LIMITS, DELIVERY_FAILURE_REASONS, DELIVERY_STATUSES, FIELD_LIMITS, OTHER_FAILURE_REASON } from '../../src/channels/africastalking';
import { toMobileE164 } from '../../src/domain/phone';
import { eventually, startTestApp, TEST_ADMIN_TOKEN, TEST_API_KEY, TEST_WEBHOOK_SECRET, type TestApp } from '../support/app';
import { pan, registration, seedCentre } from '../support/programme';

/**
 * Property-based fuzz of every Africa's Talking webhook and the admin API, over real HTTP to the
 * whole product (PostgreSQL, Redis, workers, the fake provider): huge fields, control characters,
 * NUL, raw percent-encoding that is not UTF-8, missing and repeated fields, integer overflow, SQL
 * and script fragments. Whatever arrives: no 5xx, no crash, no row with an oversized field, no
 * secret or security code in the logs.
 */
const RUNS = Number(process.env.FUZZ_RUNS ?? 5000);
const CONCURRENCY = 8;
const SEED = Number(process.env.FUZZ_SEED ?? 20261128);
const CODE_SECRET = 'test-code-secret-0123456789abcdef0123456789';

interface Request {
  method: 'GET' | 'POST' | 'PATCH';
  path: string;
  body?: string | Buffer;
  contentType?: string;
}

interface Endpoint {
  name: string;
  requests: fc.Arbitrary<Request>;
}

// ---- values ----

const MOBILES = ['+919812345678', '+254711000111', '09876543210', '9876543211', '+919900000001', '+12025550123'];
const HUGE = [101, 1001, 3000, 15_000, 17_000].map((n) => 'A'.repeat(n));
const ATTACKS = [
  "' OR '1'='1",
  "1; DROP TABLE inbound_messages;--",
  "'); DELETE FROM appointments; --",
  '<script>alert(1)</script>',
  '"><img src=x onerror=alert(1)>',
  '${process.exit(1)}',
  '{{7*7}}',
  '../../../etc/passwd',
  '__proto__',
  'constructor',
  'null',
  '\\u0000',
  'VAX 9876543210 1234',
];
/** Sent as they are, not encoded: percent-escapes that do not decode to UTF-8, and separators. */
const RAW_FRAGMENTS = ['%E0%A4', '%ZZ', '%', '%FF', '%C0%AF', '%ED%A0%80', '%F4%90%80%80', '%00', '+', '&', '=', '%2', '%E2%82'];

const controlText = fc.string({ unit: fc.constantFrom('\u0000', '\u0001', '\u001b', '\n', '\r', '\t', '\u007f', '\u202e', '\ufeff', '\ud800', 'a'), maxLength: 30 });
const numberText = fc.oneof(
  fc.integer().map(String),
  fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map(String),
  fc.constantFrom('2147483647', '2147483648', '4294967296', '9223372036854775808', '-1', '1e10', '0x10', '1.5', 'NaN', 'Infinity', '9'.repeat(400)),
);

/** A field's value: often a plausible one, otherwise anything hostile. */
function value(plausible: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 40, arbitrary: plausible },
    { weight: 1, arbitrary: fc.string({ maxLength: 30 }) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 120 }) },
    { weight: 1, arbitrary: fc.constantFrom(...HUGE) },
    { weight: 1, arbitrary: controlText },
    { weight: 1, arbitrary: numberText },
    { weight: 1, arbitrary: fc.constantFrom(...ATTACKS) },
    { weight: 1, arbitrary: fc.constant('') },
  );
}

/** UTF-8 bytes, every one percent-encoded that is not unreserved (a lone surrogate becomes U+FFFD, as a client would send it). */
function encode(text: string): string {
  return [...Buffer.from(text, 'utf8')].map((byte) => (/[A-Za-z0-9_.~-]/.test(String.fromCharCode(byte)) ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`)).join('');
}

/** An encoded value, sometimes with a raw fragment that is not valid percent-encoding. */
function encodedValue(plausible: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 40, arbitrary: value(plausible).map(encode) },
    { weight: 1, arbitrary: fc.tuple(value(plausible), fc.constantFrom(...RAW_FRAGMENTS)).map(([text, raw]) => `${encode(text)}${raw}`) },
  );
}

/** A form (or query string): each known field present or not, plus repeated, array-style or unknown ones. */
function form(fields: Record<string, fc.Arbitrary<string>>): fc.Arbitrary<string> {
  const names = Object.keys(fields);
  // Each field is left out now and then (fc.option: absent about 1 time in 15).
  const known = fc
    .tuple(...names.map((name) => fc.option(encodedValue(fields[name]!), { freq: 15, nil: undefined })))
    .map((values) => Object.fromEntries(names.flatMap((name, i) => (values[i] === undefined ? [] : [[name, values[i]]]))) as Record<string, string>);
  const extraName = fc.constantFrom(...names, ...names.map((name) => `${name}[]`), '__proto__', 'constructor', 'a[]', '%E0', '');
  const extras = fc.oneof({ weight: 4, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: fc.array(fc.tuple(extraName, encodedValue(fc.string({ maxLength: 10 }))), { minLength: 1, maxLength: 3 }) });
  return fc.tuple(known, extras).map(([record, extra]) =>
    [...Object.entries(record), ...extra.map(([name, text]) => [name.startsWith('%') ? name : encode(name), text] as const)].map(([name, text]) => `${name}=${text}`).join('&'),
  );
}

// ---- the endpoints ----

const date = fc.oneof({ weight: 8, arbitrary: fc.constantFrom('2025-09-29 12:00:00', '2017-05-03T06:04:45Z') }, { weight: 1, arbitrary: fc.constantFrom('2017-02-30 06:04:45', 'yesterday') });
const phone = fc.constantFrom(...MOBILES);
const sessionId = fc.integer({ min: 1, max: 200 }).map((n) => `ATUid_fuzz_${n}`);

function webhook(name: string, path: string, fields: Record<string, fc.Arbitrary<string>>): Endpoint {
  return { name, requests: form(fields).map((body) => ({ method: 'POST', path: `/webhooks/africastalking${path}?key=${TEST_WEBHOOK_SECRET}`, body, contentType: 'application/x-www-form-urlencoded' })) };
}

function webhooks(providerIds: string[]): Endpoint[] {
  return [
    webhook('USSD hop', '/ussd', {
      sessionId,
      serviceCode: fc.constant('*384*1234#'),
      phoneNumber: phone,
      networkCode: fc.constant('40410'),
      text: fc.constantFrom('', '1', '1*1', '1*1*Asha Devi', '2*1*1*1', '1*1*Asha*1985*1*2*ABCDE1234F', '00', '99'),
    }),
    webhook('USSD end of session', '/ussd/events', {
      date,
      sessionId,
      serviceCode: fc.constant('*384*1234#'),
      networkCode: fc.constant('63902'),
      phoneNumber: phone,
      status: fc.constantFrom('Success', 'Incomplete', 'Failed'),
      cost: fc.constant('KES 0.10'),
      durationInMillis: fc.integer({ min: 0, max: 200_000 }).map(String),
      hopsCount: fc.integer({ min: 0, max: 20 }).map(String),
      input: fc.constant('1*1'),
      lastAppResponse: fc.constant('END Thank you'),
      errorMessage: fc.constant('Session timed out'),
    }),
    webhook('incoming SMS', '/sms', {
      id: fc.uuid(),
      from: phone,
      to: fc.constant('21512'),
      text: fc.constantFrom('HELP', 'STATUS', 'CODE', 'BOOK 110001', 'CANCEL ABC123', 'VAX 9876543210 1234', 'hello'),
      linkId: fc.constant('03090445075804249226'),
      networkCode: fc.constant('40410'),
      date,
      cost: fc.constant('KES 0.80'),
    }),
    webhook('delivery report', '/delivery', {
      id: providerIds.length ? fc.constantFrom(...providerIds) : fc.uuid(),
      status: fc.constantFrom(...Object.keys(DELIVERY_STATUSES), 'SomethingNew'),
      phoneNumber: phone,
      networkCode: fc.constant('63902'),
      failureReason: fc.constantFrom(...DELIVERY_FAILURE_REASONS, 'SomethingElse'),
      retryCount: fc.integer({ min: 0, max: 5 }).map(String),
    }),
  ];
}

/** JSON values for admin fields: plausible ones, wrong types, huge, NUL and control characters. */
function jsonField(plausible: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 30, arbitrary: plausible },
    { weight: 2, arbitrary: plausible.map((v) => (typeof v === 'string' ? `${v}\u0000` : v)) },
    { weight: 2, arbitrary: value(fc.string({ maxLength: 20 })) },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
    { weight: 1, arbitrary: fc.constantFrom(-1, 0, 2 ** 31, 2 ** 53, 1e308, -1e308, 1.5, true, null, [], {}) },
  );
}

/** A JSON body, or text that is not JSON, or bytes that are not UTF-8, under a right or wrong content type. */
function adminBody(fields: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<Pick<Request, 'body' | 'contentType'>> {
  const names = Object.keys(fields);
  const record = fc
    .tuple(...names.map((name) => fc.option(jsonField(fields[name]!), { freq: 15, nil: undefined })))
    .map((values) => Object.fromEntries(names.flatMap((name, i) => (values[i] === undefined ? [] : [[name, values[i]]]))));
  const withExtra = fc.tuple(record, fc.option(fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 2 }), { freq: 5 })).map(([known, extra]) => ({ ...(extra ?? {}), ...known }));
  return fc.oneof(
    { weight: 30, arbitrary: withExtra.map((body) => ({ body: JSON.stringify(body), contentType: 'application/json' })) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 80 }).map((body) => ({ body, contentType: 'application/json' })) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 60 }).map((bytes) => ({ body: Buffer.concat([Buffer.from('{"name":"'), Buffer.from(bytes), Buffer.from('"}')]), contentType: 'application/json' })) },
    { weight: 1, arbitrary: fc.tuple(withExtra, fc.constantFrom('text/plain', 'application/x-www-form-urlencoded')).map(([body, contentType]) => ({ body: JSON.stringify(body), contentType })) },
    { weight: 1, arbitrary: fc.constant({ body: `{"name":"${'A'.repeat(40_000)}"}`, contentType: 'application/json' }) },
  );
}

const idSegment = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 1, max: 8 }).map(String) },
  { weight: 1, arbitrary: fc.constantFrom('0', '-1', '1.5', 'abc', '99999999999999999999', '2147483648', '1e3', '%E0', '%ZZ', '%00', '%2F', '..', "1'--") },
);

function adminEndpoint(): Endpoint[] {
  const centre = { name: fc.constantFrom('PHC Fuzz', 'उप केंद्र'), pincode: fc.constantFrom('110001', '560001', '012345'), district: fc.constant('D'), state: fc.constant('S'), timezone: fc.constantFrom('Asia/Kolkata', 'Mars/Olympus') };
  const session = {
    centreId: fc.integer({ min: 1, max: 8 }),
    date: fc.constantFrom('2030-01-01', '2030-02-30', 'tomorrow'),
    vaccine: fc.constantFrom('Covishield', 'Covaxin'),
    minAge: fc.integer({ min: -5, max: 130 }),
    dose: fc.integer({ min: 0, max: 4 }),
    capacity: fc.integer({ min: -1, max: 200_000 }),
  };
  const vaccinator = { phone: fc.constantFrom(...MOBILES, '+0000000', '011 2345 6789'), name: fc.constant('Nurse Fuzz'), centreId: fc.integer({ min: 1, max: 8 }) };
  const post = fc.oneof(
    fc.tuple(fc.constant('/admin/centres'), adminBody(centre)),
    fc.tuple(fc.constant('/admin/sessions'), adminBody(session)),
    fc.tuple(fc.constant('/admin/vaccinators'), adminBody(vaccinator)),
    fc.tuple(idSegment.map((id) => `/admin/appointments/${id}/unlock`), adminBody({})),
  );
  const list = fc.constantFrom('/admin/centres', '/admin/sessions', '/admin/vaccinators', '/admin/centres/%E0', '/admin/%ZZ');
  const query = form({
    pincode: fc.constantFrom('110001', '560001'),
    centreId: fc.integer({ min: 1, max: 8 }).map(String),
    date: fc.constantFrom('2030-01-01', '2030-13-01'),
    limit: fc.integer({ min: -1, max: 1500 }).map(String),
    cursor: fc.integer({ min: -1, max: 50 }).map(String),
    offset: fc.integer({ min: -1, max: 50 }).map(String),
  });
  const patch = fc.tuple(idSegment, adminBody({ active: fc.boolean() })).map(([id, body]) => ({ method: 'PATCH' as const, path: `/admin/vaccinators/${id}`, ...body }));
  const requests = fc.oneof(
    post.map(([path, body]): Request => ({ method: 'POST', path, ...body })),
    fc.tuple(list, query).map(([path, q]): Request => ({ method: 'GET', path: q ? `${path}?${q}` : path })),
    patch,
  );
  return [{ name: 'admin API (POST/GET/PATCH)', requests }];
}

// ---- running them ----

interface Tally {
  name: string;
  payloads: number;
  statuses: Map<number, number>;
  errors: string[];
  /** Sent a second time after a keep-alive reset (see send). */
  resent: number;
}

/** Keep-alive connections, as many as requests in flight. */
const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });

/** node:http rather than fetch: it sends a path exactly as given (no re-encoding) and costs less per request. */
function sendOnce(baseUrl: string, request: Request): Promise<{ status: number } | { error: NodeJS.ErrnoException; reusedSocket: boolean }> {
  const headers: Record<string, string | number> = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };
  if (request.contentType) headers['content-type'] = request.contentType;
  if (request.body !== undefined) headers['content-length'] = Buffer.byteLength(request.body);
  return new Promise((resolve) => {
    const req = http.request(`${baseUrl}${request.path}`, { method: request.method, headers, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
      res.on('error', (error) => resolve({ error, reusedSocket: req.reusedSocket }));
    });
    req.on('error', (error) => resolve({ error, reusedSocket: req.reusedSocket }));
    req.end(request.body);
  });
}

/**
 * A keep-alive socket the server closed just as it was reused gives ECONNRESET before the request
 * reached the app: Node's documented answer (request.reusedSocket) is to send it again, once, as
 * Africa's Talking would. Counted apart so the table shows how often.
 */
async function send(baseUrl: string, request: Request, tally: Tally): Promise<number> {
  const first = await sendOnce(baseUrl, request);
  if ('status' in first) return first.status;
  if (!(first.reusedSocket && first.error.code === 'ECONNRESET')) throw first.error;
  tally.resent++;
  const second = await sendOnce(baseUrl, request);
  if ('status' in second) return second.status;
  throw second.error;
}

/** Pseudo statuses in the table. */
const NO_ANSWER = 0;
const RESET = -1;
const OVER_LIMIT = new Set(['ECONNRESET', 'EPIPE']);
/** The smallest body limit of the routers (webhooks: 16 kb). */
const BODY_LIMIT_BYTES = 16 * 1024;
const bodyBytes = (request: Request) => (request.body === undefined ? 0 : Buffer.byteLength(request.body));

async function fuzz(baseUrl: string, endpoint: Endpoint, seed: number): Promise<Tally> {
  const requests = fc.sample(endpoint.requests, { numRuns: RUNS, seed });
  const tally: Tally = { name: endpoint.name, payloads: requests.length, statuses: new Map(), errors: [], resent: 0 };
  let next = 0;
  const lane = async () => {
    while (next < requests.length) {
      const request = requests[next++]!;
      try {
        const status = await send(baseUrl, request, tally);
        tally.statuses.set(status, (tally.statuses.get(status) ?? 0) + 1);
        if (status >= 500 && tally.errors.length < 5) tally.errors.push(`${status} ${request.method} ${request.path.slice(0, 120)} ${String(request.body ?? '').slice(0, 200)}`);
      } catch (error) {
        // A body over the parser's limit is refused before it is read: the server may close the
        // connection while the client still writes (a reset, not a crash). Anything else is a failure.
        const cutOff = OVER_LIMIT.has((error as NodeJS.ErrnoException).code ?? '') && bodyBytes(request) > BODY_LIMIT_BYTES;
        const status = cutOff ? RESET : NO_ANSWER;
        tally.statuses.set(status, (tally.statuses.get(status) ?? 0) + 1);
        if (!cutOff && tally.errors.length < 5) tally.errors.push(`no answer (${(error as NodeJS.ErrnoException).code ?? ''} ${(error as Error).message}) ${request.method} ${request.path.slice(0, 80)} ${bodyBytes(request)} bytes: ${String(request.body ?? '').slice(0, 300)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, lane));
  return tally;
}

function table(tallies: Tally[], seconds: number): string {
  const codes = [...new Set(tallies.flatMap((t) => [...t.statuses.keys()]))].sort((a, b) => a - b);
  const header = ['endpoint', 'payloads', 'resent', ...codes.map((code) => (code === NO_ANSWER ? 'no answer' : code === RESET ? 'reset>limit' : String(code)))];
  const rows = tallies.map((t) => [t.name, String(t.payloads), String(t.resent), ...codes.map((code) => String(t.statuses.get(code) ?? 0))]);
  const widths = header.map((_, i) => Math.max(...[header, ...rows].map((row) => row[i]!.length)));
  const line = (row: string[]) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  return [`fuzz (seed ${SEED}, ${RUNS} payloads per endpoint, ${CONCURRENCY} at a time, ${seconds.toFixed(0)} s)`, line(header), ...rows.map(line)].join('\n');
}

/** Every text column the fuzzed requests can write, with the longest value it may hold. */
const COLUMN_CAPS: [table: string, column: string, cap: number][] = [
  ['inbound_messages', 'provider_message_id', FIELD_LIMITS.id],
  ['inbound_messages', 'phone', 16],
  ['inbound_messages', '"to"', FIELD_LIMITS.to],
  ['inbound_messages', 'text', FIELD_LIMITS.text],
  ['inbound_messages', 'link_id', FIELD_LIMITS.linkId],
  ['inbound_messages', 'network_code', FIELD_LIMITS.networkCode],
  ['ussd_session_events', 'session_id', FIELD_LIMITS.sessionId],
  ['ussd_session_events', 'phone', 16],
  ['ussd_session_events', 'service_code', FIELD_LIMITS.serviceCode],
  ['ussd_session_events', 'network_code', FIELD_LIMITS.networkCode],
  ['ussd_session_events', 'status', FIELD_LIMITS.status],
  ['ussd_session_events', 'cost', FIELD_LIMITS.cost],
  ['ussd_session_events', 'last_app_response', FIELD_LIMITS.lastAppResponse],
  ['ussd_session_events', 'error_message', FIELD_LIMITS.errorMessage],
  ['outbound_messages', 'phone', 16],
  ['outbound_messages', 'delivery_status', FIELD_LIMITS.status],
  ['outbound_messages', 'failure_reason', 30],
  ['centres', 'name', 60],
  ['centres', 'district', 60],
  ['centres', 'state', 60],
  ['vaccinators', 'phone', 16],
  ['vaccinators', 'name', 60],
  ['vaccination_sessions', 'vaccine', 30],
  ['accounts', 'phone', 16],
];

async function oversized(t: TestApp): Promise<string[]> {
  const problems: string[] = [];
  for (const [tableName, column, cap] of COLUMN_CAPS) {
    const row = await t.app.db.raw(`SELECT coalesce(max(length(${column})), 0)::int AS longest FROM ${tableName}`);
    const longest = row.rows[0].longest as number;
    if (longest > cap) problems.push(`${tableName}.${column}: ${longest} characters (cap ${cap})`);
  }
  const counts = await t.app.db.raw('SELECT coalesce(max(duration_ms), 0)::bigint AS duration, coalesce(max(hops_count), 0)::bigint AS hops FROM ussd_session_events');
  const { duration, hops } = counts.rows[0];
  if (Number(duration) > COUNT_LIMITS.durationInMillis || Number(hops) > COUNT_LIMITS.hopsCount) problems.push(`ussd_session_events counts: ${duration} ms, ${hops} hops`);
  return problems;
}

async function phonesThatAreNotMobiles(t: TestApp): Promise<string[]> {
  const rows = await t.app.db.raw(
    'SELECT phone FROM inbound_messages UNION SELECT phone FROM ussd_session_events UNION SELECT phone FROM vaccinators UNION SELECT phone FROM accounts UNION SELECT phone FROM outbound_messages',
  );
  return (rows.rows as { phone: string }[]).map((row) => row.phone).filter((p) => toMobileE164(p, 'IN') !== p);
}

async function storedDeliveryValues(t: TestApp): Promise<string[]> {
  const rows = await t.app.db('outbound_messages').distinct('delivery_status', 'failure_reason');
  const statuses = new Set<string | null>([null, ...Object.keys(DELIVERY_STATUSES)]);
  const reasons = new Set<string | null>([null, ...DELIVERY_FAILURE_REASONS, OTHER_FAILURE_REASON]);
  return rows.filter((row) => !statuses.has(row.delivery_status) || !reasons.has(row.failure_reason)).map((row) => JSON.stringify(row));
}

/** Every string (keys and values) in a logged object. */
function loggedStrings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([key, inner]) => [key, ...loggedStrings(inner)]);
}

// ---- the test ----

describe('fuzz: webhooks and the admin API', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    agent.destroy();
    await t?.close();
  });

  it(`answers ${RUNS} hostile payloads per endpoint without a 5xx, an oversized row or a leaked secret`, async () => {
    // Real state to hit: centres, a vaccinator, booked citizens (whose codes must never be logged) and sent SMS.
    const codes: string[] = [];
    for (let n = 1; n <= 3; n++) {
      const { centre } = await seedCentre(t.app, { name: `Fuzz centre ${n}`, pincode: String(110000 + n), daysFromToday: 0 });
      await t.app.programme.createVaccinator({ phone: `+9197${n}00${String(n).padStart(5, '0')}`, name: `Nurse ${n}`, centreId: centre.id });
      const citizen = `+9196${n}00${String(n).padStart(5, '0')}`;
      const end = (await t.converse(`ATUid_seed_${n}`, citizen, [...registration(`Citizen ${'ABC'[n - 1]}`, pan(9000 + n)), String(110000 + n), '1', '1', '1'])).at(-1)!;
      expect(end).toMatch(/^END Booked:/);
      const sms = await eventually('the code SMS', async () => t.at.sent.find((s) => s.to === citizen), 10_000);
      codes.push(/security code is (\d{4})/.exec(sms.message)![1]!);
    }
    const providerIds = t.at.sent.map((sms) => sms.messageId);

    const started = Date.now();
    const tallies: Tally[] = [];
    for (const [index, endpoint] of [...webhooks(providerIds), ...adminEndpoint()].entries()) tallies.push(await fuzz(t.baseUrl, endpoint, SEED + index));
    const seconds = (Date.now() - started) / 1000;
    process.stdout.write(`\n${table(tallies, seconds)}\n`);
    for (const tally of tallies) for (const error of tally.errors) process.stdout.write(`${tally.name}: ${error}\n`);

    const failures = tallies.flatMap((tally) => tally.errors.map((error) => `${tally.name}: ${error}`));
    expect(failures).toEqual([]);
    expect(tallies.every((tally) => tally.payloads >= RUNS)).toBe(true);
    expect((await fetch(`${t.baseUrl}/health`)).status).toBe(200);

    // Let the worker answer what was accepted, so its writes are checked too.
    await eventually('incoming SMS processed', async () => ((await t.app.db('inbound_messages').where('status', 'received').first()) ? undefined : true), 60_000);
    expect(await oversized(t)).toEqual([]);
    expect(await phonesThatAreNotMobiles(t)).toEqual([]);
    expect(await storedDeliveryValues(t)).toEqual([]);

    const logs = t.logs.join('');
    for (const secret of [TEST_WEBHOOK_SECRET, TEST_ADMIN_TOKEN, CODE_SECRET, TEST_API_KEY]) expect(logs.includes(secret)).toBe(false);
    // A code as a word in any logged string (numbers such as "ms":1234 are not strings, ids are not words).
    const strings = t.logs.flatMap((line) => loggedStrings(JSON.parse(line)));
    for (const code of codes) expect(strings.filter((text) => new RegExp(`\\b${code}\\b`).test(text))).toEqual([]);
    // Nothing the fuzz sent is our fault: no error logged (a 500 would log one).
    expect(t.logs.filter((line) => /"level":(50|60)/.test(line)).map((line) => line.slice(0, 400))).toEqual([]);
  });
});
