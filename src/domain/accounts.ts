import type { Db } from '../db/knex';
import { preparedQuery } from '../db/prepared';

/** The language a mobile chose, or the default for a mobile we have not met. */
export async function languageOf(db: Db, phone: string, fallback = 'en'): Promise<string> {
  const row = await db('accounts').where('phone', phone).first('language');
  return row?.language ?? fallback;
}

export const LANGUAGES = ['en', 'hi'] as const;

/** Whether this mobile has been here before (and so has chosen a language). */
export async function isKnownMobile(db: Db, phone: string): Promise<boolean> {
  return (await db('accounts').where('phone', phone).first('id')) !== undefined;
}

/** Remembers the language a mobile chose; creates its account on first contact. */
export async function setLanguage(db: Db, phone: string, language: string): Promise<void> {
  if (!(LANGUAGES as readonly string[]).includes(language)) throw new Error(`unsupported language "${language}"`);
  await db('accounts').insert({ phone, language }).onConflict('phone').merge(['language']);
}

/** What a new dial needs to know of the caller, read in one statement: a USSD first hop's only SQL. */
export interface CallerFacts {
  /** Has an account: has been here before and chosen a language. */
  known: boolean;
  language: string;
  /** The centre of the active vaccinator with this number, if the caller is one. */
  vaccinatorCentre?: string;
}

const callerFactsQuery = preparedQuery<{ language: string | null; known: boolean; centre: string | null }, [string]>(
  'caller_facts',
  `SELECT a.language, a.id IS NOT NULL AS known, c.name AS centre
     FROM (SELECT $1::text AS phone) AS caller
     LEFT JOIN accounts a ON a.phone = caller.phone
     LEFT JOIN vaccinators v ON v.phone = caller.phone AND v.active
     LEFT JOIN centres c ON c.id = v.centre_id
    LIMIT 1`,
);

export async function callerFacts(db: Db, phone: string, fallbackLanguage = 'en'): Promise<CallerFacts> {
  const [row] = await callerFactsQuery(db, phone);
  return { known: row?.known ?? false, language: row?.language ?? fallbackLanguage, ...(row?.centre ? { vaccinatorCentre: row.centre } : {}) };
}
