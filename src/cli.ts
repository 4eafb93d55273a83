import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SingleBar } from 'cli-progress';
import { Argument, Command, InvalidArgumentError, Option } from 'commander';
import { checkTemplateBook, deploymentValues, exampleTemplateFile, readTemplateFile } from './channels/dlt';
import { ConfigError, DEFAULT_DATABASE_URL, loadConfig } from './config';
import { TEMPLATED_SMS_KEYS } from './contracts/templates';
import { createDb, ensureDatabase, migrateLatest, pendingMigrations, type Db } from './db/knex';
import { Catalogue } from './dialogue/catalogue';
import { systemClock } from './domain/clock';
import { isCalendarDay } from './domain/dates';
import { generateSigningKey } from './domain/certificates';
import { CodeVault } from './domain/codes';
import { IMPORT_KINDS, ImportService, type ImportKind, type ImportProgress } from './domain/import';
import { ProgrammeError, ProgrammeService, type AppointmentRecord } from './domain/programme';
import { purgeExpired, retentionPeriods } from './domain/retention';
import { dailyReport, REPORT_GROUPINGS, reportCsv, type ReportGrouping } from './domain/reports';
import { VaccinationService } from './domain/vaccination';

/** Operator CLI: `tsx src/cli.ts <command>`. Talks to DATABASE_URL through ProgrammeService. */

type Cell = string | number | boolean | Date | null | undefined;

/** A plain-text table with a header row; columns are as wide as their widest cell. */
export function formatTable<Row extends { [K in keyof Row]: Cell }>(rows: readonly Row[]): string {
  if (rows.length === 0) return '(none)\n';
  const columns = Object.keys(rows[0]!) as (keyof Row & string)[];
  const cells = [columns, ...rows.map((row) => columns.map((column) => showCell(row[column])))];
  const widths = columns.map((_, i) => Math.max(...cells.map((line) => line[i]!.length)));
  const render = (line: readonly string[]) => line.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd();
  const rule = widths.map((width) => '-'.repeat(width)).join('  ');
  return [render(cells[0]!), rule, ...cells.slice(1).map(render)].join('\n') + '\n';
}

function showCell(value: Cell): string {
  if (value === null || value === undefined) return '';
  if (value instanceof Date) return value.toISOString();
  return String(value);
}

function integer(value: string): number {
  if (!/^-?\d+$/.test(value.trim())) throw new InvalidArgumentError('must be a whole number');
  return Number(value);
}

interface OutputOptions {
  json?: boolean;
}

function printList<Row extends { [K in keyof Row]: Cell }>(rows: readonly Row[], options: OutputOptions): void {
  if (options.json) for (const row of rows) console.log(JSON.stringify(row));
  else process.stdout.write(formatTable(rows));
}

/** Runs one command against a fresh connection pool and always closes it. */
async function withDb(work: (db: Db, config: ReturnType<typeof loadConfig>) => Promise<void>): Promise<void> {
  const config = loadConfig();
  const db: Db = createDb(config.DATABASE_URL, { max: 2 });
  try {
    await work(db, config);
  } finally {
    await db.destroy();
  }
}

function withProgramme(work: (programme: ProgrammeService) => Promise<void>): Promise<void> {
  return withDb((db, config) =>
    work(new ProgrammeService(db, { defaultTimezone: config.TIMEZONE, defaultCountry: config.DEFAULT_COUNTRY, vaccines: Object.keys(config.DOSE_INTERVAL_DAYS) })),
  );
}

const FLOWS_DIR = join(__dirname, '..', 'flows');
/** The site certificate links start with, as the server would use it ({site} in the certificate SMS). */
const publicBaseUrl = () => process.env.PUBLIC_BASE_URL || `http://localhost:${process.env.PORT || 3000}`;

/** The book `dlt:check` reads when neither an argument nor DLT_TEMPLATES names one. */
export const EXAMPLE_TEMPLATE_BOOK = join(__dirname, '..', 'deploy', 'dlt-templates.example.json');

/** One row of `appointments:find`: the session and centre inline, so the table stays flat. */
function flatAppointment(a: AppointmentRecord) {
  return {
    id: a.id,
    ref: a.reference,
    status: a.status,
    member: a.memberName,
    dose: a.dose,
    date: a.session.date,
    hours: `${a.session.startTime}-${a.session.endTime}`,
    vaccine: a.session.vaccine,
    centre: a.centre.name,
    locked: a.locked,
    attempts: a.attempts,
  };
}

/** One progress bar (on stderr) for each phase of an import: checking the rows, then writing them. */
function progressBars(): { update: (progress: ImportProgress) => void; stop: () => void } {
  let bar: SingleBar | undefined;
  let phase: ImportProgress['phase'] | undefined;
  return {
    update: (progress) => {
      if (progress.phase !== phase) {
        bar?.stop();
        phase = progress.phase;
        const label = phase === 'validate' ? 'checking rows' : 'writing rows ';
        bar = new SingleBar({ format: `${label} [{bar}] {percentage}% | {value}/{total}`, noTTYOutput: true, notTTYSchedule: 500, stream: process.stderr });
        bar.start(progress.total, progress.done);
      } else bar?.update(progress.done);
    },
    stop: () => bar?.stop(),
  };
}

export function buildCli(): Command {
  const program = new Command('tika').description('Tika operator CLI: centres, sessions and vaccinators').showHelpAfterError();

  program
    .command('centres:add')
    .description('create a vaccination centre')
    .requiredOption('--name <name>', 'centre name, up to 60 characters')
    .requiredOption('--pincode <pincode>', '6-digit PIN code')
    .requiredOption('--district <district>')
    .requiredOption('--state <state>')
    .option('--timezone <zone>', 'IANA time zone (default: TIMEZONE from config)')
    .action((options: { name: string; pincode: string; district: string; state: string; timezone?: string }) =>
      withProgramme(async (programme) => console.log(JSON.stringify(await programme.createCentre(options)))),
    );

  program
    .command('centres:list')
    .description('list centres')
    .option('--pincode <pincode>', 'only centres in this PIN code')
    .option('--district <district>', 'only centres in this district')
    .option('--json', 'one JSON object per line')
    .action((options: { pincode?: string; district?: string } & OutputOptions) =>
      withProgramme(async (programme) => printList(await programme.listCentres({ pincode: options.pincode, district: options.district }), options)),
    );

  program
    .command('sessions:add')
    .description('open a vaccination session at a centre on a date')
    .requiredOption('--centre <id>', 'centre id', integer)
    .requiredOption('--date <YYYY-MM-DD>', 'session day, in the centre time zone')
    .requiredOption('--vaccine <name>', 'e.g. Covishield')
    .requiredOption('--min-age <years>', 'minimum age', integer)
    .requiredOption('--dose <n>', 'dose number, 1 to 3', integer)
    .requiredOption('--capacity <seats>', 'seats available', integer)
    .option('--start <HH:MM>', 'start time at the centre (default 09:00)')
    .option('--end <HH:MM>', 'end time at the centre, when booking closes (default 17:00)')
    .action((options: { centre: number; date: string; vaccine: string; minAge: number; dose: number; capacity: number; start?: string; end?: string }) =>
      withProgramme(async (programme) => {
        const { centre, start, end, ...session } = options;
        console.log(JSON.stringify(await programme.createSession({ centreId: centre, ...session, startTime: start, endTime: end })));
      }),
    );

  program
    .command('sessions:list')
    .description('list sessions')
    .option('--centre <id>', 'only this centre', integer)
    .option('--date <YYYY-MM-DD>', 'only this day')
    .option('--from <YYYY-MM-DD>', 'only this day or later')
    .option('--to <YYYY-MM-DD>', 'only this day or earlier')
    .option('--json', 'one JSON object per line')
    .action((options: { centre?: number; date?: string; from?: string; to?: string } & OutputOptions) =>
      withProgramme(async (programme) =>
        printList(await programme.listSessions({ centreId: options.centre, date: options.date, from: options.from, to: options.to }), options),
      ),
    );

  program
    .command('vaccinators:add')
    .description('register a vaccinator at a centre')
    .requiredOption('--phone <phone>', 'mobile number; national or +E.164')
    .requiredOption('--name <name>')
    .requiredOption('--centre <id>', 'centre id', integer)
    .action((options: { phone: string; name: string; centre: number }) =>
      withProgramme(async (programme) => {
        const vaccinator = await programme.createVaccinator({ phone: options.phone, name: options.name, centreId: options.centre });
        console.log(JSON.stringify(vaccinator));
      }),
    );

  program
    .command('vaccinators:list')
    .description('list vaccinators')
    .option('--centre <id>', 'only this centre', integer)
    .option('--json', 'one JSON object per line')
    .action((options: { centre?: number } & OutputOptions) =>
      withProgramme(async (programme) => printList(await programme.listVaccinators({ centreId: options.centre }), options)),
    );

  const idArgument = ['<id>', 'its id', integer] as const;
  const reactivate = ['--reactivate', 'make it active again'] as const;
  const printed = (record: unknown) => console.log(JSON.stringify(record));

  program
    .command('centres:update')
    .description('change a centre; only the options given change')
    .argument(...idArgument)
    .option('--name <name>')
    .option('--pincode <pincode>')
    .option('--district <district>')
    .option('--state <state>')
    .option('--timezone <zone>')
    .option(...reactivate)
    .action((id: number, options: { name?: string; pincode?: string; district?: string; state?: string; timezone?: string; reactivate?: boolean }) =>
      withProgramme(async (programme) => {
        const { reactivate: active, ...change } = options;
        printed(await programme.updateCentre(id, { ...change, active: active || undefined }));
      }),
    );

  program
    .command('centres:deactivate')
    .description('hide a centre from citizens; its appointments stay booked, with their codes')
    .argument(...idArgument)
    .action((id: number) => withProgramme(async (programme) => printed(await programme.updateCentre(id, { active: false }))));

  program
    .command('sessions:update')
    .description('change a session; date, vaccine, dose and a higher minimum age only while nobody is booked')
    .argument(...idArgument)
    .option('--date <YYYY-MM-DD>')
    .option('--vaccine <name>')
    .option('--min-age <years>', 'minimum age', integer)
    .option('--dose <n>', 'dose number, 1 to 3', integer)
    .option('--capacity <seats>', 'not below the seats booked', integer)
    .option('--start <HH:MM>')
    .option('--end <HH:MM>')
    .option(...reactivate)
    .action((id: number, options: { date?: string; vaccine?: string; minAge?: number; dose?: number; capacity?: number; start?: string; end?: string; reactivate?: boolean }) =>
      withProgramme(async (programme) => {
        const { start, end, reactivate: active, ...change } = options;
        printed(await programme.changeSession(id, { ...change, startTime: start, endTime: end, active: active || undefined }));
      }),
    );

  program
    .command('sessions:deactivate')
    .description('stop new bookings of a session; its appointments stay booked, with their codes')
    .argument(...idArgument)
    .action((id: number) => withProgramme(async (programme) => printed(await programme.changeSession(id, { active: false }))));

  program
    .command('vaccinators:update')
    .description('change a vaccinator; only the options given change')
    .argument(...idArgument)
    .option('--phone <phone>')
    .option('--name <name>')
    .option('--centre <id>', 'centre id', integer)
    .option(...reactivate)
    .action((id: number, options: { phone?: string; name?: string; centre?: number; reactivate?: boolean }) =>
      withProgramme(async (programme) =>
        printed(await programme.updateVaccinator(id, { phone: options.phone, name: options.name, centreId: options.centre, active: options.reactivate || undefined })),
      ),
    );

  program
    .command('vaccinators:deactivate')
    .description('stop a vaccinator confirming doses')
    .argument(...idArgument)
    .action((id: number) => withProgramme(async (programme) => printed(await programme.updateVaccinator(id, { active: false }))));

  program
    .command('appointments:find')
    .description('find appointments by booking reference or mobile (never shows the code)')
    .option('--ref <reference>', 'booking reference, e.g. K7Q2M9AX')
    .option('--phone <phone>', 'the mobile they were booked from')
    .option('--json', 'one JSON object per line')
    .action((options: { ref?: string; phone?: string } & OutputOptions) =>
      withProgramme(async (programme) => {
        const found = await programme.findAppointments({ ref: options.ref, phone: options.phone });
        printList(found.map(flatAppointment), options);
      }),
    );

  program
    .command('appointments:unlock')
    .description('unlock an appointment locked after too many wrong codes (check the citizen first)')
    .argument('<id-or-ref>', 'appointment id or booking reference')
    .action((key: string) =>
      withDb(async (db, config) => {
        const target = /^\d+$/.test(key.trim()) ? Number(key.trim()) : key.trim();
        const result = await new VaccinationService(db, new CodeVault(config.CODE_SECRET), systemClock).unlock(target);
        if (result.kind === 'not_found') throw new ProgrammeError('not_found', `appointment ${key} does not exist`);
        if (result.kind === 'not_locked') throw new ProgrammeError('conflict', `appointment ${key} is not locked`);
        console.log(JSON.stringify({ id: result.id, reference: result.reference, unlocked: true }));
      }),
    );

  program
    .command('migrate')
    .description('create the database if it is missing and run every migration not yet run (once per deployment, before the processes start)')
    .action(async () => {
      // Needs only DATABASE_URL: a migration job holds no provider keys or secrets.
      const databaseUrl = process.env.DATABASE_URL || DEFAULT_DATABASE_URL;
      await ensureDatabase(databaseUrl);
      const db: Db = createDb(databaseUrl, { max: 1 });
      try {
        const applied = await migrateLatest(db);
        console.log(applied.length ? `migrated: ${applied.join(', ')}` : 'migrations: the schema is current');
      } finally {
        await db.destroy();
      }
    });

  program
    .command('import')
    .description('import centres, sessions or vaccinators from a CSV file: every row is checked, then all are written or none (see README "Bulk import and daily report")')
    .addArgument(new Argument('<kind>', 'what the file holds').choices(IMPORT_KINDS))
    .argument('<file>', 'the CSV file, with a header row')
    .action((kind: ImportKind, file: string) =>
      withDb(async (db, config) => {
        const csv = readFileSync(file, 'utf8');
        const imports = new ImportService(db, { defaultTimezone: config.TIMEZONE, defaultCountry: config.DEFAULT_COUNTRY, vaccines: Object.keys(config.DOSE_INTERVAL_DAYS) });
        const progress = progressBars();
        const result = await imports.importCsv(kind, csv, progress.update).finally(progress.stop);
        if (result.kind === 'invalid') {
          for (const error of result.errors) console.error(`line ${error.line}: ${error.reason}`);
          throw new ProgrammeError('invalid', `${result.errors.length} ${result.errors.length === 1 ? 'row' : 'rows'} refused in ${file}; nothing was imported`);
        }
        const { kind: _imported, ...counts } = result;
        console.log(JSON.stringify(counts));
      }),
    );

  program
    .command('report')
    .description('the daily report: bookings, vaccinations, no-shows, cancellations, refused code attempts, locks, SMS and their cost')
    .requiredOption('--date <YYYY-MM-DD>', 'the day, at each centre\'s time zone')
    .addOption(new Option('--by <grouping>', 'one line per centre or per district').choices(REPORT_GROUPINGS).default('centre'))
    .addOption(new Option('--format <format>', 'CSV with a header row, or JSON').choices(['csv', 'json']).default('csv'))
    .action((options: { date: string; by: ReportGrouping; format: 'csv' | 'json' }) =>
      withDb(async (db, config) => {
        if (!isCalendarDay(options.date)) throw new InvalidArgumentError(`--date must be a real date written YYYY-MM-DD, not "${options.date}"`);
        const report = await dailyReport(db, { date: options.date, by: options.by, defaultTimezone: config.TIMEZONE });
        process.stdout.write(options.format === 'csv' ? reportCsv(report) : JSON.stringify(report, null, 2) + '\n');
      }),
    );

  program
    .command('keys:generate')
    .description('print a new Ed25519 certificate signing key for CERT_PRIVATE_KEY, and its public key for CERT_PREVIOUS_PUBLIC_KEYS')
    .action(async () => {
      // Needs no configuration and no database: run it anywhere, keep the output secret.
      const { privateKeyLine, publicJwk } = await generateSigningKey();
      console.log(`# Ed25519 certificate signing key, kid ${publicJwk.kid}. Set it as CERT_PRIVATE_KEY (keep it secret):`);
      console.log(`CERT_PRIVATE_KEY='${privateKeyLine}'`);
      console.log('# Its public key, in the form CERT_PREVIOUS_PUBLIC_KEYS takes (add it there when this key is retired):');
      console.log(JSON.stringify([publicJwk]));
    });

  program
    .command('dlt:templates')
    .description('print the DLT template book to register (every SMS key, every language), texts exactly as the catalogue writes them')
    .action(() => {
      const catalogue = Catalogue.load(FLOWS_DIR);
      const book = exampleTemplateFile(catalogue);
      console.log(JSON.stringify(book, null, 2));
      // What the catalogue itself gets wrong (a value longer than a {#var#}) no registration can mend.
      const problems = checkTemplateBook(book, catalogue, TEMPLATED_SMS_KEYS, catalogue.languages(), deploymentValues(publicBaseUrl()));
      if (problems.length) throw new ConfigError(problems);
    });

  program
    .command('dlt:check')
    .description('check a DLT template book against the catalogue, as start-up does')
    .argument('[file]', 'the book (default: DLT_TEMPLATES, else deploy/dlt-templates.example.json)')
    .action((file?: string) => {
      const path = file ?? (process.env.DLT_TEMPLATES || EXAMPLE_TEMPLATE_BOOK);
      const catalogue = Catalogue.load(FLOWS_DIR);
      const languages = catalogue.languages();
      const problems = checkTemplateBook(readTemplateFile(path), catalogue, TEMPLATED_SMS_KEYS, languages, deploymentValues(publicBaseUrl()));
      if (problems.length) throw new ConfigError(problems.map((problem) => `${path}: ${problem}`));
      console.log(`ok: ${path} registers all ${TEMPLATED_SMS_KEYS.length} SMS keys in ${languages.join(', ')} as the catalogue writes them`);
    });

  program
    .command('retention:run')
    .description('blank or delete what is past its retention period now, as the hourly job does (README: Data retention)')
    .option('--dry-run', 'count what is due, change nothing')
    .option('--json', 'one JSON object per line')
    .action((options: { dryRun?: boolean } & OutputOptions) =>
      withDb(async (db, config) => {
        // The purge's batches read the indexes of a migration the server applies at start-up.
        const pending = await pendingMigrations(db);
        if (pending.length) throw new ConfigError([`the database schema is behind (${pending.join(', ')} not applied): start the server once with this version, then run retention:run again`]);
        const report = await purgeExpired(db, systemClock.now(), retentionPeriods(config), {
          batchSize: config.RETENTION_BATCH_SIZE,
          budgetMs: Number.POSITIVE_INFINITY,
          dryRun: options.dryRun,
        });
        printList(report.results.map((result) => ({ what: result.name, action: options.dryRun ? `would be ${result.action}` : result.action, olderThanDays: result.olderThanDays, rows: result.rows, batches: result.batches })), options);
      }),
    );

  return program;
}

async function main(argv: string[]): Promise<void> {
  try {
    await buildCli().parseAsync(argv);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (error instanceof ConfigError) for (const problem of error.problems) console.error(`error: ${problem}`);
    else console.error(error instanceof ProgrammeError ? `${error.kind}: ${message}` : `error: ${message}`);
    process.exitCode = 1;
  }
}

if (require.main === module) void main(process.argv);
