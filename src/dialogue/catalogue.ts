import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';

/**
 * Every string a user reads (USSD screens and SMS) lives in flows/messages/<language>.json.
 * Placeholders are {name}; flows/params.json caps each one's length (per language on screens), so
 * a screen's worst case is known before it is ever shown (the flows test renders it). Keys that
 * start with "sms." are SMS texts; every other key is shown on a screen.
 */
export type Params = Record<string, string | number>;

const messagesSchema = z.record(z.string(), z.string().min(1));
const paramsSchema = z.record(
  z.string(),
  z.object({
    maxLength: z.number().int().positive(),
    example: z.string(),
    /** Tighter limits on USSD screens in some languages (Hindi screens hold 80 UCS-2 characters). */
    screenMaxLength: z.record(z.string(), z.number().int().positive()).optional(),
  }),
);
export type ParamSpec = z.infer<typeof paramsSchema>;

const PLACEHOLDER = /\{([a-zA-Z0-9_]+)\}/g;
export const DEFAULT_LANGUAGE = 'en';

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
    return this.template(language, key).replace(PLACEHOLDER, (_, name: string) => {
      const value = params[name];
      if (value === undefined) throw new MissingMessageError(`message "${key}" needs {${name}}`);
      return clip(String(value), this.limit(name, language, key));
    });
  }

  /** The longest text a message can become: every placeholder at its maximum length. */
  renderWorstCase(language: string, key: string): string {
    const params = Object.fromEntries(this.placeholders(language, key).map((name) => [name, this.worstValue(name)]));
    return this.render(language, key, params);
  }

  /** The longest value a placeholder can take (render clips it further where a screen needs). */
  worstValue(name: string): string {
    const spec = this.spec(name);
    return spec.example.padEnd(spec.maxLength, spec.example.slice(-1) || 'W').slice(0, spec.maxLength);
  }

  private limit(name: string, language: string, key: string): number {
    const spec = this.spec(name);
    return key.startsWith('sms.') ? spec.maxLength : (spec.screenMaxLength?.[language] ?? spec.maxLength);
  }

  private spec(name: string) {
    const spec = this.params[name];
    if (!spec) throw new MissingMessageError(`placeholder {${name}} has no entry in flows/params.json`);
    return spec;
  }
}

function clip(value: string, max: number): string {
  return [...value].length <= max ? value : [...value].slice(0, max).join('');
}
