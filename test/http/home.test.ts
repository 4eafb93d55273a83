import { startTestApp, type TestApp } from '../support/app';

describe('GET /', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({}, { worker: false });
  });
  afterAll(async () => {
    await t.close();
  });

  it('answers with a short page naming the service, its endpoints and where the documentation is', async () => {
    const response = await fetch(`${t.baseUrl}/`);
    const page = await response.text();

    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page).toContain('<title>Tika</title>');
    expect(page).toContain('vaccination appointments');
    for (const endpoint of ['/webhooks/africastalking/ussd', '/certificates/verify', '/.well-known/jwks.json', '/admin/centres', '/health', '/simulator']) {
      expect(page).toContain(endpoint);
    }
    expect(page).toContain('README.md');
    expect(page.length).toBeLessThan(2000);
  });
});
