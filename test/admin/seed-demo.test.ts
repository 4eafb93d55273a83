import type { Db } from '../../src/db/knex';
import { ProgrammeService } from '../../src/domain/programme';
import { formatSummary, seedDemo } from '../../scripts/seed-demo';
import { freshDb } from '../support/db';

let db: Db;
let programme: ProgrammeService;

// 20:00 UTC is already 01:30 the next day in Asia/Kolkata: the week must start on the centres' day.
const NOW = new Date('2026-11-30T20:00:00Z');

async function counts(): Promise<Record<string, number>> {
  const count = async (table: string) => Number((await db(table).count<{ count: string }[]>('* as count'))[0]!.count);
  return { centres: await count('centres'), sessions: await count('vaccination_sessions'), vaccinators: await count('vaccinators') };
}

beforeAll(async () => {
  db = await freshDb();
  programme = new ProgrammeService(db, { defaultTimezone: 'Asia/Kolkata', defaultCountry: 'IN' });
});

afterAll(async () => {
  await db.destroy();
});

describe('seedDemo', () => {
  test('creates 4 centres in two PIN codes, a week of sessions and one vaccinator each', async () => {
    const summary = await seedDemo(programme, NOW);

    expect(summary.created).toEqual({ centres: 4, sessions: 56, vaccinators: 4 });
    expect(await counts()).toEqual({ centres: 4, sessions: 56, vaccinators: 4 });
    expect(new Set(summary.centres.map((c) => c.pincode))).toEqual(new Set(['110001', '560001']));
    const dates = [...new Set(summary.sessions.map((s) => s.date))].sort();
    expect(dates).toEqual(['2026-12-01', '2026-12-02', '2026-12-03', '2026-12-04', '2026-12-05', '2026-12-06', '2026-12-07']);
    for (const session of summary.sessions) {
      expect(session).toMatchObject({ dose: 1, booked: 0, freeSeats: session.capacity });
      expect(['Covishield', 'Covaxin']).toContain(session.vaccine);
      expect([18, 45]).toContain(session.minAge);
      expect(session.capacity).toBeGreaterThanOrEqual(50);
      expect(session.capacity).toBeLessThanOrEqual(100);
    }
    const centreOf = summary.vaccinators.map((v) => v.centreId).sort();
    expect(centreOf).toEqual(summary.centres.map((c) => c.id).sort());
  });

  test('running it again creates nothing', async () => {
    const before = await counts();
    const summary = await seedDemo(programme, NOW);

    expect(summary.created).toEqual({ centres: 0, sessions: 0, vaccinators: 0 });
    expect(await counts()).toEqual(before);
    expect(summary.sessions).toHaveLength(56);
  });

  test('the printed summary lists centres, sessions and vaccinators', async () => {
    const text = formatSummary(await seedDemo(programme, NOW));

    for (const name of ['AIIMS Delhi', 'RML Hospital', 'Victoria Hospital', 'Jayanagar UPHC', '+919900000001', '2026-12-07']) {
      expect(text).toContain(name);
    }
  });
});
