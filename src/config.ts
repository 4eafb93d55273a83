import { z } from 'zod';
import { isTimeZone } from './domain/dates';

/**
 * Configuration comes only from the environment and is validated once at start-up.
 * A bad value stops the process with a message that names the variable.
 */

const DEV_SECRETS = {
  WEBHOOK_SECRET: 'dev-webhook-secret',
  ADMIN_TOKEN: 'dev-admin-token',
  CODE_SECRET: 'dev-code-secret-change-me-in-production',
} as const;
type SecretName = keyof typeof DEV_SECRETS;
const SECRET_NAMES = Object.keys(DEV_SECRETS) as SecretName[];

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

const schema = z
  .object({
    NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
    PORT: z.coerce.number().int().min(0).max(65535).default(3000),
    DATABASE_URL: z.string().url().default('postgres://postgres@127.0.0.1:5432/tika'),
    REDIS_URL: z.string().url().default('redis://127.0.0.1:6379'),
    REDIS_PREFIX: z
      .string()
      .regex(/^[a-zA-Z0-9_-]+$/, 'letters, digits, _ and - only')
      .default('tika'),
    SMS_PROVIDER: z.enum(['sandbox', 'africastalking']).default('sandbox'),
    AT_USERNAME: z.string().default('sandbox'),
    AT_API_KEY: z.string().default(''),
    AT_SENDER_ID: z.string().default(''),
    AT_BASE_URL: z.string().url().default('https://api.africastalking.com'),
    AT_TIMEOUT_MS: positiveInt(8000),
    SMS_SEND_RATE_PER_SECOND: positiveInt(200),
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
    PUBLIC_BASE_URL: z.string().url().default('http://localhost:3000'),
    USSD_MAX_GSM7: positiveInt(160),
    USSD_MAX_UCS2: positiveInt(80),
    USSD_SESSION_TTL_SECONDS: positiveInt(300),
    USSD_RESUME_SECONDS: positiveInt(600),
    USSD_DEADLINE_MS: positiveInt(5000),
    BOOKING_DAYS_AHEAD: positiveInt(14),
    /** Days between doses per vaccine, "Vaccine:days,...". A change applies to new bookings only. */
    DOSE_INTERVAL_DAYS: z
      .string()
      .regex(/^\s*[^:,]+:\s*\d+\s*(,\s*[^:,]+:\s*\d+\s*)*$/, 'a list such as Covishield:84,Covaxin:28')
      .default('Covishield:84,Covaxin:28')
      .transform((list) => Object.fromEntries(list.split(',').map((pair) => pair.split(':').map((part) => part.trim())).map(([vaccine, days]) => [vaccine!, Number(days)]))),
    MAX_CODE_ATTEMPTS: positiveInt(5),
    MAX_VACCINATOR_FAILURES_PER_HOUR: positiveInt(20),
    USSD_SERVICE_CODE: z.string().regex(/^\*[0-9*]+#$/, 'a USSD code such as *384*1234#').default('*384*1234#'),
    /** Ed25519 private key (PKCS#8 PEM) that signs certificates; generated into DATA_DIR outside production. */
    CERT_PRIVATE_KEY: z.string().optional(),
    DATA_DIR: z.string().default('data'),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  })
  .superRefine((env, ctx) => {
    if (env.SMS_PROVIDER === 'africastalking' && !env.AT_API_KEY) {
      ctx.addIssue({ code: 'custom', path: ['AT_API_KEY'], message: 'is required when SMS_PROVIDER=africastalking' });
    }
    if (env.NODE_ENV === 'production') {
      if (!env.CERT_PRIVATE_KEY) ctx.addIssue({ code: 'custom', path: ['CERT_PRIVATE_KEY'], message: 'is required in production' });
      for (const name of SECRET_NAMES) {
        if (!env[name]) ctx.addIssue({ code: 'custom', path: [name], message: 'is required in production' });
      }
    }
  });

type ParsedEnv = z.infer<typeof schema>;
export type Config = Omit<ParsedEnv, SecretName> & Record<SecretName, string> & {
  /** Secrets that fell back to development defaults (never in production). */
  defaultedSecrets: SecretName[];
};

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Reads and validates configuration; throws ConfigError naming every bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
  const result = schema.safeParse(present);
  if (!result.success) {
    throw new ConfigError(result.error.issues.map((issue) => `${issue.path.join('.') || '(environment)'} ${issue.message}`));
  }
  const parsed = result.data;
  const defaultedSecrets = SECRET_NAMES.filter((name) => !parsed[name]);
  const secrets = Object.fromEntries(SECRET_NAMES.map((name) => [name, parsed[name] ?? DEV_SECRETS[name]])) as Record<
    SecretName,
    string
  >;
  return { ...parsed, ...secrets, defaultedSecrets };
}
