import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError } from '../config-error';
import { TEMPLATED_SMS_KEYS, type RegisteredTemplate, type TemplateBook } from '../contracts/templates';
import type { Catalogue } from '../dialogue/catalogue';

/** Where a value goes in a registered DLT template. */
export const DLT_VARIABLE = '{#var#}';
/** The most characters the operators' scrubbers accept for one {#var#}. */
export const DLT_VARIABLE_MAX = 30;

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Whether an SMS text is one the template allows, as the operators' scrubbers check it: the fixed
 * parts exactly, each {#var#} at most 30 characters (counted in code points).
 */
export function matchesTemplate(template: string, text: string): boolean {
  const pattern = template.split(DLT_VARIABLE).map(escapeRegExp).join(`([\\s\\S]{0,${2 * DLT_VARIABLE_MAX}}?)`);
  const match = new RegExp(`^${pattern}$`, 'u').exec(text);
  return match !== null && match.slice(1).every((value) => [...value].length <= DLT_VARIABLE_MAX);
}

/** DLT_TEMPLATES: { "<catalogue key>": { "<language>": { "templateId": "...", "text": "..." } } }. */
export const templateFileSchema = z.record(
  z.string(),
  z.record(
    z.string(),
    z.strictObject({
      templateId: z.string().regex(/^\d+$/, 'a template id is the digits the DLT portal gave'),
      text: z.string().min(1),
    }),
  ),
);
export type TemplateFile = z.infer<typeof templateFileSchema>;

const PLACEHOLDER = /\{[a-zA-Z0-9_]+\}/g;

/** The text to register for a catalogue message: each {placeholder} becomes {#var#}. */
export function dltText(message: string): string {
  return message.replace(PLACEHOLDER, DLT_VARIABLE);
}

/** The book to register, written from the catalogue, with placeholder ids an operator replaces by the portal's. */
export function exampleTemplateFile(catalogue: Catalogue, keys: readonly string[] = TEMPLATED_SMS_KEYS, languages = catalogue.languages()): TemplateFile {
  let serial = 0;
  const file: TemplateFile = {};
  for (const key of keys) {
    file[key] = {};
    for (const language of languages) {
      serial += 1;
      file[key][language] = { templateId: `1107${String(serial).padStart(15, '0')}`, text: dltText(catalogue.template(language, key)) };
    }
  }
  return file;
}

/**
 * Every way the book would let an SMS be blocked: a key or language without a template, a text
 * that is not the catalogue's character for character, a placeholder whose longest value exceeds
 * what a {#var#} holds. Each problem names the key and the language.
 */
export function checkTemplateBook(
  book: TemplateFile,
  catalogue: Catalogue,
  keys: readonly string[],
  languages: readonly string[],
  /** Placeholders whose value is fixed for a deployment ({site}: PUBLIC_BASE_URL): their real length counts, not the catalogue's cap. */
  fixedValues: Readonly<Record<string, string>> = {},
): string[] {
  const problems: string[] = [];
  for (const key of keys) {
    for (const language of languages) {
      const where = `${key} (${language})`;
      if (!catalogue.has(language, key)) {
        problems.push(`${where}: not in the catalogue (flows/messages/${language}.json)`);
        continue;
      }
      const message = catalogue.template(language, key);
      for (const name of new Set(catalogue.placeholders(language, key))) {
        const longest = [...(fixedValues[name] ?? catalogue.worstValue(name))].length;
        if (longest > DLT_VARIABLE_MAX) problems.push(`${where}: {${name}} can be ${longest} characters, a ${DLT_VARIABLE} holds at most ${DLT_VARIABLE_MAX}`);
      }
      const registered = book[key]?.[language];
      if (!registered) {
        problems.push(`${where}: no template${book[key] ? ` in ${language}` : ''}`);
        continue;
      }
      const difference = firstDifference(dltText(message), registered.text);
      if (difference) problems.push(`${where}: template ${registered.templateId} differs from the catalogue ${difference}`);
    }
  }
  return problems;
}

/** Where two texts part, in characters (code points), with a little of each side; undefined when equal. */
function firstDifference(expected: string, actual: string): string | undefined {
  if (expected === actual) return undefined;
  const [want, got] = [[...expected], [...actual]];
  let at = 0;
  while (at < want.length && at < got.length && want[at] === got[at]) at += 1;
  const around = (chars: string[]) => (at >= chars.length ? 'the end' : JSON.stringify(chars.slice(at, at + 12).join('')));
  return `at character ${at + 1}: expected ${around(want)}, registered ${around(got)}`;
}

/** Reads and parses a template book file; every failure says which file and what is wrong with it. */
export function readTemplateFile(path: string): TemplateFile {
  let raw: string;
  try {
    raw = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError([`DLT_TEMPLATES ${path} cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`]);
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (error) {
    throw new ConfigError([`DLT_TEMPLATES ${path} is not JSON: ${(error as Error).message}`]);
  }
  const parsed = templateFileSchema.safeParse(json);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((issue) => `DLT_TEMPLATES ${path}: ${issue.path.map(String).join('.') || '(top)'}: ${issue.message}`));
  }
  return parsed.data;
}

/**
 * India's DLT: loads DLT_TEMPLATES and checks it against the catalogue (every SMS key, every
 * language, each placeholder's worst case within 30 characters). Throws ConfigError naming each key.
 */
export function loadTemplateBook(path: string, catalogue: Catalogue, fixedValues: Readonly<Record<string, string>> = {}): TemplateBook {
  const file = readTemplateFile(path);
  const problems = checkTemplateBook(file, catalogue, TEMPLATED_SMS_KEYS, catalogue.languages(), fixedValues);
  if (problems.length) throw new ConfigError(problems.map((problem) => `DLT_TEMPLATES ${path}: ${problem}`));
  return { find: (key: string, language: string): RegisteredTemplate | undefined => file[key]?.[language] };
}

/** The values fixed for a deployment that a template variable carries: the certificate link's site. */
export function deploymentValues(publicBaseUrl: string): Record<string, string> {
  return { site: publicBaseUrl.replace(/\/+$/, '') };
}
