/** Calendar days are 'YYYY-MM-DD' strings; "today" is always decided in a centre's time zone. */

export function dayIn(timeZone: string, instant: Date): string {
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).formatToParts(instant);
  const get = (type: string) => parts.find((p) => p.type === type)!.value;
  return `${get('year')}-${get('month')}-${get('day')}`;
}

export function addDays(day: string, days: number): string {
  const date = new Date(`${day}T00:00:00Z`);
  date.setUTCDate(date.getUTCDate() + days);
  return date.toISOString().slice(0, 10);
}

/** Names per language; a language without `weekdays` shows a short day without one. */
const NAMES: Record<string, { weekdays?: string[]; months: string[]; longMonths: string[] }> = {
  en: {
    weekdays: ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'],
    months: ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'],
    longMonths: ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'],
  },
  hi: {
    months: ['जन', 'फ़र', 'मार्च', 'अप्रै', 'मई', 'जून', 'जुला', 'अग', 'सित', 'अक्टू', 'नव', 'दिस'],
    longMonths: ['जनवरी', 'फ़रवरी', 'मार्च', 'अप्रैल', 'मई', 'जून', 'जुलाई', 'अगस्त', 'सितंबर', 'अक्टूबर', 'नवंबर', 'दिसंबर'],
  },
};

function namesFor(language: string) {
  return NAMES[language] ?? NAMES.en!;
}

/**
 * "Mon 30 Nov" / "13 मार्च": short enough for a USSD list line (10 characters at most). Hindi
 * drops the weekday: with it a Hindi day takes up to 14 of a screen's 80 UCS-2 characters.
 */
export function shortDay(day: string, language = 'en'): string {
  const date = new Date(`${day}T00:00:00Z`);
  const names = namesFor(language);
  const dayMonth = `${date.getUTCDate()} ${names.months[date.getUTCMonth()]}`;
  return names.weekdays ? `${names.weekdays[date.getUTCDay()]} ${dayMonth}` : dayMonth;
}

/** "30 Nov 2026" / "30 नवंबर 2026" (15 characters at most): for SMS, which may be read weeks later. */
export function longDay(day: string, language = 'en'): string {
  const date = new Date(`${day}T00:00:00Z`);
  return `${date.getUTCDate()} ${namesFor(language).longMonths[date.getUTCMonth()]} ${date.getUTCFullYear()}`;
}

export function isCalendarDay(value: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) return false;
  const date = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().slice(0, 10) === value;
}

/** An IANA zone name Intl understands; offsets such as '+05:30' are refused. */
export function isTimeZone(zone: string): boolean {
  if (!/^[A-Za-z][A-Za-z0-9_+\-/]*$/.test(zone)) return false;
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}
