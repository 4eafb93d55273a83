import { PhoneNumberFormat, PhoneNumberUtil } from 'google-libphonenumber';

const util = PhoneNumberUtil.getInstance();

/** E.164 ('+919876543210') for a valid number, written any common way; null otherwise. */
export function toE164(input: string, defaultCountry: string): string | null {
  const cleaned = input.replace(/[\s().-]/g, '');
  if (!/^\+?\d{5,17}$/.test(cleaned)) return null;
  try {
    const parsed = util.parseAndKeepRawInput(cleaned, defaultCountry);
    return util.isValidNumber(parsed) ? util.format(parsed, PhoneNumberFormat.E164) : null;
  } catch {
    return null;
  }
}
