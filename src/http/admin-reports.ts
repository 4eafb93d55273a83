import { Router } from 'express';
import { z } from 'zod';
import type { Db } from '../db/knex';
import { isCalendarDay } from '../domain/dates';
import { parseInput } from '../domain/programme';
import { dailyReport, REPORT_GROUPINGS, reportCsv } from '../domain/reports';
import { errorHandler, requireBearer } from './admin';

export interface AdminReportsDeps {
  db: Db;
  /** The programme's TIMEZONE: the day of an SMS tied to no centre. */
  timezone: string;
  adminToken: string;
}

export const REPORT_FORMATS = ['json', 'csv'] as const;

export const dailyReportQuerySchema = z.strictObject({
  date: z.string({ error: 'is required' }).refine(isCalendarDay, 'must be a real date written YYYY-MM-DD'),
  by: z.enum(REPORT_GROUPINGS, { error: `must be one of ${REPORT_GROUPINGS.join(', ')}` }).default('centre'),
  format: z.enum(REPORT_FORMATS, { error: `must be one of ${REPORT_FORMATS.join(', ')}` }).default('json'),
});

/** `GET /admin/reports/daily?date=YYYY-MM-DD&by=centre|district&format=json|csv`. Mounted at /admin/reports. */
export function adminReportsRouter(deps: AdminReportsDeps): Router {
  const router = Router();
  router.use(requireBearer(deps.adminToken));

  router.get('/daily', async (req, res) => {
    const { date, by, format } = parseInput(dailyReportQuerySchema, req.query);
    const report = await dailyReport(deps.db, { date, by, defaultTimezone: deps.timezone });
    if (format === 'json') {
      res.json(report);
      return;
    }
    res
      .type('text/csv; charset=utf-8')
      .set('Content-Disposition', `attachment; filename="tika-daily-${date}-by-${by}.csv"`)
      .send(reportCsv(report));
  });

  router.use(errorHandler());
  return router;
}
