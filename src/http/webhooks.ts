import express, { Router, type Request, type Response } from 'express';
import type { Callback, CallbackBody, ChannelHandler, HttpAnswer } from '../channels/handler';
import type { Parsed } from '../contracts/messages';
import type { Db } from '../db/knex';
import type { UssdDialogue } from '../dialogue/ussd';
import type { OutboundService } from '../domain/outbound';
import type { SmsInbox } from '../domain/sms-inbox';
import { recordUssdSessionEnded } from '../domain/ussd-events';
import type { Logger } from '../logger';
import type { Metrics } from '../metrics';
import { verifyBodyEncoding } from './server';
import { requireWebhookKey } from './webhook-auth';

export interface WebhookDeps {
  db: Db;
  ussd: UssdDialogue;
  inbox: SmsInbox;
  outbound: OutboundService;
  logger: Logger;
  webhookSecret: string;
  metrics: Metrics;
  /** National numbers in callbacks are read in this country. */
  defaultCountry: string;
}

const OK: HttpAnswer = { contentType: 'text/plain', body: 'OK' };

/** /webhooks/<provider>/... for every provider, built from what each handler declares. */
export function channelWebhooks(channels: readonly ChannelHandler[], deps: WebhookDeps): Record<string, Router> {
  return Object.fromEntries(channels.map((channel) => [`/webhooks/${channel.name}`, webhooksOf(channel, deps)]));
}

function webhooksOf(channel: ChannelHandler, deps: WebhookDeps): Router {
  const router = Router();
  const options = { defaultCountry: deps.defaultCountry };
  const { webhooks } = channel;
  const accepted = webhooks.accepted ?? OK;
  // A series from zero, so an alert on its increase fires on the first unknown status.
  if (webhooks.status) deps.metrics.unknownDeliveryStatuses.inc({ provider: channel.name }, 0);
  router.use(requireWebhookKey(deps.webhookSecret));
  // A provider may check a callback URL with HEAD before calling it (Exotel does): 200, nothing parsed or stored.
  router.use((req, res, next) => (req.method === 'HEAD' ? void res.status(200).type(accepted.contentType).end() : next()));
  router.use(
    webhooks.body === 'json'
      ? express.json({ limit: '16kb', verify: verifyBodyEncoding })
      : express.urlencoded({ extended: false, limit: '16kb', verify: verifyBodyEncoding }),
  );
  const on = <T>(callback: Callback<T> | undefined, handle: (value: T, res: Response) => Promise<void>) => {
    if (!callback) return;
    for (const method of callback.methods ?? ['POST']) {
      router[method === 'GET' ? 'get' : 'post'](callback.path, async (req, res) => {
        const value = valid(callback.parse(fieldsOf(req), options), res);
        if (value !== undefined) await handle(value, res);
      });
    }
  };

  on(webhooks.ussd, async (hop, res) => {
    const reply = await deps.ussd.handle(hop);
    deps.metrics.ussdReplies.inc({ kind: reply.end ? 'END' : 'CON' });
    answer(res, webhooks.ussd!.reply(reply));
  });

  on(webhooks.ussdEnded, async (event, res) => {
    await recordUssdSessionEnded(deps.db, channel.name, event);
    answer(res, accepted);
  });

  /** Stored durably, answered at once; the work happens on the task queue. Providers retry until 200. */
  on(webhooks.sms, async (sms, res) => {
    const { duplicate } = await deps.inbox.receive(channel.name, sms);
    if (duplicate) deps.logger.info({ provider: channel.name, providerMessageId: sms.providerMessageId }, 'incoming sms seen before; not processed again');
    answer(res, accepted);
  });

  /**
   * Never 4xx/5xx for a status or id we do not know: the provider would retry it for hours. An
   * unknown status is logged and counted, never stored as the message's status.
   */
  on(webhooks.status, async (report, res) => {
    if (report.state === 'unknown') {
      deps.metrics.unknownDeliveryStatuses.inc({ provider: channel.name });
      deps.logger.warn({ provider: channel.name, status: report.status, providerMessageId: report.providerMessageId }, 'delivery report with an unknown status; not recorded');
      answer(res, accepted);
      return;
    }
    const found = await deps.outbound.recordDelivery(channel.name, report);
    if (!found) deps.logger.warn({ provider: channel.name, providerMessageId: report.providerMessageId }, 'delivery report for a message we do not know');
    answer(res, accepted);
  });

  return router;
}

/** A POST's body; a GET's query string without the webhook key. */
function fieldsOf(req: Request): CallbackBody {
  if (req.method !== 'GET') return (req.body ?? {}) as CallbackBody;
  const { key: _key, ...fields } = req.query;
  return fields;
}

/** A plain end, not res.send: a provider never sends a conditional request, so no ETag is worth hashing each reply for. */
function answer(res: Response, reply: HttpAnswer): void {
  res.status(200).type(reply.contentType).end(reply.body);
}

function valid<T>(parsed: Parsed<T>, res: Response): T | undefined {
  if (parsed.ok) return parsed.value;
  res.status(400).type('text/plain').send(`Invalid payload: ${parsed.error}`);
  return undefined;
}
