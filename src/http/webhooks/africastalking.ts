import express, { Router } from 'express';
import {
  formatUssdReply,
  isFinalDeliveryStatus,
  isKnownDeliveryStatus,
  parseDeliveryReport,
  parseIncomingSms,
  parseUssdHop,
  parseUssdSessionEnded,
} from '../../channels/africastalking';
import type { Parsed } from '../../channels/types';
import type { UssdDialogue } from '../../dialogue/ussd';
import type { Db } from '../../db/knex';
import type { OutboundService } from '../../domain/outbound';
import type { SmsInbox } from '../../domain/sms-inbox';
import { recordUssdSessionEnded } from '../../domain/ussd-events';
import type { Logger } from '../../logger';
import type { Metrics } from '../../metrics';
import { verifyBodyEncoding } from '../server';
import { requireWebhookKey } from '../webhook-auth';

const PROVIDER = 'africastalking';

/** Africa's Talking callbacks: form-encoded in, `CON `/`END ` text out. */
export interface AfricasTalkingDeps {
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

export function africasTalkingWebhooks(deps: AfricasTalkingDeps): Router {
  const router = Router();
  const options = { defaultCountry: deps.defaultCountry };
  router.use(requireWebhookKey(deps.webhookSecret));
  router.use(express.urlencoded({ extended: false, limit: '16kb', verify: verifyBodyEncoding }));

  router.post('/ussd', async (req, res) => {
    const hop = valid(parseUssdHop(req.body ?? {}, options), res);
    if (!hop) return;
    const reply = await deps.ussd.handle(hop);
    deps.metrics.ussdReplies.inc({ kind: reply.end ? 'END' : 'CON' });
    res.status(200).type('text/plain').send(formatUssdReply(reply));
  });

  router.post('/ussd/events', async (req, res) => {
    const event = valid(parseUssdSessionEnded(req.body ?? {}, options), res);
    if (!event) return;
    await recordUssdSessionEnded(deps.db, PROVIDER, event);
    res.status(200).type('text/plain').send('OK');
  });

  /** Stored durably, answered at once; the work happens on the task queue. AT retries until 200. */
  router.post('/sms', async (req, res) => {
    const sms = valid(parseIncomingSms(req.body ?? {}, options), res);
    if (!sms) return;
    const { duplicate } = await deps.inbox.receive(PROVIDER, sms);
    if (duplicate) deps.logger.info({ providerMessageId: sms.providerMessageId }, 'incoming sms seen before; not processed again');
    res.status(200).type('text/plain').send('OK');
  });

  /**
   * Never 4xx/5xx for a status or id we do not know: AT would retry it for hours. An unknown
   * status is logged and counted, never stored as the message's status.
   */
  router.post('/delivery', async (req, res) => {
    const report = valid(parseDeliveryReport(req.body ?? {}, options), res);
    if (!report) return;
    if (!isKnownDeliveryStatus(report.status)) {
      deps.metrics.unknownDeliveryStatuses.inc();
      deps.logger.warn({ status: report.status, providerMessageId: report.providerMessageId }, 'delivery report with an unknown status; not recorded');
      res.status(200).type('text/plain').send('OK');
      return;
    }
    const found = await deps.outbound.recordDelivery({
      providerMessageId: report.providerMessageId,
      status: report.status,
      final: isFinalDeliveryStatus(report.status),
      delivered: report.status === 'Success',
      failureReason: report.failureReason,
    });
    if (!found) deps.logger.warn({ providerMessageId: report.providerMessageId }, 'delivery report for a message we do not know');
    res.status(200).type('text/plain').send('OK');
  });

  return router;
}

function valid<T>(parsed: Parsed<T>, res: express.Response): T | undefined {
  if (parsed.ok) return parsed.value;
  res.status(400).type('text/plain').send(`Invalid payload: ${parsed.error}`);
  return undefined;
}
