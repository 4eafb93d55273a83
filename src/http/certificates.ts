import express, { Router, type RequestHandler, type Response } from 'express';
import QRCode from 'qrcode';
import { z } from 'zod';
import {
  isCertificateId,
  type CertificateClaims,
  type CertificateService,
  type CertificateSigner,
  type IssuedCertificate,
} from '../domain/certificates';
import { escapeHtml } from './html';

export interface CertificateRouterDeps {
  certificates: CertificateService;
  signer: CertificateSigner;
}

/** The public certificate endpoints: the JWKS, the certificate as JSON and as a page, and a verifier. Mounted at '/'. */
export function certificateRouter(deps: CertificateRouterDeps): Router {
  const { certificates, signer } = deps;
  const router = Router();

  router.get('/.well-known/jwks.json', (_req, res) => {
    res.set('cache-control', 'public, max-age=3600').json(signer.publicJwks());
  });

  router.get('/certificates/:id', async (req, res) => {
    const certificate = await findCertificate(certificates, req.params.id);
    privatePage(res);
    if (!certificate) {
      res.status(404).json({ error: 'not_found', message: 'No issued certificate has this id' });
      return;
    }
    res.json({ id: certificate.id, claims: certificate.claims, jws: certificate.jws });
  });

  router.get('/c/:id', async (req, res) => {
    const certificate = await findCertificate(certificates, req.params.id);
    privatePage(res).set('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'");
    if (!certificate) {
      res.status(404).type('html').send(notFoundPage());
      return;
    }
    res.type('html').send(await certificatePage(certificate));
  });

  router.post('/certificates/verify', jsonBody, async (req, res) => {
    const parsed = verifyBody.safeParse(req.body);
    if (!parsed.success) {
      res.status(400).json({ error: 'invalid_request', message: 'body must be JSON of the form { "jws": "<compact JWS>" }' });
      return;
    }
    res.json(await certificates.verify(parsed.data.jws));
  });

  return router;
}

const verifyBody = z.object({ jws: z.string().min(1).max(8000) });

// Parsed on this route only: the router is mounted at '/', so a router-wide parser would also
// take the bodies (and answer the errors) of every route mounted after it.
const parseJson = express.json({ limit: '16kb' });
const jsonBody: RequestHandler = (req, res, next) => {
  parseJson(req, res, (error?: unknown) => {
    if (!error) return next();
    const status = (error as { status?: number }).status === 413 ? 413 : 400;
    res.status(status).json({
      error: 'invalid_request',
      message: status === 413 ? 'body is larger than 16kb' : 'body is not valid JSON',
    });
  });
};

/** Crockford base32 is case-insensitive; anything not shaped like an id never reaches the database. */
async function findCertificate(certificates: CertificateService, raw: string | string[] | undefined): Promise<IssuedCertificate | undefined> {
  const id = typeof raw === 'string' ? raw.toLowerCase() : '';
  return isCertificateId(id) ? certificates.get(id) : undefined;
}

/** The id in the URL is the only secret guarding personal data: keep it out of caches and referrers. */
function privatePage(res: Response): Response {
  return res.set({ 'cache-control': 'private, no-store', 'referrer-policy': 'no-referrer', 'x-robots-tag': 'noindex' });
}

// ---------------------------------------------------------------------------------------------
// HTML
// ---------------------------------------------------------------------------------------------

const STYLE = `body{font-family:sans-serif;margin:0;padding:8px;color:#111;background:#fff;font-size:16px}
main{max-width:480px;margin:0 auto}h1{font-size:20px;margin:8px 0}
dl{margin:0}dt{font-weight:bold;margin-top:8px}dd{margin:0;word-break:break-word}
.qr{max-width:320px;margin:12px 0}.qr svg{width:100%;height:auto}.small{font-size:13px;color:#444}`;

function layout(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(title)}</title><style>${STYLE}</style></head>
<body><main>${body}</main></body></html>`;
}

function fields(claims: CertificateClaims): [string, string | number][] {
  const { centre } = claims;
  return [
    // Labels in English and Hindi: the page is opened from an SMS in either language.
    ['Name / नाम', claims.name],
    ['Year of birth / जन्म वर्ष', claims.birthYear],
    ['Photo ID / पहचान पत्र', `${claims.idType} ${claims.idMasked}`],
    ['Vaccine / टीका', claims.vaccine],
    ['Dose / डोज', claims.dose],
    ['Date / तारीख', claims.date],
    ['Centre / केंद्र', `${centre.name}, ${centre.district}, ${centre.state} ${centre.pincode}`],
    ['Vaccinator / टीकाकर्मी', claims.vaccinator],
    ['Certificate ID / प्रमाणपत्र संख्या', claims.certificateId],
  ];
}

async function certificatePage(certificate: IssuedCertificate): Promise<string> {
  // The QR holds the JWS itself, so a verifier needs only our published key, not this server.
  const qr = await QRCode.toString(certificate.jws, { type: 'svg', errorCorrectionLevel: 'L', margin: 2 });
  const rows = fields(certificate.claims)
    .map(([label, value]) => `<dt>${escapeHtml(label)}</dt><dd>${escapeHtml(value)}</dd>`)
    .join('\n');
  return layout(
    'Vaccination certificate',
    `<h1>Vaccination certificate<br>टीकाकरण प्रमाणपत्र</h1>
<dl>
${rows}
</dl>
<div class="qr">${qr}</div>
<p class="small">Verify: scan the QR code or POST the JWS to /certificates/verify</p>`,
  );
}

function notFoundPage(): string {
  return layout(
    'Certificate not found',
    `<h1>Certificate not found</h1>
<p>No issued certificate has this link. If you were vaccinated and did not receive a confirmation SMS, contact your vaccination centre.</p>`,
  );
}
