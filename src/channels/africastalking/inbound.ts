import { z } from 'zod';
import type { DeliveryReport, InboundSms, InboundUssd, Parsed, UssdReply, UssdSessionEnded } from '../types';

/** Africa's Talking's callbacks, form-encoded, as express.urlencoded hands them over. */
export type FormBody = Record<string, unknown>;

/** Documented delivery report statuses; `final` means no further report will follow. */
export const DELIVERY_STATUSES = {
  Sent: { final: false, meaning: "left Africa's Talking's network" },
  Submitted: { final: false, meaning: 'handed to the operator' },
  Buffered: { final: false, meaning: 'queued at the operator' },
  Success: { final: true, meaning: 'delivered to the handset' },
  Rejected: { final: true, meaning: 'rejected' },
  Failed: { final: true, meaning: 'failed' },
  // The operator may still retry, so another report can follow.
  AbsentSubscriber: { final: false, meaning: 'phone off or no coverage' },
  Expired: { final: true, meaning: 'discarded by the operator' },
} as const satisfies Record<string, { final: boolean; meaning: string }>;

export type DeliveryStatus = keyof typeof DELIVERY_STATUSES;

export function isKnownDeliveryStatus(status: string): status is DeliveryStatus {
  return Object.hasOwn(DELIVERY_STATUSES, status);
}

/** Unknown statuses are not final: a later, known one may still arrive. */
export function isFinalDeliveryStatus(status: string): boolean {
  return isKnownDeliveryStatus(status) && DELIVERY_STATUSES[status].final;
}

/** Documented `failureReason` values (on Rejected/Failed), including AT's misspelling and its correction. */
export const DELIVERY_FAILURE_REASONS = [
  'InsufficientCredit',
  'InvalidLinkId',
  'UserIsInactive',
  'UserInBlackList',
  'UserAccountSuspended',
  'NotNetworkSubcriber',
  'NotNetworkSubscriber',
  'UserNotSubscribedToProduct',
  'UserDoesNotExist',
  'DeliveryFailure',
  'DoNotDisturbRejection',
] as const;

export type DeliveryFailureReason = (typeof DELIVERY_FAILURE_REASONS)[number];

export function formatUssdReply(reply: UssdReply): string {
  return `${reply.end ? 'END' : 'CON'} ${reply.text}`;
}

// ---- field schemas: every error message names the field and, where useful, quotes the value ----

/** PostgreSQL cannot store a NUL character: it is dropped here rather than failing the callback later. */
function text(field: string) {
  return z
    .string({
      error: (issue) => (issue.input === undefined ? `${field} is missing` : `${field} is not a single text value`),
    })
    .overwrite((value) => value.replaceAll('\u0000', ''));
}

function requiredText(field: string) {
  return text(field)
    .trim()
    .min(1, { error: `${field} is empty` });
}

/** Absent and '' both mean "not given". */
function optionalText(field: string) {
  return text(field)
    .optional()
    .transform((value) => (value === undefined || value === '' ? undefined : value));
}

const PHONE = /^\+?\d{7,15}$/;

/**
 * E.164 with '+'. A '+' sent unencoded in a form body decodes to a space, hence the trim;
 * a missing '+' is added.
 */
function phone(field: string) {
  return requiredText(field)
    .refine((value) => PHONE.test(value), { error: (issue) => `${field} is not a phone number: '${String(issue.input)}'` })
    .transform((value) => (value.startsWith('+') ? value : `+${value}`));
}

function optionalPhone(field: string) {
  return optionalText(field).pipe(phone(field).optional());
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

function optionalDate(field: string) {
  return optionalText(field).transform((value, ctx) => {
    if (value === undefined) return undefined;
    const date = parseUtcDateTime(value);
    if (!date) ctx.addIssue({ code: 'custom', message: `${field} is not a date: '${value}'` });
    return date;
  });
}

function optionalCount(field: string) {
  return optionalText(field).transform((value, ctx) => {
    if (value === undefined) return undefined;
    if (!/^\d+$/.test(value.trim())) {
      ctx.addIssue({ code: 'custom', message: `${field} is not a whole number: '${value}'` });
      return undefined;
    }
    return Number(value);
  });
}

// ---- the callbacks ----

const ussdHopSchema = z
  .object({
    sessionId: requiredText('sessionId'),
    serviceCode: requiredText('serviceCode'),
    phoneNumber: phone('phoneNumber'),
    networkCode: optionalText('networkCode'),
    // Absent or '' on the first hop.
    text: text('text').optional(),
  })
  .transform(
    (body): InboundUssd => ({
      sessionId: body.sessionId,
      serviceCode: body.serviceCode,
      phone: body.phoneNumber,
      networkCode: body.networkCode,
      text: body.text ?? '',
    }),
  );

const ussdSessionEndedSchema = z
  .object({
    sessionId: requiredText('sessionId'),
    serviceCode: optionalText('serviceCode'),
    phoneNumber: phone('phoneNumber'),
    networkCode: optionalText('networkCode'),
    status: requiredText('status'),
    cost: optionalText('cost'),
    durationInMillis: optionalCount('durationInMillis'),
    hopsCount: optionalCount('hopsCount'),
    lastAppResponse: optionalText('lastAppResponse'),
    errorMessage: optionalText('errorMessage'),
    date: optionalDate('date'),
  })
  .transform(
    (body): UssdSessionEnded => ({
      sessionId: body.sessionId,
      serviceCode: body.serviceCode,
      phone: body.phoneNumber,
      networkCode: body.networkCode,
      status: body.status,
      cost: body.cost,
      durationMs: body.durationInMillis,
      hopsCount: body.hopsCount,
      lastAppResponse: body.lastAppResponse,
      errorMessage: body.errorMessage,
      date: body.date,
    }),
  );

const incomingSmsSchema = z
  .object({
    id: requiredText('id'),
    from: phone('from'),
    to: optionalText('to'),
    // An empty SMS is possible; an absent field is not.
    text: text('text'),
    linkId: optionalText('linkId'),
    networkCode: optionalText('networkCode'),
    date: optionalDate('date'),
  })
  .transform(
    (body): InboundSms => ({
      providerMessageId: body.id,
      phone: body.from,
      to: body.to,
      text: body.text,
      linkId: body.linkId,
      networkCode: body.networkCode,
      date: body.date,
    }),
  );

const deliveryReportSchema = z
  .object({
    id: requiredText('id'),
    // Any status: an unknown one is recorded, never refused.
    status: requiredText('status'),
    phoneNumber: optionalPhone('phoneNumber'),
    networkCode: optionalText('networkCode'),
    failureReason: optionalText('failureReason'),
    retryCount: optionalCount('retryCount'),
  })
  .transform(
    (body): DeliveryReport => ({
      providerMessageId: body.id,
      status: body.status,
      phone: body.phoneNumber,
      networkCode: body.networkCode,
      failureReason: body.failureReason,
      retryCount: body.retryCount,
    }),
  );

export function parseUssdHop(body: FormBody): Parsed<InboundUssd> {
  return parseWith(ussdHopSchema, body);
}

export function parseUssdSessionEnded(body: FormBody): Parsed<UssdSessionEnded> {
  return parseWith(ussdSessionEndedSchema, body);
}

export function parseIncomingSms(body: FormBody): Parsed<InboundSms> {
  return parseWith(incomingSmsSchema, body);
}

export function parseDeliveryReport(body: FormBody): Parsed<DeliveryReport> {
  return parseWith(deliveryReportSchema, body);
}

function parseWith<T>(schema: z.ZodType<T>, body: FormBody): Parsed<T> {
  const result = schema.safeParse(body ?? {});
  if (result.success) return { ok: true, value: withoutUndefined(result.data) };
  return { ok: false, error: result.error.issues.map((issue) => issue.message).join('; ') };
}

/** Drops absent optional fields so values compare and serialise cleanly. */
function withoutUndefined<T>(value: T): T {
  if (typeof value !== 'object' || value === null || value instanceof Date) return value;
  return Object.fromEntries(Object.entries(value).filter(([, field]) => field !== undefined)) as T;
}
