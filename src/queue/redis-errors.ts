import type { EventEmitter } from 'node:events';
import type { Logger } from '../logger';

/** While Redis is down every client errors on each reconnect attempt: one line per client per window is enough. */
const DEFAULT_WINDOW_MS = 10_000;

/**
 * Logs a Redis client's (or a BullMQ queue's / worker's) 'error' events as one structured pino line,
 * at most once per window with a count of the ones held back. Without a listener ioredis prints
 * unstructured text, and an EventEmitter with no 'error' listener throws.
 */
export function logRedisErrors(emitter: EventEmitter, client: string, logger: Logger, windowMs = DEFAULT_WINDOW_MS): void {
  let windowStart = 0;
  let suppressed = 0;
  emitter.on('error', (error: Error & { code?: string }) => {
    const now = Date.now();
    if (now - windowStart < windowMs) {
      suppressed++;
      return;
    }
    logger.error({ client, err: { message: error.message, code: error.code, name: error.name }, suppressed }, 'redis error');
    windowStart = now;
    suppressed = 0;
  });
}
