import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { Command, InvalidArgumentError, Option } from 'commander';
import type { ScreenLimits } from '../dialogue/encoding';
import { toMobileE164 } from '../domain/phone';
import { escapeRegExp, expand, parseLine, ScriptError, scriptLines, type Step } from './script';
import { measureScreen, measureSms, newUssdSession, sendSessionEnded, sendSms, sendUssd, webhookUrl, type SessionEnd, type SimulatorTarget, type UssdScreen, type UssdSession } from './wire';

/**
 * The feature phone in a terminal: `npm run simulate -- --phone +919812345678` (interactive) or
 * `--script file.txt` (a replay). It talks to a running Tika over HTTP exactly as Africa's Talking
 * would (src/simulator/wire.ts), and shows the SMS the sandbox provider stored for the phone
 * (GET /dev/outbox), so it needs the server started with the sandbox provider outside production.
 * The line language is in ./script.ts.
 */

export interface SimulatorOptions {
  target: SimulatorTarget;
  phone: string;
  limits: ScreenLimits;
  /** How long a WAIT (and, in a script, the reply to an SMS or the last SMS) is waited for. */
  waitMs: number;
  /** Between two reads of the outbox; never under 1 s. */
  pollMs: number;
  /** A screen left unanswered this long is closed, as an operator closes it (0: never). */
  sessionTimeoutMs: number;
  color: boolean;
}

export const MIN_POLL_MS = 1000;
/** The end of a replay: done once no SMS has arrived for this long (or the wait is over). */
const SETTLE_QUIET_MS = 2000;

interface OutboxMessage {
  id: number;
  phone: string;
  message: string;
}

/** Why the server cannot be used at all (not running, wrong key, not Tika): the simulator stops. */
export class ServerError extends Error {}

/** A fetch that failed to connect, said as what to do about it. */
function explain(error: unknown, target: SimulatorTarget): string {
  const cause = error instanceof Error ? (error.cause as { code?: string } | undefined) : undefined;
  if (error instanceof TypeError && cause?.code) {
    return `Tika is not answering at ${target.baseUrl} (${cause.code}): start it with \`npm start\` in another terminal, or point --base-url at it`;
  }
  const message = error instanceof Error ? error.message : String(error);
  if (/answered 401/.test(message)) return `${message} (pass --key with the server's WEBHOOK_SECRET; a development sandbox uses dev-webhook-secret)`;
  return message;
}

async function reach(target: SimulatorTarget, url: string, init?: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (error) {
    throw new ServerError(explain(error, target));
  }
}

/**
 * Before the first hop: is Tika there, does it take the key, is there a sandbox outbox to read. An
 * empty incoming-SMS post is the side-effect-free probe: a wrong key is refused (401) before the
 * payload is read (400).
 */
async function preflight(target: SimulatorTarget): Promise<{ outbox: boolean }> {
  const probe = await reach(target, webhookUrl(target, 'sms'), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '' });
  if (probe.status === 401) {
    throw new ServerError(`the server at ${target.baseUrl} refused the webhook key: pass --key with its WEBHOOK_SECRET (a development sandbox uses dev-webhook-secret)`);
  }
  if (probe.status === 404) throw new ServerError(`${target.baseUrl} has no Africa's Talking webhook (404): is --base-url a Tika server?`);
  const outbox = await reach(target, outboxUrl(target, undefined, 1));
  return { outbox: outbox.ok };
}

function outboxUrl(target: SimulatorTarget, phone: string | undefined, limit: number): string {
  const query = new URLSearchParams({ limit: String(limit) });
  if (phone) query.set('phone', phone);
  return `${target.baseUrl.replace(/\/+$/, '')}/dev/outbox?${query}`;
}

/**
 * What the sandbox provider "sent" to the phones being watched, read from GET /dev/outbox at most
 * once per poll interval; each message is handed on once, oldest first. Messages stored before a
 * phone was watched are not shown.
 */
class SandboxInbox {
  readonly arrived: OutboxMessage[] = [];
  private readonly seen = new Set<number>();
  private readonly phones = new Set<string>();
  private readonly consumed = new Set<number>();
  private waiters: (() => void)[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private polling: Promise<void> | undefined;
  private failing = false;

  constructor(
    private readonly target: SimulatorTarget,
    private readonly pollMs: number,
    private readonly onSms: (sms: OutboxMessage) => void,
    private readonly onTrouble: (message: string) => void,
  ) {}

  async watch(phone: string): Promise<void> {
    if (this.phones.has(phone)) return;
    for (const message of await this.read(phone)) this.seen.add(message.id);
    this.phones.add(phone);
  }

  start(): void {
    this.running = true;
    const tick = async () => {
      try {
        await this.poll();
        if (this.failing) this.onTrouble('the outbox answers again');
        this.failing = false;
      } catch (error) {
        if (!this.failing) this.onTrouble(`cannot read the SMS outbox: ${explain(error, this.target)} (trying again every ${this.pollMs / 1000} s)`);
        this.failing = true;
      }
      const waiters = this.waiters;
      this.waiters = [];
      for (const wake of waiters) wake();
      if (this.running) this.timer = setTimeout(tick, this.pollMs);
    };
    this.timer = setTimeout(tick, this.pollMs);
  }

  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    await this.polling?.catch(() => undefined);
    for (const wake of this.waiters) wake();
  }

  /** The first message from index `from` on that `accept` takes, read for at most `timeoutMs`. */
  async waitFor(accept: (sms: OutboxMessage) => boolean, timeoutMs: number, from = 0): Promise<OutboxMessage | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.arrived.slice(from).find(accept);
      if (found || Date.now() >= deadline || !this.running) return found;
      await this.nextPoll(deadline - Date.now());
    }
  }

  /** Resolves after the next read of the outbox (or after `timeoutMs`). */
  nextPoll(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, Math.max(0, timeoutMs));
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** A WAIT takes its message: the next WAIT for the same pattern waits for a newer one. */
  consume(sms: OutboxMessage): void {
    this.consumed.add(sms.id);
  }

  isConsumed(sms: OutboxMessage): boolean {
    return this.consumed.has(sms.id);
  }

  private poll(): Promise<void> {
    this.polling ??= (async () => {
      const fresh: OutboxMessage[] = [];
      for (const phone of this.phones) for (const message of await this.read(phone)) if (!this.seen.has(message.id)) fresh.push(message);
      for (const message of fresh.sort((a, b) => a.id - b.id)) {
        this.seen.add(message.id);
        this.arrived.push(message);
        this.onSms(message);
      }
    })().finally(() => (this.polling = undefined));
    return this.polling;
  }

  private async read(phone: string): Promise<OutboxMessage[]> {
    const response = await reach(this.target, outboxUrl(this.target, phone, 100));
    if (!response.ok) throw new Error(`GET /dev/outbox answered ${response.status}`);
    const body = (await response.json()) as { messages: OutboxMessage[] };
    return body.messages;
  }
}

export interface RunStepOptions {
  /** Print each input as typed (a script, or stdin that is not a terminal). */
  echo: boolean;
  /** After an SMS, wait (bounded) for the reply before going on: a replay's output then reads in order. */
  awaitReplies: boolean;
}

/** One phone and its USSD session, the sandbox outbox of the phones it has met, and the variables of a script. */
export class TerminalPhone {
  readonly variables = new Map<string, string>();
  /** Screens shown over the limit of their encoding: a bug in a flow (invariant 8), so a replay fails. */
  screensOverLimit = 0;
  private session: UssdSession | null = null;
  private idle: NodeJS.Timeout | undefined;
  private readonly inbox: SandboxInbox;
  private outboxAvailable = false;

  constructor(
    private readonly options: SimulatorOptions,
    private readonly print: (text: string) => void,
  ) {
    this.variables.set('PHONE', options.phone);
    this.inbox = new SandboxInbox(options.target, Math.max(MIN_POLL_MS, options.pollMs), (sms) => print(renderSms(sms)), (message) => print(`(${message})`));
  }

  get inSession(): boolean {
    return this.session !== null;
  }

  async start(): Promise<void> {
    const { outbox } = await preflight(this.options.target);
    this.outboxAvailable = outbox;
    if (outbox) {
      await this.inbox.watch(this.options.phone);
      this.inbox.start();
    } else {
      this.print(`(no SMS will be shown: ${this.options.target.baseUrl}/dev/outbox is not served; it is, with SMS_PROVIDER=sandbox and NODE_ENV development or test)`);
    }
  }

  /** Hangs up a session left open, as the operator would close it, then stops watching the outbox. */
  async stop(): Promise<void> {
    await this.endSession({ status: 'Incomplete' });
    await this.inbox.stop();
  }

  /** A line of the script language with its placeholders filled in (a WAIT's match literally). */
  resolve(line: string): Step {
    if (!line.startsWith('WAIT ')) return parseLine(expand(line, this.variables));
    const step = parseLine(line);
    if (step.kind !== 'wait') return step;
    return { kind: 'wait', phone: step.phone && expand(step.phone, this.variables), pattern: expand(step.pattern, this.variables, escapeRegExp) };
  }

  async run(step: Step, options: RunStepOptions): Promise<void> {
    switch (step.kind) {
      case 'dial':
        return this.dial(options);
      case 'input':
        if (!this.session) throw new ScriptError('no USSD session is open (an END closed it, or none was dialled): DIAL first');
        return this.answer(step.text, options);
      case 'sms':
        return this.sendSms(step.from, step.text, options);
      case 'wait':
        return this.wait(step.phone ?? this.options.phone, step.pattern);
      case 'set':
        this.variables.set(step.name, step.value);
        this.print(`SET ${step.name}=${step.value}`);
        return;
    }
  }

  /** The end of a replay: the SMS still on their way, until none has come for a moment (bounded by the wait). */
  async settle(): Promise<void> {
    if (!this.outboxAvailable) return;
    const deadline = Date.now() + this.options.waitMs;
    let count = this.inbox.arrived.length;
    let quietSince = Date.now();
    while (Date.now() < deadline && Date.now() - quietSince < SETTLE_QUIET_MS) {
      await this.inbox.nextPoll(deadline - Date.now());
      if (this.inbox.arrived.length !== count) {
        count = this.inbox.arrived.length;
        quietSince = Date.now();
      }
    }
  }

  private async dial(options: RunStepOptions): Promise<void> {
    const { serviceCode } = this.options.target;
    await this.endSession({ status: 'Incomplete' });
    this.session = newUssdSession(`ATUid_sim_${randomUUID().replace(/-/g, '')}`);
    if (options.echo) this.print(`☎ ${this.options.phone} dials ${serviceCode}`);
    await this.hop();
  }

  /** The operator's clock: started at each CON screen, stopped by the next hop or the session's end. */
  private startIdleClock(): void {
    this.stopIdleClock();
    const timeoutMs = this.options.sessionTimeoutMs;
    if (!timeoutMs || !this.session) return;
    const session = this.session;
    this.idle = setTimeout(() => {
      if (this.session !== session) return;
      // endSession drops the session before it posts, so the prompt printed next already says dial.
      void this.endSession({ status: 'Incomplete' });
      this.print(`└─ session timed out: the operator closed it after ${timeoutMs / 1000} s without an answer`);
    }, timeoutMs);
    this.idle.unref();
  }

  private stopIdleClock(): void {
    clearTimeout(this.idle);
    this.idle = undefined;
  }

  private async answer(input: string, options: RunStepOptions): Promise<void> {
    if (options.echo) this.print(`> ${input}`);
    this.session!.inputs.push(input);
    try {
      await this.hop();
    } catch (error) {
      // Unanswered, the input was never part of the session: typing it again retries the hop.
      this.session?.inputs.pop();
      throw error;
    }
  }

  private async hop(): Promise<void> {
    const session = this.session!;
    this.stopIdleClock();
    let screen: UssdScreen;
    try {
      screen = await sendUssd(this.options.target, session, this.options.phone);
    } catch (error) {
      throw new ScriptError(explain(error, this.options.target));
    }
    const measure = measureScreen(screen.text, this.options.limits);
    if (measure.over) this.screensOverLimit++;
    this.print(renderScreen(screen, measure, this.options.color));
    if (screen.end) await this.endSession({ status: 'Success' });
    else this.startIdleClock();
  }

  /**
   * The operator's end-of-session notification, as Africa's Talking posts it. An unanswered hop
   * does not end the session here (typing the input again retries it), unlike at an operator.
   */
  private async endSession(end: SessionEnd): Promise<void> {
    const session = this.session;
    this.session = null;
    this.stopIdleClock();
    if (!session) return;
    try {
      await sendSessionEnded(this.options.target, this.options.phone, session, end);
    } catch (error) {
      this.print(`(end-of-session notification not delivered: ${explain(error, this.options.target)})`);
    }
  }

  private async sendSms(from: string | undefined, text: string, options: RunStepOptions): Promise<void> {
    const sender = from ? mobile(from) : this.options.phone;
    if (this.outboxAvailable) await this.inbox.watch(sender);
    const mark = this.inbox.arrived.length;
    try {
      await sendSms(this.options.target, sender, text, `ATXid_sim_${randomUUID().replace(/-/g, '')}`);
    } catch (error) {
      throw new ScriptError(explain(error, this.options.target));
    }
    this.print(`➤ SMS from ${sender} to ${this.options.target.smsShortCode}: ${text}`);
    if (!options.awaitReplies || !this.outboxAvailable) return;
    const reply = await this.inbox.waitFor((sms) => sms.phone === sender, this.options.waitMs, mark);
    if (!reply) this.print(`(no SMS to ${sender} within ${this.options.waitMs / 1000} s)`);
  }

  private async wait(phone: string, pattern: string): Promise<void> {
    if (!this.outboxAvailable) throw new ScriptError('WAIT needs the sandbox outbox (GET /dev/outbox), which this server does not serve');
    const target = mobile(phone);
    await this.inbox.watch(target);
    let regex: RegExp;
    try {
      regex = new RegExp(pattern, 's');
    } catch (error) {
      throw new ScriptError(`WAIT: ${error instanceof Error ? error.message : String(error)}`);
    }
    const found = await this.inbox.waitFor((sms) => sms.phone === target && !this.inbox.isConsumed(sms) && regex.test(sms.message), this.options.waitMs);
    if (!found) throw new ScriptError(`no SMS to ${target} matching /${pattern}/ within ${this.options.waitMs / 1000} s`);
    this.inbox.consume(found);
    const groups = Object.entries(regex.exec(found.message)!.groups ?? {});
    for (const [name, value] of groups) if (value !== undefined) this.variables.set(name, value);
    if (groups.length) this.print(`(${groups.map(([name, value]) => `${name}=${value ?? ''}`).join(' ')})`);
  }
}

/** A phone number as the simulator takes it: E.164, a mobile. */
export function mobile(value: string): string {
  const e164 = toMobileE164(value, 'IN');
  if (!value.startsWith('+') || e164 !== value) throw new ScriptError(`${JSON.stringify(value)} is not a mobile number in E.164 form, e.g. +919812345678`);
  return e164;
}

/** A mobile no one has used: +9198 and 8 random digits, as the README's walkthrough makes one. */
export function freshPhone(): string {
  for (;;) {
    const candidate = `+9198${String(Math.floor(Math.random() * 1e8)).padStart(8, '0')}`;
    if (toMobileE164(candidate, 'IN') === candidate) return candidate;
  }
}

const RED = '\u001b[31m';
const RESET = '\u001b[0m';

/** A screen framed as a phone shows it, headed by what the operator sees: its encoding and length against the limit. */
export function renderScreen(screen: UssdScreen, measure: ReturnType<typeof measureScreen>, color: boolean): string {
  const over = measure.over ? ' OVER THE LIMIT' : '';
  let head = `┌─ ${screen.end ? 'END' : 'CON'} · ${measure.encoding} ${measure.length}/${measure.limit}${over} `;
  head += '─'.repeat(Math.max(2, 36 - head.length));
  if (measure.over && color) head = `${RED}${head}${RESET}`;
  const body = screen.text.split('\n').map((line) => `│ ${line}`);
  const foot = screen.end ? '└─ session closed' : '└─';
  return [head, ...body, foot].join('\n');
}

export function renderSms(sms: OutboxMessage): string {
  const measure = measureSms(sms.message);
  const head = `✉ SMS to ${sms.phone} · ${measure.encoding} ${measure.length} · ${measure.parts} part${measure.parts === 1 ? '' : 's'}`;
  return [head, ...sms.message.split('\n').map((line) => `  ${line}`)].join('\n');
}

/**
 * The interactive phone: each line answers the open screen; with none open, any line dials (an empty
 * one is the usual way). Ends at `quit`, Ctrl-D or the end of input (input that is not a terminal
 * first waits, bounded, for the SMS still on their way); resolves with the exit code.
 */
export async function runInteractive(options: SimulatorOptions, input: Readable & { isTTY?: boolean }, output: Writable & { isTTY?: boolean }): Promise<number> {
  const tty = Boolean(input.isTTY && output.isTTY);
  let prompting = false;
  const promptText = () => (phone.inSession ? 'reply> ' : `dial ${options.target.serviceCode} (Enter)> `);
  const print = (text: string) => {
    if (tty && prompting) output.write('\r\u001b[K');
    output.write(`${text}\n`);
    if (tty && prompting) {
      rl.setPrompt(promptText());
      rl.prompt(true);
    }
  };
  const phone = new TerminalPhone(options, print);
  await phone.start();
  // Only now: readline reads at once, and lines it reads before the loop below listens are lost.
  const rl = createInterface({ input, output, terminal: tty });
  print(`${options.phone} on ${options.target.baseUrl}: Enter dials ${options.target.serviceCode}; a line answers the screen; DIAL hangs up and dials again; SMS: <text> sends an SMS; quit or Ctrl-D ends.`);
  const prompt = () => {
    if (!tty) return;
    rl.setPrompt(promptText());
    prompting = true;
    rl.prompt();
  };
  rl.on('SIGINT', () => rl.close());
  prompt();
  let quit = false;
  try {
    for await (const raw of rl) {
      prompting = false;
      const line = raw.trim();
      if (line === 'quit' || line === 'exit') {
        quit = true;
        break;
      }
      const step = { echo: !tty, awaitReplies: false };
      try {
        const parsed = phone.resolve(line);
        if (parsed.kind === 'input' && !phone.inSession) {
          await phone.run({ kind: 'dial' }, step);
          if (line) print(`(dialled; "${line}" was not sent: type it again to answer)`);
        } else {
          await phone.run(parsed, step);
        }
      } catch (error) {
        print(`error: ${error instanceof Error ? error.message : String(error)}`);
      }
      prompt();
    }
    // Input piped in has no one to watch the replies come: they are waited for as a script's are.
    if (!tty && !quit) await phone.settle();
  } finally {
    rl.close();
    await phone.stop();
  }
  return 0;
}

/** Replays a script, printing every screen and SMS; 1 at the first failing line (named) or if a screen was over its limit. */
export async function runScript(options: SimulatorOptions, source: string, print: (text: string) => void): Promise<number> {
  const lines = scriptLines(source);
  const phone = new TerminalPhone(options, print);
  await phone.start();
  print(`# ${options.phone} on ${options.target.baseUrl}, service code ${options.target.serviceCode}, short code ${options.target.smsShortCode}`);
  try {
    for (const line of lines) {
      try {
        await phone.run(phone.resolve(line.text), { echo: true, awaitReplies: true });
      } catch (error) {
        print(`error: line ${line.number} (${line.text}): ${error instanceof Error ? error.message : String(error)}`);
        return 1;
      }
    }
    await phone.settle();
  } finally {
    await phone.stop();
  }
  if (phone.screensOverLimit) {
    print(`error: ${phone.screensOverLimit} screen(s) over the limit of their encoding`);
    return 1;
  }
  return 0;
}

function positive(value: string): number {
  const number = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value.trim()) || number <= 0) throw new InvalidArgumentError('must be a positive number');
  return number;
}

function phoneOption(value: string): string {
  try {
    return mobile(value);
  } catch (error) {
    throw new InvalidArgumentError(error instanceof Error ? error.message : String(error));
  }
}

interface CliOptions {
  phone?: string;
  baseUrl: string;
  key: string;
  serviceCode: string;
  shortCode: string;
  script?: string;
  gsm7Limit: number;
  ucs2Limit: number;
  wait: number;
  poll: number;
  timeout: number;
  color: boolean;
}

export function buildSimulateCli(): Command {
  return new Command('simulate')
    .description("A feature phone in the terminal: USSD and SMS to a running Tika over its Africa's Talking webhooks, SMS read from the sandbox outbox")
    .addOption(new Option('--phone <e164>', 'the phone, e.g. +919812345678 (required, except with --script: a fresh +9198 mobile then)').argParser(phoneOption))
    .option('--base-url <url>', 'where Tika answers', 'http://localhost:3000')
    .option('--key <secret>', "the webhook key (the server's WEBHOOK_SECRET)", 'dev-webhook-secret')
    .option('--service-code <code>', 'the USSD code dialled', '*384*1234#')
    .option('--short-code <code>', 'where SMS are sent', '21512')
    .option('--script <file>', 'replay this script (see src/simulator/script.ts) instead of asking')
    .addOption(new Option('--gsm7-limit <n>', 'characters a GSM-7 screen may hold').default(160).argParser(positive))
    .addOption(new Option('--ucs2-limit <n>', 'characters a UCS-2 screen may hold').default(80).argParser(positive))
    .addOption(new Option('--wait <seconds>', 'how long an expected SMS is waited for').default(10).argParser(positive))
    .addOption(new Option('--poll <seconds>', 'between two reads of the SMS outbox (at least 1)').default(1).argParser(positive))
    .addOption(new Option('--timeout <seconds>', 'an unanswered screen is closed after this long, as an operator would (not in a --script replay)').default(180).argParser(positive))
    .option('--no-color', 'no colour for a screen over its limit')
    .action(async (cli: CliOptions) => {
      if (!cli.script && !cli.phone) throw new ScriptError('--phone is required for a conversation (e.g. --phone +919812345678)');
      const options: SimulatorOptions = {
        target: { baseUrl: cli.baseUrl, webhookKey: cli.key, serviceCode: cli.serviceCode, smsShortCode: cli.shortCode },
        phone: cli.phone ?? freshPhone(),
        limits: { gsm7: cli.gsm7Limit, ucs2: cli.ucs2Limit },
        waitMs: cli.wait * 1000,
        pollMs: Math.max(MIN_POLL_MS, cli.poll * 1000),
        // A replay's lines come at once: only a person at the keyboard leaves a screen unanswered.
        sessionTimeoutMs: cli.script ? 0 : cli.timeout * 1000,
        color: cli.color && Boolean(process.stdout.isTTY) && !process.env.NO_COLOR,
      };
      if (cli.script) {
        const source = readFileSync(cli.script, 'utf8');
        process.exitCode = await runScript(options, source, (text) => process.stdout.write(`${text}\n`));
      } else {
        process.exitCode = await runInteractive(options, process.stdin, process.stdout);
      }
    });
}

async function main(argv: string[]): Promise<void> {
  try {
    await buildSimulateCli().parseAsync(argv);
  } catch (error) {
    console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  }
}

if (require.main === module) void main(process.argv);
