import { PhoneNumberFormat, PhoneNumberType, PhoneNumberUtil, type PhoneNumber } from 'google-libphonenumber';

const util = PhoneNumberUtil.getInstance();

/** Longer than any phone number however it is written: libphonenumber is not given megabytes to parse. */
const MAX_INPUT_LENGTH = 30;

/** Types a number we send SMS to may have; FIXED_LINE_OR_MOBILE is where a country's plan cannot tell them apart. */
const MOBILE_TYPES = new Set<PhoneNumberType>([PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE]);

/** E.164 ('+919876543210') for a valid number, written any common way; null otherwise. */
export function toE164(input: string, defaultCountry: string): string | null {
  const parsed = parsePhone(input, defaultCountry);
  return parsed && util.isValidNumber(parsed) ? util.format(parsed, PhoneNumberFormat.E164) : null;
}

/**
 * E.164 for a number libphonenumber says is a valid mobile, null otherwise: the rule for every
 * number that gets an account or an SMS. A national number ('09876543210', '9876543210') is read
 * in `defaultCountry`; digits that are not a mobile there are tried as an international number
 * whose '+' was lost (an unencoded '+' in a form body decodes to a space).
 */
export function toMobileE164(input: string, defaultCountry: string): string | null {
  const key = `${defaultCountry}|${input}`;
  const known = mobileCache.get(key);
  if (known !== undefined) return known;
  const e164 = parseMobile(input, defaultCountry);
  if (input.length <= MAX_INPUT_LENGTH) remember(key, e164);
  return e164;
}

/**
 * The same callers come back on every USSD hop, and libphonenumber's validation is a noticeable
 * part of a hop's CPU: answers are kept for the most recent numbers (a pure function of its input).
 */
const MOBILE_CACHE_SIZE = 10_000;
const mobileCache = new Map<string, string | null>();

function remember(key: string, e164: string | null): void {
  if (mobileCache.size >= MOBILE_CACHE_SIZE) mobileCache.delete(mobileCache.keys().next().value!);
  mobileCache.set(key, e164);
}

function parseMobile(input: string, defaultCountry: string): string | null {
  const cleaned = cleanPhone(input);
  const candidates = cleaned.startsWith('+') ? [cleaned] : [cleaned, `+${cleaned}`];
  for (const candidate of candidates) {
    const parsed = parsePhone(candidate, defaultCountry);
    if (parsed && isMobile(parsed)) return util.format(parsed, PhoneNumberFormat.E164);
  }
  return null;
}

function isMobile(parsed: PhoneNumber): boolean {
  return util.isValidNumber(parsed) && MOBILE_TYPES.has(util.getNumberType(parsed));
}

function cleanPhone(input: string): string {
  return input.length > MAX_INPUT_LENGTH ? '' : input.trim().replace(/[\s().-]/g, '');
}

function parsePhone(input: string, defaultCountry: string): PhoneNumber | null {
  const cleaned = cleanPhone(input);
  if (!/^\+?\d{5,17}$/.test(cleaned)) return null;
  try {
    return util.parseAndKeepRawInput(cleaned, defaultCountry);
  } catch {
    return null;
  }
}
