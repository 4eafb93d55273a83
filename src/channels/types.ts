/**
 * What every SMS provider adapter returns: a small closed set, each mapped once (in src/queue)
 * to what the queue does next.
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

export interface OutgoingSms {
  /** E.164, with the leading '+'. */
  to: string;
  message: string;
}

export interface SmsProvider {
  readonly name: string;
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

/** A delivery report for a message we sent. */
export interface DeliveryReport {
  providerMessageId: string;
  status: string;
  phone?: string;
  networkCode?: string;
  failureReason?: string;
  retryCount?: number;
}

/** Parsing a provider's payload: a normalised value, or a message a human can act on. */
export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };
