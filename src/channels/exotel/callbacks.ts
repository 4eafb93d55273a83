import { z } from 'zod';
import type { DeliveryReport, InboundSms, Parsed } from '../../contracts/messages';
import { optionalPhoneField, optionalTextField, parseUtcDateTime, parseWith, phoneField, schemasPerCountry, quote, requiredTextField, textField } from '../fields';
import type { CallbackBody, ParseOptions } from '../handler';
import { readDetailedStatus } from './statuses';

/** Caps on each field: real values are far shorter (Sids are 32 hex characters). */
export const FIELD_LIMITS = {
  SmsSid: 100,
  To: 30,
  Status: 40,
  DetailedStatus: 60,
  DetailedStatusCode: 10,
  /** An SMS is at most a few concatenated parts. */
  Body: 1000,
  Date: 40,
} as const satisfies Record<string, number>;

type Field = keyof typeof FIELD_LIMITS;

const requiredText = (field: Field) => requiredTextField(field, FIELD_LIMITS[field]);
const optionalText = (field: Field) => optionalTextField(field, FIELD_LIMITS[field]);

/** Exotel writes times as 'YYYY-MM-DD HH:mm:ss' in India time: its "not yet sent" DateSent is '1970-01-01 05:30:00'. */
const IST_OFFSET_MS = 330 * 60_000;

/**
 * The incoming SMS's `Date` has no documented format; one read as Exotel's other times is kept,
 * anything else is left out rather than refusing (and so losing) a citizen's SMS over a timestamp.
 */
function exotelDate(value: string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  if (/Z$/i.test(value.trim())) return parseUtcDateTime(value);
  const asIfUtc = parseUtcDateTime(value);
  return asIfUtc && new Date(asIfUtc.getTime() - IST_OFFSET_MS);
}

function optionalCode(field: Field) {
  return optionalText(field).transform((value, ctx) => {
    if (value === undefined) return undefined;
    if (!/^\d+$/.test(value.trim())) {
      ctx.addIssue({ code: 'custom', message: `${field} is not a whole number: ${quote(value)}` });
      return undefined;
    }
    return Number(value.trim());
  });
}

/**
 * The StatusCallback, form-encoded: SmsSid, To, Status, SmsUnits, DetailedStatus,
 * DetailedStatusCode, DateSent, CustomField. DateSent has no place in a DeliveryReport and is not read.
 */
function deliveryReportSchema(options: ParseOptions) {
  return z
    .object({
      SmsSid: requiredText('SmsSid'),
      To: optionalPhoneField('To', options),
      // Any Status of a sane length parses: the route counts an unknown one and answers 200.
      Status: requiredText('Status'),
      DetailedStatus: optionalText('DetailedStatus'),
      DetailedStatusCode: optionalCode('DetailedStatusCode'),
    })
    .transform((body): DeliveryReport => {
      const reading = readDetailedStatus(body.Status, body.DetailedStatus, body.DetailedStatusCode);
      return { providerMessageId: body.SmsSid, status: body.Status, ...reading, phone: body.To };
    });
}

/** The incoming SMS webhook: SmsSid, From, To (the ExoPhone), Date, Body; a GET's query string or a POST's form. */
function incomingSmsSchema(options: ParseOptions) {
  return z
    .object({
      SmsSid: requiredText('SmsSid'),
      From: phoneField('From', options),
      To: optionalText('To'),
      // An empty SMS is possible; an absent field is not.
      Body: textField('Body', FIELD_LIMITS.Body),
      Date: optionalText('Date'),
    })
    .transform(
      (body): InboundSms => ({ providerMessageId: body.SmsSid, phone: body.From, to: body.To, text: body.Body, date: exotelDate(body.Date) }),
    );
}

/** Built once per default country, not per callback. */
const schemasFor = schemasPerCountry((options) => ({ deliveryReport: deliveryReportSchema(options), incomingSms: incomingSmsSchema(options) }));

export function parseDeliveryReport(body: CallbackBody, options: ParseOptions): Parsed<DeliveryReport> {
  return parseWith(schemasFor(options).deliveryReport, body);
}

export function parseIncomingSms(body: CallbackBody, options: ParseOptions): Parsed<InboundSms> {
  return parseWith(schemasFor(options).incomingSms, body);
}
