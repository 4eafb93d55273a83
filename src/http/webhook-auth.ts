import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * A check against one secret. Hashing both sides makes the comparison constant-time whatever the
 * lengths; the secret's own hash is taken once, not on every request.
 */
export function secretMatcher(expected: string): (given: string) => boolean {
  const expectedDigest = digest(expected);
  return (given) => timingSafeEqual(digest(given), expectedDigest);
}


/**
 * Telcos do not sign callbacks: the callback URL carries a shared secret (`?key=`). Missing or
 * wrong: 401, and nothing else happens.
 */
export function requireWebhookKey(secret: string): RequestHandler {
  const matches = secretMatcher(secret);
  return (req, res, next) => {
    const key = typeof req.query.key === 'string' ? req.query.key : '';
    if (key && matches(key)) return next();
    res.status(401).type('text/plain').send('Missing or wrong webhook key');
  };
}
