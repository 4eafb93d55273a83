import { formatTable } from '../src/cli';
import { loadConfig } from '../src/config';
import { createDb, ensureDatabase, migrateLatest } from '../src/db/knex';
import { addDays, dayIn } from '../src/domain/dates';
import { ProgrammeService, type Centre, type NewSession, type Session, type Vaccinator } from '../src/domain/programme';

/** Demo programme data: 4 centres in two PIN codes, a week of sessions, one vaccinator each. Safe to run again. */

const SEED_DAYS = 7;

interface SessionTemplate {
  vaccine: string;
  minAge: number;
  capacity: number;
  startTime: string;
  endTime: string;
}

/**
 * A centre's day: the 18+ session from the morning to midnight, so that a demo (and the README
 * walkthrough, which books today and confirms the dose at once) works at any hour; the 45+ one in
 * the afternoon, as a real centre's would be.
 */
const MORNING = { startTime: '09:00', endTime: '24:00' };
const AFTERNOON = { startTime: '14:00', endTime: '17:00' };

interface DemoCentre {
  name: string;
  pincode: string;
  district: string;
  state: string;
  sessions: SessionTemplate[];
  vaccinator: { phone: string; name: string };
}

const DEMO_CENTRES: DemoCentre[] = [
  {
    name: 'AIIMS Delhi',
    pincode: '110001',
    district: 'New Delhi',
    state: 'Delhi',
    sessions: [
      { vaccine: 'Covishield', minAge: 18, capacity: 100, ...MORNING },
      { vaccine: 'Covishield', minAge: 45, capacity: 80, ...AFTERNOON },
    ],
    vaccinator: { phone: '+919900000001', name: 'Sunita Sharma' },
  },
  {
    name: 'RML Hospital',
    pincode: '110001',
    district: 'New Delhi',
    state: 'Delhi',
    sessions: [
      { vaccine: 'Covaxin', minAge: 18, capacity: 60, ...MORNING },
      { vaccine: 'Covaxin', minAge: 45, capacity: 50, ...AFTERNOON },
    ],
    vaccinator: { phone: '+919900000002', name: 'Rajesh Kumar' },
  },
  {
    name: 'Victoria Hospital',
    pincode: '560001',
    district: 'Bengaluru Urban',
    state: 'Karnataka',
    sessions: [
      { vaccine: 'Covishield', minAge: 18, capacity: 90, ...MORNING },
      { vaccine: 'Covaxin', minAge: 45, capacity: 50, ...AFTERNOON },
    ],
    vaccinator: { phone: '+919900000003', name: 'Lakshmi Rao' },
  },
  {
    name: 'Jayanagar UPHC',
    pincode: '560001',
    district: 'Bengaluru Urban',
    state: 'Karnataka',
    sessions: [
      { vaccine: 'Covaxin', minAge: 18, capacity: 70, ...MORNING },
      { vaccine: 'Covishield', minAge: 45, capacity: 60, ...AFTERNOON },
    ],
    vaccinator: { phone: '+919900000004', name: 'Manjunath Gowda' },
  },
];

export interface SeedSummary {
  created: { centres: number; sessions: number; vaccinators: number };
  centres: Centre[];
  sessions: Session[];
  vaccinators: Vaccinator[];
}

/** Creates whatever of the demo data is missing, for the week starting on `now`'s day in each centre's time zone. */
export async function seedDemo(programme: ProgrammeService, now: Date): Promise<SeedSummary> {
  const created = { centres: 0, sessions: 0, vaccinators: 0 };
  const centres: Centre[] = [];
  for (const demo of DEMO_CENTRES) {
    const { centre, isNew } = await ensureCentre(programme, demo);
    centres.push(centre);
    created.centres += Number(isNew);
    created.sessions += await ensureSessions(programme, centre, demo.sessions, dayIn(centre.timezone, now));
    created.vaccinators += Number(await ensureVaccinator(programme, centre, demo.vaccinator));
  }
  const centreIds = new Set(centres.map((centre) => centre.id));
  const sessions = (await programme.listSessions()).filter(
    (session) => centreIds.has(session.centreId) && session.date >= dayIn(centreTimezone(centres, session.centreId), now),
  );
  const vaccinators = (await programme.listVaccinators()).filter((vaccinator) => centreIds.has(vaccinator.centreId));
  return { created, centres, sessions, vaccinators };
}

async function ensureCentre(programme: ProgrammeService, demo: DemoCentre): Promise<{ centre: Centre; isNew: boolean }> {
  const existing = (await programme.listCentres({ pincode: demo.pincode })).find((centre) => centre.name === demo.name);
  if (existing) return { centre: existing, isNew: false };
  const { name, pincode, district, state } = demo;
  return { centre: await programme.createCentre({ name, pincode, district, state }), isNew: true };
}

async function ensureSessions(programme: ProgrammeService, centre: Centre, templates: SessionTemplate[], today: string): Promise<number> {
  const existing = new Set((await programme.listSessions({ centreId: centre.id })).map(sessionKey));
  let created = 0;
  for (let offset = 0; offset < SEED_DAYS; offset++) {
    for (const template of templates) {
      const session: NewSession = { centreId: centre.id, date: addDays(today, offset), dose: 1, ...template };
      if (existing.has(sessionKey(session))) continue;
      await programme.createSession(session);
      created++;
    }
  }
  return created;
}

function sessionKey(session: Pick<Session, 'date' | 'vaccine' | 'minAge' | 'dose'>): string {
  return [session.date, session.vaccine, session.minAge, session.dose].join('|');
}

async function ensureVaccinator(programme: ProgrammeService, centre: Centre, demo: DemoCentre['vaccinator']): Promise<boolean> {
  const registered = await programme.listVaccinators();
  if (registered.some((vaccinator) => vaccinator.phone === demo.phone)) return false;
  await programme.createVaccinator({ ...demo, centreId: centre.id });
  return true;
}

function centreTimezone(centres: Centre[], centreId: number): string {
  return centres.find((centre) => centre.id === centreId)!.timezone;
}

export function formatSummary(summary: SeedSummary): string {
  const centreName = new Map(summary.centres.map((centre) => [centre.id, centre.name]));
  const { created } = summary;
  return [
    `Created ${created.centres} centres, ${created.sessions} sessions, ${created.vaccinators} vaccinators.`,
    '',
    'Centres',
    formatTable(summary.centres.map(({ id, name, pincode, district, state, timezone }) => ({ id, name, pincode, district, state, timezone }))),
    'Sessions (from today)',
    formatTable(
      summary.sessions.map(({ id, centreId, date, startTime, endTime, vaccine, minAge, dose, capacity, booked, freeSeats }) => ({
        id,
        centre: centreName.get(centreId),
        date,
        vaccine,
        hours: `${startTime}-${endTime}`,
        'min age': minAge,
        dose,
        capacity,
        booked,
        free: freeSeats,
      })),
    ),
    'Vaccinators',
    formatTable(
      summary.vaccinators.map(({ id, phone, name, centreId, active }) => ({ id, phone, name, centre: centreName.get(centreId), active })),
    ),
  ].join('\n');
}

async function main(): Promise<void> {
  const config = loadConfig();
  await ensureDatabase(config.DATABASE_URL);
  const db = createDb(config.DATABASE_URL, { max: 2 });
  try {
    await migrateLatest(db);
    const programme = new ProgrammeService(db, { defaultTimezone: config.TIMEZONE, defaultCountry: config.DEFAULT_COUNTRY, vaccines: Object.keys(config.DOSE_INTERVAL_DAYS) });
    process.stdout.write(formatSummary(await seedDemo(programme, new Date())));
  } finally {
    await db.destroy();
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`seed-demo failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
}
