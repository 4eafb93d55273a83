import fc from 'fast-check';
import { encodedLength, encodingOf, fitsScreen } from '../../src/dialogue/encoding';
import { CLIP_MARK, clipToLength, fit, graphemes, plainText, type Fittable } from '../../src/dialogue/fitting';

/** Shortening names to fit the encoding a text needs, by whole graphemes, never a reference or a code. */
const USSD = { gsm7: 160, ucs2: 80 };
const VIRAMA = '\u094D';

describe('clipToLength', () => {
  it.each([
    ['a Devanagari vowel sign stays with its letter', 'सीता देवी', 8, 'सीता दे'],
    ['a conjunct (letter, virama, letter) is never split', 'पार्वती', 4, 'पा'],
    ['an emoji is never split into half a surrogate pair', 'Asha 👩🏽‍⚕️ Devi', 6, 'Asha '],
    ['plain ASCII is cut at the length', 'Parvathi Venkataraman', 20, 'Parvathi Venkatarama'],
  ])('%s', (_label, value, max, expected) => {
    expect(clipToLength(value, max)).toBe(expected);
  });
});

describe('fit', () => {
  const screen = (name: string): Fittable => ['Booked: ', { clip: name }, ', AIIMS Delhi, Wed 30 Sep. Ref K7Q2M9AX. Code sent by SMS.'];

  it('leaves a text that fits alone', () => {
    expect(fit(screen('Asha Devi'), USSD)).toBe(plainText(screen('Asha Devi')));
  });

  it('shortens a Devanagari name on an English screen to the UCS-2 limit, keeping the reference', () => {
    const text = fit(screen('श्रीमती पार्वती वेंकटरमण'), USSD);
    expect({ encoding: encodingOf(text), length: encodedLength(text) }).toEqual({ encoding: 'UCS-2', length: 80 });
    expect(text).toMatch(/^Booked: श्रीमती पार्व\., AIIMS Delhi, Wed 30 Sep\. Ref K7Q2M9AX\. Code sent by SMS\.$/);
  });

  it('counts GSM-7 extension characters as two septets', () => {
    const text = fit(['x'.repeat(140), { clip: '{€€€€€€€€€€}' }], USSD);
    expect(encodedLength(text)).toBeLessThanOrEqual(160);
    expect(text).toBe(`${'x'.repeat(140)}{€€€€€€€€${CLIP_MARK}`);
  });

  it('gives a screen back its GSM-7 limit when the Devanagari part of a mixed name is cut', () => {
    const text = fit(['y'.repeat(140), { clip: 'Asha देवी' }], USSD);
    expect({ text, encoding: encodingOf(text) }).toEqual({ text: `${'y'.repeat(140)}Asha${CLIP_MARK}`, encoding: 'GSM-7' });
  });

  it('shortens the longest name first, just enough', () => {
    const text = fit([{ clip: 'Parvathi Venkataraman' }, ' ', { clip: 'AIIMS' }, ' ', 'z'.repeat(140)], USSD);
    expect(text).toBe(`Parvathi Ven${CLIP_MARK} AIIMS ${'z'.repeat(140)}`);
  });

  it('never shortens what is not declared clippable', () => {
    expect(fit(['Ref K7Q2M9AX ', 'w'.repeat(200)], USSD)).toBe(`Ref K7Q2M9AX ${'w'.repeat(200)}`);
  });

  it('fits any name in Latin, Devanagari, extension characters or a mix, ending on a whole grapheme', () => {
    const char = fc.constantFrom(...'aZ {€~|', 'क', 'ष', 'र', 'ि', 'ी', 'ं', VIRAMA, 'श्री', 'दे', '👩🏽');
    const name = fc.array(char, { minLength: 1, maxLength: 30 }).map((chars) => chars.join(''));
    fc.assert(
      fc.property(name, name, fc.integer({ min: 0, max: 50 }), (member, centre, fixed) => {
        const text = fit([{ clip: member }, '\n', { clip: centre }, '\n', 'Ref K7Q2M9AX ', 'd'.repeat(fixed)], USSD);
        expect(fitsScreen(text, USSD)).toBe(true);
        expect(text).toContain(`Ref K7Q2M9AX ${'d'.repeat(fixed)}`);
        for (const [line, value] of text.split('\n').slice(0, 2).map((l, i) => [l, i === 0 ? member : centre] as const)) {
          if (line === value) continue;
          const kept = line.slice(0, -CLIP_MARK.length);
          // What is kept is whole graphemes of the name, never half a cluster.
          expect(graphemes(value).join('').startsWith(kept)).toBe(true);
          expect(graphemes(kept).every((g, i) => g === graphemes(value.trimEnd())[i] || i === graphemes(kept).length - 1)).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });
});
