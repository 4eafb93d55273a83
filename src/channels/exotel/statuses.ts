import type { StatusMeaning } from '../../contracts/messages';
import { readStatus } from '../handler';

/**
 * Every SMS `Status` Exotel documents, as Tika reads it. The pages disagree, so the table holds
 * the union:
 * - the Send SMS API reference and its callback list (developer.exotel.com/api/sms): queued,
 *   sending, submitted, sent, failed_dnd, failed; the callback fires "once the SMS reaches a
 *   terminal state (sent/failed/failed_dnd)", and the support article on statuses reads `sent` as
 *   "successfully delivered to the recipient" (the SMS stats glossary: Delivered = Status sent);
 * - the support article on monitoring SMS spells it `failed-dnd`;
 * - the newer SMS Status Codes page (docs/sms-support/sms-status-codes) adds delivered, expired and
 *   undelivered, and reads `sent` as "sent by the carrier, awaiting handset confirmation".
 * `sent` is read as delivered, as two pages out of three say and as the terminal-only callback
 * implies; the DetailedStatusCode sharpens it when present (DELIVERED_TO_OPERATOR: not yet).
 */
export const EXOTEL_STATUSES = {
  queued: { state: 'sent', final: false, meaning: 'accepted by Exotel and queued' },
  sending: { state: 'sent', final: false, meaning: 'being handed to the operator' },
  submitted: { state: 'sent', final: false, meaning: 'submitted to the operator' },
  sent: { state: 'delivered', final: true, meaning: 'delivered (the newer status page: sent by the carrier, awaiting handset confirmation)' },
  delivered: { state: 'delivered', final: true, meaning: 'delivered to the handset' },
  failed: { state: 'failed-permanent', final: true, meaning: 'failed (DetailedStatus gives the reason)' },
  failed_dnd: { state: 'failed-permanent', final: true, meaning: 'refused: the number is on the national Do Not Disturb registry' },
  'failed-dnd': { state: 'failed-permanent', final: true, meaning: 'refused: the number is on the national Do Not Disturb registry' },
  expired: { state: 'failed-permanent', final: true, meaning: 'the operator could not deliver it within the validity period' },
  undelivered: { state: 'failed-permanent', final: true, meaning: 'could not be delivered' },
} as const satisfies Record<string, StatusMeaning>;

/** One DetailedStatus, in words an operator can act on; `outcome` only where it sharpens a successful Status. */
interface Detail {
  words: string;
  outcome?: Pick<StatusMeaning, 'state' | 'final'>;
}

const TO_HANDSET: Detail = { words: 'delivered to the handset', outcome: { state: 'delivered', final: true } };
const TO_OPERATOR: Detail = { words: 'delivered to the operator, handset confirmation pending', outcome: { state: 'sent', final: false } };
const TO_CARRIER: Detail = { words: 'submitted to the carrier', outcome: { state: 'sent', final: false } };
const DLT_TEMPLATE_MISMATCH: Detail = { words: 'DLT template mismatch: the text does not match the registered template' };
const DLT_ENTITY: Detail = { words: 'DLT entity (PE ID) not registered or invalid' };
const DLT_HEADER: Detail = { words: 'DLT header (sender id) not registered or not approved' };
const DLT_CONSENT: Detail = { words: 'DLT consent not found for the recipient' };
const DLT_SCRUBBING: Detail = { words: 'blocked by DLT scrubbing' };
const DND: Detail = { words: 'the number is on the national Do Not Disturb registry' };
const SPAM: Detail = { words: 'flagged as spam by the operator' };

/**
 * DetailedStatus names. Exotel's pages give different codes for the same outcome (see below), so a
 * name is read first and the code only when the name is absent or unknown.
 */
const DETAILS_BY_NAME: Readonly<Record<string, Detail>> = {
  DELIVERED_TO_HANDSET: TO_HANDSET,
  DELIVERED_TO_OPERATOR: TO_OPERATOR,
  SUBMITTED_TO_CARRIER: TO_CARRIER,
  PENDING_TO_OPERATOR: { words: 'queued for the operator' },
  SENDING_TO_OPERATOR: { words: 'being sent to the operator' },
  PENDING_ON_OPERATOR: { words: 'pending at the operator' },
  FAILED_DND: DND,
  FAILED_INVALID_NUMBER: { words: 'invalid number or no such subscriber' },
  FAILED_SPAM: SPAM,
  FAILED_SPAM_DETECTED: SPAM,
  FAILED_BLACKLISTED: { words: 'the recipient number is blacklisted' },
  FAILED_INVALID_SENDER: DLT_HEADER,
  FAILED_DLT_SCRUBBING: DLT_SCRUBBING,
  FAILED_DLT_ENTITY: DLT_ENTITY,
  FAILED_DLT_TEMPLATE: DLT_TEMPLATE_MISMATCH,
  FAILED_DLT_CONSENT: DLT_CONSENT,
  FAILED_HANDSET_ERROR: { words: 'handset error' },
  FAILED_SUBSCRIBER_ERROR: { words: 'subscriber error (barred, inactive or not in service)' },
  FAILED_SUBSCRIBER_UNAVAILABLE: { words: 'subscriber unavailable (phone off or out of coverage)' },
  FAILED_OPERATOR_ERROR: { words: 'operator error' },
  FAILED_UNAVAILABLE_ROUTE: { words: 'no route to the operator' },
  FAILED_REJECTED: { words: 'rejected by the operator' },
  FAILED_SYSTEM_ERROR: { words: 'Exotel system error' },
  FAILED_UNKNOWN_ERROR: { words: 'unknown error' },
  SENDER_BLOCKED_BY_DLT: { words: 'DLT header (sender id) blocked by DLT' },
  ENTITY_BLOCKED_BY_DLT: { words: 'DLT entity (PE ID) blocked by DLT' },
  DLT_ENTITY_NOT_FOUND: { words: 'DLT entity (PE ID) not found' },
  TEMPLATE_BLOCKED_BY_DLT: { words: 'DLT template blocked by DLT' },
  DLT_TEMPLATE_ID_INVALID: { words: 'DLT template id invalid' },
  DLT_TEMPLATE_NOT_FOUND: { words: 'DLT template not found (not registered)' },
  DLT_TEMPLATE_ID_INACTIVE: { words: 'DLT template inactive' },
  DLT_TEMPLATE_ID_BLACKLISTED: { words: 'DLT template blacklisted' },
  DLT_TEMPLATE_DOES_NOT_MATCH: DLT_TEMPLATE_MISMATCH,
  DLT_LENGTH_EXCEEDED: { words: 'DLT variable longer than allowed' },
  FAILED_DLT_SCRUBBING_ERROR: DLT_SCRUBBING,
  FAILED_DLT_CONSENT_ERROR: DLT_CONSENT,
};

/**
 * DetailedStatusCode values, from three Exotel pages that disagree:
 * - SMS Status Codes (docs/sms-support): 20000-20002 for success and 30001-30009 for DLT failures;
 * - the API reference status codes (docs/sms-api) and the SMS stats glossary (support): 2100x
 *   pending, 20005/20006 success, 23xxx/24xxx failures. The two differ on 23080 (FAILED_DLT_SCRUBBING
 *   vs SENDER_BLOCKED_BY_DLT), 23082 (FAILED_DLT_TEMPLATE vs TEMPLATE_BLOCKED_BY_DLT) and 23083
 *   (FAILED_DLT_CONSENT vs FAILED_DLT_SCRUBBING_ERROR): the API reference's reading is kept for the
 *   bare code, and a DetailedStatus name, when sent, decides.
 */
export const DETAILED_STATUS_CODES: Readonly<Record<number, Detail & { name: string }>> = {
  20000: { name: 'DELIVERED_TO_HANDSET', ...TO_HANDSET },
  20001: { name: 'DELIVERED_TO_OPERATOR', ...TO_OPERATOR },
  20002: { name: 'SUBMITTED_TO_CARRIER', ...TO_CARRIER },
  20005: { name: 'DELIVERED_TO_HANDSET', ...TO_HANDSET },
  20006: { name: 'DELIVERED_TO_OPERATOR', ...TO_OPERATOR },
  21010: { name: 'PENDING_TO_OPERATOR', ...DETAILS_BY_NAME.PENDING_TO_OPERATOR! },
  21015: { name: 'SENDING_TO_OPERATOR', ...DETAILS_BY_NAME.SENDING_TO_OPERATOR! },
  21020: { name: 'PENDING_ON_OPERATOR', ...DETAILS_BY_NAME.PENDING_ON_OPERATOR! },
  23005: { name: 'FAILED_DND', ...DND },
  23010: { name: 'FAILED_INVALID_NUMBER', ...DETAILS_BY_NAME.FAILED_INVALID_NUMBER! },
  23015: { name: 'FAILED_SPAM', ...SPAM },
  23020: { name: 'FAILED_BLACKLISTED', ...DETAILS_BY_NAME.FAILED_BLACKLISTED! },
  23030: { name: 'FAILED_UNAVAILABLE_ROUTE', ...DETAILS_BY_NAME.FAILED_UNAVAILABLE_ROUTE! },
  23035: { name: 'FAILED_SUBSCRIBER_UNAVAILABLE', ...DETAILS_BY_NAME.FAILED_SUBSCRIBER_UNAVAILABLE! },
  23060: { name: 'FAILED_REJECTED', ...DETAILS_BY_NAME.FAILED_REJECTED! },
  23072: { name: 'FAILED_INVALID_SENDER', ...DLT_HEADER },
  23080: { name: 'FAILED_DLT_SCRUBBING', ...DLT_SCRUBBING },
  23081: { name: 'FAILED_DLT_ENTITY', ...DLT_ENTITY },
  23082: { name: 'FAILED_DLT_TEMPLATE', ...DLT_TEMPLATE_MISMATCH },
  23083: { name: 'FAILED_DLT_CONSENT', ...DLT_CONSENT },
  23084: { name: 'FAILED_DLT_CONSENT_ERROR', ...DLT_CONSENT },
  23181: { name: 'DLT_TEMPLATE_ID_INVALID', ...DETAILS_BY_NAME.DLT_TEMPLATE_ID_INVALID! },
  23182: { name: 'DLT_TEMPLATE_NOT_FOUND', ...DETAILS_BY_NAME.DLT_TEMPLATE_NOT_FOUND! },
  23183: { name: 'DLT_TEMPLATE_ID_INACTIVE', ...DETAILS_BY_NAME.DLT_TEMPLATE_ID_INACTIVE! },
  23184: { name: 'DLT_TEMPLATE_ID_BLACKLISTED', ...DETAILS_BY_NAME.DLT_TEMPLATE_ID_BLACKLISTED! },
  23185: { name: 'DLT_TEMPLATE_DOES_NOT_MATCH', ...DLT_TEMPLATE_MISMATCH },
  23186: { name: 'DLT_LENGTH_EXCEEDED', ...DETAILS_BY_NAME.DLT_LENGTH_EXCEEDED! },
  23281: { name: 'DLT_ENTITY_NOT_FOUND', ...DETAILS_BY_NAME.DLT_ENTITY_NOT_FOUND! },
  24010: { name: 'FAILED_SYSTEM_ERROR', ...DETAILS_BY_NAME.FAILED_SYSTEM_ERROR! },
  24105: { name: 'FAILED_HANDSET_ERROR', ...DETAILS_BY_NAME.FAILED_HANDSET_ERROR! },
  24110: { name: 'FAILED_OPERATOR_ERROR', ...DETAILS_BY_NAME.FAILED_OPERATOR_ERROR! },
  24120: { name: 'FAILED_SUBSCRIBER_ERROR', ...DETAILS_BY_NAME.FAILED_SUBSCRIBER_ERROR! },
  24990: { name: 'FAILED_UNKNOWN_ERROR', ...DETAILS_BY_NAME.FAILED_UNKNOWN_ERROR! },
  30001: { name: 'FAILED_DLT_TEMPLATE', ...DLT_TEMPLATE_MISMATCH },
  30002: { name: 'FAILED_DLT_ENTITY', ...DLT_ENTITY },
  30003: { name: 'FAILED_INVALID_SENDER', ...DLT_HEADER },
  30004: { name: 'FAILED_DND', ...DND },
};

/** The page titles 30001-30009 "DLT Failure Codes"; 30005-30009 are not spelled out where we could read them. */
const DLT_FAILURE_RANGE = { from: 30001, to: 30009 };

export interface DetailedReading {
  state: StatusMeaning['state'];
  final: boolean;
  /** For a failure: what went wrong, naming Exotel's code or name. */
  failureReason?: string;
}

/**
 * A report's Status, sharpened by its DetailedStatus (name first, then code). Failures are never
 * turned into successes by a detail; an undocumented detail keeps the Status's reading.
 */
export function readDetailedStatus(status: string, detailedStatus?: string, detailedStatusCode?: number): DetailedReading {
  const { state, final } = readStatus(EXOTEL_STATUSES, status);
  const detail = (detailedStatus && Object.hasOwn(DETAILS_BY_NAME, detailedStatus) ? DETAILS_BY_NAME[detailedStatus] : undefined) ?? detailOfCode(detailedStatusCode);
  const succeeded = state === 'sent' || state === 'delivered';
  if (succeeded) return detail?.outcome ? { ...detail.outcome } : { state, final };
  if (!state.startsWith('failed')) return { state, final };
  return { state, final, failureReason: failureReasonOf(detail, detailedStatus, detailedStatusCode) };
}

function detailOfCode(code: number | undefined): Detail | undefined {
  if (code === undefined) return undefined;
  if (Object.hasOwn(DETAILED_STATUS_CODES, code)) return DETAILED_STATUS_CODES[code];
  if (code >= DLT_FAILURE_RANGE.from && code <= DLT_FAILURE_RANGE.to) return { words: 'DLT failure' };
  return undefined;
}

function failureReasonOf(detail: Detail | undefined, name: string | undefined, code: number | undefined): string | undefined {
  const cited = code !== undefined ? `DetailedStatusCode ${code}` : name ? `DetailedStatus ${name}` : undefined;
  if (detail) return cited ? `${detail.words} (${cited})` : detail.words;
  if (code !== undefined) return `undocumented DetailedStatusCode ${code}${name ? ` (${name})` : ''}`;
  if (name) return `undocumented DetailedStatus ${name}`;
  return undefined;
}
