import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { ScreenLimits } from './encoding';
import { clipToLength, fit, plainText, type Fittable } from './fitting';

/**
 * Every string a user reads (USSD screens and SMS) lives in flows/messages/<language>.json.
 * Placeholders are {name}; flows/params.json caps each one's length and says which ones (names)
 * may be shortened further to fit a screen or an SMS in the encoding its rendered text needs (see
 * fitting.ts), so a screen's worst case is known before it is ever shown (the flows test renders
 * it, with names in every script). Keys that start with "sms." are SMS texts; every other key is
 * shown on a screen.
 */
export type Params = Record<string, string | number>;

const messagesSchema = z.record(z.string(), z.string().min(1));
const paramsSchema = z.record(
  z.string(),
  z.object({
    maxLength: z.number().int().positive(),
    example: z.string(),
    /** May be shortened to fit a screen or an SMS: names only, never a reference, a code, a date or a number. */
    clip: z.boolean().optional(),
  }),
);
export type ParamSpec = z.infer<typeof paramsSchema>;

const PLACEHOLDER = /\{([a-zA-Z0-9_]+)\}/g;
export const DEFAULT_LANGUAGE = 'en';

/**
 * What one SMS may cost, its declared parts: one part when it travels as GSM-7 (an English text
 * with Latin names), two when it needs UCS-2 (a Hindi text, or an English one carrying a
 * Devanagari name). The sms.screen template carries a conversation reply the SMS engine has
 * already held to its own two parts; its {screen} is not clippable, so it passes unchanged.
 */
export const SMS_LIMITS: ScreenLimits = { gsm7: 160, ucs2: 134 };

export class MissingMessageError extends Error {}

export class Catalogue {
  constructor(
    private readonly messages: Record<string, Record<string, string>>,
    readonly params: ParamSpec,
  ) {}

  static load(dir: string): Catalogue {
    const messages: Record<string, Record<string, string>> = {};
    for (const file of readdirSync(join(dir, 'messages')).filter((f) => f.endsWith('.json'))) {
      messages[file.replace(/\.json$/, '')] = messagesSchema.parse(JSON.parse(readFileSync(join(dir, 'messages', file), 'utf8')));
    }
    const params = paramsSchema.parse(JSON.parse(readFileSync(join(dir, 'params.json'), 'utf8')));
    return new Catalogue(messages, params);
  }

  languages(): string[] {
    return Object.keys(this.messages);
  }

  keys(language: string): string[] {
    return Object.keys(this.messages[language] ?? {});
  }

  has(language: string, key: string): boolean {
    return this.messages[language]?.[key] !== undefined;
  }

  template(language: string, key: string): string {
    const template = this.messages[language]?.[key] ?? this.messages[DEFAULT_LANGUAGE]?.[key];
    if (template === undefined) throw new MissingMessageError(`no message "${key}" in any catalogue`);
    return template;
  }

  placeholders(language: string, key: string): string[] {
    return [...this.template(language, key).matchAll(PLACEHOLDER)].map((m) => m[1]!);
  }

  /** Fills placeholders, cutting each value to its declared maximum length. */
  render(language: string, key: string, params: Params = {}): string {
    return plainText(this.compose(language, key, params));
  }

  /** Fills placeholders as render does, keeping track of the values that may be shortened to fit. */
  compose(language: string, key: string, params: Params = {}): Fittable {
    const template = this.template(language, key);
    const pieces: Fittable[number][] = [];
    let last = 0;
    for (const match of template.matchAll(PLACEHOLDER)) {
      const name = match[1]!;
      const value = params[name];
      if (value === undefined) throw new MissingMessageError(`message "${key}" needs {${name}}`);
      const spec = this.spec(name);
      const clipped = clipToLength(String(value), spec.maxLength);
      pieces.push(template.slice(last, match.index), spec.clip ? { clip: clipped } : clipped);
      last = match.index + match[0].length;
    }
    pieces.push(template.slice(last));
    return pieces;
  }

  /** An SMS text within its declared parts (SMS_LIMITS), its names shortened where they would exceed them. */
  renderSms(language: string, key: string, params: Params = {}): string {
    return fit(this.compose(language, key, params), SMS_LIMITS);
  }

  /** The longest value a placeholder can take (a clippable one is shortened further where a screen or an SMS needs). */
  worstValue(name: string): string {
    const spec = this.spec(name);
    return spec.example.padEnd(spec.maxLength, spec.example.slice(-1) || 'W').slice(0, spec.maxLength);
  }

  private spec(name: string) {
    const spec = this.params[name];
    if (!spec) throw new MissingMessageError(`placeholder {${name}} has no entry in flows/params.json`);
    return spec;
  }
}
