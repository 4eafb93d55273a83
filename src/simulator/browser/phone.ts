import { measureScreen, measureSms, newUssdSession, sendSessionEnded, sendSms, sendUssd, type SessionEnd, type SimulatorSettings, type SimulatorTarget, type UssdScreen, type UssdSession } from '../wire';

export interface PhoneOptions {
  number: string;
  role: string;
}

type Language = 'en' | 'hi';
/** How each language's option reads on the language screen. */
const LANGUAGE_LABELS: Record<Language, string> = { en: 'English', hi: 'हिन्दी' };
/** The main menu's language option, in either language ("Language", "भाषा / Language"). */
const LANGUAGE_OPTION = /Language/;
/** The resume prompt's "Start again", in either language. */
const START_AGAIN = /Start again|फिर से शुरू करें/;

/** A random id an operator would give (crypto.randomUUID needs a secure context; this does not). */
export function randomId(prefix: string, bytes = 12): string {
  const values = crypto.getRandomValues(new Uint8Array(bytes));
  return prefix + Array.from(values, (value) => value.toString(16).padStart(2, '0')).join('');
}

/** A mobile nobody has used: +9198 and 8 random digits. */
export function freshNumber(): string {
  const digits = crypto.getRandomValues(new Uint32Array(2));
  return `+9198${String(digits[0]! % 10_000).padStart(4, '0')}${String(digits[1]! % 10_000).padStart(4, '0')}`;
}

/** The numbered options of a menu screen: "1 Book vaccination" → ['1', 'Book vaccination']. */
function optionMatching(text: string, label: RegExp | string): string | undefined {
  for (const line of text.split('\n')) {
    const option = /^\s*(\d{1,2})[.)]?\s+(.+)$/.exec(line);
    if (option && (typeof label === 'string' ? option[2]!.trim() === label : label.test(option[2]!))) return option[1];
  }
  return undefined;
}

/** A feature phone: a screen and keypad for USSD, an SMS composer and an inbox fed by server-sent events. */
export class Phone {
  readonly element: HTMLElement;
  private readonly screen: HTMLElement;
  private readonly screenText: HTMLElement;
  private readonly measure: HTMLElement;
  private readonly countdown: HTMLElement;
  private readonly entry: HTMLInputElement;
  private readonly inbox: HTMLOListElement;
  private readonly smsText: HTMLTextAreaElement;
  private readonly smsMeasure: HTMLElement;
  private session: UssdSession | undefined;
  /** The screen shown is an END (or an error): the next key clears it. */
  private ended = false;
  private busy = false;
  private timeout: number | undefined;
  private ticker: number | undefined;
  private events: EventSource | undefined;

  constructor(
    template: HTMLTemplateElement,
    private readonly settings: SimulatorSettings,
    private readonly target: SimulatorTarget,
    readonly options: PhoneOptions,
  ) {
    this.element = (template.content.firstElementChild!.cloneNode(true) as HTMLElement);
    const find = <T extends HTMLElement>(selector: string) => this.element.querySelector<T>(selector)!;
    this.element.setAttribute('aria-label', `${options.role} ${options.number}`);
    find('.role').textContent = options.role;
    find('.number').textContent = options.number;
    find('.short-code').textContent = settings.smsShortCode;
    this.screen = find('.screen');
    this.screenText = find('.screen-text');
    this.measure = find('.measure-text');
    this.countdown = find('.countdown');
    this.entry = find<HTMLInputElement>('.entry');
    this.inbox = find<HTMLOListElement>('.inbox');
    this.smsText = find<HTMLTextAreaElement>('.sms-text');
    this.smsMeasure = find('.sms-measure');
    this.entry.placeholder = settings.serviceCode;
    this.entry.setAttribute('aria-label', `Input for ${options.role}`);

    find('.keypad').addEventListener('click', (event) => {
      const key = (event.target as HTMLElement).closest<HTMLButtonElement>('button')?.dataset.key;
      if (key) this.press(key);
    });
    this.entry.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' || event.key === 'Escape') {
        event.preventDefault();
        this.press(event.key === 'Enter' ? 'call' : 'end');
      } else if (this.ended && event.key.length === 1) {
        this.idle();
      }
    });

    const languageChoice = find<HTMLSelectElement>('.language-choice');
    const languageSwitch = find<HTMLButtonElement>('.language-switch');
    languageSwitch.addEventListener('click', () => void this.switchLanguage(languageChoice.value as Language));

    const composer = find<HTMLFormElement>('.composer');
    composer.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.sendSms();
    });
    this.smsText.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey) {
        event.preventDefault();
        composer.requestSubmit();
      }
    });
    this.smsText.addEventListener('input', () => this.showSmsMeasure());
    this.idle();
  }

  /** Starts receiving the phone's SMS (the browser reconnects by itself, resuming after the last id). */
  connect(): void {
    this.events = new EventSource(`events?phone=${encodeURIComponent(this.options.number)}`);
    this.events.addEventListener('sms', (event) => {
      const sms = JSON.parse((event as MessageEvent<string>).data) as { id: number; message: string; createdAt: string };
      this.addToInbox(sms.message, new Date(sms.createdAt), 'received');
    });
  }

  focus(): void {
    this.entry.focus();
  }

  /** One key of the keypad, clicked or typed. */
  press(key: string): void {
    if (key === 'call') void this.call();
    else if (key === 'end') this.hangUp();
    else if (key === 'clear') this.entry.value = this.entry.value.slice(0, -1);
    else {
      if (this.ended) this.idle();
      this.entry.value += key;
    }
    this.entry.focus();
  }

  /** Call/Send: dials when no session is open, else sends the answer typed. */
  private async call(): Promise<void> {
    if (this.busy) return;
    const typed = this.entry.value.trim();
    if (!this.session) {
      if (this.ended && typed === '') return this.idle();
      if (typed === '') return this.show({ end: true, text: `Dial ${this.settings.serviceCode}` }, false);
      if (typed !== this.settings.serviceCode) {
        return this.show({ end: true, text: typed.endsWith('#') ? 'Connection problem or invalid MMI code.' : 'Calls are not simulated: dial the service code.' }, false);
      }
      this.session = newUssdSession(randomId('ATUid_'));
    } else {
      this.session.inputs.push(this.entry.value);
    }
    this.entry.value = '';
    await this.hop();
  }

  /** Sends the session's inputs so far and shows the answer, as the operator would. */
  private async hop(): Promise<UssdScreen | undefined> {
    const session = this.session!;
    this.busy = true;
    this.stopTimer();
    if (session.inputs.length === 0) this.showText('USSD code running…');
    try {
      const screen = await sendUssd(this.target, session, this.options.number);
      if (this.session !== session) return undefined; // hung up meanwhile
      this.show(screen, true);
      if (screen.end) this.endSession({ status: 'Success' });
      else this.startTimer();
      return screen;
    } catch (error) {
      this.endSession({ status: 'Failed', errorMessage: (error as Error).message });
      this.show({ end: true, text: `Connection problem or invalid MMI code.\n(${(error as Error).message})` }, false);
      return undefined;
    } finally {
      this.busy = false;
    }
  }

  private hangUp(): void {
    this.endSession({ status: 'Incomplete' });
    this.stopTimer();
    this.entry.value = '';
    this.idle();
  }

  /** The operator closes a session left unanswered this long. */
  private startTimer(): void {
    const deadline = Date.now() + this.settings.sessionTimeoutSeconds * 1000;
    const tick = () => {
      const left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
      this.countdown.textContent = `· session ends in ${Math.floor(left / 60)}:${String(left % 60).padStart(2, '0')}`;
    };
    tick();
    // Only the countdown on the page: nothing is asked of the server.
    this.ticker = window.setInterval(tick, 1000);
    this.timeout = window.setTimeout(() => {
      this.endSession({ status: 'Incomplete' });
      this.stopTimer();
      this.show({ end: true, text: `Session timed out: the operator closed it after ${this.settings.sessionTimeoutSeconds} s without an answer.` }, false);
    }, this.settings.sessionTimeoutSeconds * 1000);
  }

  /** The operator's end-of-session notification, as Africa's Talking posts it; the phone does not wait for it. */
  private endSession(end: SessionEnd): void {
    const session = this.session;
    this.session = undefined;
    if (!session) return;
    sendSessionEnded(this.target, this.options.number, session, end).catch((error: unknown) => console.warn('end-of-session notification not delivered', error));
  }

  private stopTimer(): void {
    window.clearTimeout(this.timeout);
    window.clearInterval(this.ticker);
    this.countdown.textContent = '';
  }

  private idle(): void {
    this.ended = false;
    this.showText(`${this.options.number}\n\nDial ${this.settings.serviceCode}`);
  }

  private showText(text: string): void {
    this.screenText.textContent = text;
    this.screenText.lang = '';
    this.screen.classList.remove('over');
    this.measure.parentElement!.classList.remove('over');
    this.measure.textContent = '';
  }

  /** A screen, with what the operator sees of it (from the server: measured against the USSD limits). */
  private show(screen: UssdScreen, fromServer: boolean): void {
    this.ended = screen.end;
    this.screenText.textContent = screen.text;
    this.screenText.lang = /[\u0900-\u097F]/.test(screen.text) ? 'hi' : 'en';
    if (!fromServer) return void (this.measure.textContent = '');
    const size = measureScreen(screen.text, this.settings.limits);
    this.screen.classList.toggle('over', size.over);
    this.measure.parentElement!.classList.toggle('over', size.over);
    this.measure.textContent = `${screen.end ? 'END' : 'CON'} · ${size.length}/${size.limit} ${size.encoding}${size.over ? ' · over the limit' : ''}`;
  }

  /**
   * Changes the language through the real menus, as a person would: dial, then the language
   * screen (a new mobile is asked first) or the main menu's Language option.
   */
  async switchLanguage(language: Language): Promise<void> {
    if (this.busy) return;
    this.hangUp();
    this.session = newUssdSession(randomId('ATUid_'));
    let screen = await this.hop();
    for (let step = 0; screen && !screen.end && step < 4; step++) {
      const choice = optionMatching(screen.text, LANGUAGE_LABELS[language]);
      const next = choice ?? optionMatching(screen.text, START_AGAIN) ?? optionMatching(screen.text, LANGUAGE_OPTION);
      if (!next) break;
      this.session!.inputs.push(next);
      screen = await this.hop();
      if (choice) return; // the main menu, in the language chosen
    }
    if (!screen) return;
    if (!screen.end) this.endSession({ status: 'Incomplete' });
    this.stopTimer();
    this.show({ end: true, text: `${screen.text}\n\n(No language option on this screen.)` }, true);
  }

  private async sendSms(): Promise<void> {
    const text = this.smsText.value.trim();
    if (!text) return;
    try {
      await sendSms(this.target, this.options.number, text, randomId('ATXid_'));
      this.addToInbox(text, new Date(), 'sent');
      this.smsText.value = '';
      this.showSmsMeasure();
    } catch (error) {
      this.smsMeasure.textContent = `Not sent: ${(error as Error).message}`;
    }
  }

  private showSmsMeasure(): void {
    const text = this.smsText.value;
    if (!text) return void (this.smsMeasure.textContent = '');
    const size = measureSms(text);
    this.smsMeasure.textContent = `${size.length} characters · ${size.parts} part${size.parts === 1 ? '' : 's'} · ${size.encoding}`;
  }

  /** Newest first; links (the certificate's) open in a new tab. */
  private addToInbox(text: string, at: Date, kind: 'sent' | 'received'): void {
    const item = document.createElement('li');
    item.className = kind;
    if (/[\u0900-\u097F]/.test(text)) item.lang = 'hi';
    const body = document.createElement('span');
    body.className = 'sms-body';
    if (kind === 'sent') body.append(`→ ${this.settings.smsShortCode}: `);
    for (const [i, part] of text.split(/(https?:\/\/[^\s]+[^\s.,;:!?)])/).entries()) {
      if (i % 2 === 0) {
        body.append(part);
        continue;
      }
      const link = document.createElement('a');
      link.href = part;
      link.target = '_blank';
      link.rel = 'noopener';
      link.textContent = part;
      body.append(link);
    }
    const size = measureSms(text);
    const meta = document.createElement('span');
    meta.className = 'meta';
    meta.textContent = `${kind === 'sent' ? 'sent' : 'received'} ${at.toLocaleTimeString()} · ${size.parts} part${size.parts === 1 ? '' : 's'} · ${size.encoding}`;
    item.append(body, meta);
    this.inbox.prepend(item);
  }
}
