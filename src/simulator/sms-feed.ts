import { SANDBOX_SMS_CHANNEL, sandboxMessagesAfter, sandboxOutbox } from '../channels/sandbox';
import type { Db } from '../db/knex';
import { listen } from '../db/listen';

/** An SMS the sandbox provider stored for a phone, as the simulator shows it. */
export interface FeedMessage {
  id: number;
  message: string;
  createdAt: string;
}

/** A new subscriber without a last seen id gets this many of the phone's latest messages first. */
export const FEED_HISTORY = 20;
/** Most messages read in one catch-up query; more are read by the next round. */
const BATCH = 100;

interface Subscriber {
  phone: string;
  lastId: number;
  deliver: (messages: FeedMessage[]) => void;
  /** A catch-up in progress; a notice meanwhile asks for one more round after it. */
  running?: Promise<void>;
  again: boolean;
  closed: boolean;
}

/**
 * The SMS the sandbox provider stores, per phone, as they are stored: one LISTEN connection while
 * anyone is subscribed (the worker that sends may be another process), closed with the last
 * subscriber. A notice only says which phone has news; each subscriber then reads its rows after
 * the last it delivered, so nothing is missed or repeated, even across a lost connection.
 */
export class SandboxSmsFeed {
  private readonly subscribers = new Set<Subscriber>();
  /** Reads under way: close() waits for them, so none outlives the database pool. */
  private readonly reads = new Set<Promise<unknown>>();
  private closed = false;
  private listening: Promise<() => Promise<void>> | undefined;

  constructor(
    private readonly db: Db,
    private readonly databaseUrl: string,
    private readonly onError: (error: Error) => void,
  ) {}

  get size(): number {
    return this.subscribers.size;
  }

  /**
   * Delivers `phone`'s messages after `afterId` (without it: the latest FEED_HISTORY), then each new
   * one as it is stored, until the returned function is called.
   */
  async subscribe(phone: string, afterId: number | undefined, deliver: (messages: FeedMessage[]) => void): Promise<() => void> {
    // Listening before the first read: a message stored in between is then read by the next round.
    // Again if the last subscriber left (and the connection closed) while this one waited for it.
    for (;;) {
      if (this.closed) throw new Error('the SMS feed is closed');
      const listening = (this.listening ??= this.startListening());
      await listening;
      if (this.listening === listening) break;
    }
    const subscriber: Subscriber = { phone, lastId: afterId ?? 0, deliver, again: false, closed: false };
    const unsubscribe = () => this.unsubscribe(subscriber);
    // In the set and running in the same tick: a notice from now on waits for the first read.
    this.subscribers.add(subscriber);
    const first = this.track(this.firstRead(subscriber, afterId === undefined));
    subscriber.running = first.catch(() => undefined).finally(() => this.roundDone(subscriber));
    try {
      await first;
    } catch (error) {
      unsubscribe();
      throw error;
    }
    return unsubscribe;
  }

  private async firstRead(subscriber: Subscriber, withHistory: boolean): Promise<void> {
    if (withHistory) {
      const latest = (await sandboxOutbox(this.db, { phone: subscriber.phone, limit: FEED_HISTORY })).reverse();
      if (latest.length === 0 || subscriber.closed) return;
      subscriber.lastId = Number(latest[latest.length - 1]!.id);
      subscriber.deliver(latest.map(toFeedMessage));
    }
    await this.catchUp(subscriber);
  }

  /** Ends every subscription and the LISTEN connection. */
  async close(): Promise<void> {
    this.closed = true;
    for (const subscriber of [...this.subscribers]) subscriber.closed = true;
    this.subscribers.clear();
    await this.stopListening();
    await Promise.allSettled([...this.reads]);
  }

  private track<T>(read: Promise<T>): Promise<T> {
    this.reads.add(read);
    const forget = () => void this.reads.delete(read);
    read.then(forget, forget);
    return read;
  }

  private startListening(): Promise<() => Promise<void>> {
    const started = listen(this.databaseUrl, SANDBOX_SMS_CHANNEL, (phone) => this.notified(phone), this.onError);
    // A failed start is not kept: the next subscriber tries again.
    started.catch(() => {
      if (this.listening === started) this.listening = undefined;
    });
    return started;
  }

  private async stopListening(): Promise<void> {
    const listening = this.listening;
    this.listening = undefined;
    if (listening) await (await listening.catch(() => async () => undefined))();
  }

  private unsubscribe(subscriber: Subscriber): void {
    subscriber.closed = true;
    if (!this.subscribers.delete(subscriber)) return;
    if (this.subscribers.size === 0) void this.stopListening();
  }

  /** No payload: the connection was lost and is back, so every phone may have news. */
  private notified(phone: string | undefined): void {
    for (const subscriber of this.subscribers) {
      if (phone === undefined || subscriber.phone === phone) this.scheduleCatchUp(subscriber);
    }
  }

  private scheduleCatchUp(subscriber: Subscriber): void {
    if (subscriber.running) {
      subscriber.again = true;
      return;
    }
    subscriber.running = this.track(this.catchUp(subscriber))
      .catch((error: Error) => this.onError(error))
      .finally(() => this.roundDone(subscriber));
  }

  private roundDone(subscriber: Subscriber): void {
    subscriber.running = undefined;
    if (subscriber.again && !subscriber.closed) {
      subscriber.again = false;
      this.scheduleCatchUp(subscriber);
    }
  }

  private async catchUp(subscriber: Subscriber): Promise<void> {
    for (;;) {
      const rows = await sandboxMessagesAfter(this.db, subscriber.phone, subscriber.lastId, BATCH);
      if (subscriber.closed || rows.length === 0) return;
      subscriber.lastId = Number(rows[rows.length - 1]!.id);
      subscriber.deliver(rows.map(toFeedMessage));
      if (rows.length < BATCH) return;
    }
  }
}

function toFeedMessage(row: { id: number | string; message: string; createdAt: Date }): FeedMessage {
  return { id: Number(row.id), message: row.message, createdAt: new Date(row.createdAt).toISOString() };
}
