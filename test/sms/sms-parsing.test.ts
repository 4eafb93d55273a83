import { smsYesNo } from '../../src/dialogue/bindings/sms';
import { encodedLength, fitsScreen } from '../../src/dialogue/encoding';
import { packLines, SMS_SCREEN_LIMITS } from '../../src/dialogue/sms';
import { isVaccinatorCommand, keywordLanguage, parseSmsCommand } from '../../src/domain/sms-inbox';

/** The SMS grammar, as a table: what a citizen or vaccinator types, and what we read in it. */
describe('parseSmsCommand', () => {
  it.each([
    ['HELP', { kind: 'help' }],
    ['help me', { kind: 'help' }],
    ['Madad', { kind: 'help' }],
    ['sahayata', { kind: 'help' }],
    ['  status ', { kind: 'status' }],
    ['STHITI', { kind: 'status' }],
    ['Code', { kind: 'code' }],
    ['kod', { kind: 'code' }],
    ['CANCEL K7Q2M9AX', { kind: 'cancel', reference: 'K7Q2M9AX' }],
    ['radd k7q2 m9ax', { kind: 'cancel', reference: 'k7q2m9ax' }],
    ['cancel', { kind: 'cancel', reference: '' }],
    ['BOOK 110001', { kind: 'book', pincode: '110001' }],
    ['buk 110 001', { kind: 'book', pincode: '110001' }],
    ['Book', { kind: 'book', pincode: '' }],
    ['REGISTER', { kind: 'register' }],
    ['register.', { kind: 'register' }],
    ['Panjikaran', { kind: 'register' }],
    ['पंजीकरण', { kind: 'register' }],
    ['पंजीकरण।', { kind: 'register' }],
    ['"रजिस्टर"', { kind: 'register' }],
    ['VAX 9876543210 4821', { kind: 'vax', target: '9876543210', code: '4821' }],
    ['vax 12', { kind: 'vax_usage' }],
    ['1', { kind: 'answer', text: '1' }],
    [' Yes ', { kind: 'answer', text: 'Yes' }],
    ['हाँ', { kind: 'answer', text: 'हाँ' }],
    ['', { kind: 'answer', text: '' }],
  ])('%j', (text, command) => {
    expect(parseSmsCommand(text)).toEqual(command);
  });

  it.each([
    ['Status.', { kind: 'status' }],
    ['status!', { kind: 'status' }],
    ['"HELP"', { kind: 'help' }],
    ['help?', { kind: 'help' }],
    ['(code)', { kind: 'code' }],
    ['Book: 110001', { kind: 'book', pincode: '110001' }],
    ['CANCEL, K7Q2M9AX', { kind: 'cancel', reference: 'K7Q2M9AX' }],
    ['sthiti।', { kind: 'status' }],
    ['VAX. 9876543210 4821', { kind: 'vax', target: '9876543210', code: '4821' }],
    ['vax 98765 43210 4821', { kind: 'vax', target: '9876543210', code: '4821' }],
    ['हाँ।', { kind: 'answer', text: 'हाँ।' }],
    ['नहीं!', { kind: 'answer', text: 'नहीं!' }],
    ['statuses', { kind: 'answer', text: 'statuses' }],
    ['1.', { kind: 'answer', text: '1.' }],
  ])('ignores punctuation around a keyword: %j', (text, command) => {
    expect(parseSmsCommand(text)).toEqual(command);
  });

  it('sends only VAX to the vaccinator path', () => {
    expect(['VAX 1 2', 'vax 9876543210 4821'].map((text) => isVaccinatorCommand(parseSmsCommand(text)))).toEqual([true, true]);
    expect(['HELP', 'BOOK 110001', '1', 'vaxx'].map((text) => isVaccinatorCommand(parseSmsCommand(text)))).toEqual([false, false, false, false]);
  });
});

describe('keywordLanguage', () => {
  it.each([
    ['REGISTER', 'en'],
    ['BOOK 110001', 'en'],
    ['hello', 'en'],
    ['panjikaran', 'hi'],
    ['पंजीकरण।', 'hi'],
    ['रजिस्टर', 'hi'],
    ['buk 110001', 'hi'],
  ])('%j is %s', (text, language) => {
    expect(keywordLanguage(text)).toBe(language);
  });
});

describe('smsYesNo', () => {
  it.each(['YES', 'yes', 'Y', 'haan', 'HAN', 'हाँ', 'हां', 'yes.'])('%s is yes', (input) => {
    expect(smsYesNo(input, {}, { phone: '+910000000000', language: 'en', now: new Date() })).toEqual({ ok: true, value: 'yes' });
  });
  it.each(['NO', 'n', 'nahin', 'नहीं'])('%s is no', (input) => {
    expect(smsYesNo(input, {}, { phone: '+910000000000', language: 'en', now: new Date() })).toEqual({ ok: true, value: 'no' });
  });
  it.each(['maybe', '1', ''])('%j asks again', (input) => {
    expect(smsYesNo(input, {}, { phone: '+910000000000', language: 'en', now: new Date() })).toEqual({ ok: false, reason: 'sms.book.yes_or_no' });
  });
});

describe('packLines', () => {
  it('keeps an English list of four bookings in one SMS of two parts', () => {
    const lines = ['Tika: your bookings:', ...Array.from({ length: 4 }, (_, i) => `Parvathi Venkatarama Wed 30 Sep Community Health Centre  Ref K7Q2M9A${i}`)];
    expect(packLines(lines, SMS_SCREEN_LIMITS)).toEqual([lines.join('\n')]);
  });

  it('splits a Hindi list into SMS that each fit, never splitting a line', () => {
    const lines = ['टीका: आपकी बुकिंग:', ...Array.from({ length: 4 }, (_, i) => `Parvathi Venkatarama बुध 30 सित Community Health Centre  Ref K7Q2M9A${i}`)];
    const texts = packLines(lines, SMS_SCREEN_LIMITS);
    expect(texts.length).toBeGreaterThan(1);
    expect(texts.join('\n')).toBe(lines.join('\n'));
    for (const text of texts) expect({ fits: fitsScreen(text, SMS_SCREEN_LIMITS), length: encodedLength(text) }).toMatchObject({ fits: true });
  });
});
