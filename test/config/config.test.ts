import { ConfigError, loadConfig } from '../../src/config';
import { createLogger, maskPhone, redactUrl } from '../../src/logger';
import { Writable } from 'node:stream';

const SECRETS = { WEBHOOK_SECRET: 'w'.repeat(16), ADMIN_TOKEN: 'a'.repeat(16), CODE_SECRET: 'c'.repeat(32), CERT_PRIVATE_KEY: 'pem' };

describe('configuration', () => {
  it('has working defaults for a fresh machine, with development secrets it reports', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      PORT: 3000,
      DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/tika',
      REDIS_URL: 'redis://127.0.0.1:6379',
      SMS_PROVIDER: 'sandbox',
      AT_BASE_URL: 'https://api.africastalking.com',
      DEFAULT_COUNTRY: 'IN',
      TIMEZONE: 'Asia/Kolkata',
      USSD_MAX_GSM7: 160,
      USSD_MAX_UCS2: 80,
    });
    expect(config.defaultedSecrets.sort()).toEqual(['ADMIN_TOKEN', 'CODE_SECRET', 'WEBHOOK_SECRET']);
  });

  it.each([
    ['PORT', { PORT: 'eighty' }],
    ['DATABASE_URL', { DATABASE_URL: 'not a url' }],
    ['SMS_PROVIDER', { SMS_PROVIDER: 'pigeon' }],
    ['AT_API_KEY', { SMS_PROVIDER: 'africastalking' }],
    ['TIMEZONE', { TIMEZONE: 'Mars/Olympus' }],
    ['DEFAULT_COUNTRY', { DEFAULT_COUNTRY: 'India' }],
    ['CODE_SECRET', { CODE_SECRET: 'short' }],
    ['USSD_SERVICE_CODE', { USSD_SERVICE_CODE: '384' }],
  ])('names %s when it is wrong', (name, env) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(new RegExp(`^Invalid configuration:\\n  - ${name} `));
  });

  it('refuses to start in production without its secrets, naming each', () => {
    try {
      loadConfig({ NODE_ENV: 'production' });
      throw new Error('expected a ConfigError');
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).problems.map((p) => p.split(' ')[0]).sort()).toEqual(['ADMIN_TOKEN', 'CERT_PRIVATE_KEY', 'CODE_SECRET', 'WEBHOOK_SECRET']);
    }
    expect(loadConfig({ NODE_ENV: 'production', ...SECRETS }).defaultedSecrets).toEqual([]);
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
});
