import type { Queue } from 'bullmq';

const STATES = ['waiting', 'active', 'delayed', 'failed'] as const;

/** Jobs by state, and the age in seconds of the oldest waiting job (0 when none waits), per queue. */
export async function queueBacklog(queues: Map<string, Queue>, nowMs: number): Promise<{ jobs: Record<string, Record<string, number>>; oldestWaitingSeconds: Record<string, number> }> {
  const entries = await Promise.all(
    [...queues].map(async ([name, queue]) => {
      const [counts, [oldest]] = await Promise.all([queue.getJobCounts(...STATES), queue.getJobs(['wait'], 0, 0, true)]);
      return { name, counts, oldestSeconds: oldest ? Math.max(0, (nowMs - oldest.timestamp) / 1000) : 0 };
    }),
  );
  return {
    jobs: Object.fromEntries(entries.map((entry) => [entry.name, entry.counts])),
    oldestWaitingSeconds: Object.fromEntries(entries.map((entry) => [entry.name, entry.oldestSeconds])),
  };
}
