import { Queue, Worker, type Job } from 'bullmq';
import type Redis from 'ioredis';
import type { OutboxTask } from '../domain/outbox';
import type { Logger } from '../logger';
import { queuePrefix } from './connection';
import { logRedisErrors } from './redis-errors';

export const TASK_QUEUE = 'tasks';

/** Job data: the outbox task (ids only, never a code) or a scheduled job's kind. */
export interface TaskJob {
  taskId?: number;
  kind: string;
  payload: Record<string, string | number>;
}

export type TaskHandler = (payload: Record<string, string | number>) => Promise<unknown>;

export function createTaskQueue(connection: Redis, options: { prefix: string; maxAttempts: number; retryBaseMs: number }): Queue<TaskJob> {
  return new Queue<TaskJob>(TASK_QUEUE, {
    connection,
    prefix: queuePrefix(options.prefix),
    defaultJobOptions: {
      attempts: options.maxAttempts,
      backoff: { type: 'exponential', delay: options.retryBaseMs },
      removeOnComplete: { age: 24 * 3600, count: 50_000 },
      removeOnFail: { age: 7 * 24 * 3600 },
    },
  });
}

/** One job per task row: an add repeated after a crash finds the job id taken and adds nothing. */
export async function enqueueTasks(queue: Queue<TaskJob>, tasks: OutboxTask[]): Promise<void> {
  await queue.addBulk(
    tasks.map((task) => ({ name: task.kind, data: { taskId: task.id, kind: task.kind, payload: task.payload }, opts: { jobId: taskJobId(task.jobKey) } })),
  );
}

/** Runs a job on a schedule (every `everyMs`), once per period across all workers. */
export async function scheduleTask(queue: Queue<TaskJob>, kind: string, everyMs: number): Promise<void> {
  await queue.upsertJobScheduler(kind, { every: everyMs }, { name: kind, data: { kind, payload: {} } });
}

/**
 * Runs tasks by kind. Handlers must be idempotent: a task can run again after a crash, and each
 * handler checks the state it changes (a certificate already issued, a message already processed).
 */
export function startTaskWorker(
  connection: Redis,
  handlers: Record<string, TaskHandler>,
  deps: { logger: Logger; markDone: (taskId: number) => Promise<void> },
  options: { prefix: string; concurrency: number; lockMs: number },
): Worker<TaskJob> {
  const worker = new Worker<TaskJob>(
    TASK_QUEUE,
    async (job: Job<TaskJob>) => {
      const handler = handlers[job.data.kind];
      if (!handler) throw new Error(`no handler for task kind "${job.data.kind}"`);
      const result = await handler(job.data.payload);
      if (job.data.taskId !== undefined) await deps.markDone(job.data.taskId);
      deps.logger.info({ kind: job.data.kind, taskId: job.data.taskId, result }, 'task done');
      return result;
    },
    { connection, prefix: queuePrefix(options.prefix), concurrency: options.concurrency, lockDuration: options.lockMs, stalledInterval: options.lockMs },
  );
  // A failure that will be retried is a warning; one that used up its attempts needs an operator.
  worker.on('failed', (job, error) => {
    const fields = { err: error, kind: job?.data.kind, taskId: job?.data.taskId, attempt: job?.attemptsMade };
    const retried = job !== undefined && job.attemptsMade < (job.opts.attempts ?? 1);
    if (retried) deps.logger.warn(fields, 'task failed; will retry');
    else deps.logger.error(fields, 'task failed');
  });
  logRedisErrors(worker, 'task-worker', deps.logger);
  return worker;
}

/** The job id of a task row's job (see enqueueTasks). */
export function taskJobId(jobKey: string): string {
  return `task-${jobKey}`;
}

/**
 * Registers the schedules now, and again each time the connection is ready after a reconnect: a
 * Redis that restarted without its data has forgotten them. An upsert is idempotent, and BullMQ runs
 * a schedule once per period however many worker processes registered it. Returns the unsubscriber.
 */
export async function keepScheduled(queue: Queue<TaskJob>, connection: Redis, schedules: Record<string, number>, logger: Logger): Promise<() => void> {
  const register = () => Promise.all(Object.entries(schedules).map(([kind, everyMs]) => scheduleTask(queue, kind, everyMs)));
  await register();
  const onReady = () =>
    void register().then(
      () => logger.info({ schedules: Object.keys(schedules) }, 'job schedules registered after redis reconnect'),
      (error: Error) => logger.error({ err: error }, 'could not register job schedules after redis reconnect; retried on the next reconnect'),
    );
  connection.on('ready', onReady);
  return () => connection.off('ready', onReady);
}
