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
    return this.open<T>(await this.redis.get(key));
  }

  async set(key: string, value: unknown, ttlSeconds: number): Promise<void> {
    await this.redis.set(key, this.seal(value), 'EX', ttlSeconds);
  }

  /** A value read by the caller (in a pipeline with other commands), opened; absent when it does not open. */
  open<T>(sealed: string | null | undefined): T | undefined {
    if (!sealed) return undefined;
    try {
      return JSON.parse(this.sealer.open(sealed)) as T;
    } catch {
      return undefined;
    }
  }

  /** A value sealed for the caller to write (in a pipeline with other commands). */
  seal(value: unknown): string {
    return this.sealer.seal(JSON.stringify(value));
  }
}
