import { z } from 'zod';
import type { Parsed } from '../contracts/messages';
import { toMobileE164 } from '../domain/phone';
import type { CallbackBody, ParseOptions } from './handler';

/**
 * Field schemas for providers' callbacks. Every error message names the field and, where useful,
 * quotes the value; every text has a cap, so a hostile caller cannot write kilobytes into a row.
 */

/** A value quoted in an error message, shortened: the answer does not echo kilobytes back. */
export function quote(value: unknown): string {
  const text = String(value);
  return `'${text.length > 40 ? `${text.slice(0, 40)}…` : text}'`;
}

/** PostgreSQL cannot store a NUL character: it is dropped here rather than failing the callback later. */
export function textField(field: string, limit: number) {
  return z
    .string({
      error: (issue) => (issue.input === undefined ? `${field} is missing` : `${field} is not a single text value`),
    })
    .overwrite((value) => value.replaceAll('\u0000', ''))
    .max(limit, { error: `${field} is longer than ${limit} characters` });
}

export function requiredTextField(field: string, limit: number) {
  return textField(field, limit)
    .trim()
    .min(1, { error: `${field} is empty` });
}

/** Absent and '' both mean "not given". */
export function optionalTextField(field: string, limit: number) {
  return textField(field, limit)
    .optional()
    .transform((value) => (value === undefined || value === '' ? undefined : value));
}

/** E.164 with '+', for a number libphonenumber knows as a mobile; a national number is read in the default country. */
export function phoneField(field: string, options: ParseOptions) {
  return z
    .string({ error: (issue) => (issue.input === undefined ? `${field} is missing` : `${field} is not a single text value`) })
    .trim()
    .min(1, { error: `${field} is empty` })
    .transform((value, ctx) => {
      const e164 = toMobileE164(value, options.defaultCountry);
      if (!e164) ctx.addIssue({ code: 'custom', message: `${field} is not a valid mobile number: ${quote(value)}` });
      return e164 ?? '';
    });
}

export function optionalPhoneField(field: string, options: ParseOptions) {
  return z
    .unknown()
    .optional()
    .transform((value) => (value === '' ? undefined : value))
    .pipe(phoneField(field, options).optional());
}

/** Runs a callback schema: the value, or every problem in one message a human can act on. */
export function parseWith<T>(schema: z.ZodType<T>, body: CallbackBody): Parsed<T> {
  const result = schema.safeParse(body ?? {});
  if (result.success) return { ok: true, value: withoutUndefined(result.data) };
  return { ok: false, error: result.error.issues.map((issue) => issue.message).join('; ') };
}

/**
 * A provider's callback schemas, built once per default country (a phone field's reading depends on
 * it) instead of on every callback.
 */
export function schemasPerCountry<T>(build: (options: ParseOptions) => T): (options: ParseOptions) => T {
  const built = new Map<string, T>();
  return (options) => {
    let schemas = built.get(options.defaultCountry);
    if (!schemas) built.set(options.defaultCountry, (schemas = build(options)));
    return schemas;
  };
}

/** Drops absent optional fields so values compare and serialise cleanly. */
function withoutUndefined<T>(value: T): T {
  if (typeof value !== 'object' || value === null || value instanceof Date) return value;
  return Object.fromEntries(Object.entries(value).filter(([, field]) => field !== undefined)) as T;
}

/** '2017-05-03T06:04:45Z' or '2017-05-03 06:04:45', both UTC. */
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.\d{1,3})?Z?$/;

export function parseUtcDateTime(value: string): Date | undefined {
  const match = DATE_TIME.exec(value.trim());
  if (!match) return undefined;
  const [year, month, day, hour, minute, second] = match.slice(1).map(Number) as [number, number, number, number, number, number];
  const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  // Date.UTC rolls 2017-02-30 over into March; refuse instead.
  const roundTrips =
    date.getUTCFullYear() === year &&
    date.getUTCMonth() === month - 1 &&
    date.getUTCDate() === day &&
    date.getUTCHours() === hour &&
    date.getUTCMinutes() === minute &&
    date.getUTCSeconds() === second;
  return roundTrips ? date : undefined;
}
