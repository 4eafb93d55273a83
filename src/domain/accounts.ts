import type { Db } from '../db/knex';

/** The language a mobile chose, or the default for a mobile we have not met. */
export async function languageOf(db: Db, phone: string, fallback = 'en'): Promise<string> {
  const row = await db('accounts').where('phone', phone).first('language');
  return row?.language ?? fallback;
}
