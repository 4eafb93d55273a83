import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkTemplateBook, deploymentValues, loadTemplateBook, matchesTemplate, readTemplateFile, type TemplateFile } from '../../src/channels/dlt';

/** The certificate link's site as a deployment fixes it: its real length is what a {#var#} must hold. */
const SITE = deploymentValues('https://tika.example.org/');
import { ConfigError } from '../../src/config';
import { SMS_KEYS_SENT, TEMPLATED_SMS_KEYS } from '../../src/contracts/templates';
import { Catalogue } from '../../src/dialogue/catalogue';
import { SMS_SCREEN_TEMPLATE } from '../../src/dialogue/sms';
import { CODE_TEMPLATE, RESENT_CODE_TEMPLATE } from '../../src/domain/booking';

/**
 * India's DLT template book: checked against the catalogue (every key sent as a whole SMS, in
 * every language, character for character), loaded at start-up, and checked by `tika dlt:check`.
 */
const ROOT = join(__dirname, '..', '..');
const EXAMPLE = join(ROOT, 'deploy', 'dlt-templates.example.json');
const catalogue = Catalogue.load(join(ROOT, 'flows'));
const LANGUAGES = catalogue.languages();
const example = (): TemplateFile => JSON.parse(readFileSync(EXAMPLE, 'utf8'));
const scratch = mkdtempSync(join(tmpdir(), 'tika-dlt-'));

function writeBook(name: string, content: unknown): string {
  const path = join(scratch, name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

/** The example book with one change. */
function changed(change: (book: TemplateFile) => void): TemplateFile {
  const book = example();
  change(book);
  return book;
}

describe('checkTemplateBook', () => {
  const helpEn = example()['sms.help']!.en!.text;
  const rows: { label: string; book: TemplateFile; keys?: string[]; problems: (string | RegExp)[] }[] = [
    { label: 'the example book, as dlt:templates writes it', book: example(), problems: [] },
    {
      label: 'a key without any template',
      book: changed((book) => delete book['sms.help']),
      problems: ['sms.help (en): no template', 'sms.help (hi): no template'],
    },
    {
      label: 'a key without one language',
      book: changed((book) => delete book['sms.vax_locked']!.hi),
      problems: ['sms.vax_locked (hi): no template in hi'],
    },
    {
      label: 'a text one character off, named with where it parts',
      book: changed((book) => (book['sms.help']!.en!.text = helpEn.replace('dial', 'Dial'))),
      problems: [`sms.help (en): template 1107000000000000011 differs from the catalogue at character ${[...helpEn].indexOf('d', helpEn.indexOf('dial')) + 1}: expected "dial {#var#}", registered "Dial {#var#}"`],
    },
    {
      label: 'a value written out instead of {#var#}',
      book: changed((book) => (book['sms.help']!.en!.text = helpEn.replace('{#var#}', '*384*1234#'))),
      problems: [/^sms\.help \(en\): template \d+ differs from the catalogue at character \d+: expected "\{#var#\}\./],
    },
    {
      label: 'a registered text cut short',
      book: changed((book) => (book['sms.cancel_usage']!.hi!.text = book['sms.cancel_usage']!.hi!.text.slice(0, -1))),
      problems: [/^sms\.cancel_usage \(hi\): template \d+ differs from the catalogue at character \d+: expected "।", registered the end$/],
    },
    {
      label: 'a key the catalogue does not have',
      book: example(),
      keys: ['sms.help', 'sms.not_written'],
      problems: ['sms.not_written (en): not in the catalogue (flows/messages/en.json)', 'sms.not_written (hi): not in the catalogue (flows/messages/hi.json)'],
    },
  ];

  test.each(rows)('$label', ({ book, keys, problems }) => {
    const found = checkTemplateBook(book, catalogue, keys ?? TEMPLATED_SMS_KEYS, LANGUAGES, SITE);
    expect(found).toHaveLength(problems.length);
    problems.forEach((problem, i) => expect(found[i]).toEqual(typeof problem === 'string' ? problem : expect.stringMatching(problem)));
  });

  test('a placeholder whose longest value exceeds 30 characters is named, even when the text matches', () => {
    const tight = new Catalogue(
      { en: { 'sms.link': 'Tika: open {link} or {ref}' } },
      { link: { maxLength: 31, example: 'https://tika.example/c/0123' }, ref: { maxLength: 30, example: 'K7Q2M9AX' } },
    );
    const book = { 'sms.link': { en: { templateId: '1107000000000000001', text: 'Tika: open {#var#} or {#var#}' } } };
    expect(checkTemplateBook(book, tight, ['sms.link'], ['en'])).toEqual(['sms.link (en): {link} can be 31 characters, a {#var#} holds at most 30']);
  });

  test('the conversation screen is the one key sent that no template can carry', () => {
    expect(checkTemplateBook(example(), catalogue, [SMS_SCREEN_TEMPLATE], LANGUAGES, SITE)).toEqual(
      LANGUAGES.flatMap((language) => [`sms.screen (${language}): {screen} can be 306 characters, a {#var#} holds at most 30`, `sms.screen (${language}): no template`]),
    );
    expect(TEMPLATED_SMS_KEYS).not.toContain(SMS_SCREEN_TEMPLATE);
  });

  test('every templated SMS, rendered at its longest, is one its registered template allows', () => {
    const book = loadTemplateBook(EXAMPLE, catalogue, SITE);
    for (const key of TEMPLATED_SMS_KEYS) {
      for (const language of LANGUAGES) {
        const worst = Object.fromEntries(catalogue.placeholders(language, key).map((name) => [name, SITE[name] ?? catalogue.worstValue(name)]));
        const text = catalogue.renderSms(language, key, worst);
        expect({ key, language, allowed: matchesTemplate(book.find(key, language)!.text, text) }).toEqual({ key, language, allowed: true });
      }
    }
  });
});

describe('loadTemplateBook', () => {
  const rows: { label: string; content?: unknown; problem: RegExp }[] = [
    { label: 'a missing file', problem: /cannot be read: ENOENT/ },
    { label: 'a file that is not JSON', content: '{"sms.help": ', problem: /is not JSON/ },
    { label: 'a list instead of an object', content: [], problem: /\(top\): Invalid input/ },
    { label: 'a template without its text', content: { 'sms.help': { en: { templateId: '1107000000000000001' } } }, problem: /sms\.help\.en\.text: Invalid input/ },
    { label: 'a template id that is not the portal\'s digits', content: { 'sms.help': { en: { templateId: 'TIKA-1', text: 'x' } } }, problem: /sms\.help\.en\.templateId: a template id is the digits/ },
    { label: 'a book that misses keys', content: { 'sms.help': example()['sms.help'] }, problem: /sms\.booking_code \(en\): no template/ },
  ];

  test.each(rows)('refuses $label with a ConfigError that names the file', ({ label, content, problem }) => {
    const path = content === undefined ? join(scratch, 'absent.json') : writeBook(`${label.replace(/\W+/g, '-')}.json`, content);
    let error: unknown;
    try {
      loadTemplateBook(path, catalogue, SITE);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems.join('\n')).toMatch(problem);
    expect((error as ConfigError).problems.every((p) => p.includes(path))).toBe(true);
  });

  test('names every problem at once', () => {
    const path = writeBook('two-wrong.json', changed((book) => (delete book['sms.help'], (book['sms.vaccinated']!.hi!.text += '.'))));
    expect(() => loadTemplateBook(path, catalogue, SITE)).toThrow(ConfigError);
    try {
      loadTemplateBook(path, catalogue, SITE);
    } catch (error) {
      expect((error as ConfigError).problems).toEqual([
        expect.stringContaining('sms.vaccinated (hi): template'),
        expect.stringContaining('sms.help (en): no template'),
        expect.stringContaining('sms.help (hi): no template'),
      ]);
    }
  });

  test('finds each registered template by key and language', () => {
    const book = loadTemplateBook(EXAMPLE, catalogue, SITE);
    expect(book.find('sms.booking_code', 'hi')).toEqual(example()['sms.booking_code']!.hi);
    expect(book.find('sms.screen', 'en')).toBeUndefined();
    expect(readTemplateFile(EXAMPLE)).toEqual(example());
  });
});

describe('the keys sent as a whole SMS', () => {
  /** Every `template: ...` in the code that writes outbound SMS, as the source says it. */
  function templatesInSource(): { literals: Set<string>; indirect: Set<string> } {
    const literals = new Set<string>();
    const indirect = new Set<string>();
    const files = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((entry) => (entry.isDirectory() ? files(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : []));
    for (const file of [...files(join(ROOT, 'src', 'domain')), ...files(join(ROOT, 'src', 'dialogue'))]) {
      for (const [, value] of readFileSync(file, 'utf8').matchAll(/template:\s*([^,}\n]+)/g)) {
        const keys = [...value!.matchAll(/'([^']+)'/g)].map((m) => m[1]!);
        if (keys.length) keys.forEach((key) => literals.add(key));
        else indirect.add(value!.trim().replace(/;$/, ''));
      }
    }
    return { literals, indirect };
  }

  test('SMS_KEYS_SENT holds every key the code sends, and no key it does not', () => {
    const { literals, indirect } = templatesInSource();
    // A key passed through a variable is read here; a new indirection must be added to this list and looked at.
    const constants: Record<string, string> = { CODE_TEMPLATE, RESENT_CODE_TEMPLATE, SMS_SCREEN_TEMPLATE };
    const passedThrough = ['string', 'reply.template', 'sms.template', 'row.template'];
    expect([...indirect].filter((value) => !(value in constants) && !passedThrough.includes(value))).toEqual([]);
    const sent = new Set([...literals, ...[...indirect].filter((value) => value in constants).map((value) => constants[value]!)]);
    expect([...sent].sort()).toEqual([...SMS_KEYS_SENT].sort());
  });
});

describe('tika dlt:templates and dlt:check, run as an operator would', () => {
  function tika(args: string[], env: Record<string, string> = {}) {
    const child = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 30_000, env: { PATH: process.env.PATH!, ...env } });
    return { status: child.status, stdout: child.stdout, stderr: child.stderr };
  }

  test('dlt:templates prints the committed example book exactly', () => {
    const run = tika(['dlt:templates']);
    expect(run).toEqual({ status: 0, stdout: readFileSync(EXAMPLE, 'utf8'), stderr: '' });
  });

  const differs = writeBook('cli-differs.json', changed((book) => (book['sms.cancelled']!.en!.text = book['sms.cancelled']!.en!.text.replace('Tika', 'TIKA'))));
  const rows: { label: string; args: string[]; env?: Record<string, string>; status: number; out: RegExp; err: RegExp }[] = [
    { label: 'the example book by default', args: ['dlt:check'], status: 0, out: /^ok: .*dlt-templates\.example\.json registers all 21 SMS keys in en, hi as the catalogue writes them\n$/, err: /^$/ },
    { label: 'the book DLT_TEMPLATES names', args: ['dlt:check'], env: { DLT_TEMPLATES: differs }, status: 1, out: /^$/, err: /^error: .*cli-differs\.json: sms\.cancelled \(en\): template \d+ differs from the catalogue at character 2: expected "ika: the boo", registered "IKA: the boo"\n$/ },
    { label: 'a changed character, naming the key', args: ['dlt:check', differs], status: 1, out: /^$/, err: /sms\.cancelled \(en\): template \d+ differs/ },
    { label: 'a missing file', args: ['dlt:check', join(scratch, 'nowhere.json')], status: 1, out: /^$/, err: /^error: DLT_TEMPLATES .*nowhere\.json cannot be read: ENOENT\n$/ },
    { label: 'a book missing a language, one line per key', args: ['dlt:check', writeBook('cli-no-hi.json', changed((book) => (delete book['sms.help']!.hi, delete book['sms.vax_usage']!.hi)))], status: 1, out: /^$/, err: /^error: .*sms\.help \(hi\): no template in hi\nerror: .*sms\.vax_usage \(hi\): no template in hi\n$/ },
  ];

  test.each(rows)('dlt:check: $label', ({ args, env, status, out, err }) => {
    const run = tika(args, env);
    expect(run.status).toBe(status);
    expect(run.stdout).toMatch(out);
    expect(run.stderr).toMatch(err);
  });
});
