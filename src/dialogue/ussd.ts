import { createHmac } from 'node:crypto';
import type Redis from 'ioredis';
import type { ChainableCommander } from 'ioredis';
import type { SealedStore } from './sealed-store';
import type { InboundUssd, UssdReply } from '../contracts/messages';
import type { Logger } from '../logger';
import type { Catalogue } from './catalogue';
import type { DialogueContext, DialogueEngine, DialogueSession, Vars } from './engine';

/**
 * A USSD session over the engine. The provider sends all input so far on every hop ("1*2*Asha");
 * we keep the text we last answered, so the newest answer is what was appended to it, and a hop
 * sent again (same text) gets the same screen without running anything twice.
 *
 * Operators cut sessions after about 180 s. A session dropped part-way (not on its first screen,
 * not ended) is kept per mobile for a while, and the next dial offers to continue it.
 */
interface StoredUssdSession {
  /** The caller this session belongs to: a hop under its id from another phone starts afresh. */
  phone: string;
  /** The input answered last, as a keyed digest: the text itself carries codes and ID numbers. */
  lastText: TextDigest;
  lastReply: UssdReply;
  dialogue: DialogueSession;
  /** Set while the caller is asked whether to continue this dropped session. */
  resumable?: DialogueSession;
}

export interface UssdEntry {
  flow: string;
  language: string;
  vars?: Vars;
}

export interface UssdOptions {
  ttlSeconds: number;
  /** How long a dropped session can be continued from the next dial. */
  resumeSeconds: number;
  /** Answer by then, whatever our dependencies do: the operator cuts the user off at about 10 s. */
  deadlineMs: number;
  keyPrefix: string;
  /** Keys the digest of the answered text (derived from CODE_SECRET), so a Redis dump cannot be brute-forced. */
  textKey: Buffer;
  /** Where sessions and dropped sessions are kept, sealed: they hold names and photo-ID numbers. */
  store: SealedStore;
}

/** What one round trip read before the hop is answered: the session under its id (any phone's) and the phone's dropped session. */
interface Prefetched {
  anyPhone?: StoredUssdSession;
  resume?: DialogueSession;
}

const LOCK_MS = 10_000;
const LOCK_WAIT_MS = 3_000;

export class UssdDialogue {
  constructor(
    private readonly engine: DialogueEngine,
    private readonly catalogue: Catalogue,
    private readonly redis: Redis,
    /** Which flow answers this phone, in which language. */
    private readonly entry: (phone: string) => Promise<UssdEntry>,
    private readonly options: UssdOptions,
    private readonly logger: Logger,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Always resolves with a screen: failures and slowness become an END screen that says what to do. */
  async handle(hop: InboundUssd): Promise<UssdReply> {
    // Filled in as soon as the caller's language is known, so even a failure answers in it.
    const caller = { language: 'en' };
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<UssdReply>((resolve) => {
      timer = setTimeout(() => {
        this.logger.warn({ sessionId: hop.sessionId, deadlineMs: this.options.deadlineMs }, 'ussd hop over deadline');
        resolve(this.fallback('error.timeout', caller.language));
      }, this.options.deadlineMs);
    });
    const work = this.handleLocked(hop, caller).catch((error: unknown) => {
      this.logger.error({ err: error, sessionId: hop.sessionId }, 'ussd hop failed');
      return this.fallback('error.internal', caller.language);
    });
    try {
      return await Promise.race([work, deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Round trips are most of a hop's cost: the lock, the session and any dropped session are read in
   * one, and the session, the dropped session and the unlock are written in one.
   */
  private async handleLocked(hop: InboundUssd, caller: { language: string }): Promise<UssdReply> {
    const lockKey = this.key('lock', hop.sessionId);
    const [locked, session, resume] = await this.exec(
      this.redis.pipeline().set(lockKey, '1', 'PX', LOCK_MS, 'NX').get(this.key('session', hop.sessionId)).get(this.key('resume', hop.phone)),
    );
    const prefetched: Prefetched = {
      anyPhone: this.options.store.open<StoredUssdSession>(session as string | null),
      resume: this.options.store.open<DialogueSession>(resume as string | null),
    };
    if (locked !== 'OK' && !(await this.acquire(lockKey))) {
      // The same hop is being answered already (the provider resent it): give that answer if it is ready.
      const stored = await this.load(hop);
      return stored && this.sameText(stored.lastText, hop.text) ? stored.lastReply : this.fallback('error.busy', stored?.dialogue.language);
    }
    // Waited for the lock: what was read before may have changed since.
    const fresh = locked === 'OK' ? prefetched : undefined;
    const writes = this.redis.pipeline();
    try {
      const reply = await this.answer(hop, caller, fresh, writes);
      await this.exec(writes.del(lockKey));
      return reply;
    } catch (error) {
      await this.redis.del(lockKey);
      throw error;
    }
  }

  /** Runs a pipeline; a failed command fails the whole hop, as a single command would. */
  private async exec(pipeline: ChainableCommander): Promise<unknown[]> {
    const results = (await pipeline.exec()) ?? [];
    return results.map(([error, value]) => {
      if (error) throw error;
      return value;
    });
  }

  private async answer(hop: InboundUssd, caller: { language: string }, prefetched: Prefetched | undefined, writes: ChainableCommander): Promise<UssdReply> {
    const anyPhone = prefetched ? prefetched.anyPhone : await this.loadAnyPhone(hop.sessionId);
    const stored = anyPhone?.phone === hop.phone ? anyPhone : undefined;
    if (stored) caller.language = stored.dialogue.language;
    if (stored && this.sameText(stored.lastText, hop.text)) return stored.lastReply;
    if (!stored && hop.text !== '' && !this.belongsToAnother(hop, anyPhone)) {
      return { end: true, text: this.catalogue.render(await this.languageFor(hop.phone), 'error.session_expired') };
    }

    const input = stored ? newestInput(stored.lastText, hop.text, this.options.textKey) : '';
    let result: { session: DialogueSession; screen: UssdReply; resumable?: DialogueSession };
    if (!stored) {
      const resume = prefetched ? prefetched.resume : await this.options.store.get<DialogueSession>(this.key('resume', hop.phone));
      result = await this.begin(hop.phone, resume);
    } else if (stored.resumable) {
      result = await this.answerResume(stored, input, hop.phone, writes);
    } else {
      result = await this.engine.respond(stored.dialogue, input, this.context(hop.phone, stored.dialogue.language));
    }
    const reply: UssdReply = result.screen;
    const saved: StoredUssdSession = { phone: hop.phone, lastText: digest(hop.text, this.options.textKey), lastReply: reply, dialogue: result.session, resumable: result.resumable };
    writes.set(this.key('session', hop.sessionId), this.options.store.seal(saved), 'EX', this.options.ttlSeconds);
    if (!result.resumable) this.rememberForResume(hop.phone, result.session, reply, writes);
    return reply;
  }

  /** A new dial: the flow for this phone, unless a dropped session can be continued. */
  private async begin(phone: string, resumable: DialogueSession | undefined) {
    const entry = await this.entry(phone);
    const started = await this.engine.start(entry.flow, this.context(phone, entry.language), entry.vars);
    if (!resumable) return started;
    return { session: started.session, resumable, screen: this.resumeScreen(resumable.language) };
  }

  private async answerResume(stored: StoredUssdSession, input: string, phone: string, writes: ChainableCommander) {
    const resumable = stored.resumable!;
    const ctx = this.context(phone, resumable.language);
    if (input === '1') return this.engine.redisplay(resumable, ctx);
    if (input === '2') {
      writes.del(this.key('resume', phone));
      return this.engine.redisplay(stored.dialogue, ctx);
    }
    return { session: stored.dialogue, resumable, screen: this.resumeScreen(resumable.language, 'error.invalid_choice') };
  }

  private resumeScreen(language: string, reasonKey?: string): UssdReply {
    const t = (key: string) => this.catalogue.render(language, key);
    const lines = [t('resume.prompt'), `1 ${t('resume.continue')}`, `2 ${t('resume.restart')}`];
    return { end: false, text: (reasonKey ? [t(reasonKey), ...lines] : lines).join('\n') };
  }

  /** Keeps a session that is part-way through, so a drop can be continued; forgets a finished one. */
  private rememberForResume(phone: string, dialogue: DialogueSession, reply: UssdReply, writes: ChainableCommander): void {
    const key = this.key('resume', phone);
    if (reply.end || !this.engine.isResumable(dialogue)) writes.del(key);
    else writes.set(key, this.options.store.seal(dialogue), 'EX', this.options.resumeSeconds);
  }

  private context(phone: string, language: string): DialogueContext {
    return { phone, language, now: this.now() };
  }

  private async languageFor(phone: string): Promise<string> {
    try {
      return (await this.entry(phone)).language;
    } catch {
      return 'en';
    }
  }

  private fallback(key: string, language = 'en'): UssdReply {
    return { end: true, text: this.catalogue.render(language, key) };
  }

  private async acquire(lockKey: string): Promise<boolean> {
    const started = Date.now();
    for (;;) {
      if ((await this.redis.set(lockKey, '1', 'PX', LOCK_MS, 'NX')) === 'OK') return true;
      if (Date.now() - started > LOCK_WAIT_MS) return false;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** The session under this hop's id, if it belongs to this hop's phone. */
  private async load(hop: InboundUssd): Promise<StoredUssdSession | undefined> {
    const stored = await this.loadAnyPhone(hop.sessionId);
    return stored?.phone === hop.phone ? stored : undefined;
  }

  private async loadAnyPhone(sessionId: string): Promise<StoredUssdSession | undefined> {
    return this.options.store.get<StoredUssdSession>(this.key('session', sessionId));
  }

  /** A known session id from another phone: that phone gets its own first screen, never the other's state. */
  private belongsToAnother(hop: InboundUssd, other: StoredUssdSession | undefined): boolean {
    if (other) this.logger.warn({ sessionId: hop.sessionId, phone: hop.phone }, 'ussd session id reused by another phone: started afresh');
    return other !== undefined;
  }

  private sameText(previous: TextDigest, text: string): boolean {
    return sameText(previous, text, this.options.textKey);
  }

  private key(kind: string, sessionId: string): string {
    return `${this.options.keyPrefix}:ussd:${kind}:${sessionId}`;
  }
}

export interface TextDigest {
  length: number;
  /** HMAC-SHA256 under a server key: a plain hash of a 12-digit Aadhaar number is recovered by brute force. */
  hmac: string;
}

export function digest(text: string, key: Buffer): TextDigest {
  return { length: text.length, hmac: createHmac('sha256', key).update(text).digest('hex') };
}

function sameText(previous: TextDigest, text: string, key: Buffer): boolean {
  return previous.length === text.length && previous.hmac === digest(text, key).hmac;
}

/**
 * What the user typed on the last screen: the text appended (after a '*') to the text answered
 * before, recognised by its digest; failing that, the part after the last '*'.
 */
export function newestInput(previous: TextDigest, text: string, key: Buffer): string {
  if (previous.length === 0) return text;
  if (text[previous.length] === '*' && sameText(previous, text.slice(0, previous.length), key)) return text.slice(previous.length + 1);
  return text.slice(text.lastIndexOf('*') + 1);
}
