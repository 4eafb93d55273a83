import { Router, type ErrorRequestHandler } from 'express';
import { z } from 'zod';
import {
  ProgrammeError,
  newCentreSchema,
  newSessionSchema,
  newVaccinatorSchema,
  centreChangeSchema,
  sessionChangeSchema,
  vaccinatorChangeSchema,
  type ProgrammeErrorKind,
  type ProgrammeService,
  DEFAULT_PAGE_SIZE,
  MAX_PAGE_SIZE,
  pageOf,
  type Range,
} from '../domain/programme';
import { REFERENCE_PATTERN } from '../domain/booking';
import type { VaccinationService } from '../domain/vaccination';
import { requireAdmin } from './admin-auth';
import { importRoutes } from './admin-import';
import { reportRoutes, type AdminReportsDeps } from './admin-reports';
import type { ImportService } from '../domain/import';
import { docsAssets, docsPage } from './admin-docs';
import { openApiDocument, type OpenApiDocument } from './openapi';
import { mountRoutes, route, type Route } from './route-table';

export interface AdminDeps {
  programme: ProgrammeService;
  vaccination: VaccinationService;
  imports: ImportService;
  /** The daily report reads the tables directly. */
  reports: AdminReportsDeps;
  adminToken: string;
}

export const ADMIN_API_VERSION = '1.0.0';

/** The operator's API: centres, sessions, vaccinators, locked appointments. Mounted at /admin. */
export function adminRouter(deps: AdminDeps): Router {
  const router = Router();
  router.use(requireAdmin(deps.adminToken));
  mountRoutes(router, adminRoutes(deps));
  router.use('/docs', docsAssets());
  router.use(errorHandler());
  return router;
}

/** The admin API's OpenAPI 3.1 document, built from the same table as the router. */
export function adminOpenApi(routes: readonly Route[]): OpenApiDocument {
  return openApiDocument(routes, {
    title: 'Tika admin API',
    version: ADMIN_API_VERSION,
    basePath: '/admin',
    description:
      'Centres, sessions and vaccinators of the programme, and appointments an operator helps a citizen with. ' +
      'Lists are paged: `limit` rows from `cursor` (the `next` of the page before; null on the last page).',
  });
}

// ---- Query strings and path segments arrive as text; the service schemas check ranges again. ----

const queryId = z.coerce.number().int('must be a whole number').positive('must be a positive id');
const queryBoolean = z.enum(['true', 'false'], { error: 'must be true or false' }).transform((value) => value === 'true');
const queryDay = z.iso.date({ error: 'must be a real date written YYYY-MM-DD' });
const idParams = z.object({ id: queryId });

/**
 * `?limit=` (default 100, at most 1000) and where to start: `?cursor=` (the `next` of the page
 * before) or `?offset=`, which mean the same.
 */
const pageFields = {
  limit: z.coerce
    .number()
    .int('must be a whole number')
    .min(1, 'must be at least 1')
    .max(MAX_PAGE_SIZE, `must be at most ${MAX_PAGE_SIZE}`)
    .default(DEFAULT_PAGE_SIZE)
    .meta({ description: `Rows in the page (default ${DEFAULT_PAGE_SIZE})` }),
  cursor: z.coerce.number().int('must be a cursor from a previous page').min(0, 'must be a cursor from a previous page').optional().meta({ description: 'The `next` of the page before' }),
  offset: z.coerce.number().int('must be a whole number').min(0, 'must be at least 0').optional().meta({ description: 'Rows to skip (the same as cursor)' }),
};

const listQuery = <F extends z.ZodRawShape>(filter: F) => z.strictObject({ ...pageFields, ...filter });

const centreQuery = listQuery({
  pincode: z.string().optional().meta({ description: '6-digit PIN code', example: '110001' }),
  district: z.string().optional().meta({ description: 'District, in any case', example: 'New Delhi' }),
  active: queryBoolean.optional(),
});
const sessionQuery = listQuery({
  centreId: queryId.optional(),
  date: queryDay.optional().meta({ description: 'Only this day' }),
  from: queryDay.optional().meta({ description: 'Only this day or later' }),
  to: queryDay.optional().meta({ description: 'Only this day or earlier' }),
  active: queryBoolean.optional(),
});
const vaccinatorQuery = listQuery({ centreId: queryId.optional(), active: queryBoolean.optional() });
const appointmentQuery = listQuery({
  ref: z.string().optional().meta({ description: 'Booking reference, any case', example: 'K7Q2M9AX' }),
  phone: z.string().optional().meta({ description: 'The mobile it was booked from, national or +E.164' }),
});

/** A numeric appointment id, or a booking reference (any case). */
const appointmentKeyParams = z.object({
  key: z
    .union(
      [
        z.string().regex(/^\d+$/).transform(Number).pipe(z.number().int().positive()),
        z
          .string()
          .transform((ref) => ref.toUpperCase())
          .refine((ref) => REFERENCE_PATTERN.test(ref)),
      ],
      { error: 'must be an appointment id or an 8-character booking reference' },
    )
    .meta({ description: 'Appointment id or booking reference', example: 'K7Q2M9AX' }),
});

const rangeOf = (page: { limit: number; cursor?: number; offset?: number }): Range => ({ limit: page.limit, offset: page.cursor ?? page.offset ?? 0 });

// ---- Answers ----

const id = z.number().int().positive();
const centreSchema = z.object({
  id,
  name: z.string(),
  pincode: z.string(),
  district: z.string(),
  state: z.string(),
  timezone: z.string(),
  active: z.boolean().meta({ description: 'A deactivated centre is hidden from citizens; its appointments stay' }),
  createdAt: z.iso.datetime(),
});
const sessionSchema = z.object({
  id,
  centreId: id,
  date: z.iso.date(),
  vaccine: z.string(),
  minAge: z.number().int(),
  dose: z.number().int(),
  capacity: z.number().int(),
  booked: z.number().int(),
  freeSeats: z.number().int(),
  startTime: z.string().meta({ description: 'HH:MM at the centre' }),
  endTime: z.string().meta({ description: 'HH:MM at the centre; booking closes then (24:00: the end of the day)' }),
  active: z.boolean().meta({ description: 'A deactivated session takes no new bookings; its appointments stay' }),
});
const vaccinatorSchema = z.object({
  id,
  phone: z.string().meta({ description: '+E.164' }),
  name: z.string(),
  centreId: id,
  active: z.boolean().meta({ description: 'A deactivated vaccinator cannot confirm doses' }),
});
const appointmentSchema = z.object({
  id,
  reference: z.string(),
  status: z.string(),
  memberName: z.string(),
  dose: z.number().int(),
  locked: z.boolean(),
  attempts: z.number().int().meta({ description: 'Wrong codes since the code was last sent or the appointment unlocked' }),
  session: z.object({ id, date: z.iso.date(), startTime: z.string(), endTime: z.string(), vaccine: z.string() }),
  centre: z.object({ id, name: z.string(), pincode: z.string() }),
});
const next = z.string().nullable().meta({ description: 'The cursor of the next page; null on the last page' });
const unlockedSchema = z.object({ id, reference: z.string(), unlocked: z.literal(true) });

const one = (schema: z.ZodType, description: string) => ({ 200: { description, schema } });
const created = (schema: z.ZodType, description: string) => ({ 201: { description, schema } });

/** Every admin route: adding one is adding an entry here (or concatenating another file's table). */
export function adminRoutes(deps: AdminDeps): Route[] {
  const { programme } = deps;
  const routes: Route[] = [
    route({
      method: 'get',
      path: '/openapi.json',
      tag: 'Reference',
      summary: 'This API described by OpenAPI 3.1',
      responses: { 200: { description: 'The OpenAPI document' } },
      handle: () => adminOpenApi(routes),
    }),
    route({
      method: 'get',
      path: '/docs',
      tag: 'Reference',
      summary: 'The rendered reference (Swagger UI)',
      responses: { 200: { description: 'An HTML page', contentType: 'text/html' } },
      handle: ({ req, res }) => {
        res.type('html').send(docsPage(`${req.baseUrl}/docs`, `${req.baseUrl}/openapi.json`));
      },
    }),

    route({
      method: 'post',
      path: '/centres',
      tag: 'Centres',
      summary: 'Create a centre',
      body: { contentType: 'application/json', schema: newCentreSchema },
      responses: created(centreSchema, 'The new centre'),
      errors: [409],
      handle: ({ body }) => programme.createCentre(body),
    }),
    route({
      method: 'get',
      path: '/centres',
      tag: 'Centres',
      summary: 'List centres, by PIN code, district and active',
      query: centreQuery,
      responses: one(z.object({ centres: z.array(centreSchema), next }), 'A page of centres, by id'),
      handle: async ({ query: { limit, cursor, offset, ...filter } }) => {
        const page = await pageOf(rangeOf({ limit, cursor, offset }), (rows) => programme.listCentres(filter, rows));
        return { centres: page.items, next: page.next };
      },
    }),
    route({
      method: 'patch',
      path: '/centres/:id',
      tag: 'Centres',
      summary: 'Change a centre (name, PIN code, district, state, time zone, active)',
      params: idParams,
      body: { contentType: 'application/json', schema: centreChangeSchema },
      responses: one(centreSchema, 'The centre as changed'),
      errors: [404, 409],
      handle: ({ params, body }) => programme.updateCentre(params.id, body),
    }),
    route({
      method: 'post',
      path: '/centres/:id/deactivate',
      tag: 'Centres',
      summary: 'Deactivate a centre',
      description: 'Citizens are no longer offered it; appointments booked there stay, with their codes. PATCH `{"active": true}` reactivates it.',
      params: idParams,
      responses: one(centreSchema, 'The centre, deactivated'),
      errors: [404],
      handle: ({ params }) => programme.updateCentre(params.id, { active: false }),
    }),

    route({
      method: 'post',
      path: '/sessions',
      tag: 'Sessions',
      summary: 'Open a session at a centre on a date',
      body: { contentType: 'application/json', schema: newSessionSchema },
      responses: created(sessionSchema, 'The new session'),
      errors: [404],
      handle: ({ body }) => programme.createSession(body),
    }),
    route({
      method: 'get',
      path: '/sessions',
      tag: 'Sessions',
      summary: 'List sessions, by centre, date (or from/to) and active',
      query: sessionQuery,
      responses: one(z.object({ sessions: z.array(sessionSchema), next }), 'A page of sessions, by date'),
      handle: async ({ query: { limit, cursor, offset, ...filter } }) => {
        const page = await pageOf(rangeOf({ limit, cursor, offset }), (rows) => programme.listSessions(filter, rows));
        return { sessions: page.items, next: page.next };
      },
    }),
    route({
      method: 'patch',
      path: '/sessions/:id',
      tag: 'Sessions',
      summary: 'Change a session',
      description:
        'Hours and capacity (not below the seats booked) may change at any time; date, vaccine, dose and a higher minAge only while nobody is booked (409 otherwise).',
      params: idParams,
      body: { contentType: 'application/json', schema: sessionChangeSchema },
      responses: one(sessionSchema, 'The session as changed'),
      errors: [404, 409],
      handle: ({ params, body }) => programme.changeSession(params.id, body),
    }),
    route({
      method: 'post',
      path: '/sessions/:id/deactivate',
      tag: 'Sessions',
      summary: 'Deactivate a session',
      description: 'It takes no new bookings and is no longer offered; appointments booked on it stay, with their codes. PATCH `{"active": true}` reactivates it.',
      params: idParams,
      responses: one(sessionSchema, 'The session, deactivated'),
      errors: [404],
      handle: ({ params }) => programme.changeSession(params.id, { active: false }),
    }),

    route({
      method: 'post',
      path: '/vaccinators',
      tag: 'Vaccinators',
      summary: 'Register a vaccinator at a centre',
      body: { contentType: 'application/json', schema: newVaccinatorSchema },
      responses: created(vaccinatorSchema, 'The new vaccinator'),
      errors: [404, 409],
      handle: ({ body }) => programme.createVaccinator(body),
    }),
    route({
      method: 'get',
      path: '/vaccinators',
      tag: 'Vaccinators',
      summary: 'List vaccinators, by centre and active',
      query: vaccinatorQuery,
      responses: one(z.object({ vaccinators: z.array(vaccinatorSchema), next }), 'A page of vaccinators, by id'),
      handle: async ({ query: { limit, cursor, offset, ...filter } }) => {
        const page = await pageOf(rangeOf({ limit, cursor, offset }), (rows) => programme.listVaccinators(filter, rows));
        return { vaccinators: page.items, next: page.next };
      },
    }),
    route({
      method: 'patch',
      path: '/vaccinators/:id',
      tag: 'Vaccinators',
      summary: 'Change a vaccinator (phone, name, centre, active)',
      params: idParams,
      body: { contentType: 'application/json', schema: vaccinatorChangeSchema },
      responses: one(vaccinatorSchema, 'The vaccinator as changed'),
      errors: [404, 409],
      handle: ({ params, body }) => programme.updateVaccinator(params.id, body),
    }),
    route({
      method: 'post',
      path: '/vaccinators/:id/deactivate',
      tag: 'Vaccinators',
      summary: 'Deactivate a vaccinator',
      description: 'They can no longer confirm doses. PATCH `{"active": true}` reactivates them.',
      params: idParams,
      responses: one(vaccinatorSchema, 'The vaccinator, deactivated'),
      errors: [404],
      handle: ({ params }) => programme.updateVaccinator(params.id, { active: false }),
    }),

    route({
      method: 'get',
      path: '/appointments',
      tag: 'Appointments',
      summary: 'Find appointments by booking reference or mobile (never their codes)',
      query: appointmentQuery,
      responses: one(z.object({ appointments: z.array(appointmentSchema), next }), 'A page of appointments, newest first'),
      handle: async ({ query: { limit, cursor, offset, ...filter } }) => {
        const page = await pageOf(rangeOf({ limit, cursor, offset }), (rows) => programme.findAppointments(filter, rows));
        return { appointments: page.items, next: page.next };
      },
    }),
    route({
      method: 'post',
      path: '/appointments/:key/unlock',
      tag: 'Appointments',
      summary: 'Unlock an appointment locked after too many wrong codes',
      description: "After too many wrong codes an appointment locks; an operator who has checked the citizen's identity unlocks it.",
      params: appointmentKeyParams,
      responses: one(unlockedSchema, 'Unlocked; its wrong-code count is back to zero'),
      errors: [404, 409],
      handle: async ({ params: { key } }) => {
        const result = await deps.vaccination.unlock(key);
        if (result.kind === 'not_found') throw new ProgrammeError('not_found', `appointment ${key} does not exist`);
        if (result.kind === 'not_locked') throw new ProgrammeError('conflict', `appointment ${key} is not locked`);
        return { id: result.id, reference: result.reference, unlocked: true as const };
      },
    }),
    ...importRoutes(deps.imports),
    ...reportRoutes(deps.reports),
  ];
  return routes;
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
