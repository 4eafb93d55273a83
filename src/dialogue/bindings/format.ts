/** Free seats as a list shows them: a large count reads "999+" rather than being cut to its first digits. */
export function seatCount(free: number): string {
  return free > 999 ? '999+' : String(free);
}
