/** Photo-ID documents a beneficiary may register with, and what a valid number of each looks like. */
export const ID_TYPES = ['AADHAAR', 'PAN', 'PASSPORT', 'VOTER', 'DL'] as const;
export type IdType = (typeof ID_TYPES)[number];

// Verhoeff tables (dihedral group D5): Aadhaar's last digit is a Verhoeff check digit.
const D = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 3, 4, 0, 6, 7, 8, 9, 5], [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
  [3, 4, 0, 1, 2, 8, 9, 5, 6, 7], [4, 0, 1, 2, 3, 9, 5, 6, 7, 8], [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
  [6, 5, 9, 8, 7, 1, 0, 4, 3, 2], [7, 6, 5, 9, 8, 2, 1, 0, 4, 3], [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
  [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
];
const P = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 5, 7, 6, 2, 8, 3, 0, 9, 4], [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
  [8, 9, 1, 6, 0, 4, 3, 5, 2, 7], [9, 4, 5, 3, 1, 2, 6, 8, 7, 0], [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
  [2, 7, 9, 3, 8, 0, 6, 4, 1, 5], [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
];

export function verhoeffValid(digits: string): boolean {
  let c = 0;
  [...digits].reverse().forEach((digit, i) => {
    c = D[c]![P[i % 8]![Number(digit)]!]!;
  });
  return c === 0;
}

const FORMATS: Record<IdType, RegExp> = {
  AADHAAR: /^[2-9]\d{11}$/,
  PAN: /^[A-Z]{5}\d{4}[A-Z]$/,
  PASSPORT: /^[A-Z]\d{7}$/,
  VOTER: /^[A-Z]{3}\d{7}$/,
  DL: /^[A-Z]{2}\d{13}$/,
};

/** The number in canonical form (no spaces or dashes, upper case), or null when it cannot be one of this type. */
export function normaliseIdNumber(type: IdType, input: string): string | null {
  const value = input.replace(/[\s-]/g, '').toUpperCase();
  if (!FORMATS[type].test(value)) return null;
  if (type === 'AADHAAR' && !verhoeffValid(value)) return null;
  return value;
}

export function isIdType(value: string): value is IdType {
  return (ID_TYPES as readonly string[]).includes(value);
}
