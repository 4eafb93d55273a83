import { FLOWS_DIR } from '../../src/app';
import { createDb } from '../../src/db/knex';
import { citizenBindings } from '../../src/dialogue/bindings/citizen';
import { smsBindings } from '../../src/dialogue/bindings/sms';
import { mergeBindings, vaccinatorBindings } from '../../src/dialogue/bindings/vaccinator';
import { VaccinationService } from '../../src/domain/vaccination';
import { Catalogue, SMS_LIMITS } from '../../src/dialogue/catalogue';
import { encodedLength, encodingOf, fitsScreen, screenLimitFor, smsParts } from '../../src/dialogue/encoding';
import { checkFlow, DialogueEngine, type ListItem, type Vars } from '../../src/dialogue/engine';
import { CLIP_MARK, clipToLength, graphemes } from '../../src/dialogue/fitting';
import { loadFlows, type StateDef } from '../../src/dialogue/flow';
import { isSmsFlow, SMS_SCREEN_LIMITS, SMS_SCREEN_TEMPLATE } from '../../src/dialogue/sms';
import { BookingService, DEFAULT_BOOKING_RULES } from '../../src/domain/booking';
import { systemClock } from '../../src/domain/clock';
import { CodeVault } from '../../src/domain/codes';
import { addDays, longDay, shortDay } from '../../src/domain/dates';
import { testDatabaseUrl } from '../support/db';

/**
 * Every state of every flow, in every language, rendered at its worst (every placeholder at its
 * maximum length, names in every script the catalogue supports): each screen must fit the USSD
 * limit of the encoding its text needs, and every message key must exist in every language. SMS
 * templates are measured in parts. The SMS flows (sms_*) reply by SMS: their screens are held to
 * the SMS engine's limits (two parts) instead.
 */
const limits = { gsm7: 160, ucs2: 80 };
const catalogue = Catalogue.load(FLOWS_DIR);
const flows = loadFlows(FLOWS_DIR);
const db = createDb(testDatabaseUrl());
const codes = new CodeVault('x'.repeat(32));
const bindings = mergeBindings(
  citizenBindings(new BookingService(db, codes, systemClock), { isKnownMobile: async () => true, setLanguage: async () => undefined }, 4),
  vaccinatorBindings(new VaccinationService(db, codes, systemClock), 'IN'),
  smsBindings(new BookingService(db, codes, systemClock), DEFAULT_BOOKING_RULES),
);
const engine = new DialogueEngine(flows, catalogue, bindings, limits);
const smsEngine = new DialogueEngine(flows, catalogue, bindings, SMS_SCREEN_LIMITS);
afterAll(() => db.destroy());

/**
 * Names (of members and centres) at their longest in each script: a screen's encoding is decided
 * by its rendered text, so an English screen with a Devanagari name is UCS-2 (80 characters), and
 * GSM-7 extension characters cost two septets each.
 */
const NAMES: Record<string, { memberName: string; centre: string }> = {
  latin: { memberName: catalogue.worstValue('memberName'), centre: catalogue.worstValue('centre') },
  devanagari: { memberName: 'श्रीमती पार्वती वेंकटरमण क्षत्रिय', centre: 'सामुदायिक स्वास्थ्य केंद्र नरेला सेक्टर' },
  mixed: { memberName: 'Asha देवी Venkataraman', centre: 'CHC नरेला Community Health' },
  'gsm7-extension': { memberName: '{Asha} [Devi] ~|^€\\€€€€€€€€€€€€€', centre: '[CHC] {Narela} ~|^€\\€€€€€€€€€€€€€' },
  'latin, devanagari at the end': { memberName: 'Parvathi Venkatar दे', centre: 'Community Health Cent दे' },
};
const scripts = Object.keys(NAMES);
const isClippable = (placeholder: string) => catalogue.params[placeholder]?.clip === true;

/** Every placeholder at its longest, the names in the given script. */
function worstVarsIn(script: string): Vars {
  const names: Record<string, string> = NAMES[script]!;
  return Object.fromEntries(
    Object.entries(catalogue.params).map(([name, spec]) => [name, names[name] !== undefined ? clipToLength(names[name], spec.maxLength) : catalogue.worstValue(name)]),
  );
}

/** How many code points survive of each name that was shortened on a text (a prefix ending in CLIP_MARK). */
function keptOfShortened(text: string, vars: Vars): number[] {
  return Object.keys(NAMES.latin!)
    .filter((name) => !text.includes(vars[name]!))
    .map((name) => {
      const value = graphemes(vars[name]!);
      for (let k = value.length - 1; k > 0; k--) {
        const kept = value.slice(0, k).join('').trimEnd();
        if (text.includes(kept + CLIP_MARK)) return [...kept].length;
      }
      return 0;
    });
}
const states = [...flows.values()].flatMap((flow) =>
  Object.entries(flow.states).map(([name, state]) => ({ flow: flow.id, name, state })),
);
const screens = catalogue.languages().flatMap((language) =>
  states.filter(({ state }) => state.type !== 'action').map((s) => ({ ...s, language })),
);

function worstItems(state: StateDef, vars: Vars): ListItem[][] {
  if (state.type !== 'list') return [[]];
  return state.items.map((key) => {
    const params = Object.fromEntries(catalogue.placeholders('en', key).map((p) => [p, vars[p]!]));
    return Array.from({ length: 30 }, (_, i) => ({ id: String(i), label: { key, params } }));
  });
}

describe('flows', () => {
  it('are consistent: targets exist, bindings exist, every key in every language', () => {
    for (const flow of flows.values()) expect(checkFlow(flow, catalogue, bindings)).toEqual([]);
  });

  it('have the same message keys in every language', () => {
    const english = catalogue.keys('en').sort();
    for (const language of catalogue.languages()) expect(catalogue.keys(language).sort()).toEqual(english);
  });

  it('use only placeholders that have a declared maximum length', () => {
    for (const language of catalogue.languages()) {
      for (const key of catalogue.keys(language)) {
        for (const name of catalogue.placeholders(language, key)) expect([key, name, catalogue.params[name] !== undefined]).toEqual([key, name, true]);
      }
    }
  });

  it('declare placeholder lengths that every real date fits, in every language', () => {
    for (let i = 0; i < 731; i++) {
      const day = addDays('2026-01-01', i);
      for (const language of catalogue.languages()) {
        expect([...shortDay(day, language)].length).toBeLessThanOrEqual(catalogue.params.day!.maxLength);
        expect([...longDay(day, language)].length).toBeLessThanOrEqual(catalogue.params.date!.maxLength);
      }
    }
  });

  it('reach every state from the start', () => {
    for (const flow of flows.values()) {
      const seen = new Set([flow.start]);
      const queue = [flow.start];
      while (queue.length) {
        const state = flow.states[queue.shift()!]!;
        const next = state.type === 'menu' ? state.options.map((o) => o.next) : state.type === 'input' ? [state.next] : state.type === 'list' ? [state.next, state.empty] : state.type === 'action' ? Object.values(state.outcomes) : [];
        for (const n of next) if (!seen.has(n)) seen.add(n) && queue.push(n);
      }
      expect(Object.keys(flow.states).filter((s) => !seen.has(s))).toEqual([]);
    }
  });

  const shortest: Array<{ screen: string; kept: number }> = [];
  it.each(screens.flatMap((s) => scripts.map((script) => [`${s.flow}.${s.name} (${s.language}, ${script} names)`, s, script] as const)))(
    '%s fits one screen at its longest',
    async (label, s, script) => {
      const [flowEngine, flowLimits] = isSmsFlow(s.flow) ? [smsEngine, SMS_SCREEN_LIMITS] : [engine, limits];
      const vars = worstVarsIn(script);
      for (const items of worstItems(s.state, vars)) {
        const screen = await flowEngine.preview(s.flow, s.name, { phone: '+910000000000', language: s.language, now: new Date() }, vars, { items });
        const limit = screenLimitFor(screen.text, flowLimits);
        // The screen text rides along so a failure shows what overflowed.
        expect({ fits: encodedLength(screen.text) <= limit, text: screen.text }).toEqual({ fits: true, text: screen.text });
        if (s.state.type === 'list') expect(screen.text).toMatch(/\n1 /);
        // A name absent from the screen's template is counted as not shortened.
        const kept = keptOfShortened(screen.text, vars).filter((k) => k > 0);
        if (kept.length) shortest.push({ screen: label, kept: Math.min(...kept) });
      }
    },
  );

  it('keeps at least 4 characters of every name on every screen, whatever its script', () => {
    shortest.sort((a, b) => a.kept - b.kept);
    process.stdout.write(`Names on screens, fewest characters (code points) kept (worst case):\n${shortest.filter((s) => s.kept < 10).map((s) => `  ${s.kept}  ${s.screen}`).join('\n')}\n`);
    expect(shortest.filter((s) => s.kept < 4)).toEqual([]);
  });

  // The screen template carries a text already held to the SMS engine's limits (checked above and below).
  const smsKeys = catalogue.keys('en').filter((key) => key.startsWith('sms.') && key !== SMS_SCREEN_TEMPLATE);
  const parts = catalogue.languages().flatMap((language) =>
    scripts.flatMap((script) =>
      smsKeys.map((key) => {
        const vars = worstVarsIn(script);
        const text = catalogue.renderSms(language, key, vars);
        const unfitted = catalogue.render(language, key, vars);
        const whole = catalogue.placeholders(language, key).filter((p) => !isClippable(p)).map((p) => clipToLength(vars[p]!, catalogue.params[p]!.maxLength));
        return { language, script, key, text, whole, encoding: encodingOf(text), length: encodedLength(text), parts: smsParts(text), unfittedParts: smsParts(unfitted) };
      }),
    ),
  );

  it('keeps every SMS within its declared parts (one GSM-7, two UCS-2), whatever the script of its names', () => {
    const table = parts.filter((p) => p.script === 'latin' || p.unfittedParts > p.parts);
    process.stdout.write(`SMS parts per template (worst case; other scripts shown where names were shortened):\n${table.map((p) => `  ${p.language} ${p.key} (${p.script}): ${p.unfittedParts} -> ${p.parts} part(s), ${p.length} ${p.encoding}`).join('\n')}\n`);
    for (const p of parts) {
      expect({ sms: `${p.language} ${p.key} (${p.script})`, text: p.text, fits: fitsScreen(p.text, SMS_LIMITS) }).toEqual({ sms: `${p.language} ${p.key} (${p.script})`, text: p.text, fits: true });
      expect(p.parts).toBeLessThanOrEqual(p.encoding === 'GSM-7' ? 1 : 2);
      // The reference, the code, dates and numbers are never shortened.
      for (const value of p.whole) expect({ sms: `${p.language} ${p.key}`, contains: value, found: p.text.includes(value) }).toEqual({ sms: `${p.language} ${p.key}`, contains: value, found: true });
    }
  });

  it('sends every English SMS with Latin names in one part, unshortened', () => {
    for (const p of parts.filter((p) => p.language === 'en' && p.script === 'latin')) expect({ key: p.key, parts: p.unfittedParts }).toEqual({ key: p.key, parts: 1 });
  });

  it('carries a whole SMS screen in the screen template, never clipped', () => {
    for (const language of catalogue.languages()) {
      expect(catalogue.template(language, SMS_SCREEN_TEMPLATE)).toBe('{screen}');
      expect(catalogue.worstValue('screen').length).toBeGreaterThanOrEqual(Math.max(SMS_SCREEN_LIMITS.gsm7, SMS_SCREEN_LIMITS.ucs2));
    }
  });
});
