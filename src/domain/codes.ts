import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';

/** A 32-byte key for one purpose, derived from a server secret, so one secret serves several uses apart. */
export function deriveKey(secret: string, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, 'tika', purpose, 32));
}

/** AES-256-GCM under one key: `iv.tag.body`, each base64url. Opening fails on any change to the sealed text. */
export class Sealer {
  constructor(private readonly key: Buffer) {}

  seal(text: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(text, 'utf8'), cipher.final()]);
    return [iv, cipher.getAuthTag(), body].map((part) => part.toString('base64url')).join('.');
  }

  open(sealed: string): string {
    const [iv, tag, body] = sealed.split('.').map((part) => Buffer.from(part, 'base64url'));
    if (!iv || !tag || !body) throw new Error('sealed text is malformed');
    const decipher = createDecipheriv('aes-256-gcm', this.key, iv);
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
  }
}

/**
 * The 4-digit security code. Stored as HMAC-SHA256(secret, reference:code), compared in constant
 * time. A copy encrypted with AES-256-GCM lets the worker put the code in the SMS at send time;
 * neither the code nor its copy goes to logs, Redis or job data.
 */
export class CodeVault {
  private readonly macKey: Buffer;
  private readonly sealer: Sealer;

  constructor(secret: string) {
    this.macKey = deriveKey(secret, 'code-mac');
    this.sealer = new Sealer(deriveKey(secret, 'code-encryption'));
  }

  generate(): string {
    return randomInt(0, 10_000).toString().padStart(4, '0');
  }

  /** The appointment's reference salts the MAC, so equal codes of different appointments differ. */
  mac(reference: string, code: string): string {
    return createHmac('sha256', this.macKey).update(`${reference}:${code}`).digest('hex');
  }

  matches(reference: string, code: string, storedMac: string): boolean {
    const expected = Buffer.from(this.mac(reference, code), 'hex');
    const stored = Buffer.from(storedMac, 'hex');
    return stored.length === expected.length && timingSafeEqual(expected, stored);
  }

  encrypt(code: string): string {
    return this.sealer.seal(code);
  }

  decrypt(sealed: string): string {
    return this.sealer.open(sealed);
  }

  /** Photo-ID numbers are kept only as a keyed hash (to refuse duplicates) and their last 4 digits. */
  hashIdentity(idType: string, idNumber: string): string {
    return createHmac('sha256', this.macKey).update(`id:${idType}:${idNumber.toUpperCase()}`).digest('hex');
  }
}
