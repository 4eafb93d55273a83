import { postAdminLogin, startTestApp, TEST_ADMIN_TOKEN, type TestApp } from '../support/app';

/** Guessing the admin token at the login form: a limit per address that every web process shares. */
describe('admin login attempts', () => {
  let first: TestApp;
  let second: TestApp;
  beforeAll(async () => {
    first = await startTestApp();
    // A second web process on the same PostgreSQL and Redis, as behind a load balancer.
    second = await startTestApp({}, { keepState: true, worker: false });
  });
  afterAll(async () => {
    await second?.close();
    await first?.close();
  });

  const login = (t: TestApp, token: string, forwardedFor?: string) => postAdminLogin(t.baseUrl, { token, forwardedFor });

  it('a right token clears the count; 10 wrong ones, sent in parallel to two processes, refuse the next everywhere for 15 minutes', async () => {
    // Wrong tokens below the limit, then the right one: logged in, and the count starts again.
    for (const response of await Promise.all([1, 2, 3].map(() => login(first, 'not-the-admin-token-at-all')))) expect(response.status).toBe(401);
    expect((await login(second, TEST_ADMIN_TOKEN)).status).toBe(303);

    // Ten guesses at once, split between the processes: each answered, none let through.
    const guesses = await Promise.all(Array.from({ length: 10 }, (_, n) => login(n % 2 ? second : first, `guess-number-${n}-of-the-token`)));
    expect(guesses.map((response) => response.status)).toEqual(Array(10).fill(401));

    for (const t of [first, second]) {
      const refused = await login(t, TEST_ADMIN_TOKEN);
      expect(refused.status).toBe(429);
      expect(refused.headers.get('retry-after')).toBe('900');
      expect(refused.headers.get('set-cookie')).toBeNull();
      expect(await refused.text()).toContain('Too many wrong tokens from this address: wait 15 minutes.');
    }
    // The Bearer token of the admin API is not a guess at the form: it still works.
    expect((await fetch(`${first.baseUrl}/admin/centres`, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } })).status).toBe(200);
  }, 30_000);

  it('behind a trusted proxy (here loopback), counts each client the proxy names: one locked out, another not', async () => {
    const guesses = await Promise.all(Array.from({ length: 10 }, (_, n) => login(first, `guess-${n}`, '203.0.113.7')));
    expect(guesses.map((response) => response.status)).toEqual(Array(10).fill(401));
    expect((await login(first, TEST_ADMIN_TOKEN, '203.0.113.7')).status).toBe(429);
    expect((await login(second, TEST_ADMIN_TOKEN, '198.51.100.20')).status).toBe(303);
  }, 30_000);
});

describe('admin login attempts from a client that is not a trusted proxy', () => {
  let t: TestApp;
  beforeAll(async () => {
    // Only the (absent) load balancer at 10.0.0.5 is believed: this test's loopback client is not.
    t = await startTestApp({ TRUST_PROXY: '10.0.0.5' });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('cannot escape the count by naming another address in X-Forwarded-For on each guess', async () => {
    const guess = (n: number, token: string) => postAdminLogin(t.baseUrl, { token, forwardedFor: `192.0.2.${n}` });
    const guesses = await Promise.all(Array.from({ length: 10 }, (_, n) => guess(n, `guess-${n}`)));
    expect(guesses.map((response) => response.status)).toEqual(Array(10).fill(401));
    expect((await guess(99, TEST_ADMIN_TOKEN)).status).toBe(429);
  }, 30_000);
});
