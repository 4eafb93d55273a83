import { z } from 'zod';
import type { Db } from '../db/knex';
import { isCalendarDay } from '../domain/dates';
import { dailyReport, REPORT_GROUPINGS, reportCsv } from '../domain/reports';
import { route, type Route } from './route-table';

export interface AdminReportsDeps {
  db: Db;
  /** The programme's TIMEZONE: the day of an SMS tied to no centre. */
  timezone: string;
}

export const REPORT_FORMATS = ['json', 'csv'] as const;

export const dailyReportQuerySchema = z.strictObject({
  date: z.string({ error: 'is required' }).refine(isCalendarDay, 'must be a real date written YYYY-MM-DD'),
  by: z.enum(REPORT_GROUPINGS, { error: `must be one of ${REPORT_GROUPINGS.join(', ')}` }).default('centre'),
  format: z.enum(REPORT_FORMATS, { error: `must be one of ${REPORT_FORMATS.join(', ')}` }).default('json'),
});

/** `GET /admin/reports/daily?date=YYYY-MM-DD&by=centre|district&format=json|csv`. */
export function reportRoutes(deps: AdminReportsDeps): Route[] {
  return [
    route({
      method: 'get',
      path: '/reports/daily',
      tag: 'Reports',
      summary: 'The daily report per centre or per district',
      description: 'Booked, vaccinated, no-show, cancelled, code attempts refused, locks, and SMS sent, delivered and failed with their cost by provider, for one day at each centre\'s time zone.',
      query: dailyReportQuerySchema,
      responses: { 200: { description: 'JSON (format=json), or CSV with a header row (format=csv)' } },
      handle: async ({ query: { date, by, format }, res }) => {
        const report = await dailyReport(deps.db, { date, by, defaultTimezone: deps.timezone });
        if (format === 'json') return report;
        res
          .type('text/csv; charset=utf-8')
          .set('Content-Disposition', `attachment; filename="tika-daily-${date}-by-${by}.csv"`)
          .send(reportCsv(report));
        return undefined;
      },
    }),
  ];
}
