/**
 * The yardsticks Tika's USSD hops are measured against (issue 11, part 1), each forked by
 * bench/ussd.ts into its own OS process so that none shares an event loop with Tika:
 *
 * - `bare`: an express route answering `CON hello`, no body parsing, no I/O.
 * - `minimal`: the least a stateful hop can do: urlencoded parse, one SQL statement with pg, one
 *   Redis SET with a TTL, reply.
 * - `menu-builder`: ussd-menu-builder 1.2, its session in Redis through its documented
 *   sessionConfig (start/get/set/end over ioredis, with a TTL), the same SQL statement per hop.
 *
 * The statement per hop is the main one Tika runs for that hop (see SQL below); Tika runs more
 * (entry lookup, eligibility, …), which is the point of the comparison. The route is Africa's
 * Talking's full `text` (`1*1*110001`), answered `CON …`/`END …` as text/plain.
 *
 * Environment: YARDSTICK_KIND, DATABASE_URL, REDIS_URL, YARDSTICK_PREFIX (Redis key prefix),
 * YARDSTICK_SESSION_ID (the vaccination session the confirming hop takes a seat in).
 * Sends `{ type: 'listening', port }` over IPC once it listens on 127.0.0.1; exits on disconnect.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Redis from 'ioredis';
import { Pool } from 'pg';
import UssdMenu from 'ussd-menu-builder';

export const YARDSTICK_KINDS = ['bare', 'minimal', 'menu-builder'] as const;
export type YardstickKind = (typeof YARDSTICK_KINDS)[number];
export type YardstickMessage = { type: 'listening'; port: number };

/** What each yardstick answers for each hop; the bench checks every response against these. */
export const YARDSTICK_SCREENS = {
  language: 'CON Choose language',
  menu: 'CON Main menu',
  members: 'CON Book for',
  pincode: 'CON Enter PIN code',
  centres: 'CON Centres',
  booked: 'END Booked',
  full: 'END Full',
} as const;

/** Seconds a session lives in Redis, as Tika's (USSD sessions end well within 3 minutes). */
const SESSION_TTL_SEC = 180;

const SQL = {
  // Tika: languageOf (src/domain/accounts.ts).
  language: 'SELECT language FROM accounts WHERE phone = $1',
  // Tika: BookingService.members.
  members: 'SELECT b.id, b.name, b.birth_year FROM beneficiaries b JOIN accounts a ON a.id = b.account_id WHERE a.phone = $1 ORDER BY b.id',
  // Tika: ownedMember, the first of checkMember's statements (the n-th member of this mobile).
  member: 'SELECT b.id, b.name, b.birth_year FROM beneficiaries b JOIN accounts a ON a.id = b.account_id WHERE a.phone = $1 ORDER BY b.id OFFSET $2 LIMIT 1',
  // Tika: openCentres, the open sessions at a PIN code grouped by centre.
  centres: `SELECT c.id, c.name, SUM(s.capacity - s.booked)::int AS free
      FROM vaccination_sessions s JOIN centres c ON c.id = s.centre_id
      WHERE c.pincode = $1 AND s.active AND s.dose = 1 AND s.date >= CURRENT_DATE AND s.booked < s.capacity
      GROUP BY c.id, c.name ORDER BY c.name LIMIT 50`,
  // Tika: the conditional seat UPDATE at the heart of a booking (without the appointment and outbox rows).
  takeSeat: 'UPDATE vaccination_sessions SET booked = booked + 1 WHERE id = $1 AND active AND booked < capacity RETURNING id',
};

interface Stores {
  pg: Pool;
  redis: Redis;
  prefix: string;
  seatSessionId: number;
}

type Hop = { kind: 'first' } | { kind: 'members' } | { kind: 'member'; index: number } | { kind: 'centres'; pincode: string } | { kind: 'confirm' } | { kind: 'unknown' };

/** The hop an Africa's Talking route names, for the minimal hop (menu-builder resolves its own). */
function hopOf(text: string): Hop {
  const parts = text === '' ? [] : text.split('*');
  if (parts.length === 0) return { kind: 'first' };
  if (parts[0] !== '1') return { kind: 'unknown' };
  if (parts.length === 1) return { kind: 'members' };
  if (parts.length === 2) return { kind: 'member', index: Number(parts[1]) - 1 };
  if (parts.length === 3) return { kind: 'centres', pincode: parts[2]! };
  if (parts.length === 6 && parts[5] === '1') return { kind: 'confirm' };
  return { kind: 'unknown' };
}

interface UssdBody {
  sessionId: string;
  phoneNumber: string;
  serviceCode: string;
  text: string;
}

function bodyOf(req: express.Request): UssdBody {
  const body = (req.body ?? {}) as Record<string, unknown>;
  return { sessionId: String(body.sessionId ?? ''), phoneNumber: String(body.phoneNumber ?? ''), serviceCode: String(body.serviceCode ?? ''), text: String(body.text ?? '') };
}

const list = (rows: { name: string }[]) => rows.map((r, i) => `\n${i + 1}. ${r.name}`).join('');

/** One statement, one SET with a TTL, reply. */
async function minimalHop(stores: Stores, body: UssdBody): Promise<string> {
  const { pg, redis, prefix } = stores;
  const hop = hopOf(body.text);
  const key = `${prefix}:s:${body.sessionId}`;
  const remember = (value: string) => redis.set(key, value, 'EX', SESSION_TTL_SEC);
  switch (hop.kind) {
    case 'first': {
      const { rows } = await pg.query<{ language: string }>(SQL.language, [body.phoneNumber]);
      await remember(rows[0]?.language ?? '');
      return rows.length ? `${YARDSTICK_SCREENS.menu}\n1. Book` : `${YARDSTICK_SCREENS.language}\n1. English\n2. Hindi`;
    }
    case 'members': {
      const { rows } = await pg.query<{ id: number; name: string }>(SQL.members, [body.phoneNumber]);
      await remember(JSON.stringify(rows.map((r) => r.id)));
      return `${YARDSTICK_SCREENS.members}:${list(rows)}`;
    }
    case 'member': {
      const { rows } = await pg.query<{ id: number }>(SQL.member, [body.phoneNumber, hop.index]);
      await remember(String(rows[0]?.id ?? ''));
      return `${YARDSTICK_SCREENS.pincode}:`;
    }
    case 'centres': {
      const { rows } = await pg.query<{ id: number; name: string; free: number }>(SQL.centres, [hop.pincode]);
      await remember(JSON.stringify(rows.map((r) => r.id)));
      return `${YARDSTICK_SCREENS.centres}:${list(rows)}`;
    }
    case 'confirm': {
      const { rows } = await pg.query(SQL.takeSeat, [stores.seatSessionId]);
      await remember('booked');
      return rows.length ? YARDSTICK_SCREENS.booked : YARDSTICK_SCREENS.full;
    }
    default:
      return 'END Unknown';
  }
}

/**
 * ussd-menu-builder keeps the request's args and result callback on the menu instance, so one
 * shared instance answers concurrent requests wrongly: a menu is built per request.
 */
function menuBuilderHop(stores: Stores, body: UssdBody): Promise<string> {
  const { pg, redis, prefix } = stores;
  const menu = new UssdMenu();
  const key = (sessionId: string) => `${prefix}:mb:${sessionId}`;
  menu.sessionConfig({
    start: () => Promise.resolve(),
    end: (sessionId: string) => redis.del(key(sessionId)),
    set: (sessionId: string, field: string, value: unknown) =>
      redis.multi().hset(key(sessionId), field, JSON.stringify(value)).expire(key(sessionId), SESSION_TTL_SEC).exec(),
    get: async (sessionId: string, field: string) => {
      const value = await redis.hget(key(sessionId), field);
      return value === null ? undefined : JSON.parse(value);
    },
  });
  const phoneNumber = body.phoneNumber;

  menu.startState({
    run: async () => {
      const { rows } = await pg.query<{ language: string }>(SQL.language, [phoneNumber]);
      await menu.session.set('language', rows[0]?.language ?? null);
      if (rows.length) menu.con(`${YARDSTICK_SCREENS.menu.slice(4)}\n1. Book`);
      else menu.con(`${YARDSTICK_SCREENS.language.slice(4)}\n1. English\n2. Hindi`);
    },
    next: { '1': 'members' },
  });
  menu.state('members', {
    run: async () => {
      const { rows } = await pg.query<{ id: number; name: string }>(SQL.members, [phoneNumber]);
      await menu.session.set('members', rows.map((r) => r.id));
      menu.con(`${YARDSTICK_SCREENS.members.slice(4)}:${list(rows)}`);
    },
    next: { '*\\d+': 'member' },
  });
  menu.state('member', {
    run: async () => {
      const { rows } = await pg.query<{ id: number }>(SQL.member, [phoneNumber, Number(menu.val) - 1]);
      await menu.session.set('member', rows[0]?.id ?? null);
      menu.con(`${YARDSTICK_SCREENS.pincode.slice(4)}:`);
    },
    next: { '*\\d{6}': 'centres' },
  });
  menu.state('centres', {
    run: async () => {
      const { rows } = await pg.query<{ id: number; name: string }>(SQL.centres, [menu.val]);
      await menu.session.set('centres', rows.map((r) => r.id));
      menu.con(`${YARDSTICK_SCREENS.centres.slice(4)}:${list(rows)}`);
    },
    next: { '*\\d+': 'sessions' },
  });
  // Reached only on the way to the confirming hop (the bench sends the full route at once).
  menu.state('sessions', { run: () => menu.con('Choose a date:'), next: { '*\\d+': 'confirm' } });
  menu.state('confirm', { run: () => menu.con('Confirm?\n1. Yes'), next: { '1': 'book' } });
  menu.state('book', {
    run: async () => {
      const { rows } = await pg.query(SQL.takeSeat, [stores.seatSessionId]);
      await menu.session.set('booked', rows.length > 0);
      menu.end((rows.length ? YARDSTICK_SCREENS.booked : YARDSTICK_SCREENS.full).slice(4));
    },
  });
  return menu.run({ ...body });
}

function yardstickApp(kind: YardstickKind, stores: Stores | undefined): express.Express {
  const app = express();
  app.disable('x-powered-by');
  if (kind === 'bare') {
    app.post('/ussd', (_req, res) => void res.status(200).type('text/plain').send('CON hello'));
    return app;
  }
  const hop = kind === 'minimal' ? minimalHop : menuBuilderHop;
  app.post('/ussd', express.urlencoded({ extended: false }), (req, res) => {
    hop(stores!, bodyOf(req)).then(
      (reply) => void res.status(200).type('text/plain').send(reply),
      (error: unknown) => void res.status(500).type('text/plain').send(`END ${error instanceof Error ? error.message : String(error)}`),
    );
  });
  return app;
}

async function main(): Promise<void> {
  const kind = process.env.YARDSTICK_KIND as YardstickKind;
  if (!YARDSTICK_KINDS.includes(kind)) throw new Error(`YARDSTICK_KIND must be one of ${YARDSTICK_KINDS.join(', ')}`);
  const stores: Stores | undefined =
    kind === 'bare'
      ? undefined
      : {
          // The same pool size as Tika's knex pool (DB_POOL_MAX default 10).
          pg: new Pool({ connectionString: process.env.DATABASE_URL, max: 10 }),
          redis: new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'),
          prefix: process.env.YARDSTICK_PREFIX ?? 'tikabench:yard',
          seatSessionId: Number(process.env.YARDSTICK_SESSION_ID ?? 0),
        };
  const server: Server = yardstickApp(kind, stores).listen(0, '127.0.0.1');
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  // The IPC channel alone keeps this process alive: it exits once its server and stores are closed.
  const close = async () => {
    server.closeAllConnections();
    server.close();
    if (stores) await Promise.allSettled([stores.pg.end(), stores.redis.quit()]);
    process.exit(0);
  };
  process.once('disconnect', () => void close());
  process.once('SIGTERM', () => void close());
  process.send!({ type: 'listening', port: (server.address() as AddressInfo).port } satisfies YardstickMessage);
}

if (require.main === module) {
  if (!process.send) throw new Error('bench/yardsticks.ts runs as a child of bench/ussd.ts (it needs an IPC channel)');
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
