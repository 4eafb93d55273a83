import type Redis from 'ioredis';
import type { Sealer } from '../domain/codes';

/**
 * Conversation state kept in Redis, sealed (AES-256-GCM under a key derived from CODE_SECRET).
 * Until a step is past, a session holds what the caller typed: a name, a photo-ID number. A Redis
 * dump, replica or AOF file must not reveal them. A value that does not open (another key, a
 * change) reads as absent: the caller starts again, as after an expiry.
 */
export class SealedStore {
  constructor(
    private readonly redis: Redis,
    private readonly sealer: Sealer,
  ) {}

  async get<T>(key: string): Promise<T | undefined> {
    const sealed = await this.redis.get(key);
    if (!sealed) return undefined;
    try {
      return JSON.parse(this.sealer.open(sealed)) as T;
    } catch {
      return undefined;
    }
  }

  async set(key: string, value: unknown, ttlSeconds: number): Promise<void> {
    await this.redis.set(key, this.sealer.seal(JSON.stringify(value)), 'EX', ttlSeconds);
  }
}
