import { postAdminLogin, startTestApp, TEST_ADMIN_TOKEN, type TestApp } from '../support/app';

/** The admin login (a session cookie) and the queue dashboard behind it, over HTTP. */
describe('admin login and the queue dashboard', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  const login = (token: string, headers: Record<string, string> = {}, next?: string) => postAdminLogin(t.baseUrl, { token, headers, next });
  const sessionCookie = (response: Response) => /^(tika_admin=[^;]+)/.exec(response.headers.get('set-cookie') ?? '')?.[1];

  it('GET /admin/login is a form with a labelled password field posting to /admin/login', async () => {
    const response = await fetch(`${t.baseUrl}/admin/login`);
    const html = await response.text();
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/text\/html/);
    expect(html).toMatch(/<html lang="en">/);
    expect(html).toMatch(/<form method="post" action="\/admin\/login">/);
    expect(html).toMatch(/<label for="token">/);
    expect(html).toMatch(/<input id="token" name="token" type="password"/);
  });

  it('a browser without a session is sent to the login form; the JSON API without one is 401', async () => {
    const page = await fetch(`${t.baseUrl}/admin/queues`, { redirect: 'manual', headers: { accept: 'text/html' } });
    expect(page.status).toBe(303);
    expect(page.headers.get('location')).toBe('/admin/login');
    const api = await fetch(`${t.baseUrl}/admin/queues/api/queues`, { headers: { accept: 'application/json' } });
    expect(api.status).toBe(401);
    expect((await fetch(`${t.baseUrl}/admin/centres`)).status).toBe(401);
  });

  it('the right token sets an HttpOnly, SameSite=Strict session cookie that opens the dashboard and the admin API', async () => {
    const response = await login(TEST_ADMIN_TOKEN);
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe('/admin/queues');
    const setCookie = response.headers.get('set-cookie')!;
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Strict/);
    expect(setCookie).not.toMatch(/Secure/); // plain http here
    expect(setCookie).not.toContain(TEST_ADMIN_TOKEN);
    const expires = new Date(/Expires=([^;]+)/.exec(setCookie)![1]!).getTime();
    expect(Math.abs(expires - Date.now() - 8 * 3600_000)).toBeLessThan(60_000);
    const cookie = sessionCookie(response)!;

    const dashboard = await fetch(`${t.baseUrl}/admin/queues`, { headers: { cookie, accept: 'text/html' } });
    expect(dashboard.status).toBe(200);
    expect(await dashboard.text()).toMatch(/<div id="root">/);
    const queues = await fetch(`${t.baseUrl}/admin/queues/api/queues`, { headers: { cookie } });
    expect(queues.status).toBe(200);
    const names = ((await queues.json()) as { queues: { name: string }[] }).queues.map((queue) => queue.name).sort();
    expect(names).toEqual(['sms-africastalking', 'tasks']);
    expect((await fetch(`${t.baseUrl}/admin/centres`, { headers: { cookie } })).status).toBe(200);
  });

  it('behind https (X-Forwarded-Proto) the cookie is Secure', async () => {
    const response = await login(TEST_ADMIN_TOKEN, { 'x-forwarded-proto': 'https' });
    expect(response.headers.get('set-cookie')).toMatch(/; Secure/);
  });

  it('a wrong token: a 401 page after a delay, no cookie', async () => {
    const started = Date.now();
    const response = await login('not-the-admin-token-at-all');
    expect(response.status).toBe(401);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(response.headers.get('set-cookie')).toBeNull();
    expect(await response.text()).toMatch(/<p role="alert">That is not the admin token.<\/p>/);
  });

  it('a forged, altered or expired cookie opens nothing', async () => {
    const cookie = sessionCookie(await login(TEST_ADMIN_TOKEN))!;
    const [, expiry, mac] = /^tika_admin=(\d+)\.(.+)$/.exec(cookie)!;
    const later = `tika_admin=${Number(expiry) + 3600_000}.${mac}`;
    const expired = `tika_admin=${Date.now() - 1000}.${mac}`;
    for (const forged of [later, expired, 'tika_admin=99999999999999.AAAA', `tika_admin=${TEST_ADMIN_TOKEN}`]) {
      expect((await fetch(`${t.baseUrl}/admin/queues/api/queues`, { headers: { cookie: forged, accept: 'application/json' } })).status).toBe(401);
      const page = await fetch(`${t.baseUrl}/admin/queues`, { redirect: 'manual', headers: { cookie: forged } });
      expect([page.status, page.headers.get('location')]).toEqual([303, '/admin/login']);
      expect((await fetch(`${t.baseUrl}/admin/centres`, { headers: { cookie: forged } })).status).toBe(401);
    }
  });

  it('the token in a URL is never accepted', async () => {
    for (const path of [`/admin/queues?token=${TEST_ADMIN_TOKEN}`, `/admin/queues/api/queues?token=${TEST_ADMIN_TOKEN}`, `/admin/centres?token=${TEST_ADMIN_TOKEN}`]) {
      const response = await fetch(`${t.baseUrl}${path}`, { redirect: 'manual' });
      expect([303, 400, 401]).toContain(response.status);
    }
    const viaQuery = await fetch(`${t.baseUrl}/admin/login?token=${TEST_ADMIN_TOKEN}`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '' });
    expect(viaQuery.status).toBe(401);
    expect(viaQuery.headers.get('set-cookie')).toBeNull();
  });

  it('a browser sent to the login form from another admin page is brought back to it after logging in', async () => {
    const page = await fetch(`${t.baseUrl}/admin/docs`, { redirect: 'manual', headers: { accept: 'text/html' } });
    expect([page.status, page.headers.get('location')]).toEqual([303, '/admin/login?next=%2Fadmin%2Fdocs']);
    const form = await (await fetch(`${t.baseUrl}${page.headers.get('location')}`)).text();
    expect(form).toContain('<input type="hidden" name="next" value="/admin/docs">');

    const wrong = await login('not-the-admin-token-at-all', {}, '/admin/docs');
    expect(await wrong.text()).toContain('<input type="hidden" name="next" value="/admin/docs">');
    const right = await login(TEST_ADMIN_TOKEN, {}, '/admin/docs');
    expect([right.status, right.headers.get('location')]).toEqual([303, '/admin/docs']);
    const docs = await fetch(`${t.baseUrl}/admin/docs`, { headers: { cookie: sessionCookie(right)!, accept: 'text/html' } });
    expect(docs.status).toBe(200);
  });

  // The login form must not become a way to send an admin's browser somewhere else.
  it.each([
    ['another site', '//evil.example/admin/'],
    ['an absolute address', 'https://evil.example/admin/'],
    ['a backslash', '/\\evil.example'],
    ['a backslash under /admin/', '/admin/\\evil.example'],
    ['a script', 'javascript:alert(1)'],
    ['markup', '/admin/x"><script>alert(1)</script>'],
    ['the login form itself', '/admin/login?next=%2Fadmin%2Fdocs'],
    ['a page outside /admin/', '/c/0123456789'],
  ])('a login whose return address is %s goes to the dashboard', async (_label, next) => {
    const response = await login(TEST_ADMIN_TOKEN, {}, next);
    expect([response.status, response.headers.get('location')]).toEqual([303, '/admin/queues']);
    const form = await (await fetch(`${t.baseUrl}/admin/login?next=${encodeURIComponent(next)}`)).text();
    expect(form).toContain('<input type="hidden" name="next" value="/admin/queues">');
    expect(form).not.toContain('evil');
    expect(form).not.toContain('<script>');
  });

  it('logout clears the cookie', async () => {
    const response = await fetch(`${t.baseUrl}/admin/logout`, { method: 'POST', redirect: 'manual' });
    expect(response.status).toBe(303);
    expect(response.headers.get('set-cookie')).toMatch(/^tika_admin=;.*Expires=Thu, 01 Jan 1970/);
  });
});
