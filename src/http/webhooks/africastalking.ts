import express, { Router } from 'express';
import { formatUssdReply, parseUssdHop, parseUssdSessionEnded } from '../../channels/africastalking';
import type { Parsed } from '../../channels/types';
import type { UssdDialogue } from '../../dialogue/ussd';
import type { Db } from '../../db/knex';
import { recordUssdSessionEnded } from '../../domain/ussd-events';
import type { Metrics } from '../../metrics';
import { requireWebhookKey } from '../webhook-auth';

const PROVIDER = 'africastalking';

/** Africa's Talking callbacks: form-encoded in, `CON `/`END ` text out. */
export function africasTalkingWebhooks(deps: { db: Db; ussd: UssdDialogue; webhookSecret: string; metrics: Metrics }): Router {
  const router = Router();
  router.use(requireWebhookKey(deps.webhookSecret));
  router.use(express.urlencoded({ extended: false, limit: '16kb' }));

  router.post('/ussd', async (req, res) => {
    const hop = valid(parseUssdHop(req.body ?? {}), res);
    if (!hop) return;
    const reply = await deps.ussd.handle(hop);
    deps.metrics.ussdReplies.inc({ kind: reply.end ? 'END' : 'CON' });
    res.status(200).type('text/plain').send(formatUssdReply(reply));
  });

  router.post('/ussd/events', async (req, res) => {
    const event = valid(parseUssdSessionEnded(req.body ?? {}), res);
    if (!event) return;
    await recordUssdSessionEnded(deps.db, PROVIDER, event);
    res.status(200).type('text/plain').send('OK');
  });

  return router;
}

function valid<T>(parsed: Parsed<T>, res: express.Response): T | undefined {
  if (parsed.ok) return parsed.value;
  res.status(400).type('text/plain').send(`Invalid payload: ${parsed.error}`);
  return undefined;
}
