import type { SimulatorTarget } from '../wire';
import type { SimulatorSettings } from '../wire';
import { freshNumber, Phone } from './phone';

/** The page's start: reads config.json, then a citizen phone and the seeded vaccinator's phone side by side. */
async function start(): Promise<void> {
  const template = document.querySelector<HTMLTemplateElement>('#phone')!;
  const phones = document.querySelector<HTMLElement>('#phones')!;
  const notice = document.querySelector<HTMLElement>('#notice')!;
  const say = (text: string) => {
    notice.textContent = text;
    notice.hidden = false;
  };
  const response = await fetch('config.json', { headers: { accept: 'application/json' } });
  if (!response.ok) return say(`The simulator's settings answered ${response.status}: reload after logging in.`);
  const settings = (await response.json()) as SimulatorSettings;
  const target: SimulatorTarget = { baseUrl: location.origin, webhookKey: settings.webhookKey, serviceCode: settings.serviceCode, smsShortCode: settings.smsShortCode };
  document.querySelector('#service-code')!.textContent = settings.serviceCode;

  const numbers = new Set<string>();
  const add = (number: string, role?: string): Phone | undefined => {
    if (numbers.has(number)) return void say(`${number} is already on the page.`);
    numbers.add(number);
    const vaccinator = settings.vaccinators.find((v) => v.phone === number);
    const phone = new Phone(template, settings, target, {
      number,
      role: role ?? (vaccinator ? `Vaccinator (${vaccinator.name}, ${vaccinator.centre})` : `Phone ${numbers.size}`),
    });
    phones.append(phone.element);
    phone.connect();
    return phone;
  };

  const citizen = add(freshNumber(), 'Citizen');
  const seeded = settings.vaccinators[0];
  if (seeded) add(seeded.phone);
  else say('No vaccinator is registered: run npm run seed:demo (or add one with the admin API), then reload.');
  if (!settings.sandbox) say('SMS go out through the real provider here, not to these inboxes.');

  const form = document.querySelector<HTMLFormElement>('#add-phone')!;
  const field = form.querySelector<HTMLInputElement>('input')!;
  field.value = freshNumber();
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const number = field.value.replace(/[\s-]/g, '');
    if (!/^\+?\d{8,15}$/.test(number)) return say(`${field.value} is not a phone number: +91 and 10 digits, say.`);
    const phone = add(number.startsWith('+') ? number : `+91${number.replace(/^0/, '')}`);
    if (!phone) return;
    notice.hidden = true;
    field.value = freshNumber();
    phone.focus();
  });
  citizen?.focus();
}

void start().catch((error: unknown) => {
  const notice = document.querySelector<HTMLElement>('#notice');
  if (notice) {
    notice.textContent = `The simulator could not start: ${error instanceof Error ? error.message : String(error)}`;
    notice.hidden = false;
  }
});
