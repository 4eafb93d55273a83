import express, { type Request, type RequestHandler, type Response, type Router } from 'express';
import type { z } from 'zod';
import { parseInput } from '../domain/programme';
import { verifyBodyEncoding } from './server';

/**
 * One HTTP route described once: the express router is mounted from these entries and the
 * OpenAPI document is generated from the same zod schemas that validate the requests.
 */

export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

export type BodyContentType = 'application/json' | 'text/csv';

export interface RouteBody<S extends z.ZodType = z.ZodType> {
  /** application/json is parsed into an object; text/csv arrives as one string for the schema. */
  contentType: BodyContentType;
  schema: S;
  description?: string;
  /** body-parser's limit, e.g. '32kb' (the default) or '5mb' for an import. */
  limit?: string;
  /** The 413 answer's message when the body is over the limit (what the caller should do instead). */
  tooLarge?: string;
}

export interface RouteResponse {
  description: string;
  /** application/json unless told; a response without a schema has no documented body. */
  contentType?: string;
  schema?: z.ZodType;
}

/** Error answers a route can give besides 400 (bad input) and 401 (no admin token), always documented. */
export type ErrorStatus = 404 | 409 | 413 | 415;

export interface RouteInput<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  req: Request;
  res: Response;
}

interface RouteSpec<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType> {
  method: HttpMethod;
  /** Express notation relative to the router's mount point: '/centres/:id'. */
  path: string;
  summary: string;
  description?: string;
  /** Groups operations in the rendered reference. */
  tag: string;
  params?: P;
  query?: Q;
  body?: RouteBody<B>;
  /** Success answers by status; a returned value is sent as JSON with the first of them. */
  responses: Record<number, RouteResponse>;
  errors?: ErrorStatus[];
  /** Returns the JSON answer, or undefined after writing the response itself (HTML, CSV, a file). */
  handle(input: RouteInput<z.output<P>, z.output<Q>, z.output<B>>): Promise<unknown> | unknown;
}

/** A route with its input types erased, so routes of any shape sit in one table. */
export type Route = Omit<RouteSpec<z.ZodType, z.ZodType, z.ZodType>, 'handle'> & {
  handle(input: RouteInput<unknown, unknown, unknown>): Promise<unknown> | unknown;
};

/** Declares a route; the handler's params, query and body are typed by the schemas given. */
export function route<P extends z.ZodType = z.ZodUnknown, Q extends z.ZodType = z.ZodUnknown, B extends z.ZodType = z.ZodUnknown>(
  spec: RouteSpec<P, Q, B>,
): Route {
  return spec as unknown as Route;
}

/** Adds every route of the table to the router, each parsing and validating its own input. */
export function mountRoutes(router: Router, routes: readonly Route[]): void {
  for (const entry of routes) router[entry.method](entry.path, ...bodyParsers(entry.body), respond(entry));
}

function bodyParsers(body: RouteBody | undefined): RequestHandler[] {
  if (!body) return [];
  const limit = body.limit ?? '32kb';
  const parse =
    body.contentType === 'text/csv' ? express.text({ type: 'text/csv', limit, defaultCharset: 'utf-8' }) : express.json({ limit, verify: verifyBodyEncoding });
  return [
    (req, res, next) =>
      parse(req, res, (error?: { type?: string }) => {
        if (error?.type !== 'entity.too.large') return next(error);
        res.status(413).json({ error: 'payload_too_large', message: body.tooLarge ?? `the request body is larger than ${limit}` });
      }),
  ];
}

function respond(entry: Route): RequestHandler {
  const status = Number(Object.keys(entry.responses).find((code) => code.startsWith('2')) ?? 200);
  return async (req, res) => {
    // The body parsers leave the body undefined unless the request says it is of their type.
    if (entry.body && req.body === undefined) {
      const { contentType, description } = entry.body;
      res.status(415).json({ error: 'unsupported_media_type', message: `send the body with Content-Type: ${contentType}${description ? ` (${description})` : ''}` });
      return;
    }
    const input: RouteInput<unknown, unknown, unknown> = {
      params: entry.params ? parseInput(entry.params, req.params) : undefined,
      query: entry.query ? parseInput(entry.query, req.query) : undefined,
      body: entry.body ? parseInput(entry.body.schema, req.body) : undefined,
      req,
      res,
    };
    const answer = await entry.handle(input);
    if (answer !== undefined) res.status(status).json(answer);
    else if (!res.headersSent) throw new Error(`${entry.method.toUpperCase()} ${entry.path} neither answered nor returned a value`);
  };
}

