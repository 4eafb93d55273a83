/**
 * The load generator, run as a child process of bench/ussd.ts so that it does not share an event
 * loop with the servers it measures (it still shares the machine's cores). It receives one
 * LoadJob at a time over IPC, runs autocannon, and answers with a LoadOutcome.
 */
import autocannon from 'autocannon';

/** Replaced in a body by a number unique to each request (a new USSD sessionId per request). */
export const UNIQUE_TOKEN = '__N__';

export interface LoadJob {
  name: string;
  /** Full URL (loopback), path and query included. */
  url: string;
  /** Form-encoded bodies, used round-robin across all connections; UNIQUE_TOKEN is replaced per request. */
  bodies: string[];
  connections: number;
  /** Run for this long (seconds)… */
  durationSec?: number;
  /** …or until this many responses (takes precedence). */
  amount?: number;
  /** Every response body is checked: it must start with `prefix` and contain `includes` (with a list: match one of them). */
  expect: Expect | Expect[];
}

export interface Expect {
  prefix: string;
  includes?: string;
}

export interface LoadOutcome {
  name: string;
  responses: number;
  /** First request sent to last response read. */
  seconds: number;
  /** Completed responses per second of `seconds`. */
  rps: number;
  /** autocannon's mean of its per-second request counts. */
  rpsMean: number;
  latencyMs: { mean: number; p50: number; p97_5: number; p99: number; max: number };
  errors: number;
  timeouts: number;
  non2xx: number;
  /** Bodies checked against `expect`, and how many failed. */
  checked: number;
  bad: number;
  badSamples: string[];
  /** With a list of expectations: how many bodies matched each (the first that matches counts). */
  matched: number[];
  sample: string;
}

export type LoadMessage = { type: 'run'; job: LoadJob } | { type: 'exit' };
export type LoadReply = { type: 'done'; outcome: LoadOutcome } | { type: 'failed'; error: string };

async function run(job: LoadJob): Promise<LoadOutcome> {
  if (job.bodies.length === 0) throw new Error(`${job.name}: no bodies`);
  let next = 0;
  let unique = 0;
  const nonce = `${process.pid.toString(36)}${Date.now().toString(36)}`;
  let checked = 0;
  let bad = 0;
  const badSamples: string[] = [];
  let sample = '';
  const expectations = Array.isArray(job.expect) ? job.expect : [job.expect];
  const matched = expectations.map(() => 0);
  // Wall time from the first request sent to the last response read. autocannon's own duration
  // is whole seconds when it stops on `amount` (it checks on its 1 s tick), too coarse here.
  let firstSentAt = 0;
  let lastAnsweredAt = 0;

  const result = await autocannon({
    url: job.url,
    connections: job.connections,
    pipelining: 1,
    timeout: 10,
    ...(job.amount ? { amount: job.amount } : { duration: job.durationSec ?? 10 }),
    requests: [
      {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        setupRequest: (request) => {
          if (!firstSentAt) firstSentAt = performance.now();
          const template = job.bodies[next++ % job.bodies.length]!;
          const body = template.includes(UNIQUE_TOKEN) ? template.replaceAll(UNIQUE_TOKEN, `${nonce}_${unique++}`) : template;
          return { ...request, body };
        },
        onResponse: (status, body) => {
          lastAnsweredAt = performance.now();
          checked++;
          const text = String(body);
          if (!sample && status === 200) sample = text;
          const which = status === 200 ? expectations.findIndex((e) => text.startsWith(e.prefix) && (e.includes === undefined || text.includes(e.includes))) : -1;
          if (which >= 0) matched[which]!++;
          else {
            bad++;
            if (badSamples.length < 5) badSamples.push(`${status} ${text.slice(0, 200)}`);
          }
        },
      },
    ],
  });
  const seconds = (lastAnsweredAt - firstSentAt) / 1000;
  const responses = result['1xx'] + result['2xx'] + result['3xx'] + result['4xx'] + result['5xx'];
  return {
    name: job.name,
    seconds,
    responses,
    rps: responses / seconds,
    rpsMean: result.requests.mean,
    latencyMs: { mean: result.latency.mean, p50: result.latency.p50, p97_5: result.latency.p97_5, p99: result.latency.p99, max: result.latency.max },
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    checked,
    bad,
    badSamples,
    matched,
    sample,
  };
}

if (require.main === module) {
  if (!process.send) throw new Error('bench/load.ts runs as a child of bench/ussd.ts (it needs an IPC channel)');
  process.on('message', (message: LoadMessage) => {
    if (message.type === 'exit') {
      process.disconnect();
      return;
    }
    run(message.job).then(
      (outcome) => process.send!({ type: 'done', outcome } satisfies LoadReply),
      (error: unknown) => process.send!({ type: 'failed', error: error instanceof Error ? error.stack ?? error.message : String(error) } satisfies LoadReply),
    );
  });
}
