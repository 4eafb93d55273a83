import pino, { type Logger } from 'pino';

export type { Logger };

/** Keeps the country code and last 2 digits: "+91******10". Enough to follow a case, not to call anyone. */
export function maskPhone(phone: string): string {
  const digits = phone.replace(/\D/g, '');
  if (digits.length <= 4) return '*'.repeat(digits.length);
  const keep = digits.length > 10 ? digits.length - 10 : 0;
  return `${phone.startsWith('+') ? '+' : ''}${digits.slice(0, keep)}${'*'.repeat(digits.length - keep - 2)}${digits.slice(-2)}`;
}

/**
 * The URL as it may be logged: the path and the query's parameter names, never their values. Query
 * values here carry secrets (the webhook `?key=`), phone numbers (`/admin/appointments?phone=`),
 * booking references and whatever a caller typed; the names keep the request's shape for debugging.
 * The query is parsed as the server parses it, so `?%6Bey=` and `?key[]=` are still only names.
 */
export function redactUrl(url: string): string {
  const start = url.indexOf('?');
  if (start < 0) return url;
  const names = [...new URLSearchParams(url.slice(start + 1)).keys()];
  return `${url.slice(0, start)}?${names.map((name) => encodeURIComponent(name)).join('&')}`;
}

// Only a top-level `code` field: `err.code` (ECONNREFUSED, SQL states) must stay readable.
const REDACTED_PATHS = [
  'code',
  'apiKey',
  '*.apiKey',
  'headers.apikey',
  'headers.authorization',
  'req.headers.authorization',
  'req.headers.apikey',
  'secret',
  '*.secret',
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'tika' },
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      hooks: { streamWrite: maskPhonesInLine },
      formatters: {
        log(object) {
          return maskPhoneFields(object);
        },
      },
    },
    destination,
  );
}

/** A number in international form anywhere in a log line: in a message, an error's detail, a nested field. */
const INTERNATIONAL_NUMBER = /\+\d{7,15}(?!\d)/g;

/**
 * The last word on phone numbers, over the whole written line: PostgreSQL's "Key (phone)=(+91…)
 * already exists", a message that names a recipient, a field nested in an object. Fields are masked
 * by name before this (they also catch national forms); this catches the international form anywhere.
 */
export function maskPhonesInLine(line: string): string {
  return line.replace(INTERNATIONAL_NUMBER, maskPhone);
}

const PHONE_FIELDS = new Set(['phone', 'phoneNumber', 'from', 'to', 'number', 'msisdn']);

function maskPhoneFields(object: Record<string, unknown>): Record<string, unknown> {
  let copy: Record<string, unknown> | undefined;
  for (const [field, value] of Object.entries(object)) {
    if (PHONE_FIELDS.has(field) && typeof value === 'string' && /\d{6,}/.test(value)) {
      copy ??= { ...object };
      copy[field] = maskPhone(value);
    }
  }
  return copy ?? object;
}
