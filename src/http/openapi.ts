import { z } from 'zod';
import type { ErrorStatus, Route } from './route-table';

/** OpenAPI 3.1 from a route table: its schemas are JSON Schema 2020-12, which zod 4 writes itself. */

type JsonSchema = Record<string, unknown>;

export interface OpenApiInfo {
  title: string;
  version: string;
  description?: string;
  /** Where the routes are mounted, e.g. '/admin': the document's one server. */
  basePath: string;
}

export interface OpenApiDocument {
  openapi: '3.1.0';
  info: { title: string; version: string; description?: string };
  servers: { url: string }[];
  security: Record<string, string[]>[];
  tags: { name: string }[];
  paths: Record<string, Record<string, Operation>>;
  components: { securitySchemes: Record<string, JsonSchema>; schemas: Record<string, JsonSchema> };
}

interface Operation {
  operationId: string;
  summary: string;
  description?: string;
  tags: string[];
  parameters?: JsonSchema[];
  requestBody?: JsonSchema;
  responses: Record<string, JsonSchema>;
}

export const SECURITY_SCHEME = 'adminToken';

/** The error answer every failure of the admin API gives. */
export const errorSchema = z
  .object({
    error: z.enum(['invalid_request', 'unauthorized', 'not_found', 'conflict']),
    message: z.string().meta({ description: 'What went wrong, naming each bad field' }),
    issues: z.array(z.object({ path: z.string().meta({ description: "The field, dotted if nested ('' for the input as a whole)" }), message: z.string() })).optional(),
    existingId: z.number().int().optional().meta({ description: 'On a conflict with a record that already exists: its id' }),
  });

const ERROR_DESCRIPTIONS: Record<400 | 401 | ErrorStatus, string> = {
  400: 'Invalid request: `message` and `issues` name each bad field',
  401: 'Missing or wrong admin token',
  404: 'No such record',
  409: 'Conflicts with the current state: `message` says why',
  413: 'Request body too large',
  415: 'Request body of another type than documented',
};

/** '/centres/:id' → '/centres/{id}' */
export function openApiPath(expressPath: string): string {
  return expressPath.replace(/:(\w+)/g, '{$1}');
}

export function openApiDocument(routes: readonly Route[], info: OpenApiInfo): OpenApiDocument {
  const paths: OpenApiDocument['paths'] = {};
  for (const entry of routes) {
    const path = openApiPath(entry.path);
    paths[path] = { ...paths[path], [entry.method]: operation(entry) };
  }
  return {
    openapi: '3.1.0',
    info: { title: info.title, version: info.version, ...(info.description ? { description: info.description } : {}) },
    servers: [{ url: info.basePath }],
    security: [{ [SECURITY_SCHEME]: [] }],
    tags: [...new Set(routes.map((entry) => entry.tag))].map((name) => ({ name })),
    paths,
    components: {
      securitySchemes: { [SECURITY_SCHEME]: { type: 'http', scheme: 'bearer', description: 'ADMIN_TOKEN, sent as `Authorization: Bearer <token>`' } },
      schemas: { Error: jsonSchema(errorSchema, 'output') },
    },
  };
}

function operation(entry: Route): Operation {
  const parameters = [...parametersOf(entry.params, 'path'), ...parametersOf(entry.query, 'query')];
  return {
    operationId: operationId(entry),
    summary: entry.summary,
    ...(entry.description ? { description: entry.description } : {}),
    tags: [entry.tag],
    ...(parameters.length ? { parameters } : {}),
    ...(entry.body
      ? {
          requestBody: {
            required: true,
            ...(entry.body.description ? { description: entry.body.description } : {}),
            content: { [entry.body.contentType]: { schema: jsonSchema(entry.body.schema, 'input') } },
          },
        }
      : {}),
    responses: { ...successResponses(entry), ...errorResponses(entry) },
  };
}

/** 'patch /centres/:id/deactivate' → 'patchCentresIdDeactivate' */
function operationId(entry: Route): string {
  const words = entry.path.split(/[^A-Za-z0-9]+/).filter(Boolean);
  return entry.method + words.map((word) => word[0]!.toUpperCase() + word.slice(1)).join('');
}

function parametersOf(schema: z.ZodType | undefined, where: 'path' | 'query'): JsonSchema[] {
  if (!schema) return [];
  const object = jsonSchema(schema, 'input') as { properties?: Record<string, JsonSchema>; required?: string[] };
  return Object.entries(object.properties ?? {}).map(([name, property]) => {
    const { description, ...rest } = property;
    return {
      name,
      in: where,
      required: where === 'path' || (object.required ?? []).includes(name),
      ...(description ? { description } : {}),
      schema: rest,
    };
  });
}

function successResponses(entry: Route): Record<string, JsonSchema> {
  return Object.fromEntries(
    Object.entries(entry.responses).map(([status, response]) => [
      status,
      {
        description: response.description,
        ...(response.schema ? { content: { [response.contentType ?? 'application/json']: { schema: jsonSchema(response.schema, 'output') } } } : {}),
      },
    ]),
  );
}

function errorResponses(entry: Route): Record<string, JsonSchema> {
  const hasInput = Boolean(entry.params || entry.query || entry.body);
  const statuses = [...(hasInput ? [400 as const] : []), 401 as const, ...(entry.errors ?? [])];
  const errorContent = { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } };
  return Object.fromEntries(statuses.map((status) => [status, { description: ERROR_DESCRIPTIONS[status], content: errorContent }]));
}

/**
 * Requests are described as they are sent (before coercion and defaults), answers as they are
 * sent back. Refinements zod cannot express stay in the validation and out of the document.
 */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _dialect, id: _id, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12' }) as JsonSchema;
  return rest;
}
