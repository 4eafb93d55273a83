import { Router } from 'express';
import { z } from 'zod';
import { sandboxOutbox } from '../channels/sandbox';
import type { Db } from '../db/knex';
import { toE164 } from '../domain/phone';

/** Development-sandbox-only pages (mounted only for SMS_PROVIDER=sandbox with NODE_ENV development or test): what the sandbox provider "sent". */
export function devRouter(deps: { db: Db; defaultCountry: string }): Router {
  const router = Router();
  const query = z.object({
    phone: z.string().optional(),
    limit: z.coerce.number().int().min(1).max(500).default(50),
  });

  router.get('/outbox', async (req, res) => {
    const parsed = query.safeParse(req.query);
    if (!parsed.success) {
      res.status(400).json({ error: 'invalid_request', message: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') });
      return;
    }
    const phone = parsed.data.phone ? toE164(parsed.data.phone, deps.defaultCountry) : undefined;
    if (parsed.data.phone && !phone) {
      res.status(400).json({ error: 'invalid_request', message: `phone is not a valid number: '${parsed.data.phone}'` });
      return;
    }
    res.json({ messages: await sandboxOutbox(deps.db, { phone: phone ?? undefined, limit: parsed.data.limit }) });
  });

  return router;
}
