import { parseRoutes, SmsRouter, type ParsedRoutes } from '../../src/channels/routing';
import { runTable } from './table';

const KNOWN = ['sandbox', 'africastalking', 'exotel'];

interface ParseCase {
  label: string;
  text: string;
  expected: ParsedRoutes;
}

const routes = (...pairs: [string, string][]): ParsedRoutes => ({ ok: true, routes: pairs.map(([prefix, provider]) => ({ prefix, provider })) });
const problems = (...list: string[]): ParsedRoutes => ({ ok: false, problems: list });
const NO_CATCH_ALL = 'needs a catch-all route such as *=africastalking, so that every number has a provider';

runTable('SMS_ROUTES: parsing', [
  { label: 'a catch-all alone', text: '*=africastalking', expected: routes(['*', 'africastalking']) },
  { label: 'a prefix and a catch-all, in the order written', text: '+91=exotel,*=africastalking', expected: routes(['+91', 'exotel'], ['*', 'africastalking']) },
  { label: 'the catch-all first', text: '*=sandbox,+254=africastalking', expected: routes(['*', 'sandbox'], ['+254', 'africastalking']) },
  { label: 'a longer and a shorter prefix of one country', text: '+9198=sandbox,+91=exotel,*=africastalking', expected: routes(['+9198', 'sandbox'], ['+91', 'exotel'], ['*', 'africastalking']) },
  { label: 'spaces around entries and around =', text: ' +91 = exotel , * =africastalking ', expected: routes(['+91', 'exotel'], ['*', 'africastalking']) },
  { label: 'an empty entry between commas is ignored', text: '+91=exotel,,*=sandbox,', expected: routes(['+91', 'exotel'], ['*', 'sandbox']) },
  { label: 'two prefixes to one provider', text: '+254=africastalking,+256=africastalking,*=sandbox', expected: routes(['+254', 'africastalking'], ['+256', 'africastalking'], ['*', 'sandbox']) },

  { label: 'empty: no catch-all', text: '', expected: problems(NO_CATCH_ALL) },
  { label: 'no catch-all', text: '+91=exotel', expected: problems(NO_CATCH_ALL) },
  { label: 'a prefix without +', text: '91=exotel,*=sandbox', expected: problems("'91=exotel' is not prefix=provider (a prefix is + and up to 6 digits, or *)") },
  { label: 'a prefix of 7 digits', text: '+9198765=exotel,*=sandbox', expected: problems("'+9198765=exotel' is not prefix=provider (a prefix is + and up to 6 digits, or *)") },
  { label: 'a prefix with letters', text: '+9a=exotel,*=sandbox', expected: problems("'+9a=exotel' is not prefix=provider (a prefix is + and up to 6 digits, or *)") },
  { label: 'no provider', text: '+91=,*=sandbox', expected: problems("'+91=' is not prefix=provider (a prefix is + and up to 6 digits, or *)") },
  { label: 'no =', text: '+91 exotel,*=sandbox', expected: problems("'+91 exotel' is not prefix=provider (a prefix is + and up to 6 digits, or *)") },
  { label: 'a colon instead of =', text: '*:sandbox', expected: problems("'*:sandbox' is not prefix=provider (a prefix is + and up to 6 digits, or *)", NO_CATCH_ALL) },
  { label: 'an unknown provider', text: '+91=pigeon,*=sandbox', expected: problems("'pigeon' is not a provider (one of: sandbox, africastalking, exotel)") },
  { label: 'the same prefix twice', text: '+91=exotel,+91=sandbox,*=sandbox', expected: problems('+91 is routed twice') },
  { label: 'two catch-alls', text: '*=exotel,*=sandbox', expected: problems('* is routed twice') },
  {
    label: 'every problem named at once',
    text: '+91=pigeon,+91=exotel,bad',
    expected: problems("'pigeon' is not a provider (one of: sandbox, africastalking, exotel)", '+91 is routed twice', "'bad' is not prefix=provider (a prefix is + and up to 6 digits, or *)", NO_CATCH_ALL),
  },
] satisfies ParseCase[], (row) => {
  expect(parseRoutes(row.text, KNOWN)).toEqual(row.expected);
});

interface RouteCase {
  label: string;
  routes: string;
  phone: string;
  provider: string;
}

runTable('SmsRouter: the provider for a number', [
  { label: 'a catch-all alone takes every number', routes: '*=africastalking', phone: '+919876500001', provider: 'africastalking' },
  { label: 'a matching prefix wins over the catch-all', routes: '+91=exotel,*=africastalking', phone: '+919876500001', provider: 'exotel' },
  { label: 'no matching prefix: the catch-all', routes: '+91=exotel,*=africastalking', phone: '+254711000111', provider: 'africastalking' },
  { label: 'the catch-all written first does not shadow a prefix', routes: '*=africastalking,+91=exotel', phone: '+919876500001', provider: 'exotel' },
  { label: 'the longest matching prefix wins (written after the shorter)', routes: '+91=exotel,+9198=sandbox,*=africastalking', phone: '+919876500001', provider: 'sandbox' },
  { label: 'the longest matching prefix wins (written before the shorter)', routes: '+9198=sandbox,+91=exotel,*=africastalking', phone: '+919876500001', provider: 'sandbox' },
  { label: 'a longer prefix that does not match is passed over', routes: '+9198=sandbox,+91=exotel,*=africastalking', phone: '+917012345678', provider: 'exotel' },
  { label: 'a prefix matches from the start of the number only', routes: '+254=africastalking,*=sandbox', phone: '+912540000000', provider: 'sandbox' },
  { label: '+1 is not +1x: a prefix is matched digit by digit', routes: '+1=sandbox,+12=exotel,*=africastalking', phone: '+13125550100', provider: 'sandbox' },
] satisfies RouteCase[], (row) => {
  const parsed = parseRoutes(row.routes, KNOWN);
  if (!parsed.ok) throw new Error(parsed.problems.join('; '));
  expect(new SmsRouter(parsed.routes).providerFor(row.phone)).toBe(row.provider);
});

test('SmsRouter lists each routed provider once', () => {
  const parsed = parseRoutes('+254=africastalking,+256=africastalking,+91=exotel,*=sandbox', KNOWN);
  if (!parsed.ok) throw new Error(parsed.problems.join('; '));
  expect(new SmsRouter(parsed.routes).providers.sort()).toEqual(['africastalking', 'exotel', 'sandbox']);
});
