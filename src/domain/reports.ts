import type { Db } from '../db/knex';

/**
 * The programme office's daily report, per centre or per district, for one calendar day at each
 * centre's time zone (a centre's zone defaults to the programme's TIMEZONE; an SMS tied to no
 * centre is counted in TIMEZONE).
 *
 * - booked, vaccinated, no-show, cancelled: appointments for the sessions held that day, by their
 *   status now; booked counts every seat taken (still booked, vaccinated or no-show), cancelled
 *   apart.
 * - code attempts refused: attempts a guessing limit refused that day at the centre (audit
 *   outcomes too_many_failures, centre_limit, mobile_limit: what tika_code_attempts_refused_total
 *   counts, look-ups aside).
 * - locks: bookings of the centre locked that day and still locked (a new code or an unlock
 *   clears the lock, and with it its time).
 * - SMS, per provider: written that day about a booking at the centre (or to a vaccinator of it);
 *   sent = accepted by the provider, delivered / failed = as the delivery report or the last
 *   attempt said; cost summed per currency from the provider's own figure ("KES 0.8000").
 */

export const REPORT_GROUPINGS = ['centre', 'district'] as const;
export type ReportGrouping = (typeof REPORT_GROUPINGS)[number];

/** The audit outcomes of a code attempt refused by a limit before any code was checked. */
export const REFUSED_OUTCOMES = ['too_many_failures', 'centre_limit', 'mobile_limit'] as const;

export interface ProviderSms {
  provider: string;
  sent: number;
  delivered: number;
  failed: number;
  /** Amount per currency code, as decimal text (no rounding). */
  cost: Record<string, string>;
}

export interface DailyFigures {
  booked: number;
  vaccinated: number;
  noShow: number;
  cancelled: number;
  codeAttemptsRefused: number;
  locks: number;
  sms: ProviderSms[];
}

export interface CentreDay extends DailyFigures {
  /** null for SMS linked to no centre. */
  centreId: number | null;
  centre: string | null;
  pincode: string | null;
  district: string | null;
  state: string | null;
}

export interface DistrictDay extends DailyFigures {
  state: string | null;
  district: string | null;
  centres: number;
}

export type DailyReport = { date: string; by: 'centre'; rows: CentreDay[] } | { date: string; by: 'district'; rows: DistrictDay[] };

interface CentreFiguresRow {
  id: number;
  name: string;
  pincode: string;
  district: string;
  state: string;
  booked: number;
  vaccinated: number;
  no_show: number;
  cancelled: number;
  refused: number;
  locks: number;
}

interface SmsRow {
  centre_id: number;
  name: string | null;
  pincode: string | null;
  district: string | null;
  state: string | null;
  provider: string;
  sent: number;
  delivered: number;
  failed: number;
  cost: Record<string, string> | null;
}

/** Only timestamps within a day either side of the date can fall on it in any zone: lets indexes narrow first. */
const onTheDay = (column: string, zone: string) => `${column} BETWEEN (p.day - 1)::timestamptz AND (p.day + 2)::timestamptz AND (${column} AT TIME ZONE ${zone})::date = p.day`;
/** The statements' parameters, named once: the day, the refusal outcomes, the programme's zone. */
const PARAMS = `params AS (SELECT ?::date AS day, ?::text[] AS refused, ?::text AS zone)`;

const CENTRE_FIGURES = `
WITH ${PARAMS}, appointments_of_day AS (
  SELECT s.centre_id,
         count(*) FILTER (WHERE ap.status <> 'cancelled')::int AS booked,
         count(*) FILTER (WHERE ap.status = 'vaccinated')::int AS vaccinated,
         count(*) FILTER (WHERE ap.status = 'no_show')::int AS no_show,
         count(*) FILTER (WHERE ap.status = 'cancelled')::int AS cancelled
    FROM appointments ap JOIN vaccination_sessions s ON s.id = ap.session_id CROSS JOIN params p
   WHERE s.date = p.day
   GROUP BY s.centre_id
), refusals AS (
  SELECT va.centre_id, count(*)::int AS refused
    FROM verification_attempts va JOIN centres c ON c.id = va.centre_id CROSS JOIN params p
   WHERE va.outcome = ANY(p.refused) AND ${onTheDay('va.created_at', 'c.timezone')}
   GROUP BY va.centre_id
), locks AS (
  SELECT s.centre_id, count(*)::int AS locks
    FROM appointments ap JOIN vaccination_sessions s ON s.id = ap.session_id JOIN centres c ON c.id = s.centre_id CROSS JOIN params p
   WHERE ${onTheDay('ap.locked_at', 'c.timezone')}
   GROUP BY s.centre_id
)
SELECT c.id, c.name, c.pincode, c.district, c.state,
       coalesce(a.booked, 0) AS booked, coalesce(a.vaccinated, 0) AS vaccinated, coalesce(a.no_show, 0) AS no_show,
       coalesce(a.cancelled, 0) AS cancelled, coalesce(r.refused, 0) AS refused, coalesce(l.locks, 0) AS locks
  FROM centres c CROSS JOIN params p
  LEFT JOIN appointments_of_day a ON a.centre_id = c.id
  LEFT JOIN refusals r ON r.centre_id = c.id
  LEFT JOIN locks l ON l.centre_id = c.id
 WHERE a.centre_id IS NOT NULL OR r.centre_id IS NOT NULL OR l.centre_id IS NOT NULL
    OR EXISTS (SELECT 1 FROM vaccination_sessions s WHERE s.centre_id = c.id AND s.date = p.day)
 ORDER BY c.state, c.district, c.name, c.id`;

/**
 * An SMS belongs to the centre of its booking: its appointment_id, else the booking reference in
 * its params (a cancellation), else the vaccination of its certificate (the dose confirmation),
 * else the centre of the vaccinator it went to. Centre 0 stands for "no centre", so the two
 * aggregates join on plain equality.
 */
const SMS_FIGURES = `
WITH ${PARAMS}, messages AS (
  SELECT coalesce(s.centre_id, vx.centre_id, v.centre_id, 0) AS centre_id, m.provider, m.status, m.delivery_state, m.delivery_final,
         CASE WHEN m.cost ~ '^[A-Z]{3} -{0,1}[0-9]+(\\.[0-9]+){0,1}$' THEN split_part(m.cost, ' ', 1) END AS currency,
         CASE WHEN m.cost ~ '^[A-Z]{3} -{0,1}[0-9]+(\\.[0-9]+){0,1}$' THEN split_part(m.cost, ' ', 2)::numeric END AS amount
    FROM outbound_messages m
    LEFT JOIN appointments by_ref ON m.appointment_id IS NULL AND by_ref.reference = m.params->>'ref'
    LEFT JOIN appointments ap ON ap.id = coalesce(m.appointment_id, by_ref.id)
    LEFT JOIN vaccination_sessions s ON s.id = ap.session_id
    LEFT JOIN certificates cert ON m.appointment_id IS NULL AND cert.id = m.params->>'certificate'
    LEFT JOIN vaccinations vx ON vx.id = cert.vaccination_id
    LEFT JOIN vaccinators v ON m.appointment_id IS NULL AND v.phone = m.phone
    LEFT JOIN centres c ON c.id = coalesce(s.centre_id, vx.centre_id, v.centre_id)
    CROSS JOIN params p
   WHERE m.provider IS NOT NULL AND ${onTheDay('m.created_at', 'coalesce(c.timezone, p.zone)')}
), counts AS (
  SELECT centre_id, provider,
         count(*) FILTER (WHERE status = 'sent')::int AS sent,
         count(*) FILTER (WHERE delivery_state = 'delivered')::int AS delivered,
         count(*) FILTER (WHERE status = 'failed' OR (delivery_final AND delivery_state LIKE 'failed%'))::int AS failed
    FROM messages GROUP BY centre_id, provider
), costs AS (
  SELECT centre_id, provider, jsonb_object_agg(currency, amount::text) AS cost
    FROM (SELECT centre_id, provider, currency, sum(amount) AS amount FROM messages WHERE currency IS NOT NULL GROUP BY 1, 2, 3) per_currency
   GROUP BY centre_id, provider
)
SELECT n.centre_id, c.name, c.pincode, c.district, c.state, n.provider, n.sent, n.delivered, n.failed, k.cost
  FROM counts n
  LEFT JOIN costs k ON k.centre_id = n.centre_id AND k.provider = n.provider
  LEFT JOIN centres c ON c.id = n.centre_id
 ORDER BY n.centre_id, n.provider`;

export async function dailyReport(db: Db, options: { date: string; by: ReportGrouping; defaultTimezone: string }): Promise<DailyReport> {
  const bindings = [options.date, [...REFUSED_OUTCOMES], options.defaultTimezone];
  const [figures, sms] = await Promise.all([
    db.raw<{ rows: CentreFiguresRow[] }>(CENTRE_FIGURES, bindings),
    db.raw<{ rows: SmsRow[] }>(SMS_FIGURES, bindings),
  ]);
  const centres = byCentre(figures.rows, sms.rows);
  return options.by === 'centre' ? { date: options.date, by: 'centre', rows: centres } : { date: options.date, by: 'district', rows: byDistrict(centres) };
}

const noFigures = (): DailyFigures => ({ booked: 0, vaccinated: 0, noShow: 0, cancelled: 0, codeAttemptsRefused: 0, locks: 0, sms: [] });

function byCentre(figures: CentreFiguresRow[], sms: SmsRow[]): CentreDay[] {
  const rows = new Map<number, CentreDay>();
  for (const f of figures) {
    rows.set(Number(f.id), {
      centreId: Number(f.id),
      centre: f.name,
      pincode: f.pincode,
      district: f.district,
      state: f.state,
      booked: f.booked,
      vaccinated: f.vaccinated,
      noShow: f.no_show,
      cancelled: f.cancelled,
      codeAttemptsRefused: f.refused,
      locks: f.locks,
      sms: [],
    });
  }
  for (const s of sms) {
    const id = Number(s.centre_id);
    const row = rows.get(id) ?? { centreId: id || null, centre: s.name, pincode: s.pincode, district: s.district, state: s.state, ...noFigures() };
    row.sms.push({ provider: s.provider, sent: s.sent, delivered: s.delivered, failed: s.failed, cost: s.cost ?? {} });
    rows.set(id, row);
  }
  // SMS of no centre last; the rest in the centre query's order, SMS-only centres after them.
  return [...rows.values()].sort((a, b) => Number(a.centreId === null) - Number(b.centreId === null));
}

function byDistrict(centres: CentreDay[]): DistrictDay[] {
  const districts = new Map<string, DistrictDay>();
  for (const centre of centres) {
    const key = JSON.stringify([centre.state, centre.district]);
    const district = districts.get(key) ?? { state: centre.state, district: centre.district, centres: 0, ...noFigures() };
    if (centre.centreId !== null) district.centres++;
    district.booked += centre.booked;
    district.vaccinated += centre.vaccinated;
    district.noShow += centre.noShow;
    district.cancelled += centre.cancelled;
    district.codeAttemptsRefused += centre.codeAttemptsRefused;
    district.locks += centre.locks;
    district.sms = mergeSms(district.sms, centre.sms);
    districts.set(key, district);
  }
  return [...districts.values()];
}

function mergeSms(into: ProviderSms[], more: ProviderSms[]): ProviderSms[] {
  const merged = new Map(into.map((p) => [p.provider, { ...p, cost: { ...p.cost } }]));
  for (const p of more) {
    const total = merged.get(p.provider) ?? { provider: p.provider, sent: 0, delivered: 0, failed: 0, cost: {} };
    total.sent += p.sent;
    total.delivered += p.delivered;
    total.failed += p.failed;
    for (const [currency, amount] of Object.entries(p.cost)) total.cost[currency] = addDecimal(total.cost[currency] ?? '0', amount);
    merged.set(p.provider, total);
  }
  return [...merged.values()].sort((a, b) => a.provider.localeCompare(b.provider));
}

/** Sums decimal texts exactly (no floating point): '0.8000' + '1.20' = '2.0000'. */
export function addDecimal(a: string, b: string): string {
  const places = Math.max(decimals(a), decimals(b));
  const scaled = (value: string) => BigInt(value.replace('.', '') + '0'.repeat(places - decimals(value)));
  const sum = scaled(a) + scaled(b);
  const negative = sum < 0n;
  const digits = (negative ? -sum : sum).toString().padStart(places + 1, '0');
  const whole = places ? `${digits.slice(0, -places)}.${digits.slice(-places)}` : digits;
  return negative ? `-${whole}` : whole;
}

function decimals(value: string): number {
  const dot = value.indexOf('.');
  return dot < 0 ? 0 : value.length - dot - 1;
}

// ---- CSV ----

/**
 * One line per centre (or district) with a header row. SMS columns: totals over providers, then
 * for each provider of the day `<provider>_sent`, `_delivered`, `_failed` and `_cost_<currency>`.
 */
export function reportCsv(report: DailyReport): string {
  const rows: (CentreDay | DistrictDay)[] = report.rows;
  const providers = [...new Set(rows.flatMap((row) => row.sms.map((p) => p.provider)))].sort();
  const currencies = new Map(providers.map((provider) => [provider, [...new Set(rows.flatMap((row) => row.sms.filter((p) => p.provider === provider).flatMap((p) => Object.keys(p.cost))))].sort()]));
  const place = report.by === 'centre' ? ['centre_id', 'centre', 'pincode', 'district', 'state'] : ['state', 'district', 'centres'];
  const header = [
    'date',
    ...place,
    ...['booked', 'vaccinated', 'no_show', 'cancelled', 'code_attempts_refused', 'locks', 'sms_sent', 'sms_delivered', 'sms_failed'],
    ...providers.flatMap((p) => [`${p}_sent`, `${p}_delivered`, `${p}_failed`, ...currencies.get(p)!.map((c) => `${p}_cost_${c}`)]),
  ];
  const line = (row: CentreDay | DistrictDay) => {
    const where = 'centreId' in row ? [row.centreId, row.centre, row.pincode, row.district, row.state] : [row.state, row.district, row.centres];
    const total = (field: 'sent' | 'delivered' | 'failed') => row.sms.reduce((sum, p) => sum + p[field], 0);
    const perProvider = providers.flatMap((name) => {
      const p = row.sms.find((s) => s.provider === name);
      return [p?.sent ?? 0, p?.delivered ?? 0, p?.failed ?? 0, ...currencies.get(name)!.map((c) => p?.cost[c] ?? '0')];
    });
    return [report.date, ...where, row.booked, row.vaccinated, row.noShow, row.cancelled, row.codeAttemptsRefused, row.locks, total('sent'), total('delivered'), total('failed'), ...perProvider];
  };
  return [header, ...rows.map(line)].map((cells) => cells.map(csvCell).join(',')).join('\n') + '\n';
}

function csvCell(value: string | number | null): string {
  const text = value === null ? '' : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}
