import { FLOWS_DIR } from '../../src/app';
import { createDb } from '../../src/db/knex';
import { citizenBindings } from '../../src/dialogue/bindings/citizen';
import { smsBindings } from '../../src/dialogue/bindings/sms';
import { mergeBindings, vaccinatorBindings } from '../../src/dialogue/bindings/vaccinator';
import { VaccinationService } from '../../src/domain/vaccination';
import { Catalogue } from '../../src/dialogue/catalogue';
import { encodedLength, encodingOf, screenLimitFor, smsParts } from '../../src/dialogue/encoding';
import { checkFlow, DialogueEngine, type ListItem } from '../../src/dialogue/engine';
import { loadFlows, type StateDef } from '../../src/dialogue/flow';
import { isSmsFlow, SMS_SCREEN_LIMITS, SMS_SCREEN_TEMPLATE } from '../../src/dialogue/sms';
import { BookingService, DEFAULT_BOOKING_RULES } from '../../src/domain/booking';
import { systemClock } from '../../src/domain/clock';
import { CodeVault } from '../../src/domain/codes';
import { addDays, longDay, shortDay } from '../../src/domain/dates';
import { testDatabaseUrl } from '../support/db';

/**
 * Every state of every flow, in every language, rendered at its worst (every placeholder at its
 * maximum length): each screen must fit the USSD limit for its encoding, and every message key
 * must exist in every language. SMS templates are measured in parts. The SMS flows (sms_*) reply
 * by SMS: their screens are held to the SMS engine's limits (two parts) instead.
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

const worstVars = Object.fromEntries(Object.keys(catalogue.params).map((name) => [name, catalogue.worstValue(name)]));
const states = [...flows.values()].flatMap((flow) =>
  Object.entries(flow.states).map(([name, state]) => ({ flow: flow.id, name, state })),
);
const screens = catalogue.languages().flatMap((language) =>
  states.filter(({ state }) => state.type !== 'action').map((s) => ({ ...s, language })),
);

function worstItems(state: StateDef): ListItem[][] {
  if (state.type !== 'list') return [[]];
  return state.items.map((key) => {
    const params = Object.fromEntries(catalogue.placeholders('en', key).map((p) => [p, catalogue.worstValue(p)]));
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

  it.each(screens.map((s) => [`${s.flow}.${s.name} (${s.language})`, s] as const))('%s fits one screen at its longest', async (_label, s) => {
    const [flowEngine, flowLimits] = isSmsFlow(s.flow) ? [smsEngine, SMS_SCREEN_LIMITS] : [engine, limits];
    for (const items of worstItems(s.state)) {
      const screen = await flowEngine.preview(s.flow, s.name, { phone: '+910000000000', language: s.language, now: new Date() }, worstVars, { items });
      const limit = screenLimitFor(screen.text, flowLimits);
      // The screen text rides along so a failure shows what overflowed.
      expect({ fits: encodedLength(screen.text) <= limit, text: screen.text }).toEqual({ fits: true, text: screen.text });
      if (s.state.type === 'list') expect(screen.text).toMatch(/\n1 /);
    }
  });

  // The screen template carries a text already held to the SMS engine's limits (checked above and below).
  const smsKeys = catalogue.keys('en').filter((key) => key.startsWith('sms.') && key !== SMS_SCREEN_TEMPLATE);
  const parts = catalogue.languages().flatMap((language) =>
    smsKeys.map((key) => {
      const text = catalogue.renderWorstCase(language, key);
      return { language, key, encoding: encodingOf(text), length: encodedLength(text), parts: smsParts(text) };
    }),
  );

  it('keeps every English SMS to one part and every other language to two', () => {
    process.stdout.write(`SMS parts per template (worst case):\n${parts.map((p) => `  ${p.language} ${p.key}: ${p.parts} part(s), ${p.length} ${p.encoding}`).join('\n')}\n`);
    for (const p of parts) expect({ key: `${p.language} ${p.key}`, parts: p.parts }).toEqual({ key: `${p.language} ${p.key}`, parts: p.language === 'en' ? 1 : expect.any(Number) });
    for (const p of parts.filter((p) => p.language !== 'en')) expect(p.parts).toBeLessThanOrEqual(2);
  });

  it('carries a whole SMS screen in the screen template, never clipped', () => {
    for (const language of catalogue.languages()) {
      expect(catalogue.template(language, SMS_SCREEN_TEMPLATE)).toBe('{screen}');
      expect(catalogue.worstValue('screen').length).toBeGreaterThanOrEqual(Math.max(SMS_SCREEN_LIMITS.gsm7, SMS_SCREEN_LIMITS.ucs2));
    }
  });
});
