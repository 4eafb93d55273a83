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
  /**
   * How long a notification waits for others before the relay runs: every commit notifies (each
   * worker process), and at hundreds of bookings a second a pass per commit cost more worker CPU
   * per SMS than the send itself. A few milliseconds turn those passes into batches.
   */
  gatherMs?: number;
}

const DEFAULT_GATHER_MS = 10;

/**
 * Moves committed outbox rows (SMS, tasks) into their queues. Woken at once by the NOTIFY that commits with
 * each row, and by a slow poll as a safety net.
 */
export class OutboxRelay {
  private running = false;
  private again = false;
  private timer?: NodeJS.Timeout;
  private gathering?: NodeJS.Timeout;
  private unlisten?: () => Promise<void>;
  private idle: Promise<void> = Promise.resolve();

  constructor(
    private readonly lanes: RelayLane[],
    private readonly logger: Logger,
    private readonly options: RelayOptions,
  ) {}

  async start(): Promise<void> {
    this.unlisten = await listen(this.options.databaseUrl, OUTBOX_CHANNEL, () => this.notified(), (error) =>
      this.logger.error({ err: error }, 'outbox listener failed; relying on the poll'),
    );
    this.timer = setInterval(() => this.kick(), this.options.pollMs);
    this.kick();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (this.gathering) clearTimeout(this.gathering);
    await this.unlisten?.();
    await this.idle;
  }

  /** A commit wrote outbox rows: relay them, together with those of the commits that follow within gatherMs. */
  private notified(): void {
    if (this.gathering) return;
    this.gathering = setTimeout(() => {
      this.gathering = undefined;
      this.kick();
    }, this.options.gatherMs ?? DEFAULT_GATHER_MS);
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
