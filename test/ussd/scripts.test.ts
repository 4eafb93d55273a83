import { encodedLength, encodingOf, smsParts } from '../../src/dialogue/encoding';
import { CodeVault } from '../../src/domain/codes';
import { eventually, startTestApp, type TestApp } from '../support/app';
import { pan, registration, seedCentre } from '../support/programme';

/**
 * A Devanagari name on an English-language mobile: the screens travel as UCS-2 (80 characters),
 * so the names on them are shortened to fit; the code SMS stays within two parts and keeps the
 * whole reference and code.
 */
let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t.close();
});

const NAME = 'पार्वती वेंकटरमण देवी';
const CENTRE = 'Community Health Centre Narela';

function measured(screen: string) {
  const text = screen.slice(4);
  return { text, encoding: encodingOf(text), fits: encodedLength(text) <= 80 };
}

it('fits every screen and the code SMS of a Devanagari-named member booked in English', async () => {
  await seedCentre(t.app, { name: CENTRE, pincode: '110045', capacity: 10 });
  const phone = '+919812300461';
  const booking = await t.converse('ATUid_scripts_book', phone, [...registration(NAME, pan(46_100)), '110045', '1', '1', '1']);
  const appointment = await t.app.db('appointments').orderBy('id', 'desc').first();

  const done = booking.at(-1)!;
  expect(done).toMatch(/^END Booked: /);
  expect(measured(done)).toEqual({ text: done.slice(4), encoding: 'UCS-2', fits: true });
  expect(done).toContain(`Ref ${appointment.reference}.`);
  expect(done).toContain('पार्');

  const detail = (await t.converse('ATUid_scripts_detail', phone, ['2', '1']))[2]!;
  expect(measured(detail)).toEqual({ text: detail.slice(4), encoding: 'UCS-2', fits: true });
  expect(detail).toContain(`Ref ${appointment.reference}`);
  expect(detail).toMatch(/^CON पार्/);
  for (const screen of [...booking, detail]) expect(measured(screen).fits).toBe(true);

  const sms = await eventually('the code SMS', async () => t.at.sent.find((s) => s.to === phone));
  expect(encodingOf(sms.message)).toBe('UCS-2');
  expect({ text: sms.message, parts: smsParts(sms.message) <= 2 }).toEqual({ text: sms.message, parts: true });
  expect(sms.message).toContain(`Ref ${appointment.reference}.`);
  const code = /security code is (\d{4})\./.exec(sms.message)?.[1];
  expect(new CodeVault(t.app.config.CODE_SECRET).matches(appointment.reference, code ?? '', appointment.code_hmac)).toBe(true);
});
