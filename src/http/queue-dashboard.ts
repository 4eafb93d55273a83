import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Queue } from 'bullmq';
import type { Router } from 'express';

export const DASHBOARD_PATH = '/admin/queues';

/** bull-board over every queue (one per routed provider, and tasks). Mount behind the admin session. */
export function queueDashboard(queues: Queue[]): Router {
  const serverAdapter = new ExpressAdapter().setBasePath(DASHBOARD_PATH);
  createBullBoard({
    queues: queues.map((queue) => new BullMQAdapter(queue, { allowRetries: true })),
    // @bull-board/express 9.10.1 declares its own copy of @bull-board/api (9.10.1; ours is 9.10.2): same shape, separate declarations.
    serverAdapter: serverAdapter as unknown as Parameters<typeof createBullBoard>[0]['serverAdapter'],
    options: { uiConfig: { boardTitle: 'Tika queues' } },
  });
  return serverAdapter.getRouter() as Router;
}
