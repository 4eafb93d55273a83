import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Private PostgreSQL and Redis for fault scenarios: started on free ports in temporary directories,
 * stopped, frozen and restarted at will, never touching the machine's own services.
 */

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface PrivateRedis {
  url: string;
  port: number;
  /** Stops Redis as a crash would (SIGKILL): without persistence every key is gone. */
  kill(): Promise<void>;
  /** Starts it again on the same port. */
  start(): Promise<void>;
  freeze(): void;
  thaw(): void;
  close(): Promise<void>;
}

/**
 * `persistence: 'none'` is the worst case (`--save "" --appendonly no`, as scripts/services.sh ran it
 * before issue 7); 'aof' is the documented deployment (appendonly yes, noeviction).
 */
export async function startPrivateRedis(persistence: 'none' | 'aof' = 'none'): Promise<PrivateRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'tika-fault-redis-'));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--dir', dir, '--maxmemory-policy', 'noeviction', '--loglevel', 'warning'];
  args.push('--appendonly', persistence === 'aof' ? 'yes' : 'no');
  let child: ChildProcess | undefined;

  const start = async () => {
    child = spawn('redis-server', args, { stdio: 'ignore' });
    await waitFor(`redis on ${port}`, () => portOpen(port));
  };
  const kill = async () => {
    const running = child;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill('SIGKILL');
    await exited;
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    kill,
    start,
    freeze: () => void child?.kill('SIGSTOP'),
    thaw: () => void child?.kill('SIGCONT'),
    close: async () => {
      child?.kill('SIGCONT');
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface PrivatePostgres {
  /** A URL for database `name` on this cluster. */
  url(name: string): string;
  port: number;
  /** pg_ctl restart -m fast: every connection is cut, the data stays. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

/** A throwaway cluster: initdb into a temporary directory (as user postgres when run as root), trust auth. */
export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'tika-fault-pg-'));
  const data = join(dir, 'data');
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const { uid, gid } = postgresUser();
    chownSync(dir, uid, gid);
  }
  chmodSync(dir, 0o700);
  const run = (tool: string, args: string[]) => {
    const bin = pgBinary(tool);
    const result = asRoot ? spawnSync('runuser', ['-u', 'postgres', '--', bin, ...args], { encoding: 'utf8' }) : spawnSync(bin, args, { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`${tool} ${args.join(' ')} failed: ${result.stderr || result.stdout}`);
  };
  const pgCtl = (action: string, extra: string[] = []) =>
    run('pg_ctl', [action, '-D', data, '-w', '-t', '30', '-l', join(dir, 'server.log'), '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, ...extra]);

  run('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C']);
  pgCtl('start');
  return {
    port,
    url: (name) => `postgres://postgres@127.0.0.1:${port}/${name}`,
    restart: async () => {
      pgCtl('restart', ['-m', 'fast']);
      await waitFor(`postgres on ${port}`, () => portOpen(port));
    },
    close: async () => {
      try {
        if (existsSync(join(data, 'postmaster.pid'))) pgCtl('stop', ['-m', 'immediate']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
      await sleep(0);
    },
  };
}

function postgresUser(): { uid: number; gid: number } {
  const id = (flag: string) => Number(spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' }).stdout.trim());
  return { uid: id('-u'), gid: id('-g') };
}

/** initdb and pg_ctl: on PATH, or in the newest /usr/lib/postgresql/<version>/bin. */
function pgBinary(tool: string): string {
  if (spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0) return tool;
  const versions = spawnSync('sh', ['-c', 'ls /usr/lib/postgresql | sort -V | tail -n 1'], { encoding: 'utf8' }).stdout.trim();
  const candidate = `/usr/lib/postgresql/${versions}/bin/${tool}`;
  if (!existsSync(candidate)) throw new Error(`${tool} not found: install the PostgreSQL server package`);
  return candidate;
}
