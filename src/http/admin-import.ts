import { z } from 'zod';
import { IMPORT_COLUMNS, IMPORT_KINDS, type ImportService } from '../domain/import';
import { route, type Route } from './route-table';

/** 10,000 sessions take about 700 KB; a file far bigger is a mistake or should be split. */
const MAX_IMPORT = '8mb';

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
 * (Content-Type: text/csv): every row checked, then all written in one transaction, or none.
 */
export function importRoutes(imports: ImportService): Route[] {
  return [
    route({
      method: 'post',
      path: '/import/:kind',
      tag: 'Import',
      summary: 'Import centres, sessions or vaccinators from a CSV file',
      description: `Every row is checked first; then all are written in one transaction, or none. Importing the same file again changes nothing. Columns (header row first): ${IMPORT_KINDS.map((kind) => `${kind}: ${IMPORT_COLUMNS[kind].required.join(',')}`).join('; ')}.`,
      params: importParamsSchema,
      body: {
        contentType: 'text/csv',
        schema: z.string().meta({ description: 'The CSV file, header row first' }),
        description: `columns for each kind: ${IMPORT_KINDS.map((kind) => `${kind}: ${IMPORT_COLUMNS[kind].required.join(',')}`).join('; ')}`,
        limit: MAX_IMPORT,
        tooLarge: 'the CSV file is larger than 8 MB: split it into several files and import each',
      },
      responses: {
        200: { description: 'Every row is in the database (created, changed, or already so)', schema: importedSchema },
        422: { description: 'Rows refused, each with its line (the header is line 1); nothing was imported', schema: importRefusedSchema },
      },
      errors: [413, 415],
      handle: async ({ params: { kind }, body, res }) => {
        const result = await imports.importCsv(kind, body);
        if (result.kind === 'invalid') {
          const rows = result.errors.length === 1 ? '1 row was refused' : `${result.errors.length} rows were refused`;
          res.status(422).json({ error: 'invalid_rows', message: `${rows}; nothing was imported`, errors: result.errors });
          return undefined;
        }
        const { kind: _imported, ...counts } = result;
        return counts;
      },
    }),
  ];
}
