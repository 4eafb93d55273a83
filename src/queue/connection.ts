import Redis, { type RedisOptions } from 'ioredis';

/** BullMQ keys carry a hash tag ({tika}) so every key of a queue lands in one Redis Cluster slot. */
export function queuePrefix(prefix: string): string {
  return `{${prefix}}`;
}

/** Connections for BullMQ: workers block on Redis, so they must not give up after a few retries. */
export function queueConnection(redisUrl: string): Redis {
  return new Redis(redisUrl, { maxRetriesPerRequest: null, enableReadyCheck: true } satisfies RedisOptions);
}
