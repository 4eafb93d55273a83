/**
 * GSM 03.38 character set: decides whether a text travels as GSM-7 or UCS-2, and what it costs.
 * One character outside GSM-7 (any Devanagari) turns the whole text into UCS-2.
 */
const GSM7_BASIC = new Set(
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà',
);
const GSM7_EXTENSION = new Set('^{}\\[~]|€\f');

export type Encoding = 'GSM-7' | 'UCS-2';

export function encodingOf(text: string): Encoding {
  for (const char of text) {
    if (!GSM7_BASIC.has(char) && !GSM7_EXTENSION.has(char)) return 'UCS-2';
  }
  return 'GSM-7';
}

/** Length as the network counts it: septets for GSM-7 (extension characters cost two), UTF-16 units for UCS-2. */
export function encodedLength(text: string): number {
  if (encodingOf(text) === 'UCS-2') return text.length;
  let septets = 0;
  for (const char of text) septets += GSM7_EXTENSION.has(char) ? 2 : 1;
  return septets;
}

/** How many SMS parts a text needs (GSM-7 160/153, UCS-2 70/67). */
export function smsParts(text: string): number {
  const length = encodedLength(text);
  const [single, multi] = encodingOf(text) === 'UCS-2' ? [70, 67] : [160, 153];
  return length <= single ? 1 : Math.ceil(length / multi);
}

export interface ScreenLimits {
  gsm7: number;
  ucs2: number;
}

/** The most a USSD screen may hold for this text's encoding. */
export function screenLimitFor(text: string, limits: ScreenLimits): number {
  return encodingOf(text) === 'UCS-2' ? limits.ucs2 : limits.gsm7;
}

export function fitsScreen(text: string, limits: ScreenLimits): boolean {
  // Fast path: a character costs at most one UCS-2 unit or two septets, so a short text fits either way.
  if (text.length <= limits.ucs2 && text.length * 2 <= limits.gsm7) return true;
  return encodedLength(text) <= screenLimitFor(text, limits);
}
