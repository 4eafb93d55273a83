import type { App } from '../../src/app';
import { addDays, dayIn } from '../../src/domain/dates';

/**
 * A centre with one session `daysFromToday` ahead (in the centre's time zone). The session runs
 * all day (00:00-24:00) unless told otherwise, so a test that books today passes at any hour it
 * runs; tests of the hours set them, and the clock.
 */
export async function seedCentre(
  app: Pick<App, 'programme' | 'clock'>,
  options: { name?: string; pincode?: string; capacity?: number; daysFromToday?: number; vaccine?: string; minAge?: number; dose?: number; startTime?: string; endTime?: string } = {},
) {
  const centre = await app.programme.createCentre({
    name: options.name ?? 'AIIMS Delhi',
    pincode: options.pincode ?? '110001',
    district: 'New Delhi',
    state: 'Delhi',
  });
  const session = await app.programme.createSession({
    centreId: centre.id,
    date: addDays(dayIn(centre.timezone, app.clock.now()), options.daysFromToday ?? 1),
    vaccine: options.vaccine ?? 'Covishield',
    minAge: options.minAge ?? 18,
    dose: options.dose ?? 1,
    capacity: options.capacity ?? 10,
    startTime: options.startTime ?? '00:00',
    endTime: options.endTime ?? '24:00',
  });
  return { centre, session };
}

/** Answers of a first-time caller (English, book) registering one member, up to the PIN code screen. */
export function registration(name: string, panNumber: string): string[] {
  return ['1', '1', name, '1985', '1', '2', panNumber];
}

/** A valid PAN for the n-th test person (any n up to millions), so photo IDs never collide. */
export function pan(n: number): string {
  let letters = '';
  for (let rest = Math.floor(n / 10_000), i = 0; i < 5; i++, rest = Math.floor(rest / 26)) letters = String.fromCharCode(65 + (rest % 26)) + letters;
  return `${letters}${String(n % 10_000).padStart(4, '0')}F`;
}
