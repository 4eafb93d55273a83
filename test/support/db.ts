import { Client } from 'pg';
import { createDb, ensureDatabase, migrateLatest, type Db } from '../../src/db/knex';

/** Each jest worker has its own database and Redis prefix, so test files can run in parallel. */
export function workerSuffix(): string {
  return process.env.JEST_WORKER_ID ?? '0';
}

export function testDatabaseUrl(): string {
  const base = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/tika_test';
  return `${base}_${workerSuffix()}`;
}

/** TEST_REDIS_PREFIX lets two checkouts run their suites side by side on one Redis. */
export function testRedisPrefix(): string {
  return `${process.env.TEST_REDIS_PREFIX ?? 'tikatest'}${workerSuffix()}`;
}

const TABLES_TO_KEEP = new Set(['knex_migrations', 'knex_migrations_lock']);

/** A migrated, empty database for this worker. */
export async function freshDb(): Promise<Db> {
  const url = testDatabaseUrl();
  await ensureDatabase(url);
  const db = createDb(url);
  await migrateLatest(db);
  await truncateAll(db);
  return db;
}

export async function truncateAll(db: Db): Promise<void> {
  const { rows } = await db.raw<{ rows: { tablename: string }[] }>(
    "SELECT tablename FROM pg_tables WHERE schemaname = 'public'",
  );
  const tables = rows.map((r) => r.tablename).filter((t) => !TABLES_TO_KEEP.has(t));
  if (tables.length) await db.raw(`TRUNCATE ${tables.map((t) => `"${t}"`).join(', ')} RESTART IDENTITY CASCADE`);
}

/** Drops a test database (its connections too), so a test can start from no database at all. */
export async function dropDatabase(databaseUrl: string): Promise<void> {
  const url = new URL(databaseUrl);
  const name = url.pathname.slice(1);
  url.pathname = '/postgres';
  const admin = new Client({ connectionString: url.toString() });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}
