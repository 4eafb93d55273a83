import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitFor } from '../faults/support/services';
import { resetStores } from './app';
import { testDatabaseUrl, testRedisPrefix } from './db';

export const REPO = join(__dirname, '..', '..');

export interface SandboxProcess {
  port: number;
  /** http://localhost:<port>, as a reader types it. */
  baseUrl: string;
  /** The environment a reader's shell would have: give it to commands run beside the server. */
  env: Record<string, string>;
  child: ChildProcess;
  /** Everything the process wrote on stdout and stderr. */
  output(): string;
  /** Resolves with the exit code (or signal) once the process has ended. */
  exited: Promise<number | NodeJS.Signals>;
  /** Kills the process group (the command and anything it left behind) and removes the data directory. */
  close(): Promise<void>;
}

/**
 * The product started as a reader starts it on a fresh machine (NODE_ENV=development, the sandbox
 * provider, the published development secrets), on a free port, this jest worker's database and
 * Redis prefix emptied first. `command` is what runs it: `node --import tsx src/main.ts` or `npm start`.
 */
export async function startSandboxProcess(
  command: [string, ...string[]] = [process.execPath, '--import', 'tsx', 'src/main.ts'],
  options: { port?: number; waitUntilServing?: boolean; env?: Record<string, string> } = {},
): Promise<SandboxProcess> {
  const port = options.port ?? (await freePort());
  const dataDir = mkdtempSync(join(tmpdir(), 'tika-sandbox-data-'));
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? tmpdir(),
    NODE_ENV: 'development',
    SMS_PROVIDER: 'sandbox',
    PORT: String(port),
    DATABASE_URL: testDatabaseUrl(),
    REDIS_PREFIX: testRedisPrefix(),
    DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
    npm_config_update_notifier: 'false',
    ...options.env,
  };
  await resetStores(env.DATABASE_URL!, 'redis://127.0.0.1:6379', env.REDIS_PREFIX!);
  // Its own process group: close() then reaches a server that outlived the command (an orphan of npm).
  const child = spawn(command[0], command.slice(1), { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const exited = new Promise<number | NodeJS.Signals>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal!)));
  const baseUrl = `http://localhost:${port}`;
  const running: SandboxProcess = {
    port,
    baseUrl,
    env,
    child,
    output: () => output,
    exited,
    async close() {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // the group has already ended
      }
      await exited;
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  if (options.waitUntilServing !== false) {
    await waitFor(
      'the product to answer /health',
      async () => {
        if (child.exitCode !== null) throw new Error(`the product exited with ${child.exitCode}:\n${output}`);
        return fetch(`http://127.0.0.1:${port}/health`).then(
          (response) => response.ok,
          () => false,
        );
      },
      60_000,
    );
  }
  return running;
}
