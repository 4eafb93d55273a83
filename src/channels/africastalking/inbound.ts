import { z } from 'zod';
import type { DeliveryReport, InboundSms, InboundUssd, Parsed, StatusMeaning, UssdReply, UssdSessionEnded } from '../../contracts/messages';
import { optionalPhoneField, optionalTextField, parseUtcDateTime, parseWith, phoneField, schemasPerCountry, quote, requiredTextField, textField } from '../fields';

export { parseUtcDateTime } from '../fields';
import { readStatus, type CallbackBody, type ParseOptions } from '../handler';

/** Africa's Talking's callbacks, form-encoded, as express.urlencoded hands them over. */
export type FormBody = CallbackBody;

/** Documented delivery report statuses; `final` means no further report will follow. */
export const DELIVERY_STATUSES = {
  Sent: { state: 'sent', final: false, meaning: "left Africa's Talking's network" },
  Submitted: { state: 'sent', final: false, meaning: 'handed to the operator' },
  Buffered: { state: 'sent', final: false, meaning: 'queued at the operator' },
  Success: { state: 'delivered', final: true, meaning: 'delivered to the handset' },
  Rejected: { state: 'failed-permanent', final: true, meaning: 'rejected' },
  Failed: { state: 'failed-permanent', final: true, meaning: 'failed' },
  // The operator may still retry, so another report can follow.
  AbsentSubscriber: { state: 'failed-transient', final: false, meaning: 'phone off or no coverage' },
  Expired: { state: 'failed-permanent', final: true, meaning: 'discarded by the operator' },
} as const satisfies Record<string, StatusMeaning>;

export type DeliveryStatus = keyof typeof DELIVERY_STATUSES;

export function isKnownDeliveryStatus(status: string): status is DeliveryStatus {
  return Object.hasOwn(DELIVERY_STATUSES, status);
}

/** Unknown statuses are not final: a later, known one may still arrive. */
export function isFinalDeliveryStatus(status: string): boolean {
  return readStatus(DELIVERY_STATUSES, status).final;
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

/**
 * The longest value each field may have. Real values are far shorter (ids about 40 characters,
 * short codes under 10); the caps keep a hostile or broken caller from writing kilobytes into
 * every row, or past PostgreSQL's index entry limit (about 2.7 KB) into a 500.
 */
export const FIELD_LIMITS = {
  id: 100,
  sessionId: 100,
  serviceCode: 30,
  networkCode: 10,
  to: 30,
  linkId: 100,
  /** An SMS is at most a few concatenated parts; a USSD session's input joined by '*' stays well under. */
  text: 1000,
  status: 40,
  cost: 40,
  date: 40,
  lastAppResponse: 1000,
  errorMessage: 500,
} as const satisfies Record<string, number>;

type LimitedField = keyof typeof FIELD_LIMITS;

/** Counts as AT sends them; each cap fits PostgreSQL's integer column with room to spare. */
export const COUNT_LIMITS = {
  /** A USSD session lasts at most about 180 s: a day is generous. */
  durationInMillis: 86_400_000,
  hopsCount: 10_000,
  retryCount: 1_000,
} as const satisfies Record<string, number>;

type CountField = keyof typeof COUNT_LIMITS;

/** Unknown failure reasons are kept as this, never verbatim. */
export const OTHER_FAILURE_REASON = 'Other';

const text = (field: LimitedField) => textField(field, FIELD_LIMITS[field]);
const requiredText = (field: LimitedField) => requiredTextField(field, FIELD_LIMITS[field]);
const optionalText = (field: LimitedField) => optionalTextField(field, FIELD_LIMITS[field]);
const phone = phoneField;
const optionalPhone = optionalPhoneField;

function optionalDate(field: 'date') {
  return optionalText(field).transform((value, ctx) => {
    if (value === undefined) return undefined;
    const date = parseUtcDateTime(value);
    if (!date) ctx.addIssue({ code: 'custom', message: `${field} is not a date: ${quote(value)}` });
    return date;
  });
}

/** A whole number from 0 to the field's cap. */
function optionalCount(field: CountField) {
  const max = COUNT_LIMITS[field];
  return z
    .string({ error: `${field} is not a single text value` })
    .optional()
    .transform((value, ctx) => {
      const trimmed = value?.trim();
      if (!trimmed) return undefined;
      if (!/^\d+$/.test(trimmed)) {
        ctx.addIssue({ code: 'custom', message: `${field} is not a whole number: ${quote(value)}` });
        return undefined;
      }
      const count = Number(trimmed);
      if (count > max) ctx.addIssue({ code: 'custom', message: `${field} is more than ${max}: ${quote(value)}` });
      return count;
    });
}

/** A documented reason as sent; anything else as 'Other', so a stored reason is always one of a short list. */
function failureReason() {
  return z
    .unknown()
    .optional()
    .transform((value): string | undefined => {
      if (value === undefined || value === '') return undefined;
      return typeof value === 'string' && (DELIVERY_FAILURE_REASONS as readonly string[]).includes(value) ? value : OTHER_FAILURE_REASON;
    });
}

// ---- the callbacks ----

function ussdHopSchema(options: ParseOptions) {
  return z
    .object({
      sessionId: requiredText('sessionId'),
      serviceCode: requiredText('serviceCode'),
      phoneNumber: phone('phoneNumber', options),
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
}

function ussdSessionEndedSchema(options: ParseOptions) {
  return z
    .object({
      sessionId: requiredText('sessionId'),
      serviceCode: optionalText('serviceCode'),
      phoneNumber: phone('phoneNumber', options),
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
}

function incomingSmsSchema(options: ParseOptions) {
  return z
    .object({
      id: requiredText('id'),
      from: phone('from', options),
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
}

function deliveryReportSchema(options: ParseOptions) {
  return z
    .object({
      id: requiredText('id'),
      // Any status of a sane length parses: the route logs and counts an unknown one and answers 200.
      status: requiredText('status'),
      phoneNumber: optionalPhone('phoneNumber', options),
      networkCode: optionalText('networkCode'),
      failureReason: failureReason(),
      retryCount: optionalCount('retryCount'),
    })
    .transform(
      (body): DeliveryReport => ({
        providerMessageId: body.id,
        status: body.status,
        ...pick(readStatus(DELIVERY_STATUSES, body.status)),
        phone: body.phoneNumber,
        networkCode: body.networkCode,
        failureReason: body.failureReason,
        retryCount: body.retryCount,
      }),
    );
}

export function parseUssdHop(body: FormBody, options: ParseOptions): Parsed<InboundUssd> {
  return parseWith(schemasFor(options).ussdHop, body);
}

export function parseUssdSessionEnded(body: FormBody, options: ParseOptions): Parsed<UssdSessionEnded> {
  return parseWith(schemasFor(options).ussdSessionEnded, body);
}

export function parseIncomingSms(body: FormBody, options: ParseOptions): Parsed<InboundSms> {
  return parseWith(schemasFor(options).incomingSms, body);
}

export function parseDeliveryReport(body: FormBody, options: ParseOptions): Parsed<DeliveryReport> {
  return parseWith(schemasFor(options).deliveryReport, body);
}

export { type ParseOptions };

const schemasFor = schemasPerCountry((options) => ({
  ussdHop: ussdHopSchema(options),
  ussdSessionEnded: ussdSessionEndedSchema(options),
  incomingSms: incomingSmsSchema(options),
  deliveryReport: deliveryReportSchema(options),
}));

const pick = ({ state, final }: StatusMeaning) => ({ state, final });
