/**
 * The line language of the terminal simulator, shared by its interactive prompt and its scripts:
 *
 *   DIAL                      hang up whatever is open and dial the service code (a new sessionId)
 *   SMS: text                 the phone sends an SMS to the short code
 *   SMS +919900000001: text   another phone sends one (its SMS are printed from then on too)
 *   WAIT regex                wait (bounded) for an SMS to the phone matching regex; named groups,
 *                             e.g. (?<CODE>\d{4}), become variables
 *   WAIT +919900000001: regex the same for another phone (written out: no placeholder there)
 *   SET NAME=value            a variable
 *   anything else             the answer to the open USSD screen
 *
 * `${NAME}` in any line is replaced by a variable: PHONE (the phone), one SET or captured by WAIT, or
 * `${RANDOM:n}` (n random digits, drawn anew at each use: SET it to use one value twice). A value put
 * into a WAIT's regex matches literally.
 */
export type Step =
  | { kind: 'dial' }
  | { kind: 'sms'; from?: string; text: string }
  | { kind: 'wait'; phone?: string; pattern: string }
  | { kind: 'set'; name: string; value: string }
  | { kind: 'input'; text: string };

const PHONE_PREFIX = /^(\+\d{6,15}):\s?(.*)$/s;

/** One line, placeholders not yet expanded (a WAIT's need escaping, the others not). */
export function parseLine(line: string): Step {
  if (line === 'DIAL') return { kind: 'dial' };
  if (line.startsWith('SMS:')) return { kind: 'sms', text: line.slice(4).trimStart() };
  if (line.startsWith('SMS +')) {
    const match = PHONE_PREFIX.exec(line.slice(4));
    if (!match) throw new ScriptError(`write SMS +<phone in E.164>: <text>, not ${JSON.stringify(line)}`);
    return { kind: 'sms', from: match[1]!, text: match[2]! };
  }
  if (line.startsWith('WAIT ')) {
    const rest = line.slice(5).trim();
    const match = PHONE_PREFIX.exec(rest);
    const step: Step = match ? { kind: 'wait', phone: match[1]!, pattern: match[2]! } : { kind: 'wait', pattern: rest };
    if (!step.pattern) throw new ScriptError('WAIT needs a pattern, e.g. WAIT code is (?<CODE>\\d{4})');
    return step;
  }
  if (line.startsWith('SET ')) {
    const match = /^SET ([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(line);
    if (!match) throw new ScriptError(`write SET NAME=value, not ${JSON.stringify(line)}`);
    return { kind: 'set', name: match[1]!, value: match[2]! };
  }
  return { kind: 'input', text: line };
}

/** A script's lines worth running, with their line numbers: blank lines and `#` comments are skipped. */
export function scriptLines(source: string): { number: number; text: string }[] {
  return source
    .split('\n')
    .map((raw, i) => ({ number: i + 1, text: raw.replace(/\r$/, '').trim() }))
    .filter((line) => line.text !== '' && !line.text.startsWith('#'));
}

export class ScriptError extends Error {}

const PLACEHOLDER = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::(\d+))?\}/g;

/** Replaces each `${NAME}`; `quote` is applied to each value (a regex-escaper for WAIT). An unknown name is an error. */
export function expand(text: string, variables: ReadonlyMap<string, string>, quote: (value: string) => string = (value) => value): string {
  return text.replace(PLACEHOLDER, (_whole, name: string, digits: string | undefined) => {
    if (name === 'RANDOM' && digits) return quote(randomDigits(Number(digits)));
    const value = variables.get(name);
    if (value === undefined) {
      const known = [...variables.keys()].join(', ') || 'none';
      throw new ScriptError(`\${${name}} is not set (set so far: ${known}; SET it, or capture it with WAIT ... (?<${name}>...))`);
    }
    return quote(value);
  });
}

export function escapeRegExp(value: string): string {
  return value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function randomDigits(count: number): string {
  let digits = '';
  for (let i = 0; i < count; i++) digits += Math.floor(Math.random() * 10);
  return digits;
}
