import type { RequestHandler } from 'express';

const ENDPOINTS: [string, string][] = [
  ['POST /webhooks/africastalking/ussd, /ussd/events, /sms, /delivery', "Africa's Talking callbacks (?key=WEBHOOK_SECRET)"],
  ['GET /c/:id, GET /certificates/:id, POST /certificates/verify', 'vaccination certificates'],
  ['GET /.well-known/jwks.json', 'the keys that sign certificates'],
  ['/admin/centres, /admin/sessions, /admin/vaccinators', 'the admin API (Authorization: Bearer ADMIN_TOKEN)'],
  ['GET /health, /healthz, /readyz, /metrics; /admin/login, /admin/queues', 'operations and the queue dashboard'],
  ['GET /simulator', 'feature phones in the browser (open with the sandbox provider in development; elsewhere at /admin/simulator after the admin login)'],
];

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Tika</title></head>
<body>
<h1>Tika (टीका)</h1>
<p>An SMS/USSD gateway for vaccination appointments with a 4-digit security code. Citizens reach it
through their telecom operator, not through this page.</p>
<ul>
${ENDPOINTS.map(([path, what]) => `<li><code>${path}</code>: ${what}</li>`).join('\n')}
</ul>
<p>Documentation: <code>README.md</code> in the source repository ("Try it by hand", "Operating it").</p>
</body></html>
`;

/** GET /: says what answers here, for whoever opens the address in a browser. */
export const homePage: RequestHandler = (_req, res) => {
  res.set('content-security-policy', "default-src 'none'").type('html').send(PAGE);
};
