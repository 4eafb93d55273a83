import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { startTestApp, type TestApp } from '../support/app';

interface Rule {
  alert: string;
  expr: string;
  for: string;
  labels: { severity: string };
  annotations: { summary: string; description: string };
}

const rules = (parse(readFileSync(join(__dirname, '..', '..', 'deploy', 'alerts.yml'), 'utf8')) as { groups: { name: string; rules: Rule[] }[] }).groups.flatMap((group) => group.rules);

/** PromQL words that are not metric names. */
const PROMQL = new Set(['sum', 'max', 'by', 'rate', 'increase', 'histogram_quantile', 'le', 'on', 'without']);
const metricNames = (expr: string) =>
  (expr.replace(/\{[^}]*\}/g, '').replace(/\[[^\]]*\]/g, '').match(/[a-zA-Z_:][a-zA-Z0-9_:]*/g) ?? []).filter((word) => !PROMQL.has(word) && !/^(queue|table|provider|status|route)$/.test(word));

/** Every series name /metrics can show: each TYPE line, and a histogram's _bucket, _sum and _count. */
async function exposedNames(url: string): Promise<Set<string>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const names = new Set<string>();
  for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(name!);
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${name}${suffix}`);
  }
  return names;
}

describe('deploy/alerts.yml', () => {
  let web: TestApp;
  let worker: TestApp;
  beforeAll(async () => {
    web = await startTestApp({}, { worker: false });
    worker = await startTestApp({}, { keepState: true, publicPort: false, internal: { dashboard: false } });
  });
  afterAll(async () => {
    await worker.close();
    await web.close();
  });

  it('has the six alerts, each with for:, a severity, a summary and a runbook step', () => {
    expect(rules.map((rule) => rule.alert).sort()).toEqual([
      'TikaAppointmentLockBurst',
      'TikaHttp5xx',
      'TikaOutboxNotRelayed',
      'TikaQueueBacklogOld',
      'TikaSmsProviderAccountProblem',
      'TikaUssdHopLatencyHigh',
    ]);
    for (const rule of rules) {
      expect(rule.for).toMatch(/^\d+[smh]$/);
      expect(['warning', 'critical']).toContain(rule.labels.severity);
      expect(rule.annotations.summary.length).toBeGreaterThan(10);
      expect(rule.annotations.description).toMatch(/Runbook: README, Monitoring and the dashboard, step \d/);
    }
  });

  it('every metric an expression reads is exposed by the running web or worker process', async () => {
    const exposed = new Set([...(await exposedNames(web.baseUrl)), ...(await exposedNames(worker.internalUrl!))]);
    for (const rule of rules) {
      const names = metricNames(rule.expr);
      expect(names.length).toBeGreaterThan(0);
      for (const name of names) expect([rule.alert, name, exposed.has(name)]).toEqual([rule.alert, name, true]);
    }
  });

  it('the hop-latency rule matches the route label the USSD webhook is recorded under', async () => {
    await web.ussd('alerts-probe', '+919800000002', '');
    const text = await (await fetch(`${web.baseUrl}/metrics`)).text();
    const route = /tika_http_request_duration_seconds_count\{route="([^"]*ussd[^"]*)"/.exec(text)?.[1];
    const selector = /route=~"([^"]+)"/.exec(rules.find((rule) => rule.alert === 'TikaUssdHopLatencyHigh')!.expr)![1]!;
    expect(route).toBe('/webhooks/africastalking/ussd');
    expect(new RegExp(`^(?:${selector})$`).test(route!)).toBe(true);
  });
});
