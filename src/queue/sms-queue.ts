import { Queue, type JobsOptions } from 'bullmq';
import type Redis from 'ioredis';
import { queuePrefix } from './connection';

/**
 * One queue per provider: a BullMQ limiter is per queue, so each provider has its own rate, and a
 * slow or blocked provider holds back only its own messages.
 */
export function smsQueueName(provider: string): string {
  return `sms-${provider}`;
}

/** Job data carries only the outbox id: the text (and any code) is read from the database at send time. */
export interface SmsJob {
  outboxId: number;
}

export interface SmsQueueOptions {
  prefix: string;
  maxAttempts: number;
  retryBaseMs: number;
}

export function createSmsQueue(connection: Redis, provider: string, options: SmsQueueOptions): Queue<SmsJob> {
  const defaultJobOptions: JobsOptions = {
    attempts: options.maxAttempts,
    backoff: { type: 'exponential', delay: options.retryBaseMs },
    removeOnComplete: { age: 24 * 3600, count: 50_000 },
    removeOnFail: { age: 7 * 24 * 3600 },
  };
  return new Queue<SmsJob>(smsQueueName(provider), { connection, prefix: queuePrefix(options.prefix), defaultJobOptions });
}

/** An outbox row as the relay hands it over. */
export interface OutboxRef {
  id: number;
  /** A UUID per row: job ids stay unique even if the database is recreated under a live Redis. */
  jobKey: string;
}

/** One job per outbox row, whatever happens: BullMQ ignores an add whose job id exists. */
export function smsJobId(jobKey: string): string {
  return `sms-${jobKey}`;
}

export async function enqueueSms(queue: Queue<SmsJob>, rows: OutboxRef[]): Promise<void> {
  await queue.addBulk(rows.map((row) => ({ name: 'send', data: { outboxId: row.id }, opts: { jobId: smsJobId(row.jobKey) } })));
}
