import { spawn } from 'node:child_process';
import { Client } from 'pg';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDb, ensureDatabase, migrateLatest } from '../../src/db/knex';
import { migrations } from '../../migrations';
import { freePort } from '../faults/support/services';
import { dropDatabase, testDatabaseUrl, testRedisPrefix } from '../support/db';
import { REPO } from '../support/sandbox-process';

/**
 * Migrations are a step of their own (`npm run migrate`, `tika migrate`): a web or worker process
 * whose database is behind its code refuses to start and says what to run, instead of migrating.
 */

const DATABASE_URL = `${testDatabaseUrl()}_schema`;
const MIGRATIONS = Object.keys(migrations);

function run(args: string[], env: Record<string, string>, timeoutMs = 60_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}


describe('migrations as their own step', () => {
  let dataDir: string;
  let env: Record<string, string>;

  beforeEach(async () => {
    await dropDatabase(DATABASE_URL);
    dataDir = mkdtempSync(join(tmpdir(), 'tika-schema-data-'));
    env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      NODE_ENV: 'development',
      SMS_PROVIDER: 'sandbox',
      PORT: String(await freePort()),
      DATABASE_URL,
      REDIS_PREFIX: testRedisPrefix(),
      DATA_DIR: dataDir,
      LOG_LEVEL: 'warn',
    };
  });
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));
  afterAll(() => dropDatabase(DATABASE_URL));

  it('a process whose schema is behind refuses to start: the pending migrations and the command, on stderr, exit 1', async () => {
    await ensureDatabase(DATABASE_URL);
    const db = createDb(DATABASE_URL, { max: 1 });
    try {
      await migrateLatest(db);
      // The code is two migrations ahead of this database, as after deploying a new release.
      await db('knex_migrations').whereIn('name', MIGRATIONS.slice(-2)).delete();
    } finally {
      await db.destroy();
    }

    for (const entry of ['src/main.ts', 'src/worker.ts']) {
      const { code, stdout, stderr } = await run([entry], env);
      expect({ entry, code }).toEqual({ entry, code: 1 });
      const refusal = stderr.split('\n').filter((line) => line && !line.includes('published development secrets'));
      expect(refusal).toEqual([
        `Cannot start: the database schema is behind this code: 2 migrations not run (${MIGRATIONS.slice(-2).join(', ')}).`,
        'Run the migrations first, as a step of their own: npm run migrate (or tika migrate; in the image: node dist/src/cli.js migrate).',
      ]);
      expect(stdout).not.toContain('listening');
    }
  }, 90_000);

  it('a database that does not exist: refused with the same command, and not created by the process', async () => {
    const { code, stderr } = await run(['src/main.ts'], env);
    expect(code).toBe(1);
    expect(stderr).toContain('Cannot start: the database does not exist yet.');
    expect(stderr).toContain('npm run migrate');
    expect(stderr).not.toMatch(/^\s+at /m); // no stack trace

    const admin = new Client({ connectionString: DATABASE_URL.replace(/\/[^/]+$/, '/postgres') });
    await admin.connect();
    const found = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [new URL(DATABASE_URL).pathname.slice(1)]);
    await admin.end();
    expect(found.rowCount).toBe(0);
  }, 60_000);

  it('tika migrate creates the database, runs every migration, then says the schema is current', async () => {
    const first = await run(['src/cli.ts', 'migrate'], env);
    expect(first.code).toBe(0);
    expect(first.stdout.trim()).toBe(`migrated: ${MIGRATIONS.join(', ')}`);

    const again = await run(['src/cli.ts', 'migrate'], env);
    expect(again.code).toBe(0);
    expect(again.stdout.trim()).toBe('migrations: the schema is current');

    const db = createDb(DATABASE_URL, { max: 1 });
    try {
      const done = await db('knex_migrations').orderBy('id').pluck('name');
      expect(done).toEqual(MIGRATIONS);
    } finally {
      await db.destroy();
    }
  }, 60_000);
});
