import { isIP } from 'node:net';

/** The addresses express may believe X-Forwarded-For and X-Forwarded-Proto from (its `trust proxy`). */
export type TrustProxy = boolean | number | string[];

/** Proxies on the machine or a private network: the usual place of a load balancer or an ingress. */
export const DEFAULT_TRUST_PROXY = 'loopback, linklocal, uniquelocal';

const NAMED_RANGES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/**
 * TRUST_PROXY as express takes it: `false` (no proxy), a number of hops, or a comma-separated list of
 * addresses, CIDR ranges and the names loopback, linklocal, uniquelocal. Undefined when it is none
 * of these. `true` (believe any X-Forwarded-For) is refused: a client could then name any address,
 * and the admin login counts failed attempts per address.
 */
export function parseTrustProxy(value: string): TrustProxy | undefined {
  const text = value.trim();
  if (text === 'false') return false;
  if (/^\d+$/.test(text)) return Number(text);
  const entries = text.split(',').map((entry) => entry.trim());
  return entries.length > 0 && entries.every(isProxyEntry) ? entries : undefined;
}

function isProxyEntry(entry: string): boolean {
  if (NAMED_RANGES.has(entry)) return true;
  const [address = '', bits, ...rest] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  if (bits === undefined) return true;
  return /^\d+$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
}
