import { eventually, SERVICE_CODE, startTestApp, TEST_ADMIN_TOKEN, TEST_WEBHOOK_SECRET, type TestApp } from '../support/app';

// Finding 5: a webhook key spelt another way (percent-encoded name, array suffix, other case) is still never logged.
describe('request logs', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  it.each([
    ['a plain key', `?key=${TEST_WEBHOOK_SECRET}`],
    ['a percent-encoded name', `?%6Bey=${TEST_WEBHOOK_SECRET}`],
    ['an array name', `?key[]=${TEST_WEBHOOK_SECRET}`],
    ['an encoded array name', `?key%5B%5D=${TEST_WEBHOOK_SECRET}`],
    ['an upper-case name after another parameter', `?a=1&KEY=${TEST_WEBHOOK_SECRET}`],
  ])('hold no webhook key given as %s', async (_label, query) => {
    const before = t.logs.length;
    const response = await fetch(`${t.baseUrl}/webhooks/africastalking/ussd${query}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ sessionId: 'ATUid_logs', serviceCode: SERVICE_CODE, phoneNumber: '+919812345678', text: '' }).toString(),
    });
    await response.text();
    // The request line is written when the response has finished, which may be just after we read it.
    const lines = await eventually('the request log line', async () => {
      const text = t.logs.slice(before).join('');
      return text.includes('/webhooks/africastalking/ussd?') ? text : undefined;
    });
    expect(lines).not.toContain(TEST_WEBHOOK_SECRET);
    expect(lines).not.toContain(TEST_WEBHOOK_SECRET.slice(5));
  });

  // An admin looks people up by mobile or booking reference; a list's limit may equal someone's code.
  it.each([
    ['a mobile', '/admin/appointments?phone=%2B919812345678', ['9812345678', '12345678']],
    ['a booking reference', '/admin/appointments?ref=K7Q2M9AX', ['K7Q2M9AX', 'k7q2m9ax']],
    ['a number', '/admin/centres?pincode=110001&limit=1164', ['1164', '110001']],
  ])('hold the names of an admin query, not %s given as a value', async (_label, url, hidden) => {
    const before = t.logs.length;
    const response = await fetch(`${t.baseUrl}${url}`, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
    await response.text();
    const path = url.slice(0, url.indexOf('?'));
    const lines = await eventually('the request log line', async () => {
      const text = t.logs.slice(before).join('');
      return text.includes(`${path}?`) ? text : undefined;
    });
    expect(lines).toContain(`${path}?${[...new URLSearchParams(url.slice(path.length + 1)).keys()].join('&')}`);
    for (const value of hidden) expect(lines).not.toContain(value);
  });
});
