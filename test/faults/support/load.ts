import { join } from 'node:path';
import { Catalogue } from '../../../src/dialogue/catalogue';
import { createDb, type Db } from '../../../src/db/knex';
import { setLanguage } from '../../../src/domain/accounts';
import { BookingService, DEFAULT_BOOKING_RULES } from '../../../src/domain/booking';
import { systemClock } from '../../../src/domain/clock';
import { CodeVault } from '../../../src/domain/codes';
import { ProgrammeService } from '../../../src/domain/programme';
import type { FakeAfricasTalking } from '../../fakes/fake-africastalking';
import { SERVICE_CODE, TEST_WEBHOOK_SECRET } from '../../support/app';
import { seedCentre } from '../../support/programme';
import { FAULT_CODE_SECRET } from './product';

/** USSD load through the product's real webhook, recording every hop, plus the checks the scenarios share. */

export const PINCODE = '110001';
/** Answers of a registered caller (language known, one member) from the menu to a confirmed booking. */
const BOOKING_ANSWERS = ['1', '1', PINCODE, '1', '1', '1'];
const HOP_TIMEOUT_MS = 15_000;
const catalogue = Catalogue.load(join(__dirname, '..', '..', '..', 'flows'));
const RESUME_PROMPT = catalogue.render('en', 'resume.prompt');

export interface Hop {
  /** When the hop was sent (ms since epoch). */
  at: number;
  ms: number;
  /** HTTP status, or 0 when no answer came (connection refused or reset, timeout). */
  status: number;
  end: boolean;
  booked: boolean;
}

export class UssdLoad {
  readonly hops: Hop[] = [];
  constructor(private readonly baseUrl: string) {}

  async hop(sessionId: string, phone: string, text: string): Promise<{ status: number; body: string }> {
    const at = Date.now();
    let status = 0;
    let body = '';
    try {
      const response = await fetch(`${this.baseUrl}/webhooks/africastalking/ussd?key=${TEST_WEBHOOK_SECRET}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ sessionId, serviceCode: SERVICE_CODE, phoneNumber: phone, networkCode: '40410', text }).toString(),
        signal: AbortSignal.timeout(HOP_TIMEOUT_MS),
      });
      status = response.status;
      body = await response.text();
    } catch {
      status = 0;
    }
    this.hops.push({ at, ms: Date.now() - at, status, end: body.startsWith('END'), booked: body.startsWith('END Booked') });
    return { status, body };
  }

  /** One whole booking conversation; a dropped session offered for resume is restarted. */
  async book(phone: string, attempt: number): Promise<'booked' | 'ended' | 'no answer'> {
    const sessionId = `ATUid_fault_${phone.slice(-6)}_${attempt}_${Date.now().toString(36)}`;
    const typed: string[] = [];
    const script = [...BOOKING_ANSWERS];
    for (;;) {
      const reply = await this.hop(sessionId, phone, typed.join('*'));
      if (reply.status !== 200) return 'no answer';
      if (reply.body.startsWith('END')) return reply.body.startsWith('END Booked') ? 'booked' : 'ended';
      const next = reply.body.includes(RESUME_PROMPT) ? '2' : script.shift();
      if (next === undefined) return 'ended';
      typed.push(next);
    }
  }
}

/** Runs `work` over `items` with at most `concurrency` in flight. */
export async function inPool<T>(items: T[], concurrency: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) {
        const index = next++;
        await work(items[index]!, index);
      }
    }),
  );
}

export const phoneOf = (series: string, i: number) => `+91${series}${String(i).padStart(6, '0')}`;

/** A centre with one big session tomorrow, and `count` registered callers (English, one member each). */
export async function seedCallers(databaseUrl: string, series: string, count: number): Promise<string[]> {
  const db = createDb(databaseUrl);
  try {
    const programme = new ProgrammeService(db, { defaultTimezone: 'Asia/Kolkata', defaultCountry: 'IN' });
    if (!(await db('centres').first('id'))) await seedCentre({ programme, clock: systemClock }, { capacity: 5000, pincode: PINCODE });
    const booking = new BookingService(db, new CodeVault(FAULT_CODE_SECRET), systemClock, DEFAULT_BOOKING_RULES);
    const phones = Array.from({ length: count }, (_, i) => phoneOf(series, i));
    await inPool(phones, 8, async (phone, i) => {
      await setLanguage(db, phone, 'en');
      const result = await booking.register(phone, { name: `Fault ${i}`, birthYear: 1990, gender: 'F', idType: 'AADHAAR', idNumber: `${series}${String(i).padStart(8, '0')}` });
      if (result.kind !== 'registered') throw new Error(`could not register ${phone}: ${result.kind}`);
    });
    return phones;
  } finally {
    await db.destroy();
  }
}

export interface SmsCheck {
  appointments: number;
  /** Appointments whose code SMS reached the fake provider exactly once / never / more than once. */
  once: number;
  missing: number;
  doubled: number;
  /** Code SMS for a reference that has no appointment. */
  stray: number;
}

/** Every appointment against the code SMS the fake provider accepted (matched by booking reference). */
export async function checkCodeSms(db: Db, at: FakeAfricasTalking): Promise<SmsCheck> {
  const rows: { reference: string }[] = await db('appointments').select('reference');
  const counts = new Map<string, number>();
  for (const sms of at.sent) {
    const reference = /Ref ([A-Z2-9]{8})\./.exec(sms.message)?.[1];
    if (reference && /security code/i.test(sms.message)) counts.set(reference, (counts.get(reference) ?? 0) + 1);
  }
  const references = new Set(rows.map((r) => r.reference));
  const check: SmsCheck = { appointments: rows.length, once: 0, missing: 0, doubled: 0, stray: 0 };
  for (const reference of references) {
    const n = counts.get(reference) ?? 0;
    if (n === 1) check.once++;
    else if (n === 0) check.missing++;
    else check.doubled++;
  }
  for (const reference of counts.keys()) if (!references.has(reference)) check.stray++;
  return check;
}

/** Waits until every appointment has its code SMS (or the time is up); returns when that happened. */
export async function waitForAllCodeSms(db: Db, at: FakeAfricasTalking, timeoutMs: number): Promise<{ check: SmsCheck; doneAt?: number }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const check = await checkCodeSms(db, at);
    if (check.missing === 0) return { check, doneAt: Date.now() };
    if (Date.now() > deadline) return { check };
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

export interface HopFigures {
  hops: number;
  http5xx: number;
  noAnswer: number;
  over6s: number;
  maxMs: number;
  p50Ms: number;
  endScreens: number;
}

export function hopFigures(hops: Hop[]): HopFigures {
  const sorted = hops.map((h) => h.ms).sort((a, b) => a - b);
  return {
    hops: hops.length,
    http5xx: hops.filter((h) => h.status >= 500).length,
    noAnswer: hops.filter((h) => h.status === 0).length,
    over6s: hops.filter((h) => h.ms > 6000).length,
    maxMs: sorted.at(-1) ?? 0,
    p50Ms: sorted[Math.floor(sorted.length / 2)] ?? 0,
    endScreens: hops.filter((h) => h.end && !h.booked).length,
  };
}

/** A two-column table of figures, printed so CI output shows it. */
export function printFigures(title: string, figures: Record<string, string | number>): void {
  const width = Math.max(...Object.keys(figures).map((k) => k.length));
  const lines = Object.entries(figures).map(([k, v]) => `  ${k.padEnd(width)}  ${v}`);
  process.stdout.write(`\n${title}\n${lines.join('\n')}\n`);
}

/** An incoming SMS as Africa's Talking posts it; the HTTP status, or 0 when no answer came. */
export async function postIncomingSms(baseUrl: string, from: string, text: string, id: string): Promise<number> {
  const form = { linkId: '03090445075804249226', text, to: '21512', id, date: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'), from, networkCode: '40410' };
  try {
    const response = await fetch(`${baseUrl}/webhooks/africastalking/sms?key=${TEST_WEBHOOK_SECRET}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form).toString(),
      signal: AbortSignal.timeout(HOP_TIMEOUT_MS),
    });
    await response.text();
    return response.status;
  } catch {
    return 0;
  }
}
