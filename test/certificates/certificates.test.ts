import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import express from 'express';
import {
  calculateJwkThumbprint,
  CompactSign,
  createLocalJWKSet,
  decodeProtectedHeader,
  exportJWK,
  exportPKCS8,
  generateKeyPair,
  jwtVerify,
  type JSONWebKeySet,
} from 'jose';
import type { Db } from '../../src/db/knex';
import { ManualClock } from '../../src/domain/clock';
import {
  CertificateService,
  CertificateSigner,
  DEV_KEY_FILE,
  isCertificateId,
  maskIdNumber,
  newCertificateId,
  type CertificateClaims,
} from '../../src/domain/certificates';
import { certificateRouter } from '../../src/http/certificates';
import { startTestApp } from '../support/app';
import { freshDb, truncateAll } from '../support/db';

const BASE_URL = 'https://tika.test';
const NAME = "O'Brien <Ravi>";

let db: Db;
let dataDir: string;
let signer: CertificateSigner;
let service: CertificateService;
const clock = new ManualClock(new Date());

beforeAll(async () => {
  db = await freshDb();
  dataDir = await mkdtemp(path.join(tmpdir(), 'tika-cert-'));
  signer = await CertificateSigner.load({ dataDir, production: false });
  service = new CertificateService(db, signer, clock, { publicBaseUrl: BASE_URL });
});

afterAll(async () => {
  await db.destroy();
  await rm(dataDir, { recursive: true, force: true });
});

beforeEach(async () => {
  await truncateAll(db);
});

// ---------------------------------------------------------------------------------------------
// Fixtures: the rows the lead's verification code leaves behind, written directly.
// ---------------------------------------------------------------------------------------------

let fixtureSeq = 0;

async function insertId(table: string, row: Record<string, unknown>): Promise<number> {
  const [inserted] = await db(table).insert(row).returning('id');
  return (inserted as { id: number }).id;
}

/** A recorded vaccination with its pending certificate; returns the certificate id. */
async function recordVaccination(options: { appointmentStatus?: string } = {}): Promise<string> {
  const n = ++fixtureSeq;
  const accountId = await insertId('accounts', { phone: `+9198765${String(n).padStart(5, '0')}`, language: 'hi' });
  const beneficiaryId = await insertId('beneficiaries', {
    account_id: accountId, name: NAME, birth_year: 1980, gender: 'M',
    id_type: 'AADHAAR', id_hash: `hash-${n}`, id_last4: '0124',
  });
  // One centre per name and PIN code (its natural key): later fixtures reuse it.
  const centre = { name: 'PHC Saket', pincode: '110017', district: 'South Delhi', state: 'Delhi' };
  const centreId = (await db('centres').where({ name: centre.name, pincode: centre.pincode }).first('id'))?.id ?? (await insertId('centres', centre));
  const sessionId = await insertId('vaccination_sessions', {
    centre_id: centreId, date: '2026-11-28', vaccine: 'COVISHIELD', min_age: 18, dose: 1, capacity: 10, booked: 1,
  });
  const vaccinatorId = await insertId('vaccinators', { phone: `+9191111${String(n).padStart(5, '0')}`, name: 'Sister Meena', centre_id: centreId });
  const vaccinatedAt = new Date('2026-11-28T05:30:00Z');
  const appointmentId = await insertId('appointments', {
    reference: `REF${n}`, beneficiary_id: beneficiaryId, session_id: sessionId, dose: 1,
    status: options.appointmentStatus ?? 'vaccinated', code_hmac: 'ab'.repeat(32), vaccinated_at: vaccinatedAt,
  });
  const vaccinationId = await insertId('vaccinations', {
    appointment_id: appointmentId, beneficiary_id: beneficiaryId, dose: 1, vaccine: 'COVISHIELD',
    centre_id: centreId, vaccinator_id: vaccinatorId, session_date: '2026-11-28', vaccinated_at: vaccinatedAt,
  });
  const id = newCertificateId();
  await db('certificates').insert({ id, vaccination_id: vaccinationId, beneficiary_id: beneficiaryId, dose: 1, status: 'pending' });
  return id;
}

async function confirmationSms() {
  return db('outbound_messages').where('template', 'sms.vaccinated').select('phone', 'language', 'params', 'dedupe_key');
}

async function issued(id: string): Promise<{ jws: string; claims: CertificateClaims }> {
  const result = await service.issue(id);
  if (result.kind === 'not_found') throw new Error('fixture certificate missing');
  return result.certificate;
}

/** The JWS with one character of its payload replaced. */
function tamper(jws: string): string {
  const [header, payload, signature] = jws.split('.') as [string, string, string];
  const i = Math.floor(payload.length / 2);
  const swapped = payload[i] === 'A' ? 'B' : 'A';
  return [header, payload.slice(0, i) + swapped + payload.slice(i + 1), signature].join('.');
}

/** A JWS over the same claims and claiming our kid, signed by a stranger's key. */
async function forgeWithOurKid(claims: CertificateClaims): Promise<string> {
  const other = await generateKeyPair('EdDSA', { extractable: true });
  return new CompactSign(new TextEncoder().encode(JSON.stringify(claims)))
    .setProtectedHeader({ alg: 'EdDSA', kid: signer.keyId, typ: 'JWT' })
    .sign(other.privateKey);
}

// ---------------------------------------------------------------------------------------------

describe('certificate ids', () => {
  test('are 26 URL-safe Crockford characters and do not repeat', () => {
    const ids = Array.from({ length: 2000 }, () => newCertificateId());
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) {
      expect(id).toMatch(/^[0-9a-hjkmnp-tv-z]{26}$/);
      expect(isCertificateId(id)).toBe(true);
    }
    expect(isCertificateId('unknown')).toBe(false);
    expect(isCertificateId(`${ids[0]!.slice(0, 25)}u`)).toBe(false);
  });
});

describe('ID masking', () => {
  test.each([
    ['AADHAAR', '0124', 'XXXX XXXX 0124'],
    ['PAN', '234F', 'XXXXXX234F'],
    ['PASSPORT', '4567', 'XXXX4567'],
    ['UNKNOWN', '99', 'XXXXXX99'],
    ['DL', '1234567', 'XXXXXXXXXXX4567'],
  ])('%s ending %s shows only the last 4: %s', (type, last4, masked) => {
    expect(maskIdNumber(type, last4)).toBe(masked);
    expect(masked.replace(/X/g, '').replace(/ /g, '').length).toBeLessThanOrEqual(4);
  });
});

describe('CertificateSigner', () => {
  test('keeps its generated development key: a reload has the same key id and verifies earlier signatures', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'tika-key-'));
    try {
      const first = await CertificateSigner.load({ dataDir: path.join(dir, 'nested'), production: false });
      const jws = await first.sign({ jti: 'x' } as CertificateClaims);
      const second = await CertificateSigner.load({ dataDir: path.join(dir, 'nested'), production: false });
      expect(second.keyId).toBe(first.keyId);
      expect(await second.verify(jws)).toEqual({ valid: true, claims: { jti: 'x' } });
      const file = path.join(dir, 'nested', DEV_KEY_FILE);
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      expect(await readFile(file, 'utf8')).toContain('BEGIN PRIVATE KEY');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('loads racing on an empty directory agree on one key, and none reads a half-written file', async () => {
    // The window (file created, key not yet written) is short: many rounds of several loads find it.
    for (let round = 0; round < 25; round++) {
      const dir = await mkdtemp(path.join(tmpdir(), 'tika-key-'));
      try {
        const signers = await Promise.all(Array.from({ length: 6 }, () => CertificateSigner.load({ dataDir: dir, production: false })));
        expect(new Set(signers.map((signer) => signer.keyId)).size).toBe(1);
        expect(await readdir(dir)).toEqual(['certificate-signing-key.pem']);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }
  });

  test('production without CERT_PRIVATE_KEY refuses to start', async () => {
    await expect(CertificateSigner.load({ dataDir, production: true })).rejects.toThrow('CERT_PRIVATE_KEY is required in production');
    await expect(CertificateSigner.load({ privateKeyPem: '  ', dataDir, production: true })).rejects.toThrow('CERT_PRIVATE_KEY is required');
  });

  test('imports a PKCS#8 PEM key, and its key id is the RFC 7638 thumbprint', async () => {
    const pair = await generateKeyPair('EdDSA', { extractable: true });
    const pem = await exportPKCS8(pair.privateKey);
    const dir = await mkdtemp(path.join(tmpdir(), 'tika-key-'));
    try {
      const imported = await CertificateSigner.load({ privateKeyPem: pem, dataDir: dir, production: true });
      expect(imported.keyId).toBe(await calculateJwkThumbprint(await exportJWK(pair.publicKey), 'sha256'));
      const jws = await imported.sign({ jti: 'pem' } as CertificateClaims);
      const { payload } = await jwtVerify(jws, pair.publicKey, { algorithms: ['EdDSA'] });
      expect(payload.jti).toBe('pem');
      // An env var holding the PEM on one line with literal \n works too.
      const oneLine = await CertificateSigner.load({ privateKeyPem: pem.replace(/\n/g, '\\n'), dataDir: dir, production: true });
      expect(oneLine.keyId).toBe(imported.keyId);
      await expect(stat(path.join(dir, DEV_KEY_FILE))).rejects.toThrow();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a key that is not a PKCS#8 Ed25519 PEM is refused without echoing it', async () => {
    const rsa = await generateKeyPair('RS256', { extractable: true });
    const rsaPem = await exportPKCS8(rsa.privateKey);
    for (const bad of ['not a key', rsaPem]) {
      const error = await CertificateSigner.load({ privateKeyPem: bad, dataDir, production: true }).catch((e: Error) => e);
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).message).toMatch(/CERT_PRIVATE_KEY/);
      expect((error as Error).message).not.toContain(bad.slice(0, 40));
    }
  });

  test('publishes only the public key', () => {
    const [jwk, ...rest] = signer.publicJwks().keys;
    expect(rest).toHaveLength(0);
    expect(jwk).toEqual({ kty: 'OKP', crv: 'Ed25519', x: expect.any(String), kid: signer.keyId, alg: 'EdDSA', use: 'sig' });
  });

  test('says why a JWS is refused', async () => {
    const claims = { jti: 'c' } as CertificateClaims;
    const good = await signer.sign(claims);
    const stranger = await CertificateSigner.load({ privateKeyPem: await exportPKCS8((await generateKeyPair('EdDSA', { extractable: true })).privateKey), dataDir, production: true });
    expect(await signer.verify('not-a-jws')).toEqual({ valid: false, reason: expect.stringMatching(/^malformed/) });
    expect(await signer.verify('a.b.c')).toEqual({ valid: false, reason: expect.stringMatching(/^malformed/) });
    expect(await signer.verify(await stranger.sign(claims))).toEqual({ valid: false, reason: 'unknown key id' });
    expect(await signer.verify(tamper(good))).toEqual({ valid: false, reason: 'bad signature' });
    expect(await signer.verify(await forgeWithOurKid(claims))).toEqual({ valid: false, reason: 'bad signature' });
    expect(await signer.verify(good)).toEqual({ valid: true, claims });
  });
});

describe('CertificateService', () => {
  test('issue signs the claims, marks the row issued and queues one confirmation SMS', async () => {
    const id = await recordVaccination();
    const result = await service.issue(id);
    expect(result.kind).toBe('issued');

    const row = await db('certificates').where({ id }).first();
    expect(row).toMatchObject({ status: 'issued', key_id: signer.keyId });
    expect(row.issued_at).toEqual(clock.now());
    expect(row.claims).toEqual({
      certificateId: id,
      name: NAME,
      birthYear: 1980,
      gender: 'M',
      idType: 'AADHAAR',
      idMasked: 'XXXX XXXX 0124',
      vaccine: 'COVISHIELD',
      dose: 1,
      date: '2026-11-28',
      vaccinatedAt: '2026-11-28T05:30:00.000Z',
      centre: { name: 'PHC Saket', district: 'South Delhi', state: 'Delhi', pincode: '110017' },
      vaccinator: 'Sister Meena',
      issuer: BASE_URL,
      iss: BASE_URL,
      jti: id,
      iat: Math.floor(clock.now().getTime() / 1000),
    });
    expect(await signer.verify(row.jws)).toEqual({ valid: true, claims: row.claims });

    const sms = await confirmationSms();
    expect(sms).toHaveLength(1);
    expect(sms[0]).toMatchObject({ language: 'hi', dedupe_key: `confirm-${id}`, params: { memberName: NAME, dose: 1 } });
    expect(sms[0].phone).toMatch(/^\+9198765/);
    // Two values, each within a DLT {#var#}; the catalogue joins them as {site}/c/{certificate}.
    expect(sms[0].params).toMatchObject({ site: BASE_URL, certificate: id });
  });

  test('issuing again changes nothing and sends no second SMS', async () => {
    const id = await recordVaccination();
    const first = await issued(id);
    clock.advanceDays(1);
    const again = await service.issue(id);
    expect(again).toMatchObject({ kind: 'already_issued', certificate: { jws: first.jws, claims: first.claims } });
    expect((await db('certificates').where({ id }).first()).jws).toBe(first.jws);
    expect(await confirmationSms()).toHaveLength(1);
  });

  test('concurrent jobs for one certificate issue it once', async () => {
    const id = await recordVaccination();
    const results = await Promise.all([1, 2, 3].map(() => service.issue(id)));
    expect(results.map((r) => r.kind).sort()).toEqual(['already_issued', 'already_issued', 'issued']);
    expect(await confirmationSms()).toHaveLength(1);
  });

  test('an unknown certificate is not_found', async () => {
    expect(await service.issue(newCertificateId())).toEqual({ kind: 'not_found' });
  });

  test('refuses to certify a vaccination whose appointment is not vaccinated (invariant 2)', async () => {
    const id = await recordVaccination({ appointmentStatus: 'booked' });
    await expect(service.issue(id)).rejects.toThrow(/refusing to issue/);
    expect((await db('certificates').where({ id }).first()).status).toBe('pending');
    expect(await confirmationSms()).toHaveLength(0);
  });

  test('get returns only issued certificates', async () => {
    const id = await recordVaccination();
    expect(await service.get(id)).toBeUndefined();
    const certificate = await issued(id);
    expect(await service.get(id)).toEqual({ id, claims: certificate.claims, jws: certificate.jws, issuedAt: clock.now() });
    expect(await service.get(newCertificateId())).toBeUndefined();
    expect(await service.get("x' OR 1=1 --")).toBeUndefined();
  });

  test('verify also wants the certificate on record as issued', async () => {
    const id = await recordVaccination();
    const { jws } = await issued(id);
    expect(await service.verify(jws)).toMatchObject({ valid: true });
    const unrecorded = await signer.sign({ jti: newCertificateId() } as CertificateClaims);
    expect(await service.verify(unrecorded)).toEqual({ valid: false, reason: expect.stringMatching(/^unknown certificate/) });
  });
});

describe('certificate HTTP endpoints', () => {
  let server: Server;
  let baseUrl: string;

  beforeAll(async () => {
    const app = express();
    app.use(certificateRouter({ certificates: service, signer }));
    server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, () => resolve(s));
    });
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  const postVerify = (body: string, contentType = 'application/json') =>
    fetch(`${baseUrl}/certificates/verify`, { method: 'POST', headers: { 'content-type': contentType }, body });

  test('GET /.well-known/jwks.json publishes the public key, cacheable', async () => {
    const response = await fetch(`${baseUrl}/.well-known/jwks.json`);
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('public, max-age=3600');
    const jwks = (await response.json()) as JSONWebKeySet;
    expect(jwks).toEqual(signer.publicJwks());
    expect(jwks.keys[0]).not.toHaveProperty('d');
  });

  test('anyone verifies a certificate offline with jose and the published JWKS alone', async () => {
    const id = await recordVaccination();
    const { jws, claims } = await issued(id);
    const jwks = createLocalJWKSet((await (await fetch(`${baseUrl}/.well-known/jwks.json`)).json()) as JSONWebKeySet);

    const { payload, protectedHeader } = await jwtVerify(jws, jwks, { issuer: BASE_URL, algorithms: ['EdDSA'] });
    expect(payload).toEqual(claims);
    expect(protectedHeader).toEqual({ alg: 'EdDSA', kid: signer.keyId, typ: 'JWT' });

    await expect(jwtVerify(tamper(jws), jwks)).rejects.toThrow();
    await expect(jwtVerify(await forgeWithOurKid(claims), jwks)).rejects.toThrow('signature verification failed');
  });

  test('GET /certificates/:id returns the issued certificate, 404 otherwise', async () => {
    const id = await recordVaccination();
    const pending = await fetch(`${baseUrl}/certificates/${id}`);
    expect(pending.status).toBe(404);
    expect(await pending.json()).toEqual({ error: 'not_found', message: expect.any(String) });

    const { jws, claims } = await issued(id);
    const response = await fetch(`${baseUrl}/certificates/${id}`);
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('private, no-store');
    expect(await response.json()).toEqual({ id, claims, jws });

    for (const unknown of [newCertificateId(), 'unknown', `${id}x`]) {
      const missing = await fetch(`${baseUrl}/certificates/${unknown}`);
      expect(missing.status).toBe(404);
      expect(await missing.json()).toMatchObject({ error: 'not_found' });
    }
  });

  test('GET /c/:id shows the certificate, every value escaped, with a QR code of the JWS', async () => {
    const id = await recordVaccination();
    await issued(id);
    const response = await fetch(`${baseUrl}/c/${id}`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await response.text();
    expect(html).toContain('<html lang="en">');
    expect(html).toContain('O&#39;Brien &lt;Ravi&gt;');
    expect(html).not.toContain('<Ravi>');
    for (const text of ['1980', 'XXXX XXXX 0124', 'COVISHIELD', '2026-11-28', 'PHC Saket', 'Sister Meena', id]) {
      expect(html).toContain(text);
    }
    expect(html).toContain('Verify: scan the QR code or POST the JWS to /certificates/verify');
    expect(html).toMatch(/<svg[\s>]/);
    expect(html).not.toMatch(/<(script|link|img)\b/);
    expect(html).not.toMatch(/https?:\/\/(?!www\.w3\.org)/);
    // The upper-case form of a Crockford id is the same id.
    expect((await fetch(`${baseUrl}/c/${id.toUpperCase()}`)).status).toBe(200);
  });

  test('GET /c/:id of an unknown or pending certificate is a 404 page', async () => {
    const pendingId = await recordVaccination();
    for (const unknown of ['unknown', newCertificateId(), pendingId]) {
      const response = await fetch(`${baseUrl}/c/${unknown}`);
      expect(response.status).toBe(404);
      expect(response.headers.get('content-type')).toMatch(/^text\/html/);
      expect(await response.text()).toContain('Certificate not found');
    }
  });

  test('POST /certificates/verify answers valid with the claims, or why not', async () => {
    const id = await recordVaccination();
    const { jws, claims } = await issued(id);

    const valid = await postVerify(JSON.stringify({ jws }));
    expect(valid.status).toBe(200);
    expect(await valid.json()).toEqual({ valid: true, claims });

    for (const bad of [tamper(jws), await forgeWithOurKid(claims), 'not-a-jws']) {
      const response = await postVerify(JSON.stringify({ jws: bad }));
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ valid: false, reason: expect.any(String) });
    }
  });

  test('POST /certificates/verify refuses a bad body with 400 invalid_request', async () => {
    const cases: [string, string?][] = [
      ['{"jws": 42}'],
      ['{}'],
      ['["x"]'],
      ['{not json'],
      [`jws=${'a'.repeat(10)}`, 'application/x-www-form-urlencoded'],
    ];
    for (const [body, contentType] of cases) {
      const response = await postVerify(body, contentType);
      expect(response.status).toBe(400);
      expect(await response.json()).toEqual({ error: 'invalid_request', message: expect.any(String) });
    }
    const huge = await postVerify(JSON.stringify({ jws: 'a'.repeat(20_000) }));
    expect(huge.status).toBe(413);
    expect(await huge.json()).toMatchObject({ error: 'invalid_request' });
  });
});

// ---------------------------------------------------------------------------------------------
// Finding 6: rotating the signing key keeps every certificate already issued verifiable.
// ---------------------------------------------------------------------------------------------

interface GeneratedKey {
  privateKey: string;
  publicKeys: string;
  kid: string;
}

/** `tika keys:generate`, run as an operator would, its output parsed. */
function keysGenerate(): GeneratedKey {
  const child = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'keys:generate'], { encoding: 'utf8', timeout: 30_000, env: { PATH: process.env.PATH } });
  if (child.status !== 0) throw new Error(`keys:generate failed: ${child.stderr}`);
  const privateKey = /^CERT_PRIVATE_KEY='(.*)'$/m.exec(child.stdout)?.[1];
  const publicKeys = /^\[.*\]$/m.exec(child.stdout)?.[0];
  if (!privateKey || !publicKeys) throw new Error(`unexpected keys:generate output:\n${child.stdout}`);
  return { privateKey, publicKeys, kid: (JSON.parse(publicKeys) as { kid: string }[])[0]!.kid };
}

describe('key rotation', () => {
  test('tika keys:generate prints one-line private key and its public key, never the private part twice', async () => {
    const key = keysGenerate();
    expect(key.privateKey).toMatch(/^-----BEGIN PRIVATE KEY-----\\n[A-Za-z0-9+/=\\n]+-----END PRIVATE KEY-----(\\n)?$/);
    const publics = JSON.parse(key.publicKeys) as Record<string, string>[];
    expect(publics).toEqual([{ kty: 'OKP', crv: 'Ed25519', x: expect.any(String), kid: key.kid }]);
    const loaded = await CertificateSigner.load({ privateKeyPem: key.privateKey, dataDir, production: true });
    expect(loaded.keyId).toBe(key.kid);
    expect(await calculateJwkThumbprint(publics[0]!, 'sha256')).toBe(key.kid);
  });

  test('a restart with key B and A as previous verifies A\'s certificates, publishes both and signs with B', async () => {
    const [a, b] = [keysGenerate(), keysGenerate()];
    const first = await startTestApp({ CERT_PRIVATE_KEY: a.privateKey });
    let old: { jws: string };
    try {
      const id = await recordVaccination();
      const result = await first.app.certificates.issue(id);
      if (result.kind === 'not_found') throw new Error('fixture certificate missing');
      old = result.certificate;
      expect(decodeProtectedHeader(old.jws).kid).toBe(a.kid);
    } finally {
      await first.close();
    }

    const second = await startTestApp({ CERT_PRIVATE_KEY: b.privateKey, CERT_PREVIOUS_PUBLIC_KEYS: a.publicKeys }, { keepState: true });
    try {
      const verify = async (jws: string) =>
        (await fetch(`${second.baseUrl}/certificates/verify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jws }) })).json();
      expect(await verify(old.jws)).toMatchObject({ valid: true });

      const jwks = (await (await fetch(`${second.baseUrl}/.well-known/jwks.json`)).json()) as JSONWebKeySet;
      expect(jwks.keys.map((k) => k.kid)).toEqual([b.kid, a.kid]);
      for (const key of jwks.keys) expect(key).not.toHaveProperty('d');
      // An offline verifier with the published JWKS alone accepts the old certificate too.
      await expect(jwtVerify(old.jws, createLocalJWKSet(jwks), { algorithms: ['EdDSA'] })).resolves.toBeDefined();

      const id = await recordVaccination();
      const result = await second.app.certificates.issue(id);
      if (result.kind === 'not_found') throw new Error('fixture certificate missing');
      expect(decodeProtectedHeader(result.certificate.jws).kid).toBe(b.kid);
      expect(await verify(result.certificate.jws)).toMatchObject({ valid: true });

      const stranger = await CertificateSigner.load({ privateKeyPem: keysGenerate().privateKey, dataDir, production: true });
      const forged = await stranger.sign({ ...result.certificate.claims });
      expect(await verify(forged)).toEqual({ valid: false, reason: 'unknown key id' });
    } finally {
      await second.close();
    }
  });

  test('a previous key does not sign, and a stranger claiming a previous kid is refused', async () => {
    const [a, b] = [keysGenerate(), keysGenerate()];
    const rotated = await CertificateSigner.load({ privateKeyPem: b.privateKey, previousPublicKeys: a.publicKeys, dataDir, production: true });
    expect(rotated.keyId).toBe(b.kid);
    const claims = { jti: 'c' } as CertificateClaims;
    const forged = await new CompactSign(new TextEncoder().encode(JSON.stringify(claims)))
      .setProtectedHeader({ alg: 'EdDSA', kid: a.kid, typ: 'JWT' })
      .sign((await generateKeyPair('EdDSA', { extractable: true })).privateKey);
    expect(await rotated.verify(forged)).toEqual({ valid: false, reason: 'bad signature' });
  });
});
