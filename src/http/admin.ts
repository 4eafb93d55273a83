import express, { Router, type ErrorRequestHandler, type Request, type RequestHandler } from 'express';
import { z } from 'zod';
import {
  ProgrammeError,
  parseInput,
  newCentreSchema,
  newSessionSchema,
  newVaccinatorSchema,
  sessionChangeSchema,
  type ProgrammeErrorKind,
  type ProgrammeService,
  DEFAULT_PAGE_SIZE,
  MAX_PAGE_SIZE,
  pageOf,
  type Range,
} from '../domain/programme';
import { REFERENCE_PATTERN } from '../domain/booking';
import type { VaccinationService } from '../domain/vaccination';
import { verifyBodyEncoding } from './server';
import { secretMatcher } from './webhook-auth';

export interface AdminDeps {
  programme: ProgrammeService;
  vaccination: VaccinationService;
  adminToken: string;
}

/** The operator's API: centres, sessions, vaccinators, locked appointments. Mounted at /admin. */
export function adminRouter(deps: AdminDeps): Router {
  const { programme } = deps;
  const router = Router();
  router.use(requireBearer(deps.adminToken));
  router.use(express.json({ limit: '32kb', verify: verifyBodyEncoding }));

  router.post('/centres', async (req, res) => {
    res.status(201).json(await programme.createCentre(parseInput(newCentreSchema, jsonBody(req))));
  });
  router.get('/centres', async (req, res) => {
    const { range, filter } = pageQuery(centreQuery, req.query);
    const page = await pageOf(range, (rows) => programme.listCentres(filter, rows));
    res.json({ centres: page.items, next: page.next });
  });
  router.post('/sessions', async (req, res) => {
    res.status(201).json(await programme.createSession(parseInput(newSessionSchema, jsonBody(req))));
  });
  router.get('/sessions', async (req, res) => {
    const { range, filter } = pageQuery(sessionQuery, req.query);
    const page = await pageOf(range, (rows) => programme.listSessions(filter, rows));
    res.json({ sessions: page.items, next: page.next });
  });
  router.patch('/sessions/:id', async (req, res) => {
    const { id } = parseInput(idParams, req.params);
    res.json(await programme.changeSession(id, parseInput(sessionChangeSchema, jsonBody(req))));
  });
  router.post('/vaccinators', async (req, res) => {
    res.status(201).json(await programme.createVaccinator(parseInput(newVaccinatorSchema, jsonBody(req))));
  });
  router.get('/vaccinators', async (req, res) => {
    const { range, filter } = pageQuery(vaccinatorQuery, req.query);
    const page = await pageOf(range, (rows) => programme.listVaccinators(filter, rows));
    res.json({ vaccinators: page.items, next: page.next });
  });
  router.patch('/vaccinators/:id', async (req, res) => {
    const { id } = parseInput(idParams, req.params);
    const { active } = parseInput(activeBody, jsonBody(req));
    res.json(await programme.setVaccinatorActive(id, active));
  });
  router.get('/appointments', async (req, res) => {
    const { range, filter } = pageQuery(appointmentQuery, req.query);
    const page = await pageOf(range, (rows) => programme.findAppointments(filter, rows));
    res.json({ appointments: page.items, next: page.next });
  });
  /**
   * After too many wrong codes an appointment locks; an operator who has checked the citizen's
   * identity unlocks it, by the booking reference the citizen reads out or by its numeric id.
   */
  router.post('/appointments/:key/unlock', async (req, res) => {
    const { key } = parseInput(appointmentKeyParams, req.params);
    const result = await deps.vaccination.unlock(key);
    if (result.kind === 'not_found') throw new ProgrammeError('not_found', `appointment ${key} does not exist`);
    if (result.kind === 'not_locked') throw new ProgrammeError('conflict', `appointment ${key} is not locked`);
    res.json({ id: result.id, reference: result.reference, unlocked: true });
  });

  router.use(errorHandler());
  return router;
}

// Query strings and path segments arrive as text; ids are coerced here, range-checked by the service schemas.
const queryId = z.coerce.number().int('must be a whole number').positive('must be a positive id');
const centreQuery = z.strictObject({ pincode: z.string().optional() });
const sessionQuery = z.strictObject({ centreId: queryId.optional(), date: z.string().optional() });
const vaccinatorQuery = z.strictObject({ centreId: queryId.optional() });
const idParams = z.object({ id: queryId });
const appointmentQuery = z.strictObject({ ref: z.string().optional(), phone: z.string().optional() });
/** A numeric appointment id, or a booking reference (any case). */
const appointmentKeyParams = z.object({
  key: z.union([
    z.string().regex(/^\d+$/).transform(Number).pipe(z.number().int().positive()),
    z
      .string()
      .transform((ref) => ref.toUpperCase())
      .refine((ref) => REFERENCE_PATTERN.test(ref)),
  ], { error: 'must be an appointment id or an 8-character booking reference' }),
});
const activeBody = z.strictObject({ active: z.boolean({ error: (issue) => (issue.input === undefined ? 'is required' : 'must be true or false') }) });

/**
 * `?limit=` (default 100, at most 1000) and where to start: `?cursor=` (the `next` of the page
 * before) or `?offset=`, which mean the same.
 */
const pageSchema = z.object({
  limit: z.coerce.number().int('must be a whole number').min(1, 'must be at least 1').max(MAX_PAGE_SIZE, `must be at most ${MAX_PAGE_SIZE}`).default(DEFAULT_PAGE_SIZE),
  cursor: z.coerce.number().int('must be a cursor from a previous page').min(0, 'must be a cursor from a previous page').optional(),
  offset: z.coerce.number().int('must be a whole number').min(0, 'must be at least 0').optional(),
});

/** The page asked for, and the rest of the query as the list's filter. */
function pageQuery<S extends z.ZodType>(filterSchema: S, query: Request['query']): { range: Range; filter: z.output<S> } {
  const { limit, cursor, offset, ...filter } = query;
  const page = parseInput(pageSchema, { limit, cursor, offset });
  return { range: { limit: page.limit, offset: page.cursor ?? page.offset ?? 0 }, filter: parseInput(filterSchema, filter) };
}

/** express.json leaves the body undefined unless the request says it is JSON. */
function jsonBody(req: Request): unknown {
  if (req.body === undefined) {
    throw new ProgrammeError('invalid', 'request body must be JSON (Content-Type: application/json)');
  }
  return req.body;
}

export function requireBearer(adminToken: string): RequestHandler {
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

const STATUS_BY_KIND: Record<ProgrammeErrorKind, number> = { invalid: 400, not_found: 404, conflict: 409 };
const ERROR_BY_KIND: Record<ProgrammeErrorKind, string> = { invalid: 'invalid_request', not_found: 'not_found', conflict: 'conflict' };

/** body-parser's errors carry a 4xx status and a `type` such as 'entity.parse.failed'. */
interface BodyParserError {
  status: number;
  type: string;
}

function isBodyParserError(error: unknown): error is BodyParserError {
  const candidate = error as Partial<BodyParserError> | null;
  return typeof candidate?.type === 'string' && typeof candidate.status === 'number' && candidate.status >= 400 && candidate.status < 500;
}

/** The admin API's own errors here; anything else (an undecodable path, a bug) to the app's error answer. */
export function errorHandler(): ErrorRequestHandler {
  return (error: unknown, _req, res, next) => {
    if (error instanceof ProgrammeError) {
      const body = { error: ERROR_BY_KIND[error.kind], message: error.message, ...(error.existingId !== undefined ? { existingId: error.existingId } : {}) };
      res.status(STATUS_BY_KIND[error.kind]).json(error.kind === 'invalid' ? { ...body, issues: error.issues } : body);
      return;
    }
    if (isBodyParserError(error) && !(error instanceof URIError)) {
      const message = error.type === 'entity.parse.failed' ? 'request body is not valid JSON' : `request body refused (${error.type})`;
      res.status(error.status).json({ error: 'invalid_request', message, issues: [] });
      return;
    }
    next(error);
  };
}
