import { randomUUID } from 'node:crypto';
import { eventually, startTestApp, TEST_ADMIN_TOKEN, TEST_WEBHOOK_SECRET, type TestApp } from '../support/app';
import { seedCentre } from '../support/programme';

/**
 * Finding 4 of issue 7 over real HTTP: oversized fields, unknown delivery statuses, malformed
 * percent-encoding and numbers that are not mobiles are refused (or ignored) without writing a
 * row; a mobile flooding us with SMS stops getting paid replies; admin lists come in pages.
 */
const WEBHOOKS = '/webhooks/africastalking';
const key = `key=${TEST_WEBHOOK_SECRET}`;

let t: TestApp;
let mobiles = 0;
/** A fresh valid Indian mobile for each use. */
const newMobile = () => `+9198200${String(++mobiles).padStart(5, '0')}`;

beforeAll(async () => {
  t = await startTestApp({ SMS_REPLIES_PER_MINUTE: '5', SMS_REPLIES_PER_DAY: '8' });
});
afterAll(async () => {
  await t.close();
});
beforeEach(() => t.at.reset());

async function raw(method: string, path: string, body?: string | Buffer, contentType = 'application/x-www-form-urlencoded') {
  const response = await fetch(`${t.baseUrl}${path}`, {
    method,
    headers: { 'content-type': contentType, authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
    body,
  });
  return { status: response.status, body: await response.text() };
}

const count = async (table: string) => Number((await t.app.db(table).count({ n: '*' }).first())?.n);
const metric = async (name: string) => {
  const text = await (await fetch(`${t.baseUrl}/metrics`)).text();
  return text.split('\n').filter((line) => line.startsWith(name));
};

describe('oversized fields', () => {
  it('answers 400 to a 3 KB USSD sessionId and starts no session', async () => {
    const sessionId = `ATUid_${'x'.repeat(3000)}`;
    const reply = await t.postForm(`${WEBHOOKS}/ussd?${key}`, { sessionId, serviceCode: '*384*1234#', phoneNumber: newMobile(), text: '' });
    expect(reply).toEqual({ status: 400, body: 'Invalid payload: sessionId is longer than 100 characters' });
    expect(await t.app.redis.keys('*xxxxxxxxxx*')).toEqual([]);
  });

  it('answers 400 to a session end with a 3 KB sessionId or 2^31 hops, and writes no row', async () => {
    const before = await count('ussd_session_events');
    const phoneNumber = newMobile();
    const big = await t.postForm(`${WEBHOOKS}/ussd/events?${key}`, { sessionId: 'x'.repeat(3000), phoneNumber, status: 'Success' });
    const overflow = await t.postForm(`${WEBHOOKS}/ussd/events?${key}`, { sessionId: 'ATUid_overflow', phoneNumber, status: 'Success', hopsCount: '2147483648', durationInMillis: '2147483648' });
    expect(big).toEqual({ status: 400, body: 'Invalid payload: sessionId is longer than 100 characters' });
    expect(overflow.status).toBe(400);
    expect(overflow.body).toMatch(/durationInMillis is more than 86400000.*hopsCount is more than 10000/);
    expect(await count('ussd_session_events')).toBe(before);
  });

  it('answers 400 to a 3 KB SMS id and stores nothing', async () => {
    const before = await count('inbound_messages');
    const reply = await t.incomingSms(newMobile(), 'HELP', 'x'.repeat(3000));
    expect(reply.status).toBe(400);
    expect(reply.body).toBe('Invalid payload: id is longer than 100 characters');
    expect(await count('inbound_messages')).toBe(before);
  });

  it('answers 400 to a 1,001-character SMS and stores nothing', async () => {
    const before = await count('inbound_messages');
    const reply = await t.incomingSms(newMobile(), 'a'.repeat(1001));
    expect(reply).toMatchObject({ status: 400, body: 'Invalid payload: text is longer than 1000 characters' });
    expect(await count('inbound_messages')).toBe(before);
  });
});

describe('delivery reports', () => {
  /** A reply really sent through the fake provider: its row, with the provider's message id. */
  async function sentReply() {
    const phone = newMobile();
    await t.incomingSms(phone, 'HELP');
    return eventually('the reply to be sent', async () => t.app.db('outbound_messages').where({ phone, status: 'sent' }).first());
  }
  const report = (id: string, form: Record<string, string>) => t.postForm(`${WEBHOOKS}/delivery?${key}`, { id, ...form });

  it('leaves the status alone for an unknown one (answered 200, logged, counted)', async () => {
    const message = await sentReply();
    expect(await report(message.provider_message_id, { status: 'Submitted' })).toEqual({ status: 200, body: 'OK' });
    const [before] = await metric('tika_delivery_reports_unknown_status_total');

    expect(await report(message.provider_message_id, { status: 'SomethingNew', failureReason: 'Whatever' })).toEqual({ status: 200, body: 'OK' });
    expect(await report(message.provider_message_id, { status: 'y'.repeat(15_000) })).toMatchObject({ status: 400 });

    const row = await t.app.db('outbound_messages').where('id', message.id).first();
    expect(row).toMatchObject({ delivery_status: 'Submitted', failure_reason: null, delivery_final: false });
    expect(before).toBe('tika_delivery_reports_unknown_status_total{provider="africastalking"} 0');
    expect((await metric('tika_delivery_reports_unknown_status_total')).filter((line) => line.includes('africastalking'))).toEqual(['tika_delivery_reports_unknown_status_total{provider="africastalking"} 1']);
    expect(t.logs.join('')).toMatch(/delivery report with an unknown status; not recorded/);
  });

  it('stores an unknown or huge failureReason as Other, never verbatim', async () => {
    const message = await sentReply();
    expect(await report(message.provider_message_id, { status: 'Failed', failureReason: 'z'.repeat(15_000) })).toEqual({ status: 200, body: 'OK' });
    const row = await t.app.db('outbound_messages').where('id', message.id).first();
    expect(row).toMatchObject({ delivery_status: 'Failed', failure_reason: 'Other', delivery_final: true });
  });
});

describe('malformed percent-encoding is 400 on every router', () => {
  it.each([
    ['webhook body: UTF-8 cut short', 'POST', `${WEBHOOKS}/sms?${key}`, 'id=enc1&from=%2B919876543210&text=%E0%A4'],
    ['webhook body: not hex', 'POST', `${WEBHOOKS}/sms?${key}`, 'id=enc2&from=%2B919876543210&text=%ZZ'],
    ['webhook body: a bare lone byte', 'POST', `${WEBHOOKS}/ussd?${key}`, 'sessionId=enc3&serviceCode=*384%23&phoneNumber=%2B919876543210&text=%FF'],
    ['webhook query', 'POST', `${WEBHOOKS}/sms?${key}&x=%E0`, 'id=enc4&from=%2B919876543210&text=hi'],
    ['webhook path', 'POST', `${WEBHOOKS}/sms%E0?${key}`, 'id=enc5&from=%2B919876543210&text=hi'],
    ['admin path', 'GET', '/admin/centres/%E0', undefined],
    ['admin path parameter', 'PATCH', '/admin/vaccinators/%E0%A4', '{"active":true}'],
    ['admin query', 'GET', '/admin/centres?pincode=%E0%A4', undefined],
    ['admin query name', 'GET', '/admin/sessions?%ZZ=1', undefined],
  ])('%s', async (_label, method, path, body) => {
    const before = await count('inbound_messages');
    const contentType = body?.startsWith('{') ? 'application/json' : 'application/x-www-form-urlencoded';
    const reply = await raw(method, path, body, contentType);
    expect(reply.status).toBe(400);
    expect(reply.body).toMatch(/malformed percent-encoding/);
    expect(await count('inbound_messages')).toBe(before);
  });

  it('admin body: JSON that is not UTF-8', async () => {
    const body = Buffer.concat([Buffer.from('{"name":"'), Buffer.from([0xe0, 0xa4]), Buffer.from('","pincode":"110001","district":"D","state":"S"}')]);
    const reply = await raw('POST', '/admin/centres', body, 'application/json');
    expect(reply.status).toBe(400);
    expect(reply.body).toMatch(/not valid UTF-8/);
  });
});

describe('numbers that are not mobiles', () => {
  it.each([
    ['+0000000', /from is not a valid mobile number: '\+0000000'/],
    ['+910000000000', /from is not a valid mobile number/],
    ['+911123456789', /from is not a valid mobile number/],
  ])('an SMS from %s is refused with 400 and stored nowhere', async (from, message) => {
    const before = await count('inbound_messages');
    const reply = await t.incomingSms(from, 'HELP');
    expect(reply.status).toBe(400);
    expect(reply.body).toMatch(message);
    expect(await count('inbound_messages')).toBe(before);
  });

  it('a USSD caller with a national-format number is served as the E.164 mobile', async () => {
    const reply = await t.postForm(`${WEBHOOKS}/ussd?${key}`, { sessionId: 'ATUid_local', serviceCode: '*384*1234#', phoneNumber: '09876543299', text: '' });
    expect(reply.status).toBe(200);
    const [sessionKey] = await t.app.redis.keys('*:ussd:session:ATUid_local');
    expect(await t.app.sessions.get(sessionKey!)).toMatchObject({ phone: '+919876543299' });
  });

  it.each([
    ['centres', { name: 'PHC \u0000', pincode: '110001', district: 'D', state: 'S' }, 'name'],
    ['centres', { name: 'PHC', pincode: '110001', district: 'New\nDelhi', state: 'S' }, 'district'],
    ['sessions', { centreId: 1, date: '2030-01-01', vaccine: 'Covi\u0000shield', minAge: 18, dose: 1, capacity: 5 }, 'vaccine'],
    ['vaccinators', { phone: '+919876543210', name: 'Nurse\u0000', centreId: 1 }, 'name'],
  ])('admin: a NUL or control character in a %s field is 400, not a database error', async (list, body, field) => {
    const reply = await raw('POST', `/admin/${list}`, JSON.stringify(body), 'application/json');
    expect(reply.status).toBe(400);
    expect(JSON.parse(reply.body)).toMatchObject({ issues: [{ path: field, message: 'must not contain control characters' }] });
  });

  it('a vaccinator cannot be registered on a landline', async () => {
    const { centre } = await seedCentre(t.app, { name: 'Landline check', pincode: '110002' });
    const reply = await raw('POST', '/admin/vaccinators', JSON.stringify({ phone: '011 2345 6789', name: 'Desk', centreId: centre.id }), 'application/json');
    expect(reply.status).toBe(400);
    expect(reply.body).toMatch(/is not a valid mobile number/);
    expect(await t.app.db('vaccinators').where('name', 'Desk').first()).toBeUndefined();
  });
});

describe('a flood of SMS from one mobile', () => {
  const repliesTo = (phone: string) => t.at.sent.filter((sms) => sms.to === phone).length;
  const settled = (phone: string, total: number) =>
    eventually(
      'every message to be processed',
      async () => {
        const rows = await t.app.db('inbound_messages').where({ phone }).select('status');
        return rows.length === total && rows.every((row) => row.status !== 'received') ? rows : undefined;
      },
      15_000,
    );

  it('stores and acknowledges every message, but replies only up to the limit per minute and then per day', async () => {
    const phone = newMobile();
    const [droppedBefore] = await metric('tika_sms_replies_dropped_total{window="minute"}');
    const posted = await Promise.all(Array.from({ length: 7 }, () => t.incomingSms(phone, 'HELP')));
    expect(posted.map((p) => p.status)).toEqual(Array(7).fill(200));
    const rows = await settled(phone, 7);
    expect(rows.filter((row) => row.status === 'limited')).toHaveLength(2);
    await eventually('5 replies sent', async () => (repliesTo(phone) === 5 ? true : undefined));
    expect(await t.app.db('outbound_messages').where({ phone }).count({ n: '*' }).first()).toEqual({ n: 5 });
    expect(droppedBefore).toBeUndefined();
    expect(await metric('tika_sms_replies_dropped_total{window="minute"}')).toEqual(['tika_sms_replies_dropped_total{window="minute"} 2']);

    // A minute later the minute's allowance is back, but only 3 more fit in the day's 8.
    await t.app.db('outbound_messages').where({ phone }).update({ created_at: t.app.db.raw("created_at - interval '2 minutes'") });
    await Promise.all(Array.from({ length: 5 }, () => t.incomingSms(phone, 'HELP')));
    const later = await settled(phone, 12);
    expect(later.filter((row) => row.status === 'limited')).toHaveLength(4);
    await eventually('8 replies in all', async () => (repliesTo(phone) === 8 ? true : undefined));
    expect(await metric('tika_sms_replies_dropped_total{window="day"}')).toEqual(['tika_sms_replies_dropped_total{window="day"} 2']);
  });

  it('lets a vaccinator in a busy queue send VAX far beyond a citizen\'s allowance', async () => {
    const { centre } = await seedCentre(t.app, { name: 'Busy queue', pincode: '110003', daysFromToday: 0 });
    const vaccinator = await t.app.programme.createVaccinator({ phone: newMobile(), name: 'Busy nurse', centreId: centre.id });
    for (let i = 0; i < 12; i++) await t.incomingSms(vaccinator.phone, `VAX ${newMobile()} 1234`, randomUUID());
    await settled(vaccinator.phone, 12);
    await eventually('12 replies', async () => (repliesTo(vaccinator.phone) === 12 ? true : undefined), 10_000);
    expect(await t.app.db('inbound_messages').where({ phone: vaccinator.phone, status: 'limited' }).count({ n: '*' }).first()).toEqual({ n: 0 });
  });
});

describe('admin lists come in pages', () => {
  const get = async (path: string) => {
    const reply = await raw('GET', path);
    return { status: reply.status, body: JSON.parse(reply.body) };
  };

  it.each([
    ['centres', (i: number) => t.app.programme.createCentre({ name: `Paged ${i}`, pincode: '560001', district: 'D', state: 'S' }), '?pincode=560001'],
    ['vaccinators', async (i: number) => {
      const [centre] = await t.app.programme.listCentres({ pincode: '560001' });
      return t.app.programme.createVaccinator({ phone: `+9198300${String(i).padStart(5, '0')}`, name: `V ${i}`, centreId: centre!.id });
    }, ''],
    ['sessions', async (i: number) => {
      const [centre] = await t.app.programme.listCentres({ pincode: '560001' });
      return t.app.programme.createSession({ centreId: centre!.id, date: `2030-01-${String(i + 1).padStart(2, '0')}`, vaccine: 'Covishield', minAge: 18, dose: 1, capacity: 5 });
    }, ''],
  ] as const)('%s: ?limit= and the next cursor walk every row once', async (list, create, filter) => {
    for (let i = 0; i < 5; i++) await create(i);
    const all = (await get(`/admin/${list}${filter}`)).body;
    expect(all.next).toBeNull();
    const ids: number[] = [];
    let path = `/admin/${list}${filter}${filter ? '&' : '?'}limit=2`;
    for (let pages = 0; ; pages++) {
      const { status, body } = await get(path);
      expect(status).toBe(200);
      expect(body[list].length).toBeLessThanOrEqual(2);
      ids.push(...body[list].map((item: { id: number }) => item.id));
      if (body.next === null) break;
      path = `/admin/${list}${filter}${filter ? '&' : '?'}limit=2&cursor=${body.next}`;
      expect(pages).toBeLessThan(10);
    }
    expect(ids).toEqual(all[list].map((item: { id: number }) => item.id));
    expect(new Set(ids).size).toBe(all[list].length);
    expect(all[list].length).toBeGreaterThanOrEqual(5);
    const offset = await get(`/admin/${list}${filter}${filter ? '&' : '?'}limit=1&offset=1`);
    expect(offset.body[list].map((item: { id: number }) => item.id)).toEqual([ids[1]]);
  });

  it('has a default page of 100 and refuses more than 1000 or less than 1', async () => {
    const many = Array.from({ length: 105 }, (_, i) => ({ name: `Bulk ${i}`, pincode: '560002', district: 'D', state: 'S', timezone: 'Asia/Kolkata' }));
    await t.app.db('centres').insert(many);
    const page = await get('/admin/centres?pincode=560002');
    expect(page.body.centres).toHaveLength(100);
    expect(page.body.next).toBe('100');
    expect((await get(`/admin/centres?pincode=560002&cursor=${page.body.next}`)).body).toMatchObject({ next: null, centres: expect.any(Array) });
    expect((await get('/admin/centres?pincode=560002&cursor=100')).body.centres).toHaveLength(5);
    expect(await get('/admin/centres?limit=1001')).toMatchObject({ status: 400, body: { message: 'limit must be at most 1000' } });
    expect(await get('/admin/centres?limit=0')).toMatchObject({ status: 400, body: { message: 'limit must be at least 1' } });
    expect(await get('/admin/centres?cursor=abc')).toMatchObject({ status: 400 });
  });
});
