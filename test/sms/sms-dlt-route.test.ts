import { isKnownMobile, setLanguage } from '../../src/domain/accounts';
import { DEFAULT_BOOKING_RULES } from '../../src/domain/booking';
import { citizenBindings } from '../../src/dialogue/bindings/citizen';
import { smsBindings } from '../../src/dialogue/bindings/sms';
import { mergeBindings, vaccinatorBindings } from '../../src/dialogue/bindings/vaccinator';
import { DialogueEngine } from '../../src/dialogue/engine';
import { loadFlows } from '../../src/dialogue/flow';
import { isSmsFlow, routeInboundSms, selectFlows, SMS_CONVERSATION_TTL_SECONDS, SMS_SCREEN_LIMITS, SmsDialogue } from '../../src/dialogue/sms';
import { FLOWS_DIR } from '../../src/app';
import { SERVICE_CODE, startTestApp, type TestApp } from '../support/app';

/**
 * On a number whose route sends only registered templates (India's DLT), SMS conversations are
 * not offered: a composed screen (sms.screen) is no template. No provider in the registry needs
 * templates yet (Exotel is being added), and a test-only way to mark a route is not wanted, so
 * this builds the SmsDialogue as src/app.ts does, on the app's real PostgreSQL and Redis, with
 * conversesBySms saying no for +91 numbers, and reads the replies it writes to the outbox.
 */
let t: TestApp;
let process: (inboundId: number) => Promise<unknown>;
let messages = 0;

beforeAll(async () => {
  // No worker: the app's own dialogue must not answer what this one is given.
  t = await startTestApp({}, { worker: false });
  const { app } = t;
  const accounts = { isKnownMobile: (phone: string) => isKnownMobile(app.db, phone), setLanguage: (phone: string, language: string) => setLanguage(app.db, phone, language) };
  const bindings = mergeBindings(
    citizenBindings(app.booking, accounts, DEFAULT_BOOKING_RULES.maxMembersPerMobile),
    vaccinatorBindings(app.vaccination, app.config.DEFAULT_COUNTRY),
    smsBindings(app.booking, DEFAULT_BOOKING_RULES),
  );
  const engine = new DialogueEngine(selectFlows(loadFlows(FLOWS_DIR), isSmsFlow), app.catalogue, bindings, SMS_SCREEN_LIMITS, 'sms.too_many_attempts');
  const dialogue = new SmsDialogue(engine, app.catalogue, app.inbox, app.booking, app.redis, {
    keyPrefix: app.config.REDIS_PREFIX,
    ttlSeconds: SMS_CONVERSATION_TTL_SECONDS,
    serviceCode: SERVICE_CODE,
    store: app.sessions,
    conversesBySms: (phone) => !phone.startsWith('+91'),
  });
  process = routeInboundSms(app.inbox, dialogue);
});
afterAll(async () => {
  await t.close();
});

/** An incoming SMS answered as the worker would; the replies it wrote for the sender (key and params). */
async function answer(phone: string, text: string) {
  const { id } = await t.app.inbox.receive('africastalking', { providerMessageId: `dlt-${++messages}`, phone, text });
  const before = await t.app.db('outbound_messages').where({ phone }).max('id as id').first();
  await process(id);
  return t.app.db('outbound_messages').where({ phone }).where('id', '>', before?.id ?? 0).orderBy('id').select('template', 'params');
}

const USE_USSD = { template: 'sms.use_ussd', params: { serviceCode: SERVICE_CODE } };

describe('SMS on a route that needs registered templates (+91 here)', () => {
  const rows: { text: string; reply: { template: string; params: Record<string, unknown> } }[] = [
    { text: 'BOOK 110001', reply: USE_USSD },
    { text: 'REGISTER', reply: USE_USSD },
    { text: 'CODE', reply: USE_USSD },
    { text: 'STATUS', reply: USE_USSD },
    { text: 'HELP', reply: USE_USSD },
    { text: 'Asha Devi', reply: USE_USSD },
    { text: 'CANCEL', reply: { template: 'sms.cancel_usage', params: {} } },
    { text: 'CANCEL K7Q2M9AX', reply: { template: 'sms.cancel_not_found', params: { ref: 'K7Q2M9AX' } } },
    { text: 'VAX', reply: { template: 'sms.vax_usage', params: {} } },
    { text: 'VAX 9876543210 4821', reply: { template: 'sms.vax_not_vaccinator', params: {} } },
  ];

  test.each(rows)('$text is answered with $reply.template', async ({ text, reply }) => {
    expect(await answer(`+9198200${String(messages).padStart(5, '0')}`, text)).toEqual([reply]);
  });

  test('a mobile on another route still converses by SMS', async () => {
    const [reply] = await answer('+254711000001', 'BOOK 110001');
    expect(reply).toMatchObject({ template: 'sms.screen', params: { screen: expect.stringMatching(/Tika: to register, send the full name/) } });
  });

  test('an answer on a template route ends any conversation, and is never met with silence', async () => {
    const phone = '+919820099999';
    expect(await answer(phone, 'BOOK 110001')).toEqual([USE_USSD]);
    expect(await answer(phone, '1')).toEqual([USE_USSD]);
    expect(await t.app.db('inbound_messages').where({ phone }).pluck('status')).toEqual(['processed', 'processed']);
  });
});

describe('the certificate link', () => {
  test('off DLT routes a site longer than a {#var#} travels whole: the link still leads to the certificate', () => {
    const site = 'https://certificates.tika.example.org';
    const text = t.app.catalogue.renderSms('en', 'sms.vaccinated', { memberName: 'Asha Devi', dose: 1, site, certificate: '01J9ZK4M7QX2V8N3R5T6W0Y1AB' });
    expect(text).toContain(`${site}/c/01J9ZK4M7QX2V8N3R5T6W0Y1AB`);
  });
});
