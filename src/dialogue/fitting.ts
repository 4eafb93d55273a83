import { fitsScreen, type ScreenLimits } from './encoding';

/**
 * Shortening a rendered text to the limit of the encoding it actually needs. A Devanagari name on
 * an English screen turns the whole screen into UCS-2 (80 characters instead of 160), so whether a
 * screen fits is known only once it is rendered: the names on it (placeholders declared "clip" in
 * flows/params.json) are then shortened, whole graphemes at a time, just enough to fit. Everything
 * else (references, codes, dates, numbers, the fixed text) is never shortened.
 */

/** A value that may be shortened to make its text fit: a person's or a centre's name. */
export interface Clippable {
  clip: string;
}
/** A rendered text that remembers which of its values may be shortened. */
export type Fittable = ReadonlyArray<string | Clippable>;

/**
 * Ends a shortened value. A plain full stop: it reads as an abbreviation ("Parvathi V."), is in
 * the GSM-7 basic set (one septet, one UCS-2 unit) so it never turns a Latin screen into UCS-2
 * as "…" would, and costs one septet where "~" (an extension character) costs two.
 */
export const CLIP_MARK = '.';
/** A shortened value keeps at least this many graphemes. */
const MIN_GRAPHEMES = 1;

const ASCII = /^[\x20-\x7e]*$/;
const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/** A text's user-perceived characters: a Devanagari conjunct with its virama and vowel signs, or an emoji, is one. */
export function graphemes(value: string): string[] {
  if (ASCII.test(value)) return value.split('');
  return Array.from(segmenter.segment(value), (s) => s.segment);
}

/** At most `max` code points, cut between graphemes (never half a surrogate pair or a vowel sign without its letter). */
export function clipToLength(value: string, max: number): string {
  if (value.length <= max) return value;
  if (ASCII.test(value)) return value.slice(0, max);
  let kept = '';
  let codePoints = 0;
  for (const grapheme of graphemes(value)) {
    codePoints += [...grapheme].length;
    if (codePoints > max) break;
    kept += grapheme;
  }
  return kept;
}

export function plainText(text: Fittable): string {
  let plain = '';
  for (const piece of text) plain += typeof piece === 'string' ? piece : piece.clip;
  return plain;
}

/** Lines joined into one text, empty lines left out; the values keep their clippability. */
export function joinLines(lines: Fittable[], separator = '\n'): Fittable {
  const joined: Array<string | Clippable> = [];
  for (const line of lines.filter((l) => plainText(l).length > 0)) {
    if (joined.length > 0) joined.push(separator);
    joined.push(...line);
  }
  return joined;
}

/**
 * The text, within the limit of the encoding it needs. While it does not fit, the longest clippable
 * value loses one grapheme (and ends with CLIP_MARK). If it still does not fit with every value at
 * its shortest, the shortest version is returned: the flows test proves no screen comes to that.
 */
export function fit(text: Fittable, limits: ScreenLimits): string {
  const whole = plainText(text);
  if (fitsScreen(whole, limits)) return whole;
  const values = text.filter((piece): piece is Clippable => typeof piece !== 'string').map((piece) => graphemes(piece.clip));
  const kept = values.map((value) => value.length);
  let candidate = whole;
  for (;;) {
    const longest = indexOfLongest(kept);
    if (longest < 0) return candidate;
    kept[longest]! -= 1;
    candidate = renderClipped(text, values, kept);
    if (fitsScreen(candidate, limits)) return candidate;
  }
}

function indexOfLongest(kept: number[]): number {
  let found = -1;
  for (let i = 0; i < kept.length; i++) {
    if (kept[i]! > MIN_GRAPHEMES && (found < 0 || kept[i]! > kept[found]!)) found = i;
  }
  return found;
}

function renderClipped(text: Fittable, values: string[][], kept: number[]): string {
  let rendered = '';
  let index = 0;
  for (const piece of text) {
    if (typeof piece === 'string') {
      rendered += piece;
      continue;
    }
    const value = values[index]!;
    const keep = kept[index++]!;
    rendered += keep >= value.length ? piece.clip : value.slice(0, keep).join('').trimEnd() + CLIP_MARK;
  }
  return rendered;
}
