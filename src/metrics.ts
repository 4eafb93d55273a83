import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** What the queues and the outbox hold, read when Prometheus scrapes a process that runs the worker. */
export interface BacklogSnapshot {
  /** Jobs by state (waiting, active, delayed, failed), per queue. */
  jobs: Record<string, Record<string, number>>;
  /** Seconds since the oldest waiting job of each queue was added (0 when none waits). */
  oldestWaitingSeconds: Record<string, number>;
  /** Outbox rows not yet relayed into a queue, and the age of the oldest, per outbox table. */
  outbox: Record<string, { unrelayed: number; oldestSeconds: number }>;
}

/** How long one scrape's snapshot is reused by the gauges that read it (they collect in parallel). */
const SNAPSHOT_REUSE_MS = 1000;

/**
 * Prometheus metrics, served at GET /metrics. One registry per app instance (tests build several).
 * `backlog` is given only where the worker runs: N web processes do not each export the same queues.
 */
export function createMetrics(backlog?: () => Promise<BacklogSnapshot | undefined>) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  let cached: { at: number; snapshot: Promise<BacklogSnapshot | undefined> } | undefined;
  const snapshot = (): Promise<BacklogSnapshot | undefined> => {
    if (!backlog) return Promise.resolve(undefined);
    if (!cached || Date.now() - cached.at > SNAPSHOT_REUSE_MS) cached = { at: Date.now(), snapshot: backlog() };
    return cached.snapshot;
  };
  const backlogGauge = (name: string, help: string, labelNames: string[], read: (gauge: Gauge, snapshot: BacklogSnapshot) => void) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      async collect() {
        const current = await snapshot();
        // Reset first: a queue no longer routed, or a failed read, leaves no stale value behind.
        this.reset();
        if (current) read(this, current);
      },
    });
  backlogGauge('tika_queue_jobs', 'Jobs in each queue by state (waiting, active, delayed, failed); exported by worker processes', ['queue', 'state'], (gauge, { jobs }) => {
    for (const [queue, counts] of Object.entries(jobs)) for (const [state, count] of Object.entries(counts)) gauge.set({ queue, state }, count);
  });
  backlogGauge('tika_queue_oldest_waiting_seconds', 'Age of the oldest job waiting in each queue (0 when none waits); exported by worker processes', ['queue'], (gauge, { oldestWaitingSeconds }) => {
    for (const [queue, seconds] of Object.entries(oldestWaitingSeconds)) gauge.set({ queue }, seconds);
  });
  backlogGauge('tika_outbox_unrelayed', 'Outbox rows committed but not yet relayed into a queue, by table; exported by worker processes', ['table'], (gauge, { outbox }) => {
    for (const [table, { unrelayed }] of Object.entries(outbox)) gauge.set({ table }, unrelayed);
  });
  backlogGauge('tika_outbox_oldest_unrelayed_seconds', 'Age of the oldest outbox row not yet relayed (0 when none), by table; exported by worker processes', ['table'], (gauge, { outbox }) => {
    for (const [table, { oldestSeconds }] of Object.entries(outbox)) gauge.set({ table }, oldestSeconds);
  });
  return {
    registry,
    httpDuration: new Histogram({
      name: 'tika_http_request_duration_seconds',
      help: 'HTTP request duration by route and status',
      labelNames: ['route', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    smsOutcomes: new Counter({
      name: 'tika_sms_outcomes_total',
      help: 'SMS send attempts by provider outcome (sent, transient, permanent, account)',
      labelNames: ['provider', 'outcome'],
      registers: [registry],
    }),
    appointmentLocks: new Counter({
      name: 'tika_appointment_locks_total',
      help: 'Appointments locked by wrong codes; alert on a burst (one vaccinator guessing at a centre)',
      registers: [registry],
    }),
    codeAttemptsRefused: new Counter({
      name: 'tika_code_attempts_refused_total',
      help: 'Code checks and look-ups refused by a guessing limit, by limit',
      labelNames: ['reason'],
      registers: [registry],
    }),
    ussdReplies: new Counter({
      name: 'tika_ussd_replies_total',
      help: 'USSD screens answered, by kind (CON or END)',
      labelNames: ['kind'],
      registers: [registry],
    }),
    unknownDeliveryStatuses: new Counter({
      name: 'tika_delivery_reports_unknown_status_total',
      help: 'Delivery reports whose status is not in the documented list (logged, answered 200, not stored), by provider',
      labelNames: ['provider'],
      registers: [registry],
    }),
    smsRepliesDropped: new Counter({
      name: 'tika_sms_replies_dropped_total',
      help: 'Replies to incoming SMS not sent because the mobile went over its limit, by window (minute, day)',
      labelNames: ['window'],
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
