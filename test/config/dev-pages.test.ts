import { startTestApp, type TestApp } from '../support/app';

// Finding 1: the sandbox's /dev pages exist only in a development sandbox, never beside a real provider.
describe('/dev pages', () => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('are not mounted when the provider is africastalking (NODE_ENV=test)', async () => {
    t = await startTestApp({ SMS_PROVIDER: 'africastalking' });
    const response = await fetch(`${t.baseUrl}/dev/outbox`);
    expect(response.status).toBe(404);
  });

  it('are mounted for the sandbox provider in test', async () => {
    t = await startTestApp({ SMS_PROVIDER: 'sandbox', AT_API_KEY: '' });
    const response = await fetch(`${t.baseUrl}/dev/outbox`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ messages: [] });
  });
});
