import type { Db } from '../../src/db/knex';
import { eventually, postAdminLogin, startTestApp, TEST_ADMIN_TOKEN, TEST_WEBHOOK_SECRET, type TestApp } from '../support/app';
import { seedCentre } from '../support/programme';

/** The simulator's server side: where it is served, what it tells the page, and the SMS it pushes. */

interface SmsEvent {
  id: string;
  data: { id: number; message: string; createdAt: string };
}

/** An open GET /simulator/events stream, read as a browser's EventSource would. */
async function openEvents(baseUrl: string, phone: string, lastEventId?: string) {
  const abort = new AbortController();
  const response = await fetch(`${baseUrl}/simulator/events?phone=${encodeURIComponent(phone)}`, {
    headers: lastEventId ? { 'last-event-id': lastEventId } : {},
    signal: abort.signal,
  });
  const events: SmsEvent[] = [];
  let raw = '';
  const reading = (async () => {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        raw += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = raw.indexOf('\n\n')) >= 0) {
          const block = raw.slice(0, end);
          raw = raw.slice(end + 2);
          const id = /^id: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (/^event: sms$/m.test(block) && id && data) events.push({ id, data: JSON.parse(data) });
        }
      }
    } catch {
      // aborted
    }
  })();
  return {
    response,
    events,
    close: async () => {
      abort.abort();
      await reading;
    },
  };
}

/** Connections LISTENing for the sandbox's notices in this test's database. */
async function listeners(db: Db): Promise<number> {
  const { rows } = await db.raw<{ rows: { count: string }[] }>("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query = 'LISTEN sandbox_sms'");
  return Number(rows[0]!.count);
}

describe('the simulator in a development sandbox', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await startTestApp({ SMS_PROVIDER: 'sandbox', AT_API_KEY: '', USSD_SESSION_TTL_SECONDS: '240' });
  });
  afterEach(async () => {
    await t?.close();
  });

  it('serves the page, its script (under 50 KB) and styles, and the settings the page needs', async () => {
    const { centre } = await seedCentre(t.app);
    await t.app.programme.createVaccinator({ phone: '+919900000001', name: 'Sunita Sharma', centreId: centre.id });

    const page = await fetch(`${t.baseUrl}/simulator`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    const html = await page.text();
    expect(html).toContain('<base href="/simulator/">');
    expect(html).toMatch(/<script defer src="simulator.js">/);
    expect(html).toMatch(/aria-live="polite"/);

    const script = await fetch(`${t.baseUrl}/simulator/simulator.js`);
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toMatch(/javascript/);
    const body = await script.text();
    expect(body.length).toBeGreaterThan(1000);
    expect(Buffer.byteLength(body)).toBeLessThan(50 * 1024);
    // wire.ts is bundled in: the webhook path and the GSM-7 table.
    expect(body).toContain('/webhooks/africastalking');
    expect((await fetch(`${t.baseUrl}/simulator/simulator.css`)).headers.get('content-type')).toMatch(/css/);

    const settings = await (await fetch(`${t.baseUrl}/simulator/config.json`)).json();
    expect(settings).toEqual({
      serviceCode: '*384*1234#',
      webhookKey: TEST_WEBHOOK_SECRET,
      smsShortCode: '21512',
      limits: { gsm7: 160, ucs2: 80 },
      sessionTimeoutSeconds: 180,
      sandbox: true,
      vaccinators: [{ phone: '+919900000001', name: 'Sunita Sharma', centre: 'AIIMS Delhi' }],
    });
  });

  it('pushes each SMS the sandbox stores to that phone, resumes after Last-Event-ID, and lets go of the listener when the page leaves', async () => {
    const phone = '+919812340001';
    const other = '+919812340002';
    const stream = await openEvents(t.baseUrl, phone);
    expect(stream.response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const otherStream = await openEvents(t.baseUrl, other);
    // The stream answers before its LISTEN is up (the browser sees it open at once): wait for it, then
    // check both pages share the one connection.
    await eventually('the listener to open', async () => ((await listeners(t.app.db)) > 0 ? true : undefined));
    expect(await listeners(t.app.db)).toBe(1);

    expect((await t.incomingSms(phone, 'HELP')).status).toBe(200);
    const [help] = await eventually('the HELP reply on the stream', async () => (stream.events.length ? stream.events : undefined));
    expect(help!.data.message).toMatch(/^Tika: to book a vaccination send REGISTER/);
    expect(help!.id).toBe(String(help!.data.id));
    // The other phone's stream got nothing.
    await t.incomingSms(phone, 'HELP');
    await eventually('the second reply', async () => (stream.events.length === 2 ? true : undefined));
    expect(otherStream.events).toEqual([]);
    await stream.close();
    await otherStream.close();
    await eventually('the listener to close', async () => ((await listeners(t.app.db)) === 0 ? true : undefined));

    // A reconnecting browser sends the last id it saw: only what came after.
    await t.incomingSms(phone, 'HELP');
    await eventually('the third reply stored', async () => {
      const rows = await t.app.db('sandbox_messages').where({ phone }).select('id');
      return rows.length === 3 ? true : undefined;
    });
    const resumed = await openEvents(t.baseUrl, phone, stream.events[1]!.id);
    await eventually('the third reply', async () => (resumed.events.length ? true : undefined));
    // A new page gets the phone's history.
    const fresh = await openEvents(t.baseUrl, phone);
    await eventually('the history', async () => (fresh.events.length === 3 ? true : undefined));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(resumed.events.map((event) => event.data.id)).toEqual([Number(stream.events[1]!.id) + 1]);
    expect(fresh.events.map((event) => event.data.message)).toEqual([help!.data.message, help!.data.message, help!.data.message]);
    await resumed.close();
    await fresh.close();
  });

  it('refuses a stream for something that is not a phone number', async () => {
    const response = await fetch(`${t.baseUrl}/simulator/events?phone=nope`);
    expect(response.status).toBe(400);
    expect(((await response.json()) as { message: string }).message).toContain('phone is not a valid number');
  });

  it('closes promptly with a page still following a phone', async () => {
    const stream = await openEvents(t.baseUrl, '+919812340003');
    const started = Date.now();
    const app = t;
    t = undefined as unknown as TestApp;
    expect(await app.close().then(() => true)).toBe(true);
    expect(Date.now() - started).toBeLessThan(5000);
    await stream.close();
  });
});

describe('the simulator outside a development sandbox', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ SMS_PROVIDER: 'africastalking' });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('is served only behind the admin login: /simulator sends the browser to /admin/simulator/', async () => {
    const redirect = await fetch(`${t.baseUrl}/simulator`, { redirect: 'manual' });
    expect(redirect.status).toBe(303);
    expect(redirect.headers.get('location')).toBe('/admin/simulator/');

    const page = await fetch(`${t.baseUrl}/admin/simulator/`, { redirect: 'manual', headers: { accept: 'text/html' } });
    expect(page.status).toBe(303);
    expect(page.headers.get('location')).toBe('/admin/login?next=%2Fadmin%2Fsimulator%2F');
    const login = await postAdminLogin(t.baseUrl, { token: TEST_ADMIN_TOKEN, next: '/admin/simulator/' });
    expect([login.status, login.headers.get('location')]).toEqual([303, '/admin/simulator/']);
    // The settings hold the webhook key: not without the admin token.
    expect((await fetch(`${t.baseUrl}/admin/simulator/config.json`, { headers: { accept: 'application/json' } })).status).toBe(401);
    expect((await fetch(`${t.baseUrl}/admin/simulator/events?phone=%2B919812340001`, { headers: { accept: 'text/event-stream' } })).status).toBe(401);

    const admin = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };
    const html = await (await fetch(`${t.baseUrl}/admin/simulator/`, { headers: admin })).text();
    expect(html).toContain('<base href="/admin/simulator/">');
    const settings = await (await fetch(`${t.baseUrl}/admin/simulator/config.json`, { headers: admin })).json();
    expect(settings).toMatchObject({ webhookKey: TEST_WEBHOOK_SECRET, sandbox: false });
  });
});
