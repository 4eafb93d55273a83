import knexFactory, { type Knex } from 'knex';
import { Client } from 'pg';
import { migrations } from '../../migrations';

export type Db = Knex;
export type Tx = Knex.Transaction;

// bigint and numeric arrive as strings from pg; ids here stay far below 2^53.
import { types } from 'pg';
types.setTypeParser(types.builtins.INT8, (value) => Number(value));
// A DATE is a calendar day, not an instant: keep it as 'YYYY-MM-DD'.
types.setTypeParser(types.builtins.DATE, (value) => value);

export function createDb(databaseUrl: string, pool: { min?: number; max?: number } = {}): Db {
  return knexFactory({
    client: 'pg',
    connection: databaseUrl,
    pool: { min: pool.min ?? 0, max: pool.max ?? 10 },
    acquireConnectionTimeout: 5000,
  });
}

/** Creates the database named in the URL when the server has none by that name. */
export async function ensureDatabase(databaseUrl: string): Promise<void> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.slice(1));
  if (!/^[a-zA-Z0-9_]+$/.test(name)) throw new Error(`DATABASE_URL names an unusual database "${name}"`);
  url.pathname = '/postgres';
  const admin = new Client({ connectionString: url.toString() });
  await admin.connect();
  try {
    const found = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount === 0) {
      try {
        await admin.query(`CREATE DATABASE "${name}"`);
      } catch (error) {
        // Another process created it between our check and our CREATE.
        if ((error as { code?: string }).code !== '42P04') throw error;
      }
    }
  } finally {
    await admin.end();
  }
}

const migrationSource: Knex.MigrationSource<string> = {
  getMigrations: async () => Object.keys(migrations),
  getMigrationName: (name) => name,
  getMigration: async (name) => migrations[name]!,
};

export async function migrateLatest(db: Db): Promise<string[]> {
  const [, applied] = (await db.migrate.latest({ migrationSource })) as [number, string[]];
  return applied;
}

/** Migrations this code knows that the database has not run yet: empty when the schema is current. */
export async function pendingMigrations(db: Db): Promise<string[]> {
  const [, pending] = (await db.migrate.list({ migrationSource })) as [unknown, string[]];
  return pending;
}

/** The database this code would run on is not ready: it is missing, or migrations have not run. */
export class SchemaBehindError extends Error {
  constructor(readonly pending: string[], databaseMissing = false) {
    const what = databaseMissing
      ? 'the database does not exist yet'
      : `the database schema is behind this code: ${pending.length} migration${pending.length === 1 ? '' : 's'} not run (${pending.join(', ')})`;
    super(`Cannot start: ${what}.\nRun the migrations first, as a step of their own: npm run migrate (or tika migrate; in the image: node dist/src/cli.js migrate).`);
    this.name = 'SchemaBehindError';
  }
}

/** Refuses a schema older than the code: web and worker processes never migrate, they check. */
export async function assertSchemaCurrent(db: Db): Promise<void> {
  const pending = await pendingMigrations(db).catch((error: Error & { code?: string }) => {
    // 3D000: invalid_catalog_name, the database named in DATABASE_URL does not exist.
    if (error.code === '3D000') throw new SchemaBehindError(Object.keys(migrations), true);
    throw error;
  });
  if (pending.length) throw new SchemaBehindError(pending);
}
