import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Counts of jobs by state, read when Prometheus scrapes. */
export type QueueCounts = () => Promise<Record<string, Record<string, number>>>;

/** Prometheus metrics, served at GET /metrics. One registry per app instance (tests build several). */
export function createMetrics(queueCounts?: QueueCounts) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  new Gauge({
    name: 'tika_queue_jobs',
    help: 'Jobs in each queue by state (waiting, active, delayed, failed)',
    labelNames: ['queue', 'state'],
    registers: [registry],
    async collect() {
      if (!queueCounts) return;
      for (const [queue, counts] of Object.entries(await queueCounts())) {
        for (const [state, count] of Object.entries(counts)) this.set({ queue, state }, count);
      }
    },
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
