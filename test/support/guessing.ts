import type { App } from '../../src/app';
import { CodeVault } from '../../src/domain/codes';
import { pan, seedCentre } from './programme';

/** A booking made for a guessing test, with the code the citizen holds (read back from its sealed copy). */
export interface SeededBooking {
  appointmentId: number;
  reference: string;
  phone: string;
  memberName: string;
  code: string;
}

export interface GuessingCentre {
  centre: { id: number; name: string; pincode: string };
  vaccinators: string[];
  bookings: SeededBooking[];
  /** The mobiles, each with its bookings (families when perMobile > 1). */
  mobiles: Map<string, SeededBooking[]>;
}

let seeded = 0;

/**
 * A centre with a session today, `vaccinators` registered there and `bookings` booked through the
 * booking service (the same writes as USSD or SMS), `perMobile` members to a mobile; or, given
 * `families`, that many families of 4 first and one member to a mobile after them.
 */
export async function seedGuessingCentre(app: App, options: { bookings: number; perMobile?: number; vaccinators?: number; families?: number }): Promise<GuessingCentre> {
  const n = ++seeded;
  const perMobile = options.perMobile ?? 1;
  const pincode = String(500000 + n * 10 + (process.pid % 10));
  const { centre, session } = await seedCentre(app, { name: `Guess Centre ${n}`, pincode, daysFromToday: 0, capacity: options.bookings });
  const vaccinators: string[] = [];
  for (let v = 0; v < (options.vaccinators ?? 1); v++) {
    const phone = `+91970${String(n).padStart(3, '0')}${String(v).padStart(4, '0')}`;
    await app.programme.createVaccinator({ phone, name: `Guess Nurse ${n}-${v}`, centreId: centre.id });
    vaccinators.push(phone);
  }
  const vault = new CodeVault(app.config.CODE_SECRET);
  const bookings: SeededBooking[] = [];
  const mobiles = new Map<string, SeededBooking[]>();
  for (let i = 0; i < options.bookings; i++) {
    const phone = `+91961${String(n).padStart(3, '0')}${String(mobileIndex(i, perMobile, options.families)).padStart(4, '0')}`;
    const memberName = `Member ${letters(n)} ${letters(i)}`;
    const registered = await app.booking.register(phone, { name: memberName, birthYear: 1980, gender: 'F', idType: 'PAN', idNumber: pan(200_000 + n * 1000 + i) });
    if (registered.kind !== 'registered') throw new Error(`could not register ${memberName}: ${registered.kind}`);
    const booked = await app.booking.book(phone, registered.member.id, session.id);
    if (booked.kind !== 'booked') throw new Error(`could not book ${memberName}: ${booked.kind}`);
    const row = await app.db('appointments').where('id', booked.appointment.id).first('code_cipher');
    const booking = { appointmentId: booked.appointment.id, reference: booked.appointment.reference, phone, memberName, code: vault.decrypt(row.code_cipher) };
    bookings.push(booking);
    mobiles.set(phone, [...(mobiles.get(phone) ?? []), booking]);
  }
  return { centre, vaccinators, bookings, mobiles };
}

/** A code that is not this one (nor any of `others`). */
export function wrongCode(code: string, ...others: string[]): string {
  for (let step = 1; ; step++) {
    const guess = String((Number(code) + step) % 10_000).padStart(4, '0');
    if (!others.includes(guess)) return guess;
  }
}

function mobileIndex(i: number, perMobile: number, families?: number): number {
  if (families === undefined) return Math.floor(i / perMobile);
  return i < families * 4 ? Math.floor(i / 4) : families + (i - families * 4);
}

function letters(n: number): string {
  return [...String(n)].map((d) => 'ABCDEFGHIJ'[Number(d)]).join('');
}
