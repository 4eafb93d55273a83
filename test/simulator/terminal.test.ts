import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDb } from '../../src/db/knex';
import { freePort } from '../faults/support/services';
import { readme, walkthroughBlocks } from '../support/readme';
import { REPO, startSandboxProcess, type SandboxProcess } from '../support/sandbox-process';
import { parseLine, scriptLines } from '../../src/simulator/script';
import { freshPhone } from '../../src/simulator/terminal';
import { measureScreen } from '../../src/simulator/wire';

/**
 * `npm run simulate` as a reader runs it, a child process against the product started as a reader
 * starts it (sandbox provider, demo seed). The replay of examples/walkthrough.txt must be the README's
 * "Try it by hand": the same inputs, and screens and SMS that read as the README's comments say.
 */

const SCRIPT = join(REPO, 'examples', 'walkthrough.txt');
const VACCINATOR = '+919900000001';

interface Screen {
  kind: 'CON' | 'END';
  encoding: string;
  length: number;
  limit: number;
  text: string;
}

/** The framed screens of the simulator's output, in order. */
function screensIn(output: string): Screen[] {
  const screens: Screen[] = [];
  const lines = output.split('\n');
  lines.forEach((line, i) => {
    const head = /^┌─ (CON|END) · (GSM-7|UCS-2) (\d+)\/(\d+) /.exec(line);
    if (!head) return;
    const body: string[] = [];
    for (let j = i + 1; !lines[j]!.startsWith('└'); j++) body.push(lines[j]!.replace(/^│ /, ''));
    screens.push({ kind: head[1] as 'CON' | 'END', encoding: head[2]!, length: Number(head[3]), limit: Number(head[4]), text: body.join('\n') });
  });
  return screens;
}

interface Hop {
  /** The `text` field as the README posts it: every input of the session so far joined by '*'. */
  text: string;
  comment: string;
}

/** The `hop` lines of the README's first walkthrough block (the English booking). */
function readmeHops(): Hop[] {
  const block = walkthroughBlocks(readme())[0]!;
  return [...block.matchAll(/^hop (['"])(.*?)\1\s+# (.*)$/gm)].map((match) => ({ text: match[2]!, comment: match[3]! }));
}

/**
 * A README comment's example values (a date, a booking ref, the free seats) as patterns: the screens
 * of this run have their own.
 */
function pattern(example: string): RegExp {
  const escaped = example
    .replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
    .replace(/(Mon|Tue|Wed|Thu|Fri|Sat|Sun) \d{1,2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)/g, '\\w{3} \\d{1,2} \\w{3}')
    .replace(/Ref [0-9A-Z]{8}/g, 'Ref [0-9A-Z]{8}')
    .replace(/\\\(\d+\\\)/g, '\\(\\d+\\)');
  return new RegExp(escaped);
}

/**
 * The README's descriptive comments (`# year of birth`) name the question the screen asks in other
 * words than the screen's: each is tied to the screen's wording here. A reworded comment or screen
 * fails the test until this table says they still agree.
 */
const QUESTIONS: Record<string, RegExp> = {
  'name as on the photo ID': /^Enter full name as on photo ID:/,
  'year of birth': /^Enter year of birth/,
  gender: /^Gender:/,
  'photo ID': /^Photo ID:/,
  "the ID number (here the passport's)": /^Enter the ID number:/,
  'PIN code': /^Enter your 6-digit PIN code:/,
  'centres with free seats': /^Centres with free seats:/,
  dates: /^Choose a date:/,
};

/** What a README comment says the screen shows, as checks on the printed screen. */
function expectScreenAsCommented(screen: Screen, comment: string): void {
  const kind = /^(CON|END) (.*)$/.exec(comment);
  if (kind) {
    // `CON Choose language / भाषा चुनें / 1 English / 2 हिन्दी (a new mobile)`: each part on the screen.
    expect({ comment, kind: screen.kind }).toEqual({ comment, kind: kind[1] });
    const parts = kind[2]!.replace(/\s*\([^)]*\)$/, '').split(' / ').filter((part) => part !== '...');
    for (const part of parts) expect({ comment, screen: screen.text }).toEqual({ comment, screen: expect.stringMatching(pattern(part)) });
    return;
  }
  // `photo ID: 1 Aadhaar (Verhoeff-checked), 2 PAN card, 3 Passport, ...`: the question, then options.
  const [question, options = ''] = comment.split(/: (.*)/s);
  const asked = QUESTIONS[question!];
  if (!asked) throw new Error(`the README's comment "${comment}" is not in QUESTIONS: say which screen it describes`);
  expect({ comment, kind: screen.kind }).toEqual({ comment, kind: 'CON' });
  expect({ comment, screen: screen.text }).toEqual({ comment, screen: expect.stringMatching(asked) });
  const choices = options.split(/, | \.\.\.$/).map((choice) => choice.replace(/\s*\([A-Za-z-]+\)$/, '').trim()).filter((choice) => /^\d+ /.test(choice));
  for (const choice of choices) expect({ comment, screen: screen.text }).toEqual({ comment, screen: expect.stringMatching(new RegExp(`^${pattern(choice).source}$`, 'm')) });
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `npm run simulate -- <args>`, as a reader types it. */
function simulate(args: string[], env: Record<string, string>): ChildProcessWithoutNullStreams {
  return spawn('npm', ['run', '--silent', 'simulate', '--', ...args], { cwd: REPO, env, stdio: 'pipe' });
}

/** A simulator at the keyboard: what it has printed so far, and typing a line then waiting for a pattern. */
function interactive(args: string[], env: Record<string, string>) {
  const child = simulate(args, env);
  const run = finished(child, 60_000);
  const screen = { seen: '' };
  child.stdout.on('data', (chunk: Buffer) => (screen.seen += chunk.toString('utf8')));
  const until = async (what: RegExp) => {
    const deadline = Date.now() + 20_000;
    while (!what.test(screen.seen)) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no ${what} in the simulator's output:\n${screen.seen}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  const type = async (line: string, then: RegExp) => {
    child.stdin.write(`${line}\n`);
    await until(then);
  };
  return { child, run, screen, until, type };
}

/** The end-of-session notices stored for a phone, oldest first. */
async function sessionsEnded(env: Record<string, string>, phone: string): Promise<{ status: string; hops_count: number; last_app_response: string }[]> {
  const db = createDb(env.DATABASE_URL!, { max: 1 });
  try {
    return await db('ussd_session_events').where({ provider: 'africastalking', phone }).orderBy('received_at').select('status', 'hops_count', 'last_app_response');
  } finally {
    await db.destroy();
  }
}

function finished(child: ChildProcessWithoutNullStreams, timeoutMs: number): Promise<Run> {
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function runCommand(command: string, args: string[], env: Record<string, string>, timeoutMs: number): Promise<Run> {
  return finished(spawn(command, args, { cwd: REPO, env, stdio: 'pipe' }), timeoutMs);
}

describe('the terminal simulator', () => {
  let product: SandboxProcess;
  let env: Record<string, string>;
  const scratch = mkdtempSync(join(tmpdir(), 'tika-simulate-'));

  beforeAll(async () => {
    product = await startSandboxProcess();
    env = product.env;
    const seed = await runCommand(process.execPath, ['--import', 'tsx', 'scripts/seed-demo.ts'], env, 60_000);
    if (seed.code !== 0) throw new Error(`the demo seed failed:\n${seed.stdout}${seed.stderr}`);
  }, 120_000);

  afterAll(async () => {
    await product?.close();
  });

  describe('replaying examples/walkthrough.txt', () => {
    const hops = readmeHops();

    it("dials the README walkthrough's inputs, in its order", () => {
      expect(hops.length).toBeGreaterThanOrEqual(10);
      // The README posts the whole session's input each hop; the script types one answer a line.
      const typed: string[] = [];
      const session: string[] = [];
      for (const step of scriptLines(readFileSync(SCRIPT, 'utf8')).map((line) => parseLine(line.text))) {
        if (step.kind === 'dial') session.length = 0;
        else if (step.kind === 'input') session.push(step.text);
        else continue;
        typed.push(session.join('*'));
      }
      const posted = hops.map((hop) => hop.text.replace(/\$ID\b/g, '${ID}'));
      expect(typed).toEqual(posted);
    });

    it("shows the README's screens and SMS: the booking, the code, the vaccinator's VAX and the certificate", async () => {
      const run = await finished(simulate(['--script', SCRIPT, '--base-url', product.baseUrl], env), 90_000);
      if (run.code !== 0) throw new Error(`the replay exited ${run.code}\n--- stdout ---\n${run.stdout}\n--- stderr ---\n${run.stderr}\n--- server ---\n${product.output()}`);

      const phone = /^# (\+\d+) on /m.exec(run.stdout)?.[1];
      expect(phone).toMatch(/^\+9198\d{8}$/);
      const screens = screensIn(run.stdout);
      expect(screens).toHaveLength(hops.length);
      hops.forEach((hop, i) => expectScreenAsCommented(screens[i]!, hop.comment));
      for (const screen of screens) {
        const measure = measureScreen(screen.text, { gsm7: 160, ucs2: 80 });
        expect({ encoding: screen.encoding, length: screen.length, limit: screen.limit }).toEqual({ encoding: measure.encoding, length: measure.length, limit: measure.limit });
      }
      expect(screens[0]).toMatchObject({ encoding: 'UCS-2', limit: 80 });

      // The code SMS, once, with the ref of the booking screen; VAX with its code; both answers.
      const ref = /Ref ([0-9A-Z]{8})\. Code sent by SMS\./.exec(screens.at(-1)!.text)![1]!;
      const codeSms = new RegExp(`^✉ SMS to \\${phone} · GSM-7 \\d+ · 1 part\\n  Tika: booked Asha Devi, AIIMS Delhi, \\d{1,2} \\w{3} \\d{4} 09:00-24:00\\. Ref ${ref}\\. Your security code is (\\d{4})\\.`, 'm');
      const code = codeSms.exec(run.stdout)?.[1];
      expect(code).toMatch(/^\d{4}$/);
      expect(run.stdout.match(/Your security code is/g)).toHaveLength(1);
      expect(run.stdout).toContain(`➤ SMS from ${VACCINATOR} to 21512: VAX ${phone} ${code}\n`);
      expect(run.stdout).toMatch(new RegExp(`^✉ SMS to \\${VACCINATOR} · GSM-7 \\d+ · 1 part\\n  Tika: ACCEPTED\\. Asha Devi, dose 1, Covishield, ref ${ref}\\.`, 'm'));
      const certificate = new RegExp(`^✉ SMS to \\${phone} · GSM-7 \\d+ · 1 part\\n  .*Certificate: ${product.baseUrl}/c/([0-9a-z]{26})$`, 'm').exec(run.stdout)?.[1];
      expect(certificate).toBeDefined();
      const issued = await fetch(`${product.baseUrl}/certificates/${certificate}`);
      expect(issued.status).toBe(200);
      expect(await issued.json()).toMatchObject({ claims: { name: 'Asha Devi' } });
    }, 120_000);
  });

  it('answers screens typed on stdin, dials again after END, and prints the SMS that reach the phone', async () => {
    const phone = freshPhone();
    const { child, run, screen, type } = interactive(['--phone', phone, '--base-url', product.baseUrl], env);

    await type('', /Choose language \/ भाषा चुनें/);
    await type('2', /┌─ CON · UCS-2 \d+\/80 [^\n]*\n│ टीका सेवा/);
    await type('x', /गलत विकल्प/);
    await type('x', /> x\n[^]*> x\n/);
    await type('x', /┌─ END [^]*└─ session closed\n/);
    const before = screensIn(screen.seen).length;
    await type('', /session closed\n☎ [^]*┌─ CON[^\n]*\n│ टीका सेवा/); // a new dial; the mobile's language is kept
    expect(screensIn(screen.seen)).toHaveLength(before + 1);
    await type('SMS: MADAD', new RegExp(`✉ SMS to \\${phone} · UCS-2 \\d+ · \\d parts?\\n  टीका:`));
    await new Promise((resolve) => setTimeout(resolve, 2500)); // two more reads of the outbox
    child.stdin.write('quit\n');
    const { code, stderr } = await run;
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(screen.seen.match(/✉ SMS to/g)).toHaveLength(1); // printed once, though read every second until quit

    // The operator's end-of-session notice for each: the first ended by our END after 5 hops, the second left open at quit.
    expect(await sessionsEnded(env, phone)).toEqual([
      { status: 'Success', hops_count: 5, last_app_response: expect.stringMatching(/^END /) },
      { status: 'Incomplete', hops_count: 1, last_app_response: expect.stringMatching(/^CON टीका सेवा/) },
    ]);
  }, 90_000);

  it('closes a screen left unanswered, as the operator would, and tells the service; Enter then dials afresh', async () => {
    const phone = freshPhone();
    const { child, run, until, type } = interactive(['--phone', phone, '--base-url', product.baseUrl, '--timeout', '2'], env);
    await type('', /Choose language/);
    await until(/└─ session timed out: the operator closed it after 2 s without an answer\n/);
    await type('', /timed out[^]*☎ [^]*Choose language/); // a new dial, not an answer to the closed screen
    child.stdin.write('quit\n');
    expect((await run).code).toBe(0);
    expect(await sessionsEnded(env, phone)).toEqual([
      { status: 'Incomplete', hops_count: 1, last_app_response: expect.stringMatching(/^CON Choose language/) },
      { status: 'Incomplete', hops_count: 1, last_app_response: expect.stringMatching(/^CON Choose language/) },
    ]);
  }, 60_000);

  it('fails a replay at the line that goes wrong, and names it', async () => {
    const script = join(scratch, 'broken.txt');
    writeFileSync(script, '# a WAIT for an SMS that never comes\nDIAL\n1\nWAIT never sent (?<X>\\d+)\n');
    const run = await finished(simulate(['--script', script, '--base-url', product.baseUrl, '--wait', '2'], env), 60_000);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/Tika vaccination/);
    expect(run.stdout).toContain('error: line 4 (WAIT never sent (?<X>\\d+)): no SMS to +9198');

    writeFileSync(script, '1\n');
    const early = await finished(simulate(['--script', script, '--base-url', product.baseUrl], env), 60_000);
    expect(early.code).toBe(1);
    expect(early.stdout).toContain('error: line 1 (1): no USSD session is open');
  }, 60_000);

  it('says what to do when the server is not running or refuses the key', async () => {
    const closed = await finished(simulate(['--phone', '+919812345678', '--base-url', `http://localhost:${await freePort()}`], env), 30_000);
    expect(closed.code).toBe(1);
    expect(closed.stderr).toMatch(/Tika is not answering at http:\/\/localhost:\d+ \(ECONNREFUSED\): start it with `npm start`/);

    const wrongKey = await finished(simulate(['--phone', '+919812345678', '--base-url', product.baseUrl, '--key', 'not-the-key'], env), 30_000);
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.stderr).toContain('refused the webhook key: pass --key');

    const badPhone = await finished(simulate(['--phone', '98123'], env), 30_000);
    expect(badPhone.code).toBe(1);
    expect(badPhone.stderr).toContain('is not a mobile number in E.164 form');
  }, 60_000);
});
