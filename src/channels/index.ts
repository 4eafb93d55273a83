import type { Config } from '../config';
import type { Db } from '../db/knex';
import { AfricasTalkingSms } from './africastalking';
import { SandboxSms } from './sandbox';
import type { SmsProvider } from './types';

/** The one place that maps SMS_PROVIDER to an adapter: a new provider is a folder and a line here. */
const factories: Record<Config['SMS_PROVIDER'], (config: Config, db: Db) => SmsProvider> = {
  sandbox: (_config, db) => new SandboxSms(db),
  africastalking: (config) =>
    new AfricasTalkingSms({
      username: config.AT_USERNAME,
      apiKey: config.AT_API_KEY,
      senderId: config.AT_SENDER_ID,
      baseUrl: config.AT_BASE_URL,
      timeoutMs: config.AT_TIMEOUT_MS,
    }),
};

export function createSmsProvider(config: Config, db: Db): SmsProvider {
  return factories[config.SMS_PROVIDER](config, db);
}
