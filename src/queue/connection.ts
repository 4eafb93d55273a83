import Redis, { type RedisOptions } from 'ioredis';
import type { Queue } from 'bullmq';

/** BullMQ keys carry a hash tag ({tika}) so every key of a queue lands in one Redis Cluster slot. */
export function queuePrefix(prefix: string): string {
  return `{${prefix}}`;
}

/** Connections for BullMQ: workers block on Redis, so they must not give up after a few retries. */
export function queueConnection(redisUrl: string): Redis {
  return new Redis(redisUrl, { maxRetriesPerRequest: null, enableReadyCheck: true } satisfies RedisOptions);
}

/** For each job id, whether the queue (on this connection) still holds that job, in any state: one round trip. */
export async function jobsExist(connection: Redis, queue: Queue, jobIds: string[]): Promise<boolean[]> {
  if (jobIds.length === 0) return [];
  const pipeline = connection.pipeline();
  for (const id of jobIds) pipeline.exists(queue.toKey(id));
  const results = (await pipeline.exec()) ?? [];
  return results.map(([error, count]: [Error | null, unknown]) => {
    if (error) throw error;
    return count === 1;
  });
}

/** For each job id, whether any of these queues holds it. */
export async function jobsInAny(connection: Redis, queues: readonly Queue[], jobIds: string[]): Promise<boolean[]> {
  const found = await Promise.all(queues.map((queue) => jobsExist(connection, queue, jobIds)));
  return jobIds.map((_, i) => found.some((inQueue) => inQueue[i]));
}
