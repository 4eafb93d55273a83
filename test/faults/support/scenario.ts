import { createDb, type Db } from '../../../src/db/knex';
import { startFakeAfricasTalking, type FakeAfricasTalking } from '../../fakes/fake-africastalking';
import { productProcess, type ProductProcess } from './product';
import { startPrivatePostgres, startPrivateRedis, type PrivatePostgres, type PrivateRedis } from './services';

export interface Stack {
  pg: PrivatePostgres;
  redis: PrivateRedis;
  at: FakeAfricasTalking;
  product: ProductProcess;
  /** The product's database, from the test's side. */
  db: Db;
  databaseUrl: string;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A private PostgreSQL and Redis, the fake provider and the product process, for the length of `run`;
 * everything is stopped and removed afterwards, whether `run` passed or not.
 */
export async function withStack<T>(options: { redisPersistence: 'none' | 'aof'; env?: Record<string, string> }, run: (stack: Stack) => Promise<T>): Promise<T> {
  const cleanups: (() => Promise<unknown>)[] = [];
  try {
    const pg = await startPrivatePostgres();
    cleanups.push(() => pg.close());
    const redis = await startPrivateRedis(options.redisPersistence);
    cleanups.push(() => redis.close());
    const at = await startFakeAfricasTalking();
    cleanups.push(() => at.close());
    const databaseUrl = pg.url('tika');
    const product = await productProcess({ databaseUrl, redisUrl: redis.url, atUrl: at.url, env: options.env });
    cleanups.push(() => product.close());
    await product.start();
    const db = createDb(databaseUrl, { max: 4 });
    cleanups.push(() => db.destroy());
    return await run({ pg, redis, at, product, db, databaseUrl });
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch((error: unknown) => process.stderr.write(`fault cleanup: ${String(error)}\n`));
  }
}
