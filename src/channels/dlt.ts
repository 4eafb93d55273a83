import type { TemplateBook } from '../contracts/templates';
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

/**
 * India's DLT: loads DLT_TEMPLATES and checks it against the catalogue (every SMS key, every
 * language, each placeholder's worst case within 30 characters). Throws ConfigError naming each key.
 */
export function loadTemplateBook(_path: string, _catalogue: Catalogue): TemplateBook {
  throw new Error('DLT template book: not written yet');
}
