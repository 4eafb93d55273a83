import { Worker, type Job } from 'bullmq';
import type Redis from 'ioredis';
import type { SendOutcome, SmsSender } from '../contracts/messages';
import type { Catalogue } from '../dialogue/catalogue';
import type { OutboundService } from '../domain/outbound';
import type { Logger } from '../logger';
import type { Metrics } from '../metrics';
import { queuePrefix } from './connection';
import { logRedisErrors } from './redis-errors';
import { smsQueueName, type SmsJob } from './sms-queue';

export interface SmsWorkerOptions {
  prefix: string;
  concurrency: number;
  /** This provider's own limit: its queue's limiter. */
  ratePerSecond: number;
  /** How long to hold the whole queue when the provider account cannot send. */
  accountHoldMs: number;
  /** After a worker dies mid-job, the job runs again within about this long. */
  lockMs: number;
}

/** A transient failure: BullMQ retries the job with exponential backoff. */
export class TransientSendError extends Error {
  override readonly name = 'TransientSendError';
}

/**
 * Sends one outbox message per job, through the provider whose queue this is. Each provider outcome is mapped here, once, to what the
 * queue does: sent and permanent finish the job, transient retries it, account holds the queue.
 */
export function startSmsWorker(
  connection: Redis,
  deps: { outbound: OutboundService; provider: SmsSender; catalogue: Catalogue; logger: Logger; metrics: Metrics },
  options: SmsWorkerOptions,
): Worker<SmsJob> {
  const { outbound, provider, catalogue, logger, metrics } = deps;

  const worker: Worker<SmsJob> = new Worker<SmsJob>(
    smsQueueName(provider.name),
    async (job: Job<SmsJob>) => {
      const { outboxId } = job.data;
      const claim = await outbound.claim(outboxId, options.lockMs);
      // Retried later: by then the other attempt has recorded its outcome, or is taken to have died.
      if (claim.kind === 'in_flight') throw new TransientSendError('another attempt may be sending this message now');
      if (claim.kind !== 'send') {
        logger.info({ outboxId, claim: claim.kind }, 'nothing to send');
        return claim.kind;
      }
      const { message } = claim;
      let text: string;
      try {
        // Within its declared parts whatever the script of the names in it (a Devanagari name makes an English SMS UCS-2).
        text = catalogue.renderSms(message.language, message.template, message.params);
      } catch (error) {
        // A message we cannot write will not get better by retrying: fail it visibly.
        const outcome: SendOutcome = { kind: 'permanent', reason: `cannot render ${message.template}: ${(error as Error).message}` };
        await outbound.recordOutcome(outboxId, provider.name, outcome, true);
        logger.error({ outboxId, template: message.template, reason: outcome.reason }, 'sms not rendered');
        return 'unrenderable';
      }
      const outcome = await provider.send({ to: message.phone, message: text, key: message.template, language: message.language, params: message.params });
      const lastAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      await outbound.recordOutcome(outboxId, provider.name, outcome, lastAttempt);
      metrics.smsOutcomes.inc({ provider: provider.name, outcome: outcome.kind });
      logSend(logger, outboxId, message.template, outcome);
      return afterSend(outcome, worker, options.accountHoldMs);
    },
    {
      connection,
      prefix: queuePrefix(options.prefix),
      concurrency: options.concurrency,
      limiter: { max: options.ratePerSecond, duration: 1000 },
      lockDuration: options.lockMs,
      stalledInterval: options.lockMs,
    },
  );
  logRedisErrors(worker, `sms-worker ${provider.name}`, logger);
  return worker;
}

async function afterSend(outcome: SendOutcome, worker: Worker<SmsJob>, accountHoldMs: number): Promise<string> {
  switch (outcome.kind) {
    case 'sent':
    case 'permanent':
      return outcome.kind;
    case 'transient':
      throw new TransientSendError(outcome.reason);
    case 'account':
      await worker.rateLimit(accountHoldMs);
      throw Worker.RateLimitError();
  }
}

function logSend(logger: Logger, outboxId: number, template: string, outcome: SendOutcome): void {
  const fields = { outboxId, template, outcome: outcome.kind, statusCode: outcome.statusCode };
  if (outcome.kind === 'sent') logger.info({ ...fields, providerMessageId: outcome.providerMessageId }, 'sms sent');
  else if (outcome.kind === 'account') logger.error({ ...fields, reason: outcome.reason }, 'sms account problem: queue held');
  else logger.warn({ ...fields, reason: outcome.reason }, 'sms not sent');
}
