/**
 * The provider-neutral messages: what channels (src/channels/<provider>) parse callbacks into and
 * send from, and what the domain and the dialogue engine speak. Domain code may import this
 * module, never a channel.
 */

/**
 * What every SMS sender returns: a small closed set, each mapped once (in src/queue) to what the
 * queue does next.
 */
export type SendOutcome =
  /** Accepted by the provider; the id lets delivery reports find the message. */
  | { kind: 'sent'; providerMessageId: string; status: string; statusCode?: number; cost?: string }
  /** Worth retrying later: provider 5xx, HTTP 429, timeouts, network errors. */
  | { kind: 'transient'; reason: string; statusCode?: number }
  /** This message will never go through as it is (bad number, blacklisted, bad sender id). */
  | { kind: 'permanent'; reason: string; statusCode?: number }
  /** Our account cannot send anything (bad key, no balance, risk hold): hold the queue and alert. */
  | { kind: 'account'; reason: string; statusCode?: number };

/**
 * One SMS to send. Besides the text it carries the catalogue key, language and variables it was
 * rendered from, so that a provider bound by registered templates (DLT in India) can name the template.
 */
export interface OutgoingSms {
  /** E.164, with the leading '+'. */
  to: string;
  /** Exactly what the recipient reads. */
  message: string;
  /** Catalogue key, e.g. sms.booking_code. */
  key: string;
  language: string;
  /** The values of the key's placeholders, as rendered into `message` (shortened where it had to be). */
  params: Readonly<Record<string, string | number>>;
}

export interface SmsSender {
  /** The provider's name, as in SMS_ROUTES and the outbound_messages.provider column. */
  readonly name: string;
  /** Never throws: every failure becomes a SendOutcome. */
  send(sms: OutgoingSms): Promise<SendOutcome>;
}

/** One USSD hop, whatever the provider. `text` is all input so far joined by '*', '' on the first hop. */
export interface InboundUssd {
  sessionId: string;
  serviceCode: string;
  /** E.164 with '+'. */
  phone: string;
  networkCode?: string;
  text: string;
}

/** A provider's notice that a USSD session ended. */
export interface UssdSessionEnded {
  sessionId: string;
  serviceCode?: string;
  phone: string;
  networkCode?: string;
  status: string;
  cost?: string;
  durationMs?: number;
  hopsCount?: number;
  lastAppResponse?: string;
  errorMessage?: string;
  date?: Date;
}

/** A screen to show: `end` closes the session. */
export interface UssdReply {
  end: boolean;
  text: string;
}

/** An incoming SMS, deduplicated on (provider, providerMessageId). */
export interface InboundSms {
  providerMessageId: string;
  phone: string;
  to?: string;
  text: string;
  linkId?: string;
  networkCode?: string;
  date?: Date;
}

/**
 * Where a sent message stands, whatever the provider calls it. failed-transient: the operator
 * may still deliver it (phone off); unknown: a status the provider did not document.
 */
export type DeliveryState = 'sent' | 'delivered' | 'failed-permanent' | 'failed-transient' | 'unknown';

/** How one provider status reads: its state, whether another report may follow, and what it means to an operator. */
export interface StatusMeaning {
  state: DeliveryState;
  final: boolean;
  meaning: string;
}

/** A delivery report for a message we sent. */
export interface DeliveryReport {
  providerMessageId: string;
  /** The provider's own status, as it sent it. */
  status: string;
  state: DeliveryState;
  /** No further report will follow. */
  final: boolean;
  phone?: string;
  networkCode?: string;
  failureReason?: string;
  retryCount?: number;
}

/** Parsing a provider's payload: a normalised value, or a message a human can act on. */
export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };
