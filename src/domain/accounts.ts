import type { Db } from '../db/knex';

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
