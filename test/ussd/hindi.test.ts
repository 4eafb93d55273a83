import { encodedLength, encodingOf, smsParts } from '../../src/dialogue/encoding';
import { CodeVault } from '../../src/domain/codes';
import { eventually, startTestApp, type TestApp } from '../support/app';
import { pan, seedCentre } from '../support/programme';

/** A whole booking in Hindi, exactly as Africa's Talking carries it, down to the Hindi code SMS. */
let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t.close();
});

const DEVANAGARI = /[\u0900-\u097F]/;

it('books in Hindi: every screen Hindi and within 80 UCS-2 characters, the code SMS in Hindi', async () => {
  const { centre } = await seedCentre(t.app, { name: 'AIIMS Delhi', pincode: '110001', capacity: 10 });
  const phone = '+919812300077';
  // 2 हिन्दी, 1 book, name, year, female, PAN, number, PIN, centre, date, confirm.
  const answers = ['2', '1', 'सीता देवी', '1980', '1', '2', pan(77_777), '110001', '1', '1', '1'];
  const screens = await t.converse('ATUid_hindi', phone, answers);

  for (const screen of screens.slice(1)) {
    const text = screen.slice(4);
    expect({ text, hindi: DEVANAGARI.test(text) }).toEqual({ text, hindi: true });
    expect({ text, encoding: encodingOf(text), fits: encodedLength(text) <= 80 }).toEqual({ text, encoding: 'UCS-2', fits: true });
  }
  expect(screens.at(-1)).toMatch(/^END /);
  expect(screens.at(-1)).toContain('AIIMS Delhi'.slice(0, 8));

  const appointment = await t.app.db('appointments').orderBy('id', 'desc').first();
  expect(screens.at(-1)).toContain(appointment.reference);
  expect((await t.app.db('accounts').where('phone', phone).first()).language).toBe('hi');
  expect((await t.app.db('beneficiaries').orderBy('id', 'desc').first()).name).toBe('सीता देवी');

  const sms = await eventually('the Hindi code SMS', async () => t.at.sent.find((s) => s.to === phone));
  expect(sms.message).toMatch(DEVANAGARI);
  expect(sms.message).toContain(centre.name);
  const code = /सुरक्षा कोड (\d{4})/.exec(sms.message)?.[1];
  expect(code).toBeDefined();
  expect(new CodeVault(t.app.config.CODE_SECRET).matches(appointment.reference, code!, appointment.code_hmac)).toBe(true);
  expect(smsParts(sms.message)).toBeLessThanOrEqual(2);
});
