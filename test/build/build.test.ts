import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrations } from '../../migrations';
import { freePort, waitFor } from '../faults/support/services';
import { dropDatabase, testDatabaseUrl, testRedisPrefix } from '../support/db';
import { REPO } from '../support/sandbox-process';

/**
 * The production build: `npm run build` compiles to dist/ (flows beside the code), and the compiled
 * product runs on node alone, with no TypeScript loader, as the container runs it.
 */

const DIST = join(REPO, 'dist');
const DATABASE_URL = `${testDatabaseUrl()}_dist`;

function run(command: string, args: string[], env: Record<string, string>, timeoutMs = 240_000): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));
}


describe('npm run build', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tika-dist-data-'));
  const base = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? tmpdir(), npm_config_update_notifier: 'false' };
  let product: ChildProcess | undefined;

  beforeAll(async () => {
    await dropDatabase(DATABASE_URL);
    const build = await run('npm', ['run', 'build'], base);
    if (build.code !== 0) throw new Error(`npm run build exited ${build.code}:\n${build.output}`);
  }, 300_000);

  afterAll(async () => {
    if (product && product.exitCode === null) {
      const exited = new Promise((resolve) => product!.once('exit', resolve));
      product.kill('SIGKILL');
      await exited;
    }
    rmSync(dataDir, { recursive: true, force: true });
    await dropDatabase(DATABASE_URL);
  });

  it('compiles the product and its migrations, with flows/ where FLOWS_DIR looks, and leaves out tests and the bench', () => {
    for (const entry of ['src/main.js', 'src/web.js', 'src/worker.js', 'src/cli.js', 'migrations/index.js']) {
      expect({ entry, built: existsSync(join(DIST, entry)) }).toEqual({ entry, built: true });
    }
    // FLOWS_DIR is join(__dirname, '..', 'flows') from dist/src/app.js.
    expect(readdirSync(join(DIST, 'flows')).sort()).toEqual(readdirSync(join(REPO, 'flows')).sort());
    expect(existsSync(join(DIST, 'deploy', 'dlt-templates.example.json'))).toBe(true);
    // The browser simulator's script, bundled: where dist/src/simulator/bundle.js looks for it.
    expect(existsSync(join(DIST, 'simulator', 'simulator.js'))).toBe(true);
    for (const left of ['test', 'bench', 'scripts']) expect({ left, built: existsSync(join(DIST, left)) }).toEqual({ left, built: false });
    const compiled = filesUnder(DIST).filter((file) => file.endsWith('.js'));
    expect(compiled.filter((file) => /require\("tsx|from "tsx|\.ts"\)/.test(readFileSync(file, 'utf8')))).toEqual([]);
  });

  it('migrates with the compiled CLI, then the compiled product answers /health on node alone: no tsx loaded or on its command line', async () => {
    const migrate = await run(process.execPath, [join(DIST, 'src/cli.js'), 'migrate'], { ...base, DATABASE_URL });
    expect(migrate.code).toBe(0);
    expect(migrate.output.trim()).toBe(`migrated: ${Object.keys(migrations).join(', ')}`);

    const keys = await run(process.execPath, [join(DIST, 'src/cli.js'), 'keys:generate'], base);
    const privateKey = /^CERT_PRIVATE_KEY='(.+)'$/m.exec(keys.output)?.[1];
    expect(privateKey).toBeDefined();

    // Production as the container runs it (NODE_ENV unset), with the sandbox provider allowed for a demo.
    const port = await freePort();
    const report = join(dataDir, 'loaded-modules.json');
    const env = {
      PORT: String(port),
      DATABASE_URL,
      REDIS_PREFIX: testRedisPrefix(),
      SMS_PROVIDER: 'sandbox',
      ALLOW_SANDBOX_IN_PRODUCTION: 'true',
      WEBHOOK_SECRET: 'dist-webhook-secret-0123456789',
      ADMIN_TOKEN: 'dist-admin-token-0123456789',
      CODE_SECRET: 'dist-code-secret-0123456789abcdef0123456789',
      CERT_PRIVATE_KEY: privateKey!,
      DATA_DIR: dataDir,
      LOG_LEVEL: 'warn',
      LOADED_MODULES_REPORT: report,
    };
    const started = spawn(process.execPath, ['-r', join(__dirname, 'support/report-loaded-modules.cjs'), 'dist/src/main.js'], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
    product = started;
    let output = '';
    started.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    started.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    await waitFor(
      'the compiled product to answer /health',
      async () => {
        if (started.exitCode !== null) throw new Error(`dist/src/main.js exited with ${started.exitCode}:\n${output}`);
        return fetch(`http://127.0.0.1:${port}/health`).then(
          (response) => response.ok,
          () => false,
        );
      },
      60_000,
    );
    const health = await fetch(`http://127.0.0.1:${port}/health`);
    expect(await health.json()).toEqual({ status: 'ok', checks: { database: 'ok', redis: 'ok' } });

    // The simulator's built script, served behind the admin login (production), without esbuild.
    const script = await fetch(`http://127.0.0.1:${port}/admin/simulator/simulator.js`, { headers: { authorization: `Bearer ${env.ADMIN_TOKEN}` } });
    expect(script.status).toBe(200);
    expect(await script.text()).toBe(readFileSync(join(DIST, 'simulator', 'simulator.js'), 'utf8'));

    const commandLine = readFileSync(`/proc/${started.pid}/cmdline`, 'utf8').split('\0').join(' ');
    expect(commandLine).toContain('dist/src/main.js');
    expect(commandLine).not.toContain('tsx');
    started.kill('SIGUSR2');
    await waitFor('the loaded-modules report', async () => existsSync(report), 10_000);
    const loaded = JSON.parse(readFileSync(report, 'utf8')) as { execArgv: string[]; nodeOptions: string; modules: string[] };
    expect(loaded.execArgv.join(' ')).not.toContain('tsx');
    expect(loaded.nodeOptions).not.toContain('tsx');
    // It did load the compiled product and its dependencies, and nothing of tsx.
    expect(loaded.modules).toContain(join(DIST, 'src', 'app.js'));
    expect(loaded.modules.some((file) => file.includes('/node_modules/knex/'))).toBe(true);
    expect(loaded.modules.filter((file) => file.includes('/node_modules/tsx/') || file.includes('/node_modules/esbuild/') || file.endsWith('.ts'))).toEqual([]);

    const exited = new Promise<number | null>((resolve) => started.once('exit', resolve));
    started.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 120_000);
});
