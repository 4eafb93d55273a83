import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { REPO } from '../support/sandbox-process';

/**
 * The deployment files as shipped. Docker's engine cannot run here, so no image is built: when the
 * `docker compose` CLI is present the compose file is checked by it (`config -q`); either way the
 * files are read and what production relies on is asserted.
 */

interface Service {
  image?: string;
  build?: string;
  command?: string[];
  env_file?: string;
  environment?: Record<string, string>;
  deploy?: { replicas?: number };
  healthcheck?: { test?: string[]; disable?: boolean };
  depends_on?: Record<string, { condition: string }>;
  restart?: string;
}

const compose = parse(readFileSync(join(REPO, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, Service> };
const services = compose.services;
const dockerfile = readFileSync(join(REPO, 'Dockerfile'), 'utf8');
const dockerignore = readFileSync(join(REPO, '.dockerignore'), 'utf8').split('\n').map((line) => line.trim());

/** The instructions of the Dockerfile, continuation lines joined, comments dropped. */
const instructions = dockerfile
  .replace(/\\\n/g, ' ')
  .split('\n')
  .map((line) => line.trim())
  .filter((line) => line && !line.startsWith('#'));
const stages = instructions.reduce<string[][]>((all, line) => (line.startsWith('FROM ') ? [...all, [line]] : (all.at(-1)!.push(line), all)), []);

describe('docker-compose.yml', () => {
  it('is valid for docker compose when its CLI is here; else its YAML parses into the services', () => {
    const version = spawnSync('docker', ['compose', 'version'], { encoding: 'utf8' });
    if (version.status === 0) {
      const dir = mkdtempSync(join(tmpdir(), 'tika-compose-'));
      try {
        copyFileSync(join(REPO, 'docker-compose.yml'), join(dir, 'docker-compose.yml'));
        writeFileSync(join(dir, '.env'), `${readFileSync(join(REPO, '.env.example'), 'utf8')}\nPOSTGRES_PASSWORD=compose0check\n`);
        const config = spawnSync('docker', ['compose', '-f', 'docker-compose.yml', 'config', '-q'], { cwd: dir, encoding: 'utf8' });
        expect({ status: config.status, stderr: config.stderr }).toEqual({ status: 0, stderr: '' });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
    expect(Object.keys(services).sort()).toEqual(['migrate', 'postgres', 'redis', 'web', 'worker']);
  });

  it('PostgreSQL 15 and Redis 7 with an append-only file and noeviction, both health-checked', () => {
    expect(services.postgres!.image).toBe('postgres:15');
    expect(services.postgres!.healthcheck!.test!.join(' ')).toContain('pg_isready');
    expect(services.redis!.image).toBe('redis:7');
    const redis = services.redis!.command!.join(' ');
    expect(redis).toContain('--appendonly yes');
    expect(redis).toContain('--maxmemory-policy noeviction');
    expect(services.redis!.healthcheck!.test).toEqual(['CMD', 'redis-cli', 'ping']);
  });

  it('migrates once before 2 web processes and 1 worker, each started only on healthy stores', () => {
    expect(services.migrate!.command).toEqual(['node', 'dist/src/cli.js', 'migrate']);
    expect(services.migrate!.restart).toBe('no');
    expect(services.web!.deploy!.replicas).toBe(2);
    expect(services.worker!.deploy!.replicas ?? 1).toBe(1);
    for (const name of ['web', 'worker']) {
      expect({ name, depends: services[name]!.depends_on }).toEqual({
        name,
        depends: {
          postgres: { condition: 'service_healthy' },
          redis: { condition: 'service_healthy' },
          migrate: { condition: 'service_completed_successfully' },
        },
      });
    }
    expect(services.migrate!.depends_on).toEqual({ postgres: { condition: 'service_healthy' } });
    expect(services.web!.healthcheck!.test!.join(' ')).toContain('/readyz');
    expect(services.worker!.healthcheck!.test!.join(' ')).toContain('9101/readyz');
  });

  it('runs the compiled entry points of this repository, in production, configured from .env', () => {
    for (const name of ['migrate', 'web', 'worker']) {
      const service = services[name]!;
      expect({ name, build: service.build, env_file: service.env_file }).toEqual({ name, build: '.', env_file: '.env' });
      expect(service.environment!.NODE_ENV).toBe('production');
      const [node, entry] = service.command!;
      expect(node).toBe('node');
      // dist/src/web.js is compiled from src/web.ts.
      expect(existsSync(join(REPO, entry!.replace(/^dist\//, '').replace(/\.js$/, '.ts')))).toBe(true);
      // The sandbox provider is a choice made in .env for a demo, never built into the deployment.
      expect(service.environment!.ALLOW_SANDBOX_IN_PRODUCTION).toBeUndefined();
      expect(service.environment!.SMS_PROVIDER).toBeUndefined();
    }
  });
});

describe('Dockerfile', () => {
  it('builds with dev dependencies, then runs on production dependencies and dist/ only', () => {
    expect(stages).toHaveLength(2);
    const [build, runtime] = stages as [string[], string[]];
    expect(build).toContain('RUN npm ci --no-audit --no-fund');
    expect(build).toContain('RUN npm run build');
    expect(runtime[0]).toMatch(/^FROM node:20-(bookworm-)?slim\b/);
    expect(runtime.some((line) => /^RUN npm ci --omit=dev\b/.test(line))).toBe(true);
    expect(runtime).toContain('COPY --from=build /app/dist dist');
    expect(runtime.filter((line) => line.startsWith('COPY ') && !line.startsWith('COPY --from=build'))).toEqual(['COPY package.json package-lock.json ./']);
  });

  it('runs as a non-root user, checks /healthz and starts node on the compiled main', () => {
    const runtime = stages.at(-1)!;
    const user = runtime.filter((line) => line.startsWith('USER ')).at(-1);
    expect(user).toBeDefined();
    expect(user!.slice(5).trim()).not.toMatch(/^(root|0)(:|$)/);
    const healthcheck = runtime.find((line) => line.startsWith('HEALTHCHECK '));
    expect(healthcheck).toContain('/healthz');
    expect(runtime.at(-1)).toBe('CMD ["node", "dist/src/main.js"]');
  });

  it('copies only what exists, and the build context leaves out secrets and local state', () => {
    for (const line of stages[0]!.filter((l) => l.startsWith('COPY '))) {
      for (const source of line.split(/\s+/).slice(1, -1)) {
        expect({ source, exists: existsSync(join(REPO, source)) }).toEqual({ source, exists: true });
        expect(dockerignore).not.toContain(source);
      }
    }
    for (const excluded of ['.env', 'node_modules', 'dist', 'data', '.git']) expect(dockerignore).toContain(excluded);
  });
});
