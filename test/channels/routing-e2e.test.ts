import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp } from '../../src/app';
import { matchesTemplate } from '../../src/channels/dlt';
import { loadConfig } from '../../src/config';
import { startFakeExotel, type FakeExotel } from '../fakes/fake-exotel';
import { eventually, startTestApp, TEST_API_KEY, TEST_WEBHOOK_SECRET, type TestApp } from '../support/app';
import { pan, registration, seedCentre } from '../support/programme';

/**
 * India's numbers through Exotel on DLT templates, everyone else through Africa's Talking: whole
 * bookings over USSD, each code SMS at its own provider's fake server, exactly as that server
 * received it.
 */

const EXAMPLE_BOOK = join(__dirname, '..', '..', 'deploy', 'dlt-templates.example.json');
const ACCOUNT = { sid: 'tika1', apiKey: 'exotel-api-key-public', apiToken: 'exotel-api-token-0123456789' };
const HEADER = 'TIKAVX';
const ENTITY = '1101456789012345678';
const INDIAN = '+919812345678';
const KENYAN = '+254711000111';

type Book = Record<string, Record<string, { templateId: string; text: string }>>;
const exampleBook = (): Book => JSON.parse(readFileSync(EXAMPLE_BOOK, 'utf8'));

const exotelEnv = (exotel: FakeExotel, book = EXAMPLE_BOOK): Record<string, string> => ({
  SMS_ROUTES: '+91=exotel,*=africastalking',
  EXOTEL_SID: ACCOUNT.sid,
  EXOTEL_API_KEY: ACCOUNT.apiKey,
  EXOTEL_API_TOKEN: ACCOUNT.apiToken,
  EXOTEL_SENDER: HEADER,
  DLT_ENTITY_ID: ENTITY,
  EXOTEL_BASE_URL: exotel.url,
  EXOTEL_TIMEOUT_MS: '1000',
  DLT_TEMPLATES: book,
  AT_API_KEY: TEST_API_KEY,
});

describe('SMS_ROUTES=+91=exotel,*=africastalking: a booking from India and one from Kenya', () => {
  let exotel: FakeExotel;
  let t: TestApp;
  beforeAll(async () => {
    exotel = await startFakeExotel(ACCOUNT);
    t = await startTestApp(exotelEnv(exotel));
  });
  afterAll(async () => {
    await t?.close();
    await exotel.close();
  });

  const book = async (sessionId: string, phone: string, name: string, id: number) => {
    const screens = await t.converse(sessionId, phone, [...registration(name, pan(id)), '110001', '1', '1', '1']);
    expect(screens.at(-1)).toMatch(/^END Booked: /);
    return t.app.db('appointments').join('beneficiaries', 'beneficiaries.id', 'appointments.beneficiary_id').where('beneficiaries.name', name).first('appointments.*');
  };

  it("sends the Indian code SMS to Exotel with the header, entity id and template id, and the Kenyan one to Africa's Talking", async () => {
    await seedCentre(t.app, { capacity: 10 });
    const indian = await book('ATUid_india_1', INDIAN, 'Asha Devi', 1);
    const kenyan = await book('ATUid_kenya_1', KENYAN, 'Wanjiru Kamau', 2);

    const [sms] = await exotel.waitForSent(1);
    const template = exampleBook()['sms.booking_code']!.en!;
    expect(sms).toMatchObject({ from: HEADER, to: INDIAN, dltEntityId: ENTITY, dltTemplateId: template.templateId });
    expect(sms!.body).toContain(`Ref ${indian.reference}`);
    expect(matchesTemplate(template.text, sms!.body)).toBe(true);
    expect(sms!.statusCallback).toBe(`http://tika.test/webhooks/exotel/status?key=${TEST_WEBHOOK_SECRET}`);
    const request = exotel.requests.find((r) => r.form.To === INDIAN)!;
    expect(request.method).toBe('POST');
    expect(request.path).toBe(`/v1/Accounts/${ACCOUNT.sid}/Sms/send.json`);
    expect(request.headers.authorization).toBe(`Basic ${Buffer.from(`${ACCOUNT.apiKey}:${ACCOUNT.apiToken}`).toString('base64')}`);
    // The whole request as Exotel received it, secrets masked: printed for the closing note.
    console.log(JSON.stringify({ ...request, headers: { ...request.headers, authorization: 'Basic <masked>' }, form: { ...request.form, StatusCallback: request.form.StatusCallback?.replace(TEST_WEBHOOK_SECRET, '<masked>'), Body: request.form.Body?.replace(/code is \d{4}/, 'code is ####') } }, null, 2));

    const [atSms] = await t.at.waitForSent(1);
    expect(atSms).toMatchObject({ to: KENYAN });
    expect(atSms!.message).toContain(`Ref ${kenyan.reference}`);
    expect(t.sentTo(INDIAN)).toEqual([]);
    expect(exotel.sent.filter((s) => s.to === KENYAN)).toEqual([]);

    const rows = await eventually('both code SMS recorded as sent', async () => {
      const sent = await t.app.db('outbound_messages').whereIn('appointment_id', [indian.id, kenyan.id]).andWhere('status', 'sent').orderBy('phone');
      return sent.length === 2 ? sent : undefined;
    });
    expect(rows.map((row) => [row.phone, row.provider])).toEqual([
      [KENYAN, 'africastalking'],
      [INDIAN, 'exotel'],
    ]);
    expect(rows[1].provider_message_id).toBe(sms!.sid);
  });

  it('records a DLT failure reported by Exotel as the reason an operator reads', async () => {
    const row = await t.app.db('outbound_messages').where({ phone: INDIAN, provider: 'exotel' }).first();
    const answer = await t.postForm(`/webhooks/exotel/status?key=${TEST_WEBHOOK_SECRET}`, {
      SmsSid: row.provider_message_id,
      To: INDIAN,
      Status: 'failed',
      DetailedStatus: 'DLT_TEMPLATE_DOES_NOT_MATCH',
      DetailedStatusCode: '23185',
      DateSent: '2026-11-28 18:05:12',
    });
    expect(answer.status).toBe(200);
    const after = await t.app.db('outbound_messages').where('id', row.id).first();
    expect(after).toMatchObject({ delivery_status: 'failed', delivery_state: 'failed-permanent', delivery_final: true });
    expect(after.failure_reason).toMatch(/DLT template mismatch/);
  });

  it("answers an Indian citizen's SMS arriving at the Exotel virtual number, on a registered template", async () => {
    const before = exotel.sent.length;
    const answer = await fetch(
      `${t.baseUrl}/webhooks/exotel/sms?key=${TEST_WEBHOOK_SECRET}&SmsSid=exotel-in-1&From=09812345678&To=08039591111&Body=HELP&Date=2026-11-28%2018:06:00`,
    );
    expect(answer.status).toBe(200);
    const [reply] = (await exotel.waitForSent(before + 1)).slice(before);
    expect(reply).toMatchObject({ to: INDIAN, from: HEADER, dltEntityId: ENTITY });
    const book = exampleBook();
    const used = Object.entries(book).find(([, languages]) => languages.en?.templateId === reply!.dltTemplateId);
    expect(used).toBeDefined();
    expect(matchesTemplate(used![1].en!.text, reply!.body)).toBe(true);
  });
});

describe('a DLT template book that does not match the catalogue', () => {
  it('refuses a PUBLIC_BASE_URL longer than the {#var#} the certificate SMS carries it in, naming the key', async () => {
    const exotel = await startFakeExotel(ACCOUNT);
    try {
      const site = 'https://certificates.tika.example.org';
      const env = { ...exotelEnv(exotel), NODE_ENV: 'test', WEBHOOK_SECRET: TEST_WEBHOOK_SECRET, ADMIN_TOKEN: 'test-admin-token-0123456789', CODE_SECRET: 'test-code-secret-0123456789abcdef0123456789', PUBLIC_BASE_URL: site };
      // Refused before it connects to anything: nothing is left open.
      await expect(createApp(loadConfig(env))).rejects.toThrow(/sms\.vaccinated \(en\): \{site\} can be 37 characters/);
    } finally {
      await exotel.close();
    }
  });

  it('refuses to start, naming the key, before any connection opens', () => {
    const changed = exampleBook();
    changed['sms.booking_code']!.en!.text = changed['sms.booking_code']!.en!.text.replace('Tell only the vaccinator', 'Tell nobody');
    const file = join(mkdtempSync(join(tmpdir(), 'tika-dlt-')), 'templates.json');
    writeFileSync(file, JSON.stringify(changed));
    const env = {
      ...process.env,
      NODE_ENV: 'test',
      PORT: '0',
      WEBHOOK_SECRET: TEST_WEBHOOK_SECRET,
      ADMIN_TOKEN: 'test-admin-token-0123456789',
      CODE_SECRET: 'test-code-secret-0123456789abcdef0123456789',
      // Nothing listens here: a process that got as far as connecting would fail differently.
      DATABASE_URL: 'postgres://postgres@127.0.0.1:1/never',
      REDIS_URL: 'redis://127.0.0.1:1',
      ...exotelEnv({ url: 'http://127.0.0.1:1' } as FakeExotel, file),
    };
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts'], { cwd: join(__dirname, '..', '..'), env, encoding: 'utf8', timeout: 60_000 });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/sms\.booking_code/);
    expect(result.stderr).not.toMatch(/ECONNREFUSED/);
  });
});
