import type { RequestHandler } from 'express';
import { secretMatcher } from './webhook-auth';

/**
 * The one check in front of everything under /admin (the API, its OpenAPI document and the
 * rendered reference): `Authorization: Bearer <ADMIN_TOKEN>`. Another way in (a browser session
 * after a login with the token) belongs here too, so that every admin page is guarded alike.
 */
export function requireAdmin(adminToken: string): RequestHandler {
  if (!adminToken) throw new Error('adminRouter needs a non-empty admin token');
  const matches = secretMatcher(adminToken);
  return (req, res, next) => {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(req.get('authorization') ?? '');
    if (match && matches(match[1]!)) return next();
    res
      .status(401)
      .set('WWW-Authenticate', 'Bearer')
      .json({ error: 'unauthorized', message: match ? 'the admin token is not valid' : 'missing header Authorization: Bearer <admin token>' });
  };
}
