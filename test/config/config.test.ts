import { spawnSync } from 'node:child_process';
import { Writable } from 'node:stream';
import { ConfigError, loadConfig } from '../../src/config';
import { createLogger, maskPhone, maskPhonesInLine, redactUrl } from '../../src/logger';

const SECRETS = {
  WEBHOOK_SECRET: 'w'.repeat(16),
  ADMIN_TOKEN: 'a'.repeat(16),
  CODE_SECRET: 'c'.repeat(32),
};
const PRODUCTION = { NODE_ENV: 'production', SMS_PROVIDER: 'africastalking', AT_API_KEY: 'atsk_live_key_0123456789', CERT_PRIVATE_KEY: 'pem', ...SECRETS };
const DEV = { NODE_ENV: 'development' };
const OLD_KEY = { kty: 'OKP', crv: 'Ed25519', x: 'eQoEIdW4HaUqq8y8EPMcyuWNh4mdUH0PafWg2nCsVEk' };
const PUBLISHED = { WEBHOOK_SECRET: 'dev-webhook-secret', ADMIN_TOKEN: 'dev-admin-token', CODE_SECRET: 'dev-code-secret-change-me-in-production' };

/** The variables a ConfigError names, or 'starts' when the configuration is accepted. */
function outcome(env: Record<string, string>): string[] | 'starts' {
  try {
    loadConfig(env);
    return 'starts';
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return [...new Set(error.problems.map((p) => p.split(' ')[0]!))].sort();
  }
}

describe('configuration', () => {
  it('has working defaults for a development sandbox, with development secrets it reports', () => {
    const config = loadConfig(DEV);
    expect(config).toMatchObject({
      PORT: 3000,
      DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/tika',
      REDIS_URL: 'redis://127.0.0.1:6379',
      SMS_PROVIDER: 'sandbox',
      routes: [{ prefix: '*', provider: 'sandbox' }],
      DEFAULT_COUNTRY: 'IN',
      TIMEZONE: 'Asia/Kolkata',
      USSD_MAX_GSM7: 160,
      USSD_MAX_UCS2: 80,
      developmentSandbox: true,
    });
    expect(config.defaultedSecrets.sort()).toEqual(['ADMIN_TOKEN', 'CODE_SECRET', 'WEBHOOK_SECRET']);
  });

  it('points PUBLIC_BASE_URL at the port actually served when it is unset', () => {
    expect(loadConfig(DEV).PUBLIC_BASE_URL).toBe('http://localhost:3000');
    expect(loadConfig({ ...DEV, PORT: '8080' }).PUBLIC_BASE_URL).toBe('http://localhost:8080');
    expect(loadConfig({ ...DEV, PORT: '8080', PUBLIC_BASE_URL: 'https://tika.example.org' }).PUBLIC_BASE_URL).toBe('https://tika.example.org');
  });

  it.each([
    ['PORT', { PORT: 'eighty' }],
    ['DATABASE_URL', { DATABASE_URL: 'not a url' }],
    ['SMS_PROVIDER', { SMS_PROVIDER: 'pigeon' }],
    ['TIMEZONE', { TIMEZONE: 'Mars/Olympus' }],
    ['DEFAULT_COUNTRY', { DEFAULT_COUNTRY: 'India' }],
    ['CODE_SECRET', { CODE_SECRET: 'short' }],
    ['USSD_SERVICE_CODE', { USSD_SERVICE_CODE: '384' }],
  ])('names %s when it is wrong', (name, env) => {
    expect(() => loadConfig({ ...DEV, ...env })).toThrow(ConfigError);
    expect(() => loadConfig({ ...DEV, ...env })).toThrow(new RegExp(`^Invalid configuration:\\n  - ${name} `));
  });

  // Finding 1: development defaults only for an explicit development/test sandbox; everything else fails closed.
  it.each<[string, Record<string, string>, string[] | 'starts']>([
    ['development sandbox, no secrets', DEV, 'starts'],
    ['test sandbox, no secrets', { NODE_ENV: 'test' }, 'starts'],
    ['NODE_ENV unset: production, refuses naming every missing variable', {}, ['ADMIN_TOKEN', 'CERT_PRIVATE_KEY', 'CODE_SECRET', 'SMS_PROVIDER', 'WEBHOOK_SECRET']],
    ['NODE_ENV unset with sandbox: sandbox refused too', { SMS_PROVIDER: 'sandbox' }, ['ADMIN_TOKEN', 'CERT_PRIVATE_KEY', 'CODE_SECRET', 'SMS_PROVIDER', 'WEBHOOK_SECRET']],
    ['NODE_ENV unset with africastalking and no secrets', { SMS_PROVIDER: 'africastalking', AT_API_KEY: 'k'.repeat(20) }, ['ADMIN_TOKEN', 'CERT_PRIVATE_KEY', 'CODE_SECRET', 'WEBHOOK_SECRET']],
    ['production without anything', { NODE_ENV: 'production' }, ['ADMIN_TOKEN', 'CERT_PRIVATE_KEY', 'CODE_SECRET', 'SMS_PROVIDER', 'WEBHOOK_SECRET']],
    ['production, everything set', PRODUCTION, 'starts'],
    ['NODE_ENV unset, everything set (behaves as production)', { ...PRODUCTION, NODE_ENV: '' }, 'starts'],
    ['production without SMS_PROVIDER', { ...PRODUCTION, SMS_PROVIDER: '' }, ['SMS_PROVIDER']],
    ['production with sandbox', { ...PRODUCTION, SMS_PROVIDER: 'sandbox' }, ['SMS_PROVIDER']],
    ['production with sandbox for a demo', { ...PRODUCTION, SMS_PROVIDER: 'sandbox', ALLOW_SANDBOX_IN_PRODUCTION: 'true' }, 'starts'],
    ['production demo sandbox still needs secrets', { NODE_ENV: 'production', SMS_PROVIDER: 'sandbox', ALLOW_SANDBOX_IN_PRODUCTION: 'true' }, ['ADMIN_TOKEN', 'CERT_PRIVATE_KEY', 'CODE_SECRET', 'WEBHOOK_SECRET']],
    ['production with the published development secrets', { ...PRODUCTION, ...PUBLISHED }, ['ADMIN_TOKEN', 'CODE_SECRET', 'WEBHOOK_SECRET']],
    ['production with one published value in another variable', { ...PRODUCTION, ADMIN_TOKEN: 'dev-webhook-secret' }, ['ADMIN_TOKEN']],
    ['production with two equal secrets', { ...PRODUCTION, ADMIN_TOKEN: SECRETS.WEBHOOK_SECRET }, ['ADMIN_TOKEN']],
    ['production with all secrets equal', { ...PRODUCTION, ADMIN_TOKEN: SECRETS.CODE_SECRET, WEBHOOK_SECRET: SECRETS.CODE_SECRET }, ['ADMIN_TOKEN', 'CODE_SECRET']],
    ['production with the webhook secret equal to the provider API key', { ...PRODUCTION, WEBHOOK_SECRET: PRODUCTION.AT_API_KEY }, ['AT_API_KEY']],
    ['development with africastalking and no secrets', { ...DEV, SMS_PROVIDER: 'africastalking', AT_API_KEY: 'k'.repeat(20) }, ['ADMIN_TOKEN', 'CODE_SECRET', 'WEBHOOK_SECRET']],
    ['test with africastalking and no secrets', { NODE_ENV: 'test', SMS_PROVIDER: 'africastalking', AT_API_KEY: 'k'.repeat(20) }, ['ADMIN_TOKEN', 'CODE_SECRET', 'WEBHOOK_SECRET']],
    ['development with africastalking and the published secrets', { ...DEV, SMS_PROVIDER: 'africastalking', AT_API_KEY: 'k'.repeat(20), ...PUBLISHED }, ['ADMIN_TOKEN', 'CODE_SECRET', 'WEBHOOK_SECRET']],
    ['test with africastalking and secrets of its own (the test suite)', { NODE_ENV: 'test', SMS_PROVIDER: 'africastalking', AT_API_KEY: 'k'.repeat(20), ...SECRETS }, 'starts'],
    ['development sandbox with explicit equal secrets', { ...DEV, ADMIN_TOKEN: SECRETS.WEBHOOK_SECRET, WEBHOOK_SECRET: SECRETS.WEBHOOK_SECRET }, ['ADMIN_TOKEN']],
    ['africastalking without its API key', { ...PRODUCTION, AT_API_KEY: '' }, ['AT_API_KEY']],
    ['retired certificate keys as a JSON array of JWKs', { ...PRODUCTION, CERT_PREVIOUS_PUBLIC_KEYS: JSON.stringify([OLD_KEY]) }, 'starts'],
    ['retired certificate keys as a published JWKS', { ...PRODUCTION, CERT_PREVIOUS_PUBLIC_KEYS: JSON.stringify({ keys: [{ ...OLD_KEY, kid: 'k', use: 'sig' }] }) }, 'starts'],
    ['retired certificate keys that are not JSON', { ...PRODUCTION, CERT_PREVIOUS_PUBLIC_KEYS: '-----BEGIN PUBLIC KEY-----' }, ['CERT_PREVIOUS_PUBLIC_KEYS']],
    ['a retired certificate key with its private part', { ...PRODUCTION, CERT_PREVIOUS_PUBLIC_KEYS: JSON.stringify([{ ...OLD_KEY, d: OLD_KEY.x }]) }, ['CERT_PREVIOUS_PUBLIC_KEYS']],
    ['a retired certificate key that is not Ed25519', { ...PRODUCTION, CERT_PREVIOUS_PUBLIC_KEYS: JSON.stringify([{ kty: 'RSA', n: 'x', e: 'AQAB' }]) }, ['CERT_PREVIOUS_PUBLIC_KEYS']],
    ['a bad variable and missing secrets are named together', { PORT: 'eighty' }, ['ADMIN_TOKEN', 'CERT_PRIVATE_KEY', 'CODE_SECRET', 'PORT', 'SMS_PROVIDER', 'WEBHOOK_SECRET']],
  ])('%s', (_label, env, expected) => {
    expect(outcome(env)).toEqual(expected);
  });

  it('development defaults are only given to a development sandbox', () => {
    expect(loadConfig({ NODE_ENV: 'test' }).defaultedSecrets.sort()).toEqual(['ADMIN_TOKEN', 'CODE_SECRET', 'WEBHOOK_SECRET']);
    expect(loadConfig(PRODUCTION)).toMatchObject({ defaultedSecrets: [], developmentSandbox: false, ...SECRETS });
    expect(loadConfig({ NODE_ENV: 'test', SMS_PROVIDER: 'africastalking', AT_API_KEY: 'k'.repeat(20), ...SECRETS })).toMatchObject({ developmentSandbox: false });
  });

  it('the process started with NODE_ENV unset refuses to start and names every missing variable', () => {
    const child = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(child.status).toBe(1);
    for (const name of ['WEBHOOK_SECRET', 'ADMIN_TOKEN', 'CODE_SECRET', 'CERT_PRIVATE_KEY', 'SMS_PROVIDER']) {
      expect(child.stderr).toMatch(new RegExp(`- ${name} `));
    }
  });
});

describe('SMS_ROUTES and the settings of each routed provider', () => {
  const TEST = { NODE_ENV: 'test', ...SECRETS };
  const AT_KEY = { AT_API_KEY: 'k'.repeat(20) };
  const KENYA_BY_AT = '+254=africastalking,*=sandbox';
  const PRODUCTION_ROUTED = { NODE_ENV: 'production', SMS_ROUTES: '*=africastalking', ...AT_KEY, CERT_PRIVATE_KEY: 'pem', ...SECRETS };

  it('parses SMS_ROUTES into config.routes, in the order written', () => {
    expect(loadConfig({ ...TEST, ...AT_KEY, SMS_ROUTES: ' +254 = africastalking, *=sandbox ' }).routes).toEqual([
      { prefix: '+254', provider: 'africastalking' },
      { prefix: '*', provider: 'sandbox' },
    ]);
  });

  it('SMS_PROVIDER alone is a catch-all route; SMS_ROUTES, when set, takes its place', () => {
    expect(loadConfig({ ...TEST, SMS_PROVIDER: 'africastalking', ...AT_KEY }).routes).toEqual([{ prefix: '*', provider: 'africastalking' }]);
    expect(loadConfig({ ...TEST, SMS_PROVIDER: 'africastalking', ...AT_KEY, SMS_ROUTES: '*=sandbox' }).channels.map((c) => c.handler.name)).toEqual(['sandbox']);
  });

  it('lists each routed provider once, with its own validated settings', () => {
    const config = loadConfig({ ...TEST, ...AT_KEY, SMS_ROUTES: '+254=africastalking,+256=africastalking,*=sandbox', AT_TIMEOUT_MS: '1500' });
    expect(config.channels.map((channel) => channel.handler.name)).toEqual(['africastalking', 'sandbox']);
    expect(config.channels[0]?.config).toMatchObject({ AT_API_KEY: AT_KEY.AT_API_KEY, AT_TIMEOUT_MS: 1500, AT_BASE_URL: 'https://api.africastalking.com' });
  });

  it.each<[string, Record<string, string>, string[] | 'starts']>([
    ['AT_API_KEY not needed when no route uses africastalking', { ...TEST, SMS_ROUTES: '*=sandbox' }, 'starts'],
    ['AT_API_KEY required when a route uses africastalking', { ...TEST, SMS_ROUTES: KENYA_BY_AT }, ['AT_API_KEY']],
    ['AT_API_KEY required when the catch-all is africastalking', { ...TEST, SMS_ROUTES: '+91=sandbox,*=africastalking' }, ['AT_API_KEY']],
    ["a routed provider's other variables checked too", { ...TEST, ...AT_KEY, SMS_ROUTES: KENYA_BY_AT, AT_BASE_URL: 'not a url' }, ['AT_BASE_URL']],
    ["an unrouted provider's variables not checked", { ...TEST, SMS_ROUTES: '*=sandbox', AT_BASE_URL: 'not a url' }, 'starts'],
    ['SMS_ROUTES without a catch-all', { ...TEST, SMS_ROUTES: '+91=sandbox' }, ['SMS_ROUTES']],
    ['SMS_ROUTES to an unknown provider', { ...TEST, SMS_ROUTES: '+91=pigeon,*=sandbox' }, ['SMS_ROUTES']],
    ['SMS_ROUTES with a bad entry', { ...TEST, SMS_ROUTES: '91=sandbox,*=sandbox' }, ['SMS_ROUTES']],
    ['production with SMS_ROUTES and no SMS_PROVIDER', PRODUCTION_ROUTED, 'starts'],
    ['production with a route to sandbox', { ...PRODUCTION_ROUTED, SMS_ROUTES: KENYA_BY_AT }, ['SMS_ROUTES']],
    ['production with a route to sandbox for a demo', { ...PRODUCTION_ROUTED, SMS_ROUTES: KENYA_BY_AT, ALLOW_SANDBOX_IN_PRODUCTION: 'true' }, 'starts'],
    ['development, every route sandbox: no secrets needed', { NODE_ENV: 'development', SMS_ROUTES: '+91=sandbox,*=sandbox' }, 'starts'],
    ['development, one route not sandbox: secrets needed', { NODE_ENV: 'development', ...AT_KEY, SMS_ROUTES: KENYA_BY_AT }, ['ADMIN_TOKEN', 'CODE_SECRET', 'WEBHOOK_SECRET']],
    ['AT_SEND_RATE_PER_SECOND not a number', { ...TEST, ...AT_KEY, SMS_ROUTES: KENYA_BY_AT, AT_SEND_RATE_PER_SECOND: 'fast' }, ['AT_SEND_RATE_PER_SECOND']],
    ['AT_SEND_RATE_PER_SECOND zero', { ...TEST, ...AT_KEY, SMS_ROUTES: KENYA_BY_AT, AT_SEND_RATE_PER_SECOND: '0' }, ['AT_SEND_RATE_PER_SECOND']],
    ['AT_SEND_RATE_PER_SECOND negative', { ...TEST, ...AT_KEY, SMS_ROUTES: KENYA_BY_AT, AT_SEND_RATE_PER_SECOND: '-5' }, ['AT_SEND_RATE_PER_SECOND']],
    ['AT_SEND_RATE_PER_SECOND not whole', { ...TEST, ...AT_KEY, SMS_ROUTES: KENYA_BY_AT, AT_SEND_RATE_PER_SECOND: '2.5' }, ['AT_SEND_RATE_PER_SECOND']],
    ['SMS_SEND_RATE_PER_SECOND not a number', { ...TEST, ...AT_KEY, SMS_ROUTES: KENYA_BY_AT, SMS_SEND_RATE_PER_SECOND: 'fast' }, ['SMS_SEND_RATE_PER_SECOND']],
    ['TRUST_PROXY any address (true)', { ...TEST, TRUST_PROXY: 'true' }, ['TRUST_PROXY']],
    ['TRUST_PROXY not an address', { ...TEST, TRUST_PROXY: 'proxy.example' }, ['TRUST_PROXY']],
    ['TRUST_PROXY a range too wide', { ...TEST, TRUST_PROXY: '10.0.0.0/33' }, ['TRUST_PROXY']],
    ['TRUST_PROXY addresses, ranges and names', { ...TEST, TRUST_PROXY: '10.0.0.5, 172.16.0.0/12, fd00::/8, loopback' }, 'starts'],
    ['TRUST_PROXY a hop count', { ...TEST, TRUST_PROXY: '1' }, 'starts'],
    ['TRUST_PROXY false', { ...TEST, TRUST_PROXY: 'false' }, 'starts'],
    ['SMS_SEND_CONCURRENCY zero', { ...TEST, SMS_SEND_CONCURRENCY: '0' }, ['SMS_SEND_CONCURRENCY']],
    ['SMS_SEND_CONCURRENCY above 500', { ...TEST, SMS_SEND_CONCURRENCY: '501' }, ['SMS_SEND_CONCURRENCY']],
    ['SMS_SEND_CONCURRENCY 64', { ...TEST, SMS_SEND_CONCURRENCY: '64' }, 'starts'],
  ])('%s', (_label, env, expected) => {
    expect(outcome(env)).toEqual(expected);
  });

  it('names the provider that needs AT_API_KEY', () => {
    expect(() => loadConfig({ ...TEST, SMS_ROUTES: KENYA_BY_AT })).toThrow('AT_API_KEY is required when a route sends through africastalking');
  });

  it('refuses a sandbox route in production by naming SMS_ROUTES, the variable that routes to it', () => {
    expect(() => loadConfig({ ...PRODUCTION_ROUTED, SMS_ROUTES: KENYA_BY_AT })).toThrow(/- SMS_ROUTES routes to sandbox, which is refused in production/);
  });

  it('is a development sandbox only when every route is the sandbox', () => {
    expect(loadConfig({ NODE_ENV: 'development', SMS_ROUTES: '+91=sandbox,*=sandbox' }).developmentSandbox).toBe(true);
    expect(loadConfig({ NODE_ENV: 'development', ...SECRETS, ...AT_KEY, SMS_ROUTES: KENYA_BY_AT }).developmentSandbox).toBe(false);
  });

  it("AT_SEND_RATE_PER_SECOND sets Africa's Talking's rate; every other provider keeps SMS_SEND_RATE_PER_SECOND", () => {
    const rates = (env: Record<string, string>) => Object.fromEntries(loadConfig({ ...TEST, ...AT_KEY, SMS_ROUTES: KENYA_BY_AT, ...env }).channels.map((c) => [c.handler.name, c.ratePerSecond]));
    expect(rates({})).toEqual({ africastalking: 200, sandbox: 200 });
    expect(rates({ SMS_SEND_RATE_PER_SECOND: '50' })).toEqual({ africastalking: 50, sandbox: 50 });
    expect(rates({ SMS_SEND_RATE_PER_SECOND: '50', AT_SEND_RATE_PER_SECOND: '5' })).toEqual({ africastalking: 5, sandbox: 50 });
  });
});

describe('logging', () => {
  it('masks phone numbers and redacts secrets', () => {
    const lines: string[] = [];
    const logger = createLogger('info', new Writable({ write: (chunk, _e, done) => (lines.push(String(chunk)), done()) }));
    logger.info({ phone: '+919876543210', from: '+254711000111', code: '4821', apiKey: 'atsk_secret', url: redactUrl('/webhooks/x?key=topsecret&a=1') }, 'hello');
    const line = lines.join('');
    expect(line).not.toContain('9876543210');
    expect(line).not.toContain('711000111');
    expect(line).not.toContain('4821');
    expect(line).not.toContain('atsk_secret');
    expect(line).not.toContain('topsecret');
    expect(line).toContain(maskPhone('+919876543210'));
    expect(maskPhone('+919876543210')).toBe('+91********10');
  });

  it('masks a number in international form anywhere in a line: an error detail, a nested field, a message', () => {
    const lines: string[] = [];
    const logger = createLogger('debug', new Writable({ write: (chunk, _e, done) => (lines.push(String(chunk)), done()) }));
    const duplicate = Object.assign(new Error('duplicate key value violates unique constraint'), { detail: 'Key (phone)=(+919812345678) already exists.' });
    logger.error({ err: duplicate }, 'insert failed');
    logger.info({ sms: { to: '+254711000111' }, attempt: 1 }, 'nested');
    logger.warn('no answer from +919812345678 after 3 tries');
    const text = lines.join('');
    expect(text).not.toMatch(/9812345678|711000111|12345678/);
    expect(text).toContain('Key (phone)=(+91********78) already exists.');
    expect(text).toContain('"to":"+25********11"');
    expect(text).toContain('no answer from +91********78 after 3 tries');
    // Not a phone: times, ids, durations and short +N offsets are left alone.
    const plain = maskPhonesInLine('{"time":1795909341856,"id":123456789,"ms":1500,"at":"2026-11-28T23:00:00+05:30"}');
    expect(plain).toBe('{"time":1795909341856,"id":123456789,"ms":1500,"at":"2026-11-28T23:00:00+05:30"}');
  });

  // Finding 5: the query is parsed (names decoded, [] suffixes ignored), not pattern-matched as raw text.
  it.each([
    ['/webhooks/x?key=topsecret&a=1'],
    ['/webhooks/x?%6Bey=topsecret'],
    ['/webhooks/x?key[]=topsecret'],
    ['/webhooks/x?%6B%65%79%5B%5D=topsecret'],
    ['/webhooks/x?KEY=topsecret'],
    ['/webhooks/x?a=1&apiKey=topsecret'],
    ['/webhooks/x?api_key=topsecret'],
    ['/webhooks/x?token=topsecret'],
    ['/webhooks/x?secret=topsecret'],
    ['/webhooks/x?key=top%73ecret'],
    ['/webhooks/x?key[a][b]=topsecret'],
  ])('redactUrl hides the secret in %s', (url) => {
    const redacted = redactUrl(url);
    expect(redacted).not.toMatch(/topsecret|top%73ecret/);
    expect(redacted).toMatch(/^\/webhooks\/x\?/);
  });

  // A query value is whatever the caller sent: a phone number, a booking reference, a number that is someone's code.
  it.each([
    ['/admin/appointments?phone=%2B919876543210', '/admin/appointments?phone', '9876543210'],
    ['/admin/appointments?ref=K7Q2M9AX&limit=10', '/admin/appointments?ref&limit', 'K7Q2M9AX'],
    ['/admin/centres?pincode=110001&limit=1164', '/admin/centres?pincode&limit', '1164'],
    ['/webhooks/x?a=1&key=s&b=two', '/webhooks/x?a&key&b', 'two'],
    ['/x?a=%E0%A4', '/x?a', '%E0'],
    ['/health', '/health', '?'],
  ])('redactUrl keeps the path and the parameter names of %s, not the values', (url, logged, hidden) => {
    expect(redactUrl(url)).toBe(logged);
    expect(redactUrl(url)).not.toContain(hidden);
  });
});
