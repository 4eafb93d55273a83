import { Queue } from 'bullmq';
import { queueTask } from '../../src/domain/outbox';
import { queueSms } from '../../src/domain/outbox';
import { unrelayedOutbox } from '../../src/domain/outbox';
import { queueBacklog } from '../../src/queue/backlog';
import { queueConnection, queuePrefix } from '../../src/queue/connection';
import { postAdminLogin, startTestApp, TEST_ADMIN_TOKEN, type TestApp } from '../support/app';

const samples = async (url: string) => {
  const response = await fetch(`${url}/metrics`);
  expect(response.status).toBe(200);
  return (await response.text()).split('\n').filter((line) => line && !line.startsWith('#'));
};
const bearer = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };

describe('readiness', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  it('/healthz is 200 while the process runs; /readyz names every check, all ok', async () => {
    const alive = await fetch(`${t.baseUrl}/healthz`);
    expect([alive.status, await alive.json()]).toEqual([200, { status: 'alive' }]);
    const ready = await fetch(`${t.baseUrl}/readyz`);
    const body: unknown = await ready.json();
    expect([ready.status, body]).toEqual([200, {
      status: 'ready',
      failing: [],
      checks: { database: 'ok', redis: 'ok', 'queue sms-africastalking': 'ok', 'queue tasks': 'ok', worker: 'ok', schema: 'ok' },
    }]);
  });

  it('a migration the database has not run: 503 naming the schema and the migration', async () => {
    const [last] = await t.app.db('knex_migrations').orderBy('id', 'desc').limit(1);
    await t.app.db('knex_migrations').where('id', last.id).delete();
    try {
      const ready = await fetch(`${t.baseUrl}/readyz`);
      const body = (await ready.json()) as { failing: string[]; checks: Record<string, string> };
      expect(ready.status).toBe(503);
      expect(body.failing).toEqual(['schema']);
      expect(body.checks.schema).toBe(`1 migration(s) not run: ${last.name}`);
    } finally {
      await t.app.db('knex_migrations').insert(last);
    }
    expect((await fetch(`${t.baseUrl}/readyz`)).status).toBe(200);
  });

  it('Redis unreachable: 503 naming redis, within the check timeout; the error is logged, not answered', async () => {
    t.app.redis.disconnect();
    const started = Date.now();
    const ready = await fetch(`${t.baseUrl}/readyz`);
    const body = (await ready.json()) as { failing: string[]; checks: Record<string, string> };
    expect(ready.status).toBe(503);
    expect(body.failing).toEqual(['redis']);
    expect(body.checks.redis).toBe('down');
    expect(Date.now() - started).toBeLessThan(3000);
    expect(t.logs.join('')).toMatch(/"check":"redis".*"msg":"readiness check failed"/);
  });
});

describe('metrics by process kind', () => {
  it('a worker-only process: /metrics, /healthz, /readyz on its own port and nothing else; it exports the queues and the outbox', async () => {
    const worker = await startTestApp({}, { publicPort: false, internal: { dashboard: false } });
    try {
      const url = worker.internalUrl!;
      const lines = await samples(url);
      for (const queue of ['sms-africastalking', 'tasks']) {
        expect(lines).toContain(`tika_queue_jobs{queue="${queue}",state="waiting"} 0`);
        expect(lines).toContain(`tika_queue_oldest_waiting_seconds{queue="${queue}"} 0`);
      }
      for (const table of ['outbound_messages', 'outbox_tasks']) {
        expect(lines).toContain(`tika_outbox_unrelayed{table="${table}"} 0`);
        expect(lines).toContain(`tika_outbox_oldest_unrelayed_seconds{table="${table}"} 0`);
      }
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      expect((await fetch(`${url}/readyz`)).status).toBe(200);
      for (const path of ['/', '/health', '/admin/centres', '/admin/login', '/admin/queues', '/.well-known/jwks.json']) {
        expect([path, (await fetch(`${url}${path}`, { headers: bearer })).status]).toEqual([path, 404]);
      }
    } finally {
      await worker.close();
    }
  });

  it('a web-only process exports no queue or outbox samples (N web processes would multiply them)', async () => {
    const web = await startTestApp({}, { worker: false });
    try {
      const lines = await samples(web.baseUrl);
      expect(lines.filter((line) => /^tika_(queue|outbox)_/.test(line))).toEqual([]);
    } finally {
      await web.close();
    }
  });

  it('METRICS_HOST: /metrics and the dashboard are on the internal port only; the login form on both', async () => {
    const t = await startTestApp({ METRICS_HOST: '127.0.0.1' }, { internal: { dashboard: true } });
    try {
      expect((await fetch(`${t.baseUrl}/metrics`)).status).toBe(404);
      expect((await fetch(`${t.baseUrl}/admin/queues`, { headers: bearer })).status).toBe(404);
      expect((await fetch(`${t.baseUrl}/readyz`)).status).toBe(200);
      expect((await fetch(`${t.baseUrl}/admin/centres`, { headers: bearer })).status).toBe(200);
      const internal = t.internalUrl!;
      expect((await fetch(`${internal}/metrics`)).status).toBe(200);
      expect((await fetch(`${internal}/admin/queues`, { headers: bearer })).status).toBe(200);
      const page = await fetch(`${internal}/admin/queues`, { redirect: 'manual' });
      expect([page.status, page.headers.get('location')]).toEqual([303, '/admin/login']);
      expect((await fetch(`${internal}/admin/centres`, { headers: bearer })).status).toBe(404);

      // The public port's browser pages (the API reference here) still have their login form.
      const docs = await fetch(`${t.baseUrl}/admin/docs`, { redirect: 'manual', headers: { accept: 'text/html' } });
      expect([docs.status, docs.headers.get('location')]).toEqual([303, '/admin/login?next=%2Fadmin%2Fdocs']);
      const login = await postAdminLogin(t.baseUrl, { token: TEST_ADMIN_TOKEN, next: '/admin/docs' });
      expect([login.status, login.headers.get('location')]).toEqual([303, '/admin/docs']);
      // Without a page to return to, a login here lands on the API reference, not on the dashboard that is not here.
      const plain = await postAdminLogin(t.baseUrl, { token: TEST_ADMIN_TOKEN });
      expect([plain.status, plain.headers.get('location')]).toEqual([303, '/admin/docs']);
      const cookie = /^(tika_admin=[^;]+)/.exec(login.headers.get('set-cookie') ?? '')![1]!;
      expect((await fetch(`${t.baseUrl}/admin/docs`, { headers: { cookie, accept: 'text/html' } })).status).toBe(200);
    } finally {
      await t.close();
    }
  });
});

describe('backlog readings (real PostgreSQL and Redis)', () => {
  it('the oldest unrelayed outbox row and its age, per table', async () => {
    const web = await startTestApp({}, { worker: false });
    try {
      const db = web.app.db;
      const id = await db.transaction((trx) => queueSms(trx, { phone: '+919800000001', language: 'en', template: 'sms.help', params: {} }));
      await db('outbound_messages').where({ id }).update({ created_at: db.raw(`now() - interval '90 seconds'`) });
      await db.transaction((trx) => queueTask(trx, 'mark_no_shows', {}));
      const outbox = await unrelayedOutbox(db);
      expect(outbox.outbound_messages!.unrelayed).toBe(1);
      expect(outbox.outbound_messages!.oldestSeconds).toBeGreaterThanOrEqual(90);
      expect(outbox.outbound_messages!.oldestSeconds).toBeLessThan(100);
      expect(outbox.outbox_tasks!.unrelayed).toBe(1);
      expect(outbox.outbox_tasks!.oldestSeconds).toBeLessThan(10);
    } finally {
      await web.close();
    }
  });

  it('jobs by state and the age of the oldest waiting job, per queue', async () => {
    const connection = queueConnection('redis://127.0.0.1:6379');
    const queue = new Queue('backlog-probe', { connection, prefix: queuePrefix(`${process.env.TEST_REDIS_PREFIX ?? 'tika'}-probe`) });
    try {
      await queue.obliterate({ force: true });
      await queue.add('old', {}, { timestamp: Date.now() - 120_000 });
      await queue.add('new', {});
      const backlog = await queueBacklog(new Map([['probe', queue]]), Date.now());
      expect(backlog.jobs.probe).toEqual({ waiting: 2, active: 0, delayed: 0, failed: 0 });
      expect(backlog.oldestWaitingSeconds.probe).toBeGreaterThanOrEqual(120);
      expect(backlog.oldestWaitingSeconds.probe).toBeLessThan(130);
    } finally {
      await queue.obliterate({ force: true });
      await queue.close();
      connection.disconnect();
    }
  });
});
