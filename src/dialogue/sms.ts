import { randomUUID } from 'node:crypto';
import type Redis from 'ioredis';
import { CONVERSATION_SCREEN_KEY } from '../contracts/templates';
import type { SealedStore } from './sealed-store';
import type { BookingService } from '../domain/booking';
import { shortDay } from '../domain/dates';
import { isVaccinatorCommand, keywordLanguage, parseSmsCommand, type PendingSms, type Processing, type Reply, type SmsCommand, type SmsInbox } from '../domain/sms-inbox';
import type { Catalogue } from './catalogue';
import { fitsScreen, type ScreenLimits } from './encoding';
import type { DialogueContext, DialogueEngine, DialogueSession, Screen, Vars } from './engine';
import type { Flow } from './flow';

/**
 * Citizens' SMS commands (HELP, STATUS, CODE, CANCEL <ref>, BOOK <PIN code>, REGISTER) for phones
 * without USSD. BOOK, REGISTER and CODE are conversations run by the dialogue engine over flows/sms_*.flow.json:
 * the conversation waits in Redis for the next SMS, and any text that is not a keyword answers
 * its current question; a keyword starts over.
 */

/** A reply of two SMS parts at most. */
export const SMS_SCREEN_LIMITS: ScreenLimits = { gsm7: 306, ucs2: 134 };
/** A conversation waits this long for the next SMS: typing an SMS takes longer than a USSD answer. */
export const SMS_CONVERSATION_TTL_SECONDS = 1800;
/** The catalogue key that carries a text already written (a conversation screen, a status list). */
export const SMS_SCREEN_TEMPLATE = CONVERSATION_SCREEN_KEY;

/** SMS flows (flows/sms_*.flow.json) run on the SMS engine; every other flow on the USSD engine. */
export function isSmsFlow(flowId: string): boolean {
  return flowId.startsWith('sms_');
}

export function selectFlows(flows: Map<string, Flow>, keep: (flowId: string) => boolean): Map<string, Flow> {
  return new Map([...flows].filter(([id]) => keep(id)));
}

export interface SmsDialogueOptions {
  keyPrefix: string;
  /** How long a conversation waits for the next SMS; each message starts the wait again. */
  ttlSeconds: number;
  serviceCode: string;
  /** Where conversations are kept, sealed: an answer may be a name or a photo-ID number. */
  store: SealedStore;
  /**
   * Whether SMS conversations (REGISTER, BOOK, CODE, STATUS: replies written as sms.screen) are
   * offered to this mobile. Not where its route sends only registered templates (India's DLT): no
   * template can carry a composed screen, so the mobile is sent to USSD (sms.use_ussd). Always yes
   * when left out.
   */
  conversesBySms?: (phone: string) => boolean;
}

/** Kept per mobile between messages. */
interface StoredSmsConversation {
  /** The conversation waiting for an answer, or null when none is. */
  dialogue: DialogueSession | null;
  /** The last message answered: a task run again after a crash gives the same replies and runs nothing twice. */
  lastInboundId: number;
  lastReplies: Reply[];
}

interface Answer {
  replies: Reply[];
  conversation: DialogueSession | null;
}

const LOCK_MS = 30_000;
const LOCK_WAIT_MS = 5_000;
const RELEASE_LOCK = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

export class SmsDialogue {
  constructor(
    private readonly engine: DialogueEngine,
    private readonly catalogue: Catalogue,
    private readonly inbox: SmsInbox,
    private readonly booking: BookingService,
    private readonly redis: Redis,
    private readonly options: SmsDialogueOptions,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Answers one incoming SMS that is not a vaccinator's command; its reply commits with the processed mark. */
  async process(inboundId: number): Promise<Processing> {
    const message = await this.inbox.pending(inboundId);
    if (!message) return 'already_processed';
    // One message of a mobile at a time: two answers must not advance the same conversation at once.
    return this.withLock(message.phone, async () => this.inbox.complete(inboundId, await this.repliesTo(message)));
  }

  private async repliesTo(message: PendingSms): Promise<Reply[]> {
    const stored = await this.load(message.phone);
    if (stored?.lastInboundId === message.id) return stored.lastReplies;
    const answer = await this.answer(message, stored?.dialogue ?? null);
    await this.save(message.phone, { dialogue: answer.conversation, lastInboundId: message.id, lastReplies: answer.replies });
    return answer.replies;
  }

  private async answer(message: PendingSms, conversation: DialogueSession | null): Promise<Answer> {
    const command = parseSmsCommand(message.text);
    const ctx = this.context(message, message.language);
    if (!this.conversesBySms(message.phone)) return finished(await this.templatedAnswer(message, command));
    switch (command.kind) {
      case 'answer':
        if (!conversation) return finished([await this.help(message.phone)]);
        return screenAnswer(await this.engine.respond(conversation, command.text, this.context(message, conversation.language)));
      case 'book':
        return this.startConversation('sms_book', message, { pincode: command.pincode });
      case 'register':
        return this.startConversation('sms_register', message);
      case 'code':
        return screenAnswer(await this.engine.start('sms_code', ctx));
      case 'status':
        return finished(await this.status(message.phone, message.language));
      case 'cancel':
        return finished(await this.cancel(message.phone, command.reference));
      case 'help':
      case 'vax':
      case 'vax_usage':
        return finished([await this.help(message.phone)]);
    }
  }

  private conversesBySms(phone: string): boolean {
    return this.options.conversesBySms?.(phone) ?? true;
  }

  /**
   * On a route of registered templates: CANCEL as everywhere (its replies are templates); every
   * other command, HELP and any text are pointed to USSD, which does all a conversation would.
   */
  private async templatedAnswer(message: PendingSms, command: SmsCommand): Promise<Reply[]> {
    if (command.kind === 'cancel') return this.cancel(message.phone, command.reference);
    return [{ template: 'sms.use_ussd', params: { serviceCode: this.options.serviceCode } }];
  }

  /**
   * BOOK and REGISTER may lead a mobile we have not met into registration (flows/sms_register),
   * which keeps the language of the keyword as the mobile's language, as choosing one does on USSD.
   */
  private async startConversation(flowId: string, message: PendingSms, vars: Vars = {}): Promise<Answer> {
    const start = { serviceCode: this.options.serviceCode, language: keywordLanguage(message.text), ...vars };
    return screenAnswer(await this.engine.start(flowId, this.context(message, message.language), start));
  }

  /**
   * The SMS commands for a mobile with registered members. A mobile without any is told how to
   * register, by SMS or by dialling (and vaccinators how to send VAX).
   */
  private async help(phone: string): Promise<Reply> {
    const registered = (await this.booking.members(phone)).length > 0;
    return { template: registered ? 'sms.commands' : 'sms.help', params: { serviceCode: this.options.serviceCode } };
  }

  /** Every live appointment of the mobile, one line each, in as few SMS as they fit. */
  private async status(phone: string, language: string): Promise<Reply[]> {
    const live = await this.booking.liveAppointments(phone);
    if (live.length === 0) return [{ template: 'sms.no_appointments', params: {} }];
    const t = (key: string, params = {}) => this.catalogue.render(language, key, params);
    const lines = live.map((a) => t('sms.status_item', { memberName: a.memberName, day: shortDay(a.date, language), centre: a.centreName, ref: a.reference }));
    return packLines([t('sms.status_title'), ...lines], SMS_SCREEN_LIMITS).map(textReply);
  }

  private async cancel(phone: string, reference: string): Promise<Reply[]> {
    if (!reference) return [{ template: 'sms.cancel_usage', params: {} }];
    const appointment = await this.booking.findLiveByReference(phone, reference);
    const result = appointment && (await this.booking.cancel(phone, appointment.id));
    // The cancellation writes its own notice (sms.cancelled): that is the reply.
    if (result?.kind === 'cancelled') return [];
    return [{ template: 'sms.cancel_not_found', params: { ref: reference.toUpperCase() } }];
  }

  private context(message: PendingSms, language: string): DialogueContext {
    return { phone: message.phone, language, now: this.now(), requestId: `inbound-${message.id}` };
  }

  private async withLock<T>(phone: string, work: () => Promise<T>): Promise<T> {
    const key = this.key('lock', phone);
    const token = randomUUID();
    const deadline = Date.now() + LOCK_WAIT_MS;
    while ((await this.redis.set(key, token, 'PX', LOCK_MS, 'NX')) !== 'OK') {
      // The task queue runs this message again later.
      if (Date.now() > deadline) throw new Error('another SMS of this mobile is still being answered');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    try {
      return await work();
    } finally {
      await this.redis.eval(RELEASE_LOCK, 1, key, token);
    }
  }

  private async load(phone: string): Promise<StoredSmsConversation | undefined> {
    return this.options.store.get<StoredSmsConversation>(this.key('session', phone));
  }

  private async save(phone: string, stored: StoredSmsConversation): Promise<void> {
    await this.options.store.set(this.key('session', phone), stored, this.options.ttlSeconds);
  }

  private key(kind: 'session' | 'lock', phone: string): string {
    return `${this.options.keyPrefix}:sms:${kind}:${phone}`;
  }
}

/**
 * Where an incoming SMS goes, decided in this one place: a vaccinator's command to the inbox's
 * exact-once path, anything else to the citizen's commands and conversations.
 */
export function routeInboundSms(inbox: SmsInbox, dialogue: SmsDialogue): (inboundId: number) => Promise<Processing> {
  return async (inboundId) => {
    const message = await inbox.pending(inboundId);
    if (!message) return 'already_processed';
    return isVaccinatorCommand(parseSmsCommand(message.text)) ? inbox.process(inboundId) : dialogue.process(inboundId);
  };
}

function finished(replies: Reply[]): Answer {
  return { replies, conversation: null };
}

/** A screen of the engine as the reply; an end screen ends the conversation. */
function screenAnswer(result: { session: DialogueSession; screen: Screen }): Answer {
  return { replies: [textReply(result.screen.text)], conversation: result.screen.end ? null : result.session };
}

function textReply(text: string): Reply {
  return { template: SMS_SCREEN_TEMPLATE, params: { screen: text } };
}

/** Lines packed into as few texts as fit the limits, a line never split. */
export function packLines(lines: string[], limits: ScreenLimits): string[] {
  const texts: string[] = [];
  let current = '';
  for (const line of lines) {
    const joined = current ? `${current}\n${line}` : line;
    if (current && !fitsScreen(joined, limits)) {
      texts.push(current);
      current = line;
    } else {
      current = joined;
    }
  }
  return current ? [...texts, current] : texts;
}
