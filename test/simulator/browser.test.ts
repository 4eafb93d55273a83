import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import { createDb, type Db } from '../../src/db/knex';
import { dayIn } from '../../src/domain/dates';
import { ProgrammeService } from '../../src/domain/programme';
import { eventually } from '../support/app';
import { testDatabaseUrl } from '../support/db';
import { pan } from '../support/programme';
import { REPO, startSandboxProcess, type SandboxProcess } from '../support/sandbox-process';

/**
 * The browser simulator end to end, as a person uses it: the product started as `npm start` runs
 * it (tsx, so the page's script is bundled on first request), Debian's chromium driven by
 * playwright-core. Screenshots go to test-output/simulator/ (git-ignored).
 */

const OUTPUT = join(REPO, 'test-output', 'simulator');
const VACCINATOR = '+919900000001';
const SESSION_SECONDS = 8;

/** Debian's chromium (.ci/run installs it): no browser is downloaded. */
function chromiumPath(): string {
  try {
    return execFileSync('which', ['chromium'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error('chromium is not installed: apt-get install -y chromium fonts-noto-core (.ci/run does it)');
  }
}

/** One USSD answer typed on the keyboard, then the screen it brings. */
async function answer(phone: Locator, text: string, expected: RegExp): Promise<string> {
  const entry = phone.getByRole('textbox', { name: /^Input for/ });
  await entry.fill(text);
  await entry.press('Enter');
  const screen = phone.getByLabel('Screen', { exact: true });
  await expectText(screen, expected);
  return (await screen.textContent()) ?? '';
}

async function expectText(locator: Locator, expected: RegExp, timeout = 15_000): Promise<string> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const text = (await locator.textContent()) ?? '';
    if (expected.test(text)) return text;
    if (Date.now() > deadline) throw new Error(`expected ${expected} in: ${JSON.stringify(text)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('the browser simulator', () => {
  let product: SandboxProcess | undefined;
  let browser: Browser | undefined;
  let db: Db | undefined;
  let page: Page;

  beforeAll(async () => {
    mkdirSync(OUTPUT, { recursive: true });
    // A short operator timeout (the simulator's is the shorter of this and 180 s), so the test can wait it out.
    product = await startSandboxProcess(undefined, { env: { USSD_SESSION_TTL_SECONDS: String(SESSION_SECONDS) } });
    db = createDb(testDatabaseUrl(), { max: 2 });
    const programme = new ProgrammeService(db, { defaultTimezone: 'Asia/Kolkata', defaultCountry: 'IN', vaccines: ['Covishield', 'Covaxin'] });
    const centre = await programme.createCentre({ name: 'AIIMS Delhi', pincode: '110001', district: 'New Delhi', state: 'Delhi' });
    // All day, so that booking today and confirming at once works at any hour the test runs.
    await programme.createSession({ centreId: centre.id, date: dayIn(centre.timezone, new Date()), vaccine: 'Covishield', minAge: 18, dose: 1, capacity: 50, startTime: '00:00', endTime: '24:00' });
    await programme.createVaccinator({ phone: VACCINATOR, name: 'Sunita Sharma', centreId: centre.id });
    browser = await chromium.launch({
      executablePath: chromiumPath(),
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    page = await browser.newPage({ viewport: { width: 1240, height: 1000 } });
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await db?.destroy();
    await product?.close();
  });

  it('books on the citizen phone, confirms on the vaccinator phone, opens the certificate, switches to Hindi and times a session out', async () => {
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${product!.baseUrl}/simulator`);

    const citizen = page.getByRole('region', { name: /^Citizen \+9198\d{8}$/ });
    const vaccinator = page.getByRole('region', { name: `Vaccinator (Sunita Sharma, AIIMS Delhi) ${VACCINATOR}` });
    await expectText(vaccinator.getByLabel('Screen', { exact: true }), /Dial \*384\*1234#/);
    const mobile = /\+9198\d{8}/.exec((await citizen.getAttribute('aria-label'))!)![0];

    // The dial on the keypad, clicked key by key; the answers typed on the keyboard.
    for (const key of '*384*1234#') await citizen.getByRole('button', { name: key, exact: true }).click();
    await citizen.getByRole('button', { name: 'Send or call' }).click();
    const screen = citizen.getByLabel('Screen', { exact: true });
    await expectText(screen, /Choose language/);
    await expectText(citizen.getByLabel('Screen size'), /CON · \d+\/80 UCS-2/);
    await answer(citizen, '1', /Book vaccination/);
    await expectText(citizen.getByLabel('Screen size'), /CON · \d+\/160 GSM-7/);
    await answer(citizen, '1', /name/i);
    await answer(citizen, 'Asha Devi', /year/i);
    await answer(citizen, '1985', /Female/);
    await answer(citizen, '1', /PAN/);
    await answer(citizen, '2', /PAN|number/i);
    await answer(citizen, pan(4711), /PIN/);
    await answer(citizen, '110001', /AIIMS Delhi/);
    await answer(citizen, '1', /Covishield/);
    await answer(citizen, '1', /Confirm/);
    const booked = await answer(citizen, '1', /Booked/);
    expect(booked).toMatch(/Booked: Asha Devi, AIIMS Delhi/);
    await expectText(citizen.getByLabel('Screen size'), /^END · \d+\/160 GSM-7/);

    // The code SMS, pushed to the citizen's inbox.
    const inbox = citizen.getByRole('list', { name: 'Inbox' });
    const codeSms = await expectText(inbox, /code is \d{4}/);
    const code = /code is (\d{4})/.exec(codeSms)![1];
    expect(codeSms).toMatch(/1 part · GSM-7/);

    // The vaccinator confirms by SMS from the composer.
    await vaccinator.getByRole('textbox', { name: /SMS to 21512/ }).fill(`VAX ${mobile} ${code}`);
    await vaccinator.getByRole('button', { name: 'Send SMS' }).click();
    await expectText(vaccinator.getByRole('list', { name: 'Inbox' }), /ACCEPTED\. Asha Devi, dose 1, Covishield/);
    await expectText(inbox, /Certificate: http:\/\/localhost:\d+\/c\/[0-9a-z]{26}/);
    await page.screenshot({ path: join(OUTPUT, 'booked-and-vaccinated.png'), fullPage: true });

    // The certificate link opens the certificate page.
    const [certificate] = await Promise.all([page.context().waitForEvent('page'), inbox.getByRole('link', { name: /\/c\// }).click()]);
    await certificate.waitForLoadState();
    const certificateText = await certificate.locator('body').textContent();
    expect(certificateText).toContain('Vaccination certificate');
    expect(certificateText).toContain('Asha Devi');
    await certificate.screenshot({ path: join(OUTPUT, 'certificate.png') });
    await certificate.close();

    // Hindi through the real menus: the main menu's Language option, then हिन्दी.
    await citizen.getByLabel('Language').selectOption('hi');
    await citizen.getByRole('button', { name: 'Switch through the menus' }).click();
    const hindi = await expectText(screen, /टीका सेवा/);
    expect(hindi).toMatch(/[\u0900-\u097F]/);
    await expectText(citizen.getByLabel('Screen size'), /CON · \d+\/80 UCS-2/);
    await page.screenshot({ path: join(OUTPUT, 'hindi.png'), fullPage: true });
    // The README's picture: the two phones after the whole flow.
    await page.screenshot({ path: join(OUTPUT, 'readme.png'), clip: { x: 0, y: 0, width: 1200, height: 740 } });

    // An SMS in Hindi is measured as UCS-2 while it is typed.
    await citizen.getByRole('textbox', { name: /SMS to 21512/ }).fill('पंजीकरण');
    await expectText(citizen.locator('.sms-measure'), /7 characters · 1 part · UCS-2/);

    // The vaccinator's menu, left unanswered: the operator ends the session, as a real one would.
    const vaccinatorEntry = vaccinator.getByRole('textbox', { name: /^Input for/ });
    await vaccinatorEntry.fill('*384*1234#');
    await vaccinatorEntry.press('Enter');
    const vaccinatorScreen = vaccinator.getByLabel('Screen', { exact: true });
    await expectText(vaccinatorScreen, /Tika vaccinator\nAIIMS Delhi/);
    await expectText(vaccinator.getByLabel('Screen size'), /session ends in 0:0\d/);
    await expectText(vaccinatorScreen, new RegExp(`Session timed out: the operator closed it after ${SESSION_SECONDS} s`), (SESSION_SECONDS + 5) * 1000);

    // Each closed session reached the end-of-session callback as the operator reports it: the booking
    // (ended by our END), the vaccinator's menu left unanswered (Incomplete, our CON last).
    const ended = async (phone: string) =>
      db!('ussd_session_events').where({ provider: 'africastalking', phone }).orderBy('received_at').select('status', 'hops_count', 'last_app_response', 'service_code');
    const booking = (await ended(mobile)).find((event) => event.last_app_response.startsWith('END Booked'));
    expect(booking).toMatchObject({ status: 'Success', service_code: '*384*1234#' });
    expect(booking.hops_count).toBeGreaterThanOrEqual(10);
    const leftOpen = await eventually('the end of the unanswered session', async () => {
      const events = await ended(VACCINATOR);
      return events.length > 0 ? events : undefined;
    });
    expect(leftOpen).toEqual([{ status: 'Incomplete', hops_count: 1, last_app_response: expect.stringMatching(/^CON Tika vaccinator\nAIIMS Delhi/), service_code: '*384*1234#' }]);

    // 360 px wide: nothing is cut off sideways.
    await page.setViewportSize({ width: 360, height: 800 });
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(360);
    await page.screenshot({ path: join(OUTPUT, 'narrow-360.png') });
    expect(errors).toEqual([]);
  }, 120_000);
});
