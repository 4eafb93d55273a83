import { startTestApp, TEST_ADMIN_TOKEN, type TestApp } from '../support/app';

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

  const login = (t: TestApp, token: string) =>
    fetch(`${t.baseUrl}/admin/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token }).toString(),
    });

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
});
