import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ImportService } from '../../src/domain/import';
import express, { type Router } from 'express';
import type { Db } from '../../src/db/knex';
import { ManualClock } from '../../src/domain/clock';
import { CodeVault } from '../../src/domain/codes';
import { ProgrammeService } from '../../src/domain/programme';
import { VaccinationService } from '../../src/domain/vaccination';
import { adminOpenApi, adminRouter, adminRoutes, type AdminDeps } from '../../src/http/admin';
import { openApiPath } from '../../src/http/openapi';
import { freshDb } from '../support/db';

const TOKEN = 'test-admin-token-0123456789';
const clock = new ManualClock(new Date('2026-11-28T10:00:00+05:30'));
const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

type Json = Record<string, unknown>;

let db: Db;
let deps: AdminDeps;
let server: http.Server;
let origin: string;

/** Every (METHOD path) the express router answers, read from the router itself. */
function routedOperations(router: Router): string[] {
  const operations: string[] = [];
  for (const layer of router.stack) {
    // A nested router would hide routes from this walk (and from the document): there are none.
    expect((layer.handle as { stack?: unknown }).stack).toBeUndefined();
    const route = layer.route as { path: string; methods: Record<string, boolean> } | undefined;
    if (!route) continue;
    for (const method of Object.keys(route.methods).filter((m) => route.methods[m])) operations.push(`${method.toUpperCase()} ${openApiPath(route.path)}`);
  }
  return operations.sort();
}

function documentedOperations(document: ReturnType<typeof adminOpenApi>): string[] {
  return Object.entries(document.paths)
    .flatMap(([path, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`))
    .sort();
}

const get = (path: string, headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` }) => fetch(`${origin}${path}`, { headers });

beforeAll(async () => {
  db = await freshDb();
  const programme = new ProgrammeService(db, { defaultTimezone: 'Asia/Kolkata', defaultCountry: 'IN', vaccines: ['Covishield', 'Covaxin'], clock });
  deps = { programme, vaccination: new VaccinationService(db, new CodeVault('openapi-test-secret-0123456789abcdef'), clock), imports: new ImportService(db, { defaultTimezone: 'Asia/Kolkata', defaultCountry: 'IN', vaccines: ['Covishield', 'Covaxin'], clock }), reports: { db, timezone: 'Asia/Kolkata' }, adminToken: TOKEN };
  const app = express();
  app.use('/admin', adminRouter(deps));
  server = http.createServer(app);
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const centre = await programme.createCentre({ name: 'AIIMS Delhi', pincode: '110001', district: 'New Delhi', state: 'Delhi' });
  await programme.createSession({ centreId: centre.id, date: '2026-12-01', vaccine: 'Covishield', minAge: 18, dose: 1, capacity: 10 });
  await programme.createVaccinator({ phone: '+919812300001', name: 'Sunita Sharma', centreId: centre.id });
});

afterAll(async () => {
  await new Promise((closed) => server.close(closed));
  await db.destroy();
});

describe('the OpenAPI document and the router', () => {
  test('every routed operation is documented, and every documented one is routed', () => {
    const routed = routedOperations(adminRouter(deps));
    const documented = documentedOperations(adminOpenApi(adminRoutes(deps)));
    expect(routed.length).toBeGreaterThanOrEqual(16);
    expect(documented).toEqual(routed);
  });

  test('is OpenAPI 3.1 in shape: version, server, bearer security, an operation id and responses for every operation', () => {
    const document = adminOpenApi(adminRoutes(deps));
    expect(document.openapi).toMatch(/^3\.1\.\d+$/);
    expect(document.info).toMatchObject({ title: expect.any(String), version: expect.any(String) });
    expect(document.servers).toEqual([{ url: '/admin' }]);
    expect(document.components.securitySchemes.adminToken).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(document.security).toEqual([{ adminToken: [] }]);
    const operationIds = new Set<string>();
    for (const [path, item] of Object.entries(document.paths)) {
      expect(path).toMatch(/^\/[^:]*$/);
      for (const [method, operation] of Object.entries(item)) {
        expect(METHODS).toContain(method);
        expect(operationIds.has(operation.operationId)).toBe(false);
        operationIds.add(operation.operationId);
        expect(operation.summary).toEqual(expect.any(String));
        expect(Object.keys(operation.responses).length).toBeGreaterThan(0);
        expect(operation.responses['401']).toBeDefined();
        for (const response of Object.values(operation.responses)) expect(response.description).toEqual(expect.any(String));
        // Every {name} of the path is a required path parameter, and there are no others.
        const templated = [...path.matchAll(/\{(\w+)\}/g)].map((match) => match[1]).sort();
        const declared = (operation.parameters ?? []).filter((p) => p.in === 'path');
        expect(declared.map((p) => p.name).sort()).toEqual(templated);
        for (const parameter of declared) expect(parameter.required).toBe(true);
      }
    }
    // The only references are to components that exist; no schema carries its own dialect.
    const text = JSON.stringify(document);
    for (const [, ref] of text.matchAll(/"\$ref":"#\/components\/schemas\/(\w+)"/g)) expect(document.components.schemas).toHaveProperty(ref!);
    expect(text).not.toContain('"$schema"');
  });

  test.each([
    ['GET', '/centres', 'query', ['limit', 'cursor', 'offset', 'pincode', 'district', 'active']],
    ['GET', '/sessions', 'query', ['limit', 'cursor', 'offset', 'centreId', 'date', 'from', 'to', 'active']],
    ['GET', '/vaccinators', 'query', ['limit', 'cursor', 'offset', 'centreId', 'active']],
    ['PATCH', '/sessions/{id}', 'path', ['id']],
    ['POST', '/appointments/{key}/unlock', 'path', ['key']],
  ])('%s %s documents its %s parameters %j', (method, path, where, names) => {
    const operation = adminOpenApi(adminRoutes(deps)).paths[path]![method.toLowerCase()]!;
    expect(operation.parameters!.filter((p) => p.in === where).map((p) => p.name)).toEqual(names);
  });

  test('request bodies are the schemas that validate them: a PATCH of a session lists every field it accepts', () => {
    const body = adminOpenApi(adminRoutes(deps)).paths['/sessions/{id}']!.patch!.requestBody as { content: Record<string, { schema: Json }> };
    const schema = body.content['application/json']!.schema as { properties: Json; additionalProperties: boolean };
    expect(Object.keys(schema.properties)).toEqual(['date', 'vaccine', 'minAge', 'dose', 'capacity', 'startTime', 'endTime', 'active']);
    expect(schema.additionalProperties).toBe(false);
  });

  test.each([
    ['/centres', 'centres'],
    ['/sessions', 'sessions'],
    ['/vaccinators', 'vaccinators'],
  ])('GET %s answers what its documented response schema says', async (path, key) => {
    const entry = adminRoutes(deps).find((r) => r.method === 'get' && r.path === path)!;
    const response = await get(`/admin${path}`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as Json;
    expect((body[key] as unknown[]).length).toBeGreaterThan(0);
    expect(entry.responses[200]!.schema!.safeParse(body).error).toBeUndefined();
  });
});

describe('served', () => {
  test('GET /admin/openapi.json is the document, behind the admin token', async () => {
    const response = await get('/admin/openapi.json');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await response.json()).toEqual(JSON.parse(JSON.stringify(adminOpenApi(adminRoutes(deps)))));
    expect((await get('/admin/openapi.json', {})).status).toBe(401);
  });

  test('GET /admin/docs is Swagger UI from /admin/docs/, reading /admin/openapi.json, every asset answering 200', async () => {
    const response = await get('/admin/docs');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await response.text();
    expect(html).toContain('data-document-url="/admin/openapi.json"');
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => match[1]!);
    expect(assets).toEqual(['/admin/docs/swagger-ui.css', '/admin/docs/swagger-ui-bundle.js', '/admin/docs/swagger-initializer.js']);
    for (const asset of assets) {
      const file = await get(asset);
      expect({ asset, status: file.status }).toEqual({ asset, status: 200 });
      expect((await file.text()).length).toBeGreaterThan(100);
    }
    const initializer = await (await get('/admin/docs/swagger-initializer.js')).text();
    expect(initializer).toContain('data-document-url');
    expect(initializer).not.toMatch(/petstore/i);
  });

  test.each(['/admin/docs', '/admin/docs/swagger-ui-bundle.js'])('%s needs the admin token', async (path) => {
    expect((await get(path, {})).status).toBe(401);
  });

  test('a file swagger-ui-dist does not have is 404, not its index', async () => {
    expect((await get('/admin/docs/index.html')).status).not.toBe(200);
    expect((await get('/admin/docs/nothing-here.js')).status).toBe(404);
  });
});
