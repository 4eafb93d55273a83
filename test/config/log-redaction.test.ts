import { eventually, SERVICE_CODE, startTestApp, TEST_WEBHOOK_SECRET, type TestApp } from '../support/app';

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
    expect(lines).toContain('redacted');
    expect(lines).not.toContain(TEST_WEBHOOK_SECRET);
    expect(lines).not.toContain(TEST_WEBHOOK_SECRET.slice(5));
  });
});
