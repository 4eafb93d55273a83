import { listen } from '../db/listen';
import { OUTBOX_CHANNEL } from '../domain/outbox';
import type { Logger } from '../logger';

/** Relays up to `limit` rows of one outbox table into its queue; returns how many it moved. */
export type RelayLane = (limit: number) => Promise<number>;

export interface RelayOptions {
  databaseUrl: string;
  /** Fallback poll, for notifications lost while the listener reconnects. */
  pollMs: number;
  batchSize: number;
}

/**
 * Moves committed outbox rows (SMS, tasks) into their queues. Woken at once by the NOTIFY that commits with
 * each row, and by a slow poll as a safety net.
 */
export class OutboxRelay {
  private running = false;
  private again = false;
  private timer?: NodeJS.Timeout;
  private unlisten?: () => Promise<void>;
  private idle: Promise<void> = Promise.resolve();

  constructor(
    private readonly lanes: RelayLane[],
    private readonly logger: Logger,
    private readonly options: RelayOptions,
  ) {}

  async start(): Promise<void> {
    this.unlisten = await listen(this.options.databaseUrl, OUTBOX_CHANNEL, () => this.kick(), (error) =>
      this.logger.error({ err: error }, 'outbox listener failed; relying on the poll'),
    );
    this.timer = setInterval(() => this.kick(), this.options.pollMs);
    this.kick();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.unlisten?.();
    await this.idle;
  }

  /** Runs a relay pass now, or right after the one in progress. */
  kick(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    this.idle = this.drain().then(() => undefined).finally(() => {
      this.running = false;
    });
  }

  /** Relays until nothing is left. */
  async drain(): Promise<number> {
    let total = 0;
    do {
      this.again = false;
      try {
        for (const lane of this.lanes) {
          for (;;) {
            const moved = await lane(this.options.batchSize);
            total += moved;
            if (moved < this.options.batchSize) break;
          }
        }
      } catch (error) {
        this.logger.error({ err: error }, 'outbox relay pass failed; will retry');
      }
    } while (this.again);
    return total;
  }
}
