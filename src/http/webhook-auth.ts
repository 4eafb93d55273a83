import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';

/** Hashing both sides first makes the comparison constant-time whatever the lengths. */
export function secretsEqual(given: string, expected: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/**
 * Telcos do not sign callbacks: the callback URL carries a shared secret (`?key=`). Missing or
 * wrong: 401, and nothing else happens.
 */
export function requireWebhookKey(secret: string): RequestHandler {
  return (req, res, next) => {
    const key = typeof req.query.key === 'string' ? req.query.key : '';
    if (key && secretsEqual(key, secret)) return next();
    res.status(401).type('text/plain').send('Missing or wrong webhook key');
  };
}
