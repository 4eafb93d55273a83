import { createHash, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { digest, newestInput } from '../../src/dialogue/ussd';
import { createDb } from '../../src/db/knex';
import { SERVICE_CODE, startTestApp, TEST_WEBHOOK_SECRET, type TestApp } from '../support/app';
import { pan, registration, seedCentre } from '../support/programme';

/** A stored USSD session as the tests read it (opened with the app's key). */
interface StoredSession {
  phone: string;
  lastText: unknown;
  dialogue: { vars: Record<string, string> };
}

const USSD = `/webhooks/africastalking/ussd?key=${TEST_WEBHOOK_SECRET}`;
const hop = (sessionId: string, text: string, phoneNumber = '+919812345678') => ({
  sessionId,
  serviceCode: SERVICE_CODE,
  phoneNumber,
  networkCode: '40410',
  text,
});

describe('the USSD webhook', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  describe.each([
    ['no key', '/webhooks/africastalking/ussd'],
    ['an empty key', '/webhooks/africastalking/ussd?key='],
    ['a wrong key', '/webhooks/africastalking/ussd?key=not-the-secret'],
    ['a key that is a prefix of the secret', `/webhooks/africastalking/ussd?key=${TEST_WEBHOOK_SECRET.slice(0, 10)}`],
  ])('with %s', (_label, path) => {
    it('answers 401 and starts no session', async () => {
      const reply = await t.postForm(path, hop('ATUid_noauth', ''));
      expect(reply.status).toBe(401);
      expect(reply.body).not.toMatch(/^(CON|END)/);
      expect(await t.app.redis.keys('*ATUid_noauth*')).toEqual([]);
    });
  });

  it('refuses a session-end notification without the key, and stores nothing', async () => {
    const reply = await t.postForm('/webhooks/africastalking/ussd/events', { sessionId: 'ATUid_x', phoneNumber: '+919812345678', status: 'Success' });
    expect(reply.status).toBe(401);
    expect(await t.app.db('ussd_session_events').count({ n: '*' })).toEqual([{ n: 0 }]);
  });

  it.each([
    ['no sessionId', { serviceCode: SERVICE_CODE, phoneNumber: '+919812345678', text: '' }, /sessionId is missing/],
    ['no phone number', { sessionId: 'ATUid_bad1', serviceCode: SERVICE_CODE, text: '' }, /phoneNumber is missing/],
    ['a phone number that is not one', { sessionId: 'ATUid_bad2', serviceCode: SERVICE_CODE, phoneNumber: 'hello', text: '' }, /phoneNumber/],
    ['an empty body', {}, /sessionId is missing/],
  ])('answers 400 with a message for %s', async (_label, form, message) => {
    const reply = await t.postForm(USSD, form as Record<string, string>);
    expect(reply.status).toBe(400);
    expect(reply.body).toMatch(message);
  });

  it('answers 400 for a JSON body, which Africa\'s Talking never sends', async () => {
    const response = await fetch(`${t.baseUrl}${USSD}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"sessionId":' });
    expect(response.status).toBe(400);
  });

  it('asks again with a reason after an unknown menu choice, and ends politely after three', async () => {
    const screens = await t.converse('ATUid_unknown', '+919812345601', ['1', '7']);
    expect(screens[1]).toMatch(/^CON Tika vaccination/);
    expect(screens[2]).toBe('CON Invalid choice.\nTika vaccination\n1 Book vaccination\n2 My appointments\n3 Language');
    expect((await t.ussd('ATUid_unknown', '+919812345601', '1*7*x')).body).toMatch(/^CON Invalid choice\./);
    expect((await t.ussd('ATUid_unknown', '+919812345601', '1*7*x*')).body).toBe('END Too many invalid answers. Please dial again.');
  });

  it('re-asks an invalid answer with the reason', async () => {
    const year = (await t.converse('ATUid_badyear', '+919812345602', ['1', '1', 'Asha', '85'])).at(-1);
    expect(year).toMatch(/^CON Enter a 4-digit year from \d{4} to \d{4}\.\nEnter year of birth/);
    const name = (await t.converse('ATUid_badname', '+919812345603', ['1', '1', '12345'])).at(-1);
    expect(name).toMatch(/^CON Enter the name in letters/);
  });

  it('goes back with 0 and home with 00', async () => {
    const screens = await t.converse('ATUid_nav', '+919812345604', ['1', '1', 'Asha Devi', '0', '00']);
    expect(screens[4]).toBe('CON Enter full name as on photo ID:\n0 Back');
    expect(screens[5]).toMatch(/^CON Tika vaccination\n1 Book/);
  });

  it('asks a first-time caller for a language, remembers it, and lets it be changed from the menu', async () => {
    const phone = '+919812345610';
    const hindi = await t.converse('ATUid_lang1', phone, ['2']);
    expect(hindi[1]).toMatch(/^CON टीका/);
    expect((await t.app.db('accounts').where('phone', phone).first()).language).toBe('hi');
    const again = await t.converse('ATUid_lang2', phone, ['3', '1']);
    expect(again[0]).toMatch(/^CON टीका/);
    expect(again[1]).toBe('CON Choose language / भाषा चुनें\n1 English\n2 हिन्दी\n0 वापस');
    expect(again[2]).toMatch(/^CON Tika vaccination/);
    expect((await t.app.db('accounts').where('phone', phone).first()).language).toBe('en');
  });

  it('tells a user whose session expired to dial again', async () => {
    const reply = await t.ussd('ATUid_never_seen', '+919812345605', '1*2');
    expect(reply.status).toBe(200);
    expect(reply.body).toBe('END Your session has expired. Please dial again.');
  });

  it('pages a long list with 98 More and goes back a page with 0', async () => {
    for (let i = 0; i < 12; i++) await seedCentre(t.app, { name: `Primary Health Centre ${String(i).padStart(2, '0')}`, pincode: '221001' });
    const answers = [...registration('Lata Pandey', pan(900)), '221001'];
    const text = answers.join('*');
    const firstPage = (await t.converse('ATUid_pages', '+919812345606', answers)).at(-1)!;
    expect(firstPage).toMatch(/^CON Centres with free seats:\n1 Primary Health Centre 00 \(10\)\n/);
    expect(firstPage).toContain('\n98 More\n0 Back');
    expect(firstPage.length - 4).toBeLessThanOrEqual(160);
    const shown = firstPage.split('\n').filter((l) => /^\d+ Primary/.test(l)).length;

    const secondPage = (await t.ussd('ATUid_pages', '+919812345606', `${text}*98`)).body;
    expect(secondPage).toContain(`1 Primary Health Centre ${String(shown).padStart(2, '0')}`);
    const chosen = (await t.ussd('ATUid_pages', '+919812345606', `${text}*98*1`)).body;
    expect(chosen).toMatch(/^CON Choose a date:/);
    const centreId = (await t.app.db('centres').where('name', `Primary Health Centre ${String(shown).padStart(2, '0')}`).first()).id;
    const session = (await t.app.sessions.get<StoredSession>(`${t.app.config.REDIS_PREFIX}:ussd:session:ATUid_pages`))!;
    expect(session.dialogue.vars.centreId).toBe(String(centreId));
    const back = (await t.ussd('ATUid_pages', '+919812345606', `${text}*98*1*0`)).body;
    expect(back).toBe(firstPage);
  });

  // Finding 5: the USSD text carries Aadhaar numbers and vaccinators' codes; a Redis dump must not let anyone recover it.
  it('keeps the answered text in Redis only as an HMAC under a key derived from CODE_SECRET', async () => {
    const answers = ['1', '1', 'Asha Devi', '1985', '1', '1', '234123412346'];
    await t.converse('ATUid_hmac', '+919812345620', answers);
    const text = answers.join('*');
    const opened = (await t.app.sessions.get<StoredSession>(`${t.app.config.REDIS_PREFIX}:ussd:session:ATUid_hmac`))!;
    const plainSha256 = createHash('sha256').update(text).digest('hex');
    const key = Buffer.from(hkdfSync('sha256', t.app.config.CODE_SECRET, 'tika', 'ussd-text', 32));
    expect(opened.lastText).toEqual({ length: text.length, hmac: createHmac('sha256', key).update(text).digest('hex') });
    expect(JSON.stringify(opened)).not.toContain(plainSha256);
    expect(JSON.stringify(opened)).not.toContain(text);
  });

  // Finding 5: a session part-way through registration holds the name and the Aadhaar number; Redis (a dump, a replica, the AOF file) must not show them.
  it('keeps sessions and dropped sessions sealed in Redis: no name or photo-ID number readable', async () => {
    const phone = '+919812345624';
    const photoId = pan(7311);
    await t.converse('ATUid_sealed', phone, registration('Zorawar Singh', photoId));
    const keys = await t.app.redis.keys(`${t.app.config.REDIS_PREFIX}:ussd:*`);
    const mine = keys.filter((key) => key.endsWith(':ATUid_sealed') || key.endsWith(phone));
    expect(mine.map((key) => key.split(':').at(-2)).sort()).toEqual(['resume', 'session']);
    for (const key of mine) {
      const raw = (await t.app.redis.get(key))!;
      expect(raw).not.toContain('Zorawar');
      expect(raw).not.toContain(photoId);
      expect(await t.app.sessions.get(key)).toBeDefined();
    }
    const opened = (await t.app.sessions.get<StoredSession>(`${t.app.config.REDIS_PREFIX}:ussd:session:ATUid_sealed`))!;
    expect(opened.dialogue.vars.name).toBe('Zorawar Singh');
    // A value changed in Redis does not open: the caller starts again rather than on forged state.
    const key = `${t.app.config.REDIS_PREFIX}:ussd:session:ATUid_sealed`;
    const raw = (await t.app.redis.get(key))!;
    // One bit of the sealed body flipped (the character itself always changes, whatever it was).
    const [iv, tag, body] = raw.split('.');
    const bytes = Buffer.from(body!, 'base64url');
    bytes[0] = bytes[0]! ^ 1;
    const tampered = `${iv}.${tag}.${bytes.toString('base64url')}`;
    expect(tampered).not.toBe(raw);
    await t.app.redis.set(key, tampered);
    expect(await t.app.sessions.get(key)).toBeUndefined();
  });

  // Finding 7 (part): a session id is not a credential; another phone under it starts afresh.
  it('gives a hop with a known session id but another phone a fresh session, never the first phone\'s state', async () => {
    const owner = '+919812345621';
    const stranger = '+919812345622';
    const ownerScreens = await t.converse('ATUid_bound', owner, ['1', '1', 'Asha Devi']);
    expect(ownerScreens.at(-1)).toMatch(/^CON Enter year of birth/);
    const firstScreenOfStranger = (await t.ussd('ATUid_stranger_fresh', '+919812345623', '')).body;

    const hijack = await t.ussd('ATUid_bound', stranger, '1*1*Asha Devi*1985');
    expect(hijack.status).toBe(200);
    expect(hijack.body).toBe(firstScreenOfStranger);
    const stored = (await t.app.sessions.get<StoredSession>(`${t.app.config.REDIS_PREFIX}:ussd:session:ATUid_bound`))!;
    expect(stored.phone).toBe(stranger);
    expect(stored.dialogue.vars).not.toHaveProperty('name');
    // The stranger's own session carries on from the screen it was given.
    expect((await t.ussd('ATUid_bound', stranger, '1*1*Asha Devi*1985*1')).body).toMatch(/^CON Tika vaccination/);
    expect(await t.app.db('accounts').where('phone', owner).first()).toBeDefined();
  });

  it('stores a session-end notification once, however often it is sent', async () => {

    const body = {
      date: '2026-11-28 12:00:00',
      sessionId: 'ATUid_ended',
      serviceCode: SERVICE_CODE,
      networkCode: '40410',
      phoneNumber: '+919812345607',
      status: 'Success',
      cost: 'INR 0.10',
      durationInMillis: '12345',
      hopsCount: '3',
      input: '1*1',
      lastAppResponse: 'END Thank you',
      errorMessage: '',
    };
    const path = `/webhooks/africastalking/ussd/events?key=${TEST_WEBHOOK_SECRET}`;
    expect((await t.postForm(path, body)).status).toBe(200);
    expect((await t.postForm(path, body)).status).toBe(200);
    const rows = await t.app.db('ussd_session_events').where('session_id', 'ATUid_ended');
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ status: 'Success', hops_count: 3, duration_ms: 12345, phone: '+919812345607' });
    expect(rows[0].event_date.toISOString()).toBe('2026-11-28T12:00:00.000Z');
  });
});

describe('the USSD webhook when our own dependencies fail', () => {
  it('answers an END screen, not a 5xx, when the database is gone', async () => {
    const t = await startTestApp();
    try {
      await t.app.db.destroy();
      const reply = await t.ussd('ATUid_dbdown', '+919812345608', '');
      expect(reply.status).toBe(200);
      expect(reply.body).toBe('END Sorry, something went wrong. Please dial again in a minute.');
    } finally {
      await t.close().catch(() => undefined);
    }
  });

  it('answers within its deadline when the database hangs', async () => {
    const t = await startTestApp({ USSD_DEADLINE_MS: '300' });
    const locker = createDb(t.app.config.DATABASE_URL);
    try {
      await t.ussd('ATUid_slow', '+919812345609', '');
      const trx = await locker.transaction();
      await trx.raw('LOCK TABLE accounts IN ACCESS EXCLUSIVE MODE');
      const started = Date.now();
      const reply = await t.ussd('ATUid_slow', '+919812345609', '1');
      expect(Date.now() - started).toBeLessThan(2000);
      expect(reply.body).toMatch(/^END Sorry, this is taking too long\. Please dial again\./);
      await trx.rollback();

      // A caller who chose Hindi is told in Hindi.
      await t.converse('ATUid_slow_hi', '+919812345611', ['2']);
      const again = await locker.transaction();
      await again.raw('LOCK TABLE accounts IN ACCESS EXCLUSIVE MODE');
      const hindi = await t.ussd('ATUid_slow_hi', '+919812345611', '2*1');
      expect(hindi.body).toBe(`END ${t.app.catalogue.render('hi', 'error.timeout')}`);
      await again.rollback();
    } finally {
      await locker.destroy();
      await t.close();
    }
  });
});

describe('newestInput', () => {
  it.each([
    ['the first answer', '', '1', '1'],
    ['an answer appended to the previous text', '1*Asha', '1*Asha*1985', '1985'],
    ['an answer that itself contains a star', '1*2', '1*2*ab*cd', 'ab*cd'],
    ['a text that does not extend the previous one', '1*2', '9*8*7', '7'],
  ])('finds %s from a digest of the previous text', (_label, previous, text, expected) => {
    const key = randomBytes(32);
    expect(newestInput(digest(previous, key), text, key)).toBe(expected);
  });
});
