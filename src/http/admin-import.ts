import express, { Router, type ErrorRequestHandler } from 'express';
import { z } from 'zod';
import { IMPORT_COLUMNS, IMPORT_KINDS, type ImportService } from '../domain/import';
import { parseInput } from '../domain/programme';
import { errorHandler, requireBearer } from './admin';
import { verifyBodyEncoding } from './server';

export interface AdminImportDeps {
  imports: ImportService;
  adminToken: string;
}

/** 10,000 sessions take about 700 KB; a file far bigger is a mistake or should be split. */
export const MAX_IMPORT_BYTES = 8 * 1024 * 1024;
const MAX_IMPORT_TEXT = '8 MB';

export const importParamsSchema = z.object({
  kind: z.enum(IMPORT_KINDS, { error: `must be one of ${IMPORT_KINDS.join(', ')}` }),
});

const rowErrorSchema = z.object({ line: z.number().int(), reason: z.string() });
/** 200: every row is in the database (created, changed, or already so). */
export const importedSchema = z.object({ imported: z.number().int(), created: z.number().int(), updated: z.number().int(), unchanged: z.number().int() });
/** 422: nothing was imported; each refused row with its line in the file (the header is line 1). */
export const importRefusedSchema = z.object({ error: z.literal('invalid_rows'), message: z.string(), errors: z.array(rowErrorSchema) });

/**
 * `POST /admin/import/<centres|sessions|vaccinators>` with the CSV file as the body
 * (Content-Type: text/csv). Mounted at /admin/import.
 */
export function adminImportRouter(deps: AdminImportDeps): Router {
  const router = Router();
  router.use(requireBearer(deps.adminToken));
  router.use(express.text({ type: 'text/csv', limit: MAX_IMPORT_BYTES, verify: verifyBodyEncoding }));

  router.post('/:kind', async (req, res) => {
    const { kind } = parseInput(importParamsSchema, req.params);
    if (typeof req.body !== 'string') {
      res.status(415).json({ error: 'unsupported_media_type', message: `send the file as the body with Content-Type: text/csv (columns: ${IMPORT_COLUMNS[kind].required.join(',')})` });
      return;
    }
    const result = await deps.imports.importCsv(kind, req.body);
    if (result.kind === 'invalid') {
      const rows = result.errors.length === 1 ? '1 row was refused' : `${result.errors.length} rows were refused`;
      res.status(422).json({ error: 'invalid_rows', message: `${rows}; nothing was imported`, errors: result.errors });
      return;
    }
    const { kind: _imported, ...counts } = result;
    res.json(counts);
  });

  router.use(tooLarge);
  router.use(errorHandler());
  return router;
}

const tooLarge: ErrorRequestHandler = (error: { type?: unknown }, _req, res, next) => {
  if (error?.type !== 'entity.too.large') return next(error);
  res.status(413).json({ error: 'payload_too_large', message: `the CSV file is larger than ${MAX_IMPORT_TEXT}: split it into several files and import each` });
};
