import { randomBytes } from 'node:crypto';
import { link, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  calculateJwkThumbprint,
  CompactSign,
  compactVerify,
  decodeProtectedHeader,
  errors as joseErrors,
  exportJWK,
  exportPKCS8,
  generateKeyPair,
  importJWK,
  importPKCS8,
  type CryptoKey,
  type JWK,
} from 'jose';
import { z } from 'zod';
import type { Db, Tx } from '../db/knex';
import type { Clock } from './clock';
import { queueSms } from './outbox';

// ---------------------------------------------------------------------------------------------
// Certificate ids
// ---------------------------------------------------------------------------------------------

const CROCKFORD = '0123456789abcdefghjkmnpqrstvwxyz';
const CERTIFICATE_ID = /^[0-9a-hjkmnp-tv-z]{26}$/;

/** 128 random bits as 26 lower-case Crockford base32 characters: unguessable, URL-safe, no look-alike letters. */
export function newCertificateId(): string {
  let value = BigInt(`0x${randomBytes(16).toString('hex')}`);
  let id = '';
  for (let i = 0; i < 26; i++) {
    id = CROCKFORD[Number(value & 31n)] + id;
    value >>= 5n;
  }
  return id;
}

/** Whether a string has the shape of a certificate id (checked before any database look-up). */
export function isCertificateId(value: string): boolean {
  return CERTIFICATE_ID.test(value);
}

// ---------------------------------------------------------------------------------------------
// Claims
// ---------------------------------------------------------------------------------------------

export interface CertificateClaims {
  certificateId: string;
  name: string;
  birthYear: number;
  gender: string;
  idType: string;
  /** Only the last 4 characters of the photo-ID number are ever visible. */
  idMasked: string;
  vaccine: string;
  dose: number;
  /** The session's calendar day, YYYY-MM-DD. */
  date: string;
  vaccinatedAt: string;
  centre: { name: string; district: string; state: string; pincode: string };
  vaccinator: string;
  /** The public base URL of the issuing service. */
  issuer: string;
  iss: string;
  jti: string;
  iat: number;
}

// Full lengths of each document number, so the mask looks like the document; unknown types get 8.
const ID_LENGTHS: Record<string, number> = { AADHAAR: 12, PAN: 10, PASSPORT: 8, VOTER: 10, DL: 15 };

/** 'XXXX XXXX 1234' for Aadhaar, X-padding to the document's length otherwise. */
export function maskIdNumber(idType: string, last4: string): string {
  const visible = last4.slice(-4);
  if (idType === 'AADHAAR') return `XXXX XXXX ${visible}`;
  return 'X'.repeat(Math.max((ID_LENGTHS[idType] ?? 8) - visible.length, 4)) + visible;
}

// ---------------------------------------------------------------------------------------------
// Signer
// ---------------------------------------------------------------------------------------------

export type VerifyResult = { valid: true; claims: CertificateClaims } | { valid: false; reason: string };

export interface SignerOptions {
  /** PKCS#8 PEM of an Ed25519 private key (CERT_PRIVATE_KEY). */
  privateKeyPem?: string;
  /** Public keys of retired signing keys (CERT_PREVIOUS_PUBLIC_KEYS): see parsePublicJwks. */
  previousPublicKeys?: string;
  /** Where development and test keep their generated key. */
  dataDir: string;
  production: boolean;
}

export const DEV_KEY_FILE = 'certificate-signing-key.pem';
const ALG = 'EdDSA';

/** A published verification key: the public half of an Ed25519 key, its kid the RFC 7638 thumbprint. */
interface VerificationKey {
  kid: string;
  jwk: JWK;
  key: Awaited<ReturnType<typeof importJWK>>;
}

/**
 * Signs certificates with the current Ed25519 key and verifies them by kid against it and the
 * retired keys still published, so a key rotation leaves every issued certificate valid.
 */
export class CertificateSigner {
  private constructor(
    private readonly privateKey: CryptoKey,
    /** The current key first, then the retired ones. */
    private readonly verificationKeys: VerificationKey[],
  ) {}

  get keyId(): string {
    return this.verificationKeys[0]!.kid;
  }

  static async load(options: SignerOptions): Promise<CertificateSigner> {
    const pem = options.privateKeyPem?.trim()
      ? options.privateKeyPem
      : await developmentKeyPem(options.dataDir, options.production);
    const privateKey = await importEd25519(pem);
    const current = await verificationKey(await exportJWK(privateKey));
    const previous = await Promise.all(parsePublicJwks(options.previousPublicKeys ?? '').map(verificationKey));
    const keys = [current, ...previous].filter((key, i, all) => all.findIndex((other) => other.kid === key.kid) === i);
    return new CertificateSigner(privateKey, keys);
  }

  publicJwks(): { keys: JWK[] } {
    return { keys: this.verificationKeys.map(({ jwk, kid }) => ({ ...jwk, kid, alg: ALG, use: 'sig' })) };
  }

  /** A compact JWS whose payload is exactly the claims' JSON. */
  async sign(claims: CertificateClaims): Promise<string> {
    return new CompactSign(new TextEncoder().encode(JSON.stringify(claims)))
      .setProtectedHeader({ alg: ALG, kid: this.keyId, typ: 'JWT' })
      .sign(this.privateKey);
  }

  async verify(jws: string): Promise<VerifyResult> {
    const header = protectedHeader(jws);
    if (!header) return { valid: false, reason: 'malformed: not a compact JWS' };
    if (header.alg !== ALG) return { valid: false, reason: `unsupported algorithm: ${String(header.alg)}` };
    const key = this.verificationKeys.find(({ kid }) => kid === header.kid);
    if (!key) return { valid: false, reason: 'unknown key id' };
    try {
      const { payload } = await compactVerify(jws, key.key, { algorithms: [ALG] });
      return claimsFromPayload(payload);
    } catch (error) {
      if (error instanceof joseErrors.JWSSignatureVerificationFailed) return { valid: false, reason: 'bad signature' };
      if (error instanceof joseErrors.JOSEError) return { valid: false, reason: `malformed: ${error.message}` };
      throw error;
    }
  }
}

async function verificationKey(jwk: JWK): Promise<VerificationKey> {
  if (jwk.crv !== 'Ed25519' || !jwk.x) throw new Error('CERT_PRIVATE_KEY must be an Ed25519 private key');
  const publicJwk: JWK = { kty: 'OKP', crv: 'Ed25519', x: jwk.x };
  return { kid: await calculateJwkThumbprint(publicJwk, 'sha256'), jwk: publicJwk, key: await importJWK(publicJwk, ALG) };
}

const publicJwk = z
  .object({ kty: z.literal('OKP'), crv: z.literal('Ed25519'), x: z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'x must be 32 bytes, base64url'), d: z.never({ error: 'must be a public key (it has a private part "d")' }).optional() })
  .loose();
const publicJwkList = z.union([z.array(publicJwk), z.object({ keys: z.array(publicJwk) }).transform((jwks) => jwks.keys)]);

/**
 * CERT_PREVIOUS_PUBLIC_KEYS: a JSON array of Ed25519 public JWKs (`[{"kty":"OKP","crv":"Ed25519","x":"..."}]`),
 * or a whole JWKS (`{"keys":[...]}`, as /.well-known/jwks.json published it). Empty means none.
 * A kid given in a JWK is ignored: kids are always the key's thumbprint.
 */
export function parsePublicJwks(text: string): JWK[] {
  if (!text.trim()) return [];
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error('must be a JSON array of Ed25519 public JWKs: it is not JSON');
  }
  const parsed = publicJwkList.safeParse(json);
  if (!parsed.success) {
    throw new Error(`must be a JSON array of Ed25519 public JWKs: ${parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`);
  }
  return parsed.data.map(({ x }) => ({ kty: 'OKP', crv: 'Ed25519', x }));
}

/** A new signing key in the forms the environment takes: a one-line PEM (CERT_PRIVATE_KEY) and its public JWK. */
export async function generateSigningKey(): Promise<{ privateKeyLine: string; publicJwk: JWK & { kid: string } }> {
  const { privateKey } = await generateKeyPair(ALG, { crv: 'Ed25519', extractable: true });
  const { jwk, kid } = await verificationKey(await exportJWK(privateKey));
  return { privateKeyLine: (await exportPKCS8(privateKey)).trim().replace(/\n/g, '\\n'), publicJwk: { ...jwk, kid } };
}

async function importEd25519(pem: string): Promise<CryptoKey> {
  try {
    // Environment variables often carry a PEM with literal "\n" sequences instead of line breaks.
    return await importPKCS8(pem.replace(/\\n/g, '\n').trim(), ALG, { extractable: true });
  } catch {
    // The message never echoes the key material.
    throw new Error('CERT_PRIVATE_KEY is not a PKCS#8 PEM Ed25519 private key');
  }
}

/** Reads the development key, or generates it once; production must be given a key. */
async function developmentKeyPem(dataDir: string, production: boolean): Promise<string> {
  if (production) throw new Error('CERT_PRIVATE_KEY is required in production');
  const file = path.join(dataDir, DEV_KEY_FILE);
  const existing = await readIfExists(file);
  if (existing) return existing;
  const { privateKey } = await generateKeyPair(ALG, { crv: 'Ed25519', extractable: true });
  const pem = await exportPKCS8(privateKey);
  await mkdir(dataDir, { recursive: true });
  // Written whole to a file of our own, then linked into place: link() fails if the name exists, so
  // when web and worker start together the first key wins, and no reader ever sees a half-written one.
  const draft = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  await writeFile(draft, pem, { mode: 0o600, flag: 'wx' });
  try {
    await link(draft, file);
    return pem;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return readFile(file, 'utf8');
  } finally {
    await unlink(draft);
  }
}

async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

function protectedHeader(jws: string): ReturnType<typeof decodeProtectedHeader> | undefined {
  if (jws.split('.').length !== 3) return undefined;
  try {
    return decodeProtectedHeader(jws);
  } catch {
    return undefined;
  }
}

function claimsFromPayload(payload: Uint8Array): VerifyResult {
  try {
    const claims: unknown = JSON.parse(new TextDecoder().decode(payload));
    if (typeof claims !== 'object' || claims === null) return { valid: false, reason: 'malformed: payload is not an object' };
    // The signature proves we wrote this payload, and we only ever sign CertificateClaims.
    return { valid: true, claims: claims as CertificateClaims };
  } catch {
    return { valid: false, reason: 'malformed: payload is not JSON' };
  }
}

// ---------------------------------------------------------------------------------------------
// Service
// ---------------------------------------------------------------------------------------------

export interface IssuedCertificate {
  id: string;
  claims: CertificateClaims;
  jws: string;
  issuedAt: Date;
}

export type IssueResult = { kind: 'issued' | 'already_issued'; certificate: IssuedCertificate } | { kind: 'not_found' };

interface CertificateRow {
  id: string;
  vaccination_id: number;
  beneficiary_id: number;
  dose: number;
  status: 'pending' | 'issued';
  claims: CertificateClaims | null;
  jws: string | null;
  issued_at: Date | null;
}

/** Everything the certificate and its SMS say, read from the recorded vaccination. */
interface VaccinationFacts {
  beneficiary_id: number;
  dose: number;
  vaccine: string;
  session_date: string;
  vaccinated_at: Date;
  name: string;
  birth_year: number;
  gender: string;
  id_type: string;
  id_last4: string;
  phone: string;
  language: string;
  centre_name: string;
  district: string;
  state: string;
  pincode: string;
  vaccinator_name: string;
}

export class CertificateService {
  constructor(
    private readonly db: Db,
    private readonly signer: CertificateSigner,
    private readonly clock: Clock,
    private readonly options: { publicBaseUrl: string },
  ) {}

  /**
   * Signs a pending certificate and queues the citizen's confirmation SMS, in one transaction.
   * Idempotent: a re-run job finds it issued and neither re-signs nor sends a second SMS.
   */
  async issue(certificateId: string): Promise<IssueResult> {
    return this.db.transaction(async (trx) => {
      const row = await trx<CertificateRow>('certificates').where({ id: certificateId }).forUpdate().first();
      if (!row) return { kind: 'not_found' } as const;
      if (row.status === 'issued') return { kind: 'already_issued', certificate: toIssued(row) } as const;
      const facts = await loadVaccination(trx, row);
      const certificate = await this.sign(row.id, facts);
      await trx('certificates').where({ id: row.id }).update({
        status: 'issued',
        claims: JSON.stringify(certificate.claims),
        jws: certificate.jws,
        key_id: this.signer.keyId,
        issued_at: certificate.issuedAt,
      });
      await queueSms(trx, {
        phone: facts.phone,
        language: facts.language,
        template: 'sms.vaccinated',
        params: { memberName: facts.name, dose: facts.dose, site: this.site(), certificate: row.id },
        dedupeKey: `confirm-${row.id}`,
      });
      return { kind: 'issued', certificate } as const;
    });
  }

  /** The issued certificate; a pending or unknown one is undefined. */
  async get(id: string): Promise<IssuedCertificate | undefined> {
    if (!isCertificateId(id)) return undefined;
    const row = await this.db<CertificateRow>('certificates').where({ id, status: 'issued' }).first();
    return row ? toIssued(row) : undefined;
  }

  /** Signature and key id (as an offline verifier checks), then that we hold this certificate as issued. */
  async verify(jws: string): Promise<VerifyResult> {
    const result = await this.signer.verify(jws);
    if (!result.valid) return result;
    const id = result.claims.jti;
    if (typeof id !== 'string' || !(await this.get(id))) {
      return { valid: false, reason: 'unknown certificate: signed by this service but not on record as issued' };
    }
    return result;
  }

  /** The page the confirmation SMS links to. */
  link(id: string): string {
    return `${this.site()}/c/${id}`;
  }

  /** The link's site and its id travel as two values: a DLT template's {#var#} holds 30 characters, the whole link 37 or more. */
  private site(): string {
    return this.options.publicBaseUrl.replace(/\/+$/, '');
  }

  private async sign(id: string, facts: VaccinationFacts): Promise<IssuedCertificate> {
    const issuedAt = this.clock.now();
    const claims = buildClaims(id, facts, this.options.publicBaseUrl.replace(/\/+$/, ''), issuedAt);
    return { id, claims, jws: await this.signer.sign(claims), issuedAt };
  }
}

/**
 * The recorded vaccination behind a certificate. Invariant 2: only a dose recorded against a
 * vaccinated appointment of the same beneficiary and dose is ever certified.
 */
async function loadVaccination(trx: Tx, certificate: CertificateRow): Promise<VaccinationFacts> {
  const facts: VaccinationFacts | undefined = await trx('vaccinations as v')
    .join('appointments as ap', 'ap.id', 'v.appointment_id')
    .join('beneficiaries as b', 'b.id', 'v.beneficiary_id')
    .join('accounts as a', 'a.id', 'b.account_id')
    .join('centres as c', 'c.id', 'v.centre_id')
    .join('vaccinators as vr', 'vr.id', 'v.vaccinator_id')
    .where('v.id', certificate.vaccination_id)
    .andWhere('ap.status', 'vaccinated')
    .first(
      'v.beneficiary_id', 'v.dose', 'v.vaccine', 'v.session_date', 'v.vaccinated_at',
      'b.name', 'b.birth_year', 'b.gender', 'b.id_type', 'b.id_last4',
      'a.phone', 'a.language',
      'c.name as centre_name', 'c.district', 'c.state', 'c.pincode',
      'vr.name as vaccinator_name',
    );
  if (!facts || facts.beneficiary_id !== certificate.beneficiary_id || facts.dose !== certificate.dose) {
    throw new Error(`certificate ${certificate.id}: no matching recorded vaccination; refusing to issue`);
  }
  return facts;
}

function buildClaims(id: string, facts: VaccinationFacts, issuer: string, issuedAt: Date): CertificateClaims {
  return {
    certificateId: id,
    name: facts.name,
    birthYear: facts.birth_year,
    gender: facts.gender,
    idType: facts.id_type,
    idMasked: maskIdNumber(facts.id_type, facts.id_last4),
    vaccine: facts.vaccine,
    dose: facts.dose,
    date: facts.session_date,
    vaccinatedAt: facts.vaccinated_at.toISOString(),
    centre: { name: facts.centre_name, district: facts.district, state: facts.state, pincode: facts.pincode },
    vaccinator: facts.vaccinator_name,
    issuer,
    iss: issuer,
    jti: id,
    iat: Math.floor(issuedAt.getTime() / 1000),
  };
}

function toIssued(row: CertificateRow): IssuedCertificate {
  if (row.status !== 'issued' || !row.claims || !row.jws || !row.issued_at) {
    throw new Error(`certificate ${row.id} is not issued`);
  }
  return { id: row.id, claims: row.claims, jws: row.jws, issuedAt: row.issued_at };
}
