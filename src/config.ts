import { z } from 'zod';
import type { ChannelHandler } from './channels/handler';
import { ConfigError } from './config-error';
import { CHANNEL_NAMES, CHANNELS, channelNamed } from './channels/registry';
import { parseRoutes, type Route } from './channels/routing';
import { parsePublicJwks } from './domain/certificates';
import { DEFAULT_TRUST_PROXY, parseTrustProxy } from './http/trust-proxy';
import { isTimeZone } from './domain/dates';
import { DEFAULT_RETENTION, RETENTION_MINIMUMS, type RetentionPeriods } from './domain/retention';

/**
 * Configuration comes only from the environment and is validated once at start-up.
 * A bad value stops the process with a message that names the variable.
 */

/** Published in the README: usable only by an explicit development sandbox, refused anywhere else. */
const DEV_SECRETS = {
  WEBHOOK_SECRET: 'dev-webhook-secret',
  ADMIN_TOKEN: 'dev-admin-token',
  CODE_SECRET: 'dev-code-secret-change-me-in-production',
} as const;
type SecretName = keyof typeof DEV_SECRETS;
const SECRET_NAMES = Object.keys(DEV_SECRETS) as SecretName[];
const PUBLISHED_VALUES = new Set<string>(Object.values(DEV_SECRETS));
/** No two of these may be equal: one leaked (a callback URL in a telco's logs) must not open another. */
const DISTINCT_SECRETS = [...SECRET_NAMES, ...CHANNELS.flatMap((channel) => channel.secrets)];

export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/tika';

/** Sends in flight per provider queue in a worker process, unless SMS_SEND_CONCURRENCY says otherwise. */
export const DEFAULT_SMS_SEND_CONCURRENCY = 8;

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

/** Days kept; a period shorter than a rule needs is refused with the rule. */
const retentionDays = (period: keyof RetentionPeriods) => {
  const minimum = RETENTION_MINIMUMS[period];
  return z.coerce
    .number()
    .int('must be a whole number of days')
    .min(minimum.days, `must be at least ${minimum.days} day${minimum.days > 1 ? 's' : ''}: ${minimum.why}`)
    .default(DEFAULT_RETENTION[period]);
};

const schema = z
  .object({
    // Unset means production: development defaults need an explicit NODE_ENV=development or test.
    NODE_ENV: z.enum(['development', 'test', 'production']).default('production'),
    PORT: z.coerce.number().int().min(0).max(65535).default(3000),
    DATABASE_URL: z.string().url().default(DEFAULT_DATABASE_URL),
    /** PostgreSQL connections each process may hold in its pool (a worker holds one more, for LISTEN). */
    DB_POOL_MAX: positiveInt(10),
    REDIS_URL: z.string().url().default('redis://127.0.0.1:6379'),
    REDIS_PREFIX: z
      .string()
      .regex(/^[a-zA-Z0-9_-]+$/, 'letters, digits, _ and - only')
      .default('tika'),
    /** One provider for every number; SMS_ROUTES, when set, takes its place. */
    SMS_PROVIDER: z
      .string()
      .refine((name) => CHANNEL_NAMES.includes(name), `is not a provider (one of: ${CHANNEL_NAMES.join(', ')})`)
      .default('sandbox'),
    /** Provider by destination prefix, longest first: `+91=exotel,*=africastalking`. */
    SMS_ROUTES: z.string().optional(),
    /** The DLT template book (JSON), required when a route sends through a provider bound by DLT (exotel). */
    DLT_TEMPLATES: z.string().optional(),
    /** Lets a production-mode demo run on the sandbox provider (messages never leave the machine). */
    ALLOW_SANDBOX_IN_PRODUCTION: z.enum(['true', 'false']).default('false'),
    /** Per provider unless its own variable (AT_SEND_RATE_PER_SECOND, ...) says otherwise: each provider has its own queue. */
    SMS_SEND_RATE_PER_SECOND: positiveInt(200),
    /**
     * Sends in flight at once per provider queue in each worker process. Each holds a database
     * connection for its claim and its outcome, not for the provider's answer: up to DB_POOL_MAX or so pays.
     */
    SMS_SEND_CONCURRENCY: z.coerce.number().int().min(1).max(500).default(DEFAULT_SMS_SEND_CONCURRENCY),
    SMS_MAX_ATTEMPTS: positiveInt(8),
    /** How long the SMS queue waits after the provider says our account cannot send (no balance, bad key). */
    SMS_ACCOUNT_HOLD_MS: positiveInt(60_000),
    /** A job whose worker died is taken up again after about this long (BullMQ lock and stall check). */
    QUEUE_LOCK_MS: positiveInt(30_000),
    /**
     * An outbox row relayed this long ago and still unfinished has lost its queue job and is relayed
     * again. Longer than the whole retry schedule (SMS_MAX_ATTEMPTS with exponential backoff).
     */
    OUTBOX_STUCK_AFTER_MS: positiveInt(30 * 60_000),
    /** An unfinished outbox row relayed this long ago whose queue job no longer exists (Redis lost it) is relayed again. */
    OUTBOX_MISSING_JOB_AFTER_MS: positiveInt(60_000),
    /** How often the outbox sweep (lost and stuck jobs) runs, once per period across all workers. */
    OUTBOX_SWEEP_MS: positiveInt(20_000),
    WEBHOOK_SECRET: z.string().min(16).optional(),
    ADMIN_TOKEN: z.string().min(16).optional(),
    CODE_SECRET: z.string().min(32).optional(),
    DEFAULT_COUNTRY: z
      .string()
      .regex(/^[A-Z]{2}$/, 'an ISO 3166 two-letter country code such as IN')
      .default('IN'),
    TIMEZONE: z
      .string()
      .refine(isTimeZone, 'an IANA time zone such as Asia/Kolkata')
      .default('Asia/Kolkata'),
    /** Unset: http://localhost:<PORT>, so links in SMS point at the port actually served. */
    PUBLIC_BASE_URL: z.string().url().optional(),
    USSD_MAX_GSM7: positiveInt(160),
    USSD_MAX_UCS2: positiveInt(80),
    USSD_SESSION_TTL_SECONDS: positiveInt(300),
    USSD_RESUME_SECONDS: positiveInt(600),
    USSD_DEADLINE_MS: positiveInt(5000),
    BOOKING_DAYS_AHEAD: positiveInt(14),
    /** The youngest age the programme vaccinates: younger members are refused at registration (a session for younger people lowers it). */
    PROGRAMME_MIN_AGE: positiveInt(18),
    /** Days between doses per vaccine, "Vaccine:days,...". A change applies to new bookings only. */
    DOSE_INTERVAL_DAYS: z
      .string()
      .regex(/^\s*[^:,]+:\s*\d+\s*(,\s*[^:,]+:\s*\d+\s*)*$/, 'a list such as Covishield:84,Covaxin:28')
      .default('Covishield:84,Covaxin:28')
      .transform((list) => Object.fromEntries(list.split(',').map((pair) => pair.split(':').map((part) => part.trim())).map(([vaccine, days]) => [vaccine!, Number(days)]))),
    MAX_CODE_ATTEMPTS: positiveInt(5),
    MAX_VACCINATOR_FAILURES_PER_HOUR: positiveInt(10),
    /** Guessing budgets over 24 hours (see "Guessing the code" in the README). */
    MAX_VACCINATOR_FAILURES_PER_DAY: positiveInt(20),
    MAX_CENTRE_FAILURES_PER_DAY: positiveInt(40),
    MAX_MOBILE_FAILURES_PER_DAY: positiveInt(2),
    MAX_VACCINATOR_LOOKUPS_PER_HOUR: positiveInt(60),
    /** Replies to incoming SMS per mobile (each is a paid SMS); beyond them replies are dropped, the SMS kept. */
    SMS_REPLIES_PER_MINUTE: positiveInt(10),
    SMS_REPLIES_PER_DAY: positiveInt(100),
    /** Vaccinators confirm doses by SMS all day (one every 20 s is 3 a minute, about 1,500 a day). */
    VACCINATOR_SMS_REPLIES_PER_MINUTE: positiveInt(30),
    VACCINATOR_SMS_REPLIES_PER_DAY: positiveInt(3000),
    USSD_SERVICE_CODE: z.string().regex(/^\*[0-9*]+#$/, 'a USSD code such as *384*1234#').default('*384*1234#'),
    /** Ed25519 private key (PKCS#8 PEM) that signs certificates; generated into DATA_DIR outside production. */
    CERT_PRIVATE_KEY: z.string().optional(),
    /** Public keys of retired signing keys, still published and accepted: a JSON array of Ed25519 JWKs. */
    CERT_PREVIOUS_PUBLIC_KEYS: z
      .string()
      .optional()
      .superRefine((value, ctx) => {
        try {
          parsePublicJwks(value ?? '');
        } catch (error) {
          ctx.addIssue({ code: 'custom', message: (error as Error).message });
        }
      }),
    DATA_DIR: z.string().default('data'),
    /** Data retention (README "Data retention"): inbound texts, outbound params, sandbox messages and USSD screens, in days. */
    RETENTION_MESSAGE_DAYS: retentionDays('messageDays'),
    /** USSD session end notices (phone, network, cost), deleted after this many days. */
    RETENTION_USSD_EVENTS_DAYS: retentionDays('ussdEventDays'),
    /** The verification audit (every code attempt and look-up), deleted after this many days. */
    RETENTION_AUDIT_DAYS: retentionDays('auditDays'),
    /** Finished outbox tasks (ids only), deleted after this many days. */
    RETENTION_TASKS_DAYS: retentionDays('taskDays'),
    /** Rows per purge statement: each batch is its own short transaction. */
    RETENTION_BATCH_SIZE: positiveInt(5000),
    /**
     * Who may tell us a client's address and scheme (X-Forwarded-For, X-Forwarded-Proto): addresses,
     * CIDR ranges, loopback/linklocal/uniquelocal, a hop count, or false. The admin login counts
     * failed attempts per client address, so a client must not be able to name its own.
     */
    TRUST_PROXY: z
      .string()
      .default(DEFAULT_TRUST_PROXY)
      .refine((value) => parseTrustProxy(value) !== undefined, 'addresses or CIDR ranges (comma-separated), loopback, linklocal, uniquelocal, a number of hops, or false'),
    /** An internal address (e.g. 10.0.0.5): when set, /metrics and the queue dashboard are served on METRICS_HOST:METRICS_PORT, not on PORT. */
    METRICS_HOST: z.string().optional(),
    METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9100),
    /** A worker-only process (start:worker) serves /metrics, /healthz and /readyz here (on METRICS_HOST when set). */
    WORKER_METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9101),
    /** On SIGTERM, how long in-flight requests and jobs may take before the process stops anyway (exit 1). */
    SHUTDOWN_TIMEOUT_MS: positiveInt(25_000),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  })
  .transform((env) => ({ ...env, PUBLIC_BASE_URL: env.PUBLIC_BASE_URL ?? `http://localhost:${env.PORT}` }));

export { ConfigError };

/** Every variable the schema reads (providers' own variables are in each handler's config). */
export const CONFIG_VARIABLES = Object.keys(schema.in.shape);

type RawEnv = Record<string, string | undefined>;

function isDevelopment(env: RawEnv): boolean {
  return env.NODE_ENV === 'development' || env.NODE_ENV === 'test';
}

/** The providers the environment routes to, as named (unknown names are reported by the schema). */
function routedProviderNames(env: RawEnv): string[] {
  if (env.SMS_ROUTES) {
    const parsed = parseRoutes(env.SMS_ROUTES, CHANNEL_NAMES);
    return parsed.ok ? [...new Set(parsed.routes.map((route) => route.provider))] : [];
  }
  return [env.SMS_PROVIDER ?? 'sandbox'];
}

const isLocal = (name: string) => channelNamed(name)?.local === true;

/** Only an explicit development or test run whose every route is the sandbox may use the published secrets. */
function isDevelopmentSandbox(env: RawEnv): boolean {
  return isDevelopment(env) && routedProviderNames(env).every(isLocal);
}

/**
 * Fail closed (invariant 7). Read from the raw environment so that these problems are reported
 * together with any malformed variable, in one error.
 */
function secretProblems(env: RawEnv): string[] {
  const problems: string[] = [];
  const production = !isDevelopment(env);
  const unset = env.NODE_ENV ? '' : ' (NODE_ENV is unset, which means production)';
  const why = production ? `in production${unset}` : 'unless every route is the sandbox in development';
  const local = routedProviderNames(env).filter(isLocal);
  if (production && !env.SMS_PROVIDER && !env.SMS_ROUTES) {
    problems.push(`SMS_PROVIDER (or SMS_ROUTES) is required in production${unset}: ${CHANNEL_NAMES.filter((name) => !isLocal(name)).join(', ')}`);
  } else if (production && local.length && env.ALLOW_SANDBOX_IN_PRODUCTION !== 'true') {
    // Named after the variable that chose it: SMS_ROUTES, when set, is the one the operator must change.
    const chosenBy = env.SMS_ROUTES ? `SMS_ROUTES routes to ${local.join(', ')}, which is` : `SMS_PROVIDER ${local.join(', ')} is`;
    problems.push(`${chosenBy} refused in production: no SMS would leave; set ALLOW_SANDBOX_IN_PRODUCTION=true for a demo`);
  }
  if (production && !env.CERT_PRIVATE_KEY) problems.push('CERT_PRIVATE_KEY is required in production (generate one with: npm run cli -- keys:generate)');
  if (isDevelopmentSandbox(env)) return [...problems, ...equalSecrets(env)];
  for (const name of SECRET_NAMES) {
    const value = env[name];
    if (!value) problems.push(`${name} is required ${why}`);
    else if (PUBLISHED_VALUES.has(value)) problems.push(`${name} is a published development value: choose a secret of your own`);
  }
  return [...problems, ...equalSecrets(env)];
}

function equalSecrets(env: RawEnv): string[] {
  return DISTINCT_SECRETS.flatMap((name, i) => {
    const same = DISTINCT_SECRETS.slice(0, i).find((earlier) => env[earlier] && env[earlier] === env[name]);
    return same ? [`${name} must differ from ${same}`] : [];
  });
}

/** A provider a route sends through, with its own validated settings. */
export interface RoutedChannel {
  handler: ChannelHandler;
  config: unknown;
  ratePerSecond: number;
}

/**
 * SMS_ROUTES (or SMS_PROVIDER alone as `*=<provider>`), and the settings of each provider routed
 * to, validated by the provider's own schema: a provider no route uses needs no settings.
 */
function channelSetup(env: RawEnv, defaultRate: number): { routes: Route[]; channels: RoutedChannel[]; problems: string[] } {
  const parsed = env.SMS_ROUTES ? parseRoutes(env.SMS_ROUTES, CHANNEL_NAMES) : { ok: true as const, routes: [{ prefix: '*', provider: env.SMS_PROVIDER ?? 'sandbox' }] };
  if (!parsed.ok) return { routes: [], channels: [], problems: parsed.problems.map((problem) => `SMS_ROUTES ${problem}`) };
  const problems: string[] = [];
  const channels: RoutedChannel[] = [];
  for (const name of new Set(parsed.routes.map((route) => route.provider))) {
    const handler = channelNamed(name);
    if (!handler) continue; // named in the schema's own message
    const result = handler.config.safeParse(env);
    if (!result.success) {
      problems.push(...result.error.issues.map((issue) => `${issue.path.join('.')} ${issue.message}`));
      continue;
    }
    const rate = handler.rateVariable ? env[handler.rateVariable] : undefined;
    const ratePerSecond = rate === undefined ? defaultRate : Number(rate);
    if (!Number.isInteger(ratePerSecond) || ratePerSecond <= 0) problems.push(`${handler.rateVariable} must be a positive whole number`);
    if (handler.needsTemplates && !env.DLT_TEMPLATES) {
      problems.push(`DLT_TEMPLATES is required when a route sends through ${name}: every SMS must go out on a registered template (see deploy/dlt-templates.example.json)`);
    }
    channels.push({ handler, config: result.data, ratePerSecond });
  }
  return { routes: parsed.routes, channels, problems };
}

type ParsedEnv = z.infer<typeof schema>;
export type Config = Omit<ParsedEnv, SecretName> & Record<SecretName, string> & {
  /** Provider by destination; always ends in a catch-all. */
  routes: Route[];
  /** Every provider a route sends through, once each. */
  channels: RoutedChannel[];
  /** Secrets that fell back to development defaults (only in a development sandbox). */
  defaultedSecrets: SecretName[];
  /** NODE_ENV development or test with the sandbox provider: published secrets and /dev pages allowed. */
  developmentSandbox: boolean;
};

/** Reads and validates configuration; throws ConfigError naming every bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
  const result = schema.safeParse(present);
  const channels = channelSetup(present, result.success ? result.data.SMS_SEND_RATE_PER_SECOND : 1);
  const problems = [
    ...(result.success ? [] : result.error.issues.map((issue) => `${issue.path.join('.') || '(environment)'} ${issue.message}`)),
    ...channels.problems,
    ...secretProblems(present),
  ];
  if (!result.success || problems.length) throw new ConfigError(problems);
  const parsed = result.data;
  const defaultedSecrets = SECRET_NAMES.filter((name) => !parsed[name]);
  const secrets = Object.fromEntries(SECRET_NAMES.map((name) => [name, parsed[name] ?? DEV_SECRETS[name]])) as Record<
    SecretName,
    string
  >;
  return { ...parsed, ...secrets, routes: channels.routes, channels: channels.channels, defaultedSecrets, developmentSandbox: isDevelopmentSandbox(present) };
}
