import type { z } from 'zod';
import type {
  DeliveryReport,
  InboundSms,
  InboundUssd,
  Parsed,
  SmsSender,
  StatusMeaning,
  UssdReply,
  UssdSessionEnded,
} from '../contracts/messages';
import type { TemplateBook } from '../contracts/templates';
import type { Db } from '../db/knex';

/**
 * A provider is one folder, src/channels/<name>/, whose index exports one ChannelHandler: what it
 * reads from the environment, how it sends, what its callbacks look like and what its statuses
 * mean. Everything else (mounting /webhooks/<name>/..., auth, queues, routing by destination,
 * recording) is generic. Adding a provider: the folder, its fixtures, one line in registry.ts.
 */
export interface ChannelHandler<Config = unknown> {
  /** As in SMS_PROVIDER, SMS_ROUTES, /webhooks/<name>/ and outbound_messages.provider. */
  readonly name: string;
  /** Its environment variables, validated only when a route sends through this provider. */
  readonly config: z.ZodType<Config>;
  /** Which of those are secrets: each must be set, and differ from every other secret. */
  readonly secrets: readonly string[];
  /** The variable that sets this provider's send rate per second (its own queue's limiter). */
  readonly rateVariable?: string;
  /** Every message must go out on a registered template (India's DLT): start-up checks the template book. */
  readonly needsTemplates?: boolean;
  /** A provider that never leaves the machine (sandbox): refused in production unless allowed. */
  readonly local?: boolean;
  createSender(config: Config, context: SenderContext): SmsSender;
  /** Every status the provider documents for a sent message, as Tika reads it. */
  readonly statuses: Readonly<Record<string, StatusMeaning>>;
  readonly webhooks: ChannelWebhooks;
}

export interface SenderContext {
  db: Db;
  /** Where the provider can call us back (delivery status), e.g. https://tika.example.org. */
  publicBaseUrl: string;
  /** The shared secret that callback URLs carry as ?key=. */
  webhookSecret: string;
  /** Registered templates, when the provider needs them. */
  templates?: TemplateBook;
}

/** A callback body as express parsed it (urlencoded form, JSON object, or the query string of a GET). */
export type CallbackBody = Record<string, unknown>;

export interface ParseOptions {
  /** National numbers in callbacks are read in this country. */
  defaultCountry: string;
}

export interface Callback<T> {
  /** Below /webhooks/<name>. */
  path: string;
  /** POST unless the provider documents otherwise; a GET's fields are its query string (without `key`). */
  methods?: readonly ('GET' | 'POST')[];
  parse(body: CallbackBody, options: ParseOptions): Parsed<T>;
}

export interface HttpAnswer {
  contentType: string;
  body: string;
}

/**
 * The callbacks a provider makes. Each is authenticated by the `?key=` shared secret in the URL
 * the operator registered (telcos do not sign callbacks), and answered 200 once Tika holds it.
 */
export interface ChannelWebhooks {
  /** How bodies are encoded. */
  body: 'form' | 'json';
  ussd?: Callback<InboundUssd> & { reply(reply: UssdReply): HttpAnswer };
  ussdEnded?: Callback<UssdSessionEnded>;
  sms?: Callback<InboundSms>;
  status?: Callback<DeliveryReport>;
  /** What a stored callback is answered with; `OK` as text unless the provider expects otherwise. */
  accepted?: HttpAnswer;
}

/** Keeps each handler's own config type inside its folder while the registry holds them side by side. */
export function defineChannel<Config>(handler: ChannelHandler<Config>): ChannelHandler {
  return handler as unknown as ChannelHandler;
}

/** A status the provider did not document: counted and logged, never stored as the message's state. */
export function readStatus(statuses: Readonly<Record<string, StatusMeaning>>, status: string): StatusMeaning {
  return Object.hasOwn(statuses, status) ? statuses[status]! : { state: 'unknown', final: false, meaning: 'not documented by the provider' };
}
