import type { InboundSms } from '../contracts/messages';
import type { Db, Tx } from '../db/knex';
import { languageOf } from './accounts';
import { queueSms, queueTask } from './outbox';
import { parseTarget, type VaccinationService, type VerifyResult } from './vaccination';

/**
 * Incoming SMS: stored once per provider message id (telcos retry for hours), processed once
 * through the task queue, answered once. The answer commits with the work it reports.
 */
export type SmsCommand =
  | { kind: 'vax'; target: string; code: string }
  | { kind: 'vax_usage' }
  | { kind: 'help' }
  | { kind: 'status' }
  | { kind: 'code' }
  /** `reference` and `pincode` are what followed the keyword ('' when nothing did), not yet checked. */
  | { kind: 'cancel'; reference: string }
  | { kind: 'book'; pincode: string }
  | { kind: 'register' }
  /** Not a keyword: the answer to a question we asked, if a conversation is going on. */
  | { kind: 'answer'; text: string };

/** Citizens' keywords, in English and in Hindi transliteration (registration in Devanagari too). */
const CITIZEN_KEYWORDS: Record<string, 'help' | 'status' | 'code' | 'cancel' | 'book' | 'register'> = {
  HELP: 'help',
  MADAD: 'help',
  SAHAYATA: 'help',
  STATUS: 'status',
  STHITI: 'status',
  CODE: 'code',
  KOD: 'code',
  CANCEL: 'cancel',
  RADD: 'cancel',
  BOOK: 'book',
  BUK: 'book',
  REGISTER: 'register',
  PANJIKARAN: 'register',
  'पंजीकरण': 'register',
  'रजिस्टर': 'register',
};

/** The keywords that are Hindi: a mobile we have not met is answered in the language of its first keyword. */
const HINDI_KEYWORDS = new Set(['MADAD', 'SAHAYATA', 'STHITI', 'KOD', 'RADD', 'BUK', 'PANJIKARAN', 'पंजीकरण', 'रजिस्टर']);

/** The first word as a keyword: in any case, punctuation around it ignored ("Register.", "पंजीकरण।"). */
function keywordOf(text: string): string {
  const first = text.normalize('NFC').trim().split(/\s+/)[0] ?? '';
  return first.replace(/^[\p{P}\p{S}]+|[\p{P}\p{S}]+$/gu, '').toUpperCase();
}

/** The language of the message's keyword: 'hi' for a Hindi one, else 'en'. */
export function keywordLanguage(text: string): 'en' | 'hi' {
  return HINDI_KEYWORDS.has(keywordOf(text)) ? 'hi' : 'en';
}

/**
 * The keyword is the first word, in any case, with punctuation around it ignored. `VAX <mobile or reference> <4-digit code>` (the mobile
 * with spaces, 0 or +91); `CANCEL <ref>` and `BOOK <PIN code>` take the rest, spaces dropped.
 */
export function parseSmsCommand(text: string): SmsCommand {
  const words = text.trim().split(/\s+/);
  const keyword = keywordOf(text);
  const rest = words.slice(1).join('');
  if (keyword === 'VAX') return parseVax(words);
  switch (CITIZEN_KEYWORDS[keyword]) {
    case 'help':
      return { kind: 'help' };
    case 'status':
      return { kind: 'status' };
    case 'code':
      return { kind: 'code' };
    case 'cancel':
      return { kind: 'cancel', reference: rest };
    case 'book':
      return { kind: 'book', pincode: rest };
    case 'register':
      return { kind: 'register' };
    case undefined:
      return { kind: 'answer', text: text.trim() };
  }
}

function parseVax(words: string[]): SmsCommand {
  const code = words.at(-1) ?? '';
  const target = words.slice(1, -1).join('');
  return words.length >= 3 && /^\d{4}$/.test(code) && target ? { kind: 'vax', target, code } : { kind: 'vax_usage' };
}

/** The message as kept once processed: a trailing 4-digit code masked. */
export function withoutCode(text: string): string {
  return text.replace(/\d{4}(\s*)$/, '****$1');
}

/** Vaccinators' commands take the exact-once path of SmsInbox.process; every other SMS is a citizen's. */
export function isVaccinatorCommand(command: SmsCommand): boolean {
  return command.kind === 'vax' || command.kind === 'vax_usage';
}

export interface Reply {
  template: string;
  params: Record<string, string | number>;
}

/** An incoming SMS not yet answered, with the language its answer is written in. */
export interface PendingSms {
  id: number;
  phone: string;
  text: string;
  language: string;
}

export type Processing = 'processed' | 'already_processed' | 'not_found';

/**
 * Replies to incoming SMS a mobile may get, per rolling minute and day: each reply is a paid SMS,
 * so a flood from one mobile must not become a bill. Vaccinators have their own, higher allowance:
 * one confirming a dose every 20 s all day sends 3 a minute and about 1,500 a day.
 */
export interface ReplyLimits {
  perMinute: number;
  perDay: number;
  vaccinatorPerMinute: number;
  vaccinatorPerDay: number;
}

export const DEFAULT_REPLY_LIMITS: ReplyLimits = { perMinute: 10, perDay: 100, vaccinatorPerMinute: 30, vaccinatorPerDay: 3000 };

/** The window whose limit a dropped reply went over. */
export type ReplyLimitWindow = 'minute' | 'day';

export interface SmsInboxOptions {
  defaultCountry: string;
  serviceCode: string;
  replyLimits?: ReplyLimits;
  /** Told of every reply not sent because its mobile is over a limit (a metric). */
  onReplyDropped?: (window: ReplyLimitWindow) => void;
}

/** Serialises the limit check and the reply insert per mobile (first key of pg_advisory_xact_lock(int, int)). */
const REPLY_LIMIT_LOCK_CLASS = 7301;

export class SmsInbox {
  constructor(
    private readonly db: Db,
    private readonly vaccination: VaccinationService,
    private readonly options: SmsInboxOptions,
  ) {}

  /** Stores the message and schedules its processing; the same provider id again changes nothing. */
  async receive(provider: string, sms: InboundSms): Promise<{ id: number; duplicate: boolean }> {
    return this.db.transaction(async (trx) => {
      const [row] = await trx('inbound_messages')
        .insert({
          provider,
          provider_message_id: sms.providerMessageId,
          phone: sms.phone,
          to: sms.to ?? null,
          text: sms.text,
          link_id: sms.linkId ?? null,
          network_code: sms.networkCode ?? null,
          provider_date: sms.date ?? null,
        })
        .onConflict(['provider', 'provider_message_id'])
        .ignore()
        .returning('id');
      if (!row) {
        const existing = await trx('inbound_messages').where({ provider, provider_message_id: sms.providerMessageId }).first('id');
        return { id: existing.id, duplicate: true };
      }
      await queueTask(trx, 'inbound_sms', { inboundId: row.id });
      return { id: row.id, duplicate: false };
    });
  }

  async process(inboundId: number): Promise<Processing> {
    return this.db.transaction(async (trx) => {
      const message = await lockReceived(trx, inboundId);
      if (typeof message === 'string') return message;
      const reply = await this.answer(trx, message);
      // A code that was refused (wrong day, locked, not a vaccinator) still works: it must not stay readable here.
      await trx('inbound_messages').where('id', inboundId).update({ text: withoutCode(message.text) });
      return this.finish(trx, message, [reply]);
    });
  }

  /** A message still to be answered, for a caller that works out the answer outside a transaction. */
  async pending(inboundId: number): Promise<PendingSms | undefined> {
    const message = await this.db('inbound_messages').where({ id: inboundId, status: 'received' }).first('id', 'phone', 'text');
    return message && { ...message, language: await languageOf(this.db, message.phone) };
  }

  /**
   * Writes the answer worked out for a pending message and marks it processed, in one
   * transaction: answered once, however often this runs. Replies after the first are the
   * continuation of a text too long for one SMS.
   */
  async complete(inboundId: number, replies: Reply[]): Promise<Processing> {
    return this.db.transaction(async (trx) => {
      const message = await lockReceived(trx, inboundId);
      return typeof message === 'string' ? message : this.finish(trx, message, replies);
    });
  }

  /**
   * Queues the replies, unless the mobile is over its reply limit: then the message is kept, marked
   * 'limited', and nothing is sent (the work it asked for, such as a vaccination, still stands).
   */
  private async finish(trx: Tx, message: { id: number; phone: string }, replies: Reply[]): Promise<Processing> {
    const overLimit = replies.length > 0 ? await this.replyLimitReached(trx, message.phone) : undefined;
    if (overLimit) {
      this.options.onReplyDropped?.(overLimit);
      await trx('inbound_messages').where('id', message.id).update({ status: 'limited', processed_at: trx.fn.now() });
      return 'processed';
    }
    const language = await languageOf(trx, message.phone);
    for (const [index, reply] of replies.entries()) {
      await queueSms(trx, {
        phone: message.phone,
        language,
        template: reply.template,
        params: reply.params,
        dedupeKey: index === 0 ? `reply-${message.id}` : `reply-${message.id}-${index + 1}`,
      });
    }
    await trx('inbound_messages').where('id', message.id).update({ status: 'processed', processed_at: trx.fn.now() });
    return 'processed';
  }

  /**
   * Counts replies already queued for this mobile (the first part of each; rows of outbound_messages,
   * found by its phone index) in the rolling minute and day. The advisory lock makes the count and
   * the insert that follows one step for each mobile, so concurrent messages cannot all slip under.
   */
  private async replyLimitReached(trx: Tx, phone: string): Promise<ReplyLimitWindow | undefined> {
    await trx.raw('SELECT pg_advisory_xact_lock(?, hashtext(?))', [REPLY_LIMIT_LOCK_CLASS, phone]);
    const limits = this.options.replyLimits ?? DEFAULT_REPLY_LIMITS;
    const vaccinator = await this.vaccination.activeVaccinator(phone, trx);
    const [perMinute, perDay] = vaccinator ? [limits.vaccinatorPerMinute, limits.vaccinatorPerDay] : [limits.perMinute, limits.perDay];
    const counts = await trx('outbound_messages')
      .where('phone', phone)
      .andWhere('created_at', '>', trx.raw("now() - interval '1 day'"))
      .andWhereLike('dedupe_key', 'reply-%')
      .andWhereNot('dedupe_key', 'like', 'reply-%-%')
      .first(trx.raw("count(*) FILTER (WHERE created_at > now() - interval '1 minute')::int AS minute"), trx.raw('count(*)::int AS day'));
    if ((counts?.minute ?? 0) >= perMinute) return 'minute';
    if ((counts?.day ?? 0) >= perDay) return 'day';
    return undefined;
  }

  private async answer(trx: Tx, message: { id: number; phone: string; text: string }): Promise<Reply> {
    const command = parseSmsCommand(message.text);
    if (command.kind === 'vax_usage') return { template: 'sms.vax_usage', params: {} };
    if (command.kind !== 'vax') return { template: 'sms.help', params: { serviceCode: this.options.serviceCode } };
    const target = parseTarget(command.target, this.options.defaultCountry);
    if (!target) return { template: 'sms.vax_usage', params: {} };
    const result = await this.vaccination.verifyIn(trx, {
      vaccinatorPhone: message.phone,
      target,
      code: command.code,
      channel: 'sms',
      inboundMessageId: message.id,
    });
    return verificationReply(result, command.target, this.options.serviceCode);
  }
}

async function lockReceived(trx: Tx, inboundId: number): Promise<{ id: number; phone: string; text: string } | Exclude<Processing, 'processed'>> {
  const message = await trx('inbound_messages').where('id', inboundId).forUpdate().first('id', 'phone', 'text', 'status');
  if (!message) return 'not_found';
  return message.status === 'received' ? message : 'already_processed';
}


/** What the vaccinator reads, for each outcome. */
export function verificationReply(result: VerifyResult, target: string, serviceCode: string): Reply {
  switch (result.kind) {
    case 'accepted':
      return {
        template: 'sms.vax_accepted',
        params: { memberName: result.appointment.memberName, dose: result.appointment.dose, vaccine: result.appointment.vaccine, ref: result.appointment.reference },
      };
    case 'wrong_code':
      return { template: 'sms.vax_wrong_code', params: { target, attemptsLeft: result.attemptsLeft } };
    case 'locked':
      return { template: 'sms.vax_locked', params: { target, serviceCode } };
    case 'already_vaccinated':
      return { template: 'sms.vax_already', params: { memberName: result.memberName } };
    case 'no_booking_today':
      return { template: 'sms.vax_no_booking', params: { target } };
    case 'not_vaccinator':
      return { template: 'sms.vax_not_vaccinator', params: {} };
    case 'too_many_failures':
      return { template: 'sms.vax_too_many', params: {} };
    case 'centre_limit':
      return { template: 'sms.vax_centre_limit', params: {} };
    case 'mobile_limit':
      return { template: 'sms.vax_mobile_limit', params: { target } };
  }
}
