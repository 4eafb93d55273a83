import type { Knex } from 'knex';

/**
 * An operator deactivates a session rather than deleting it: appointments already booked on it
 * stay (with their codes), but citizens are no longer offered it. Centres and vaccinators have had
 * their `active` column since the first migration.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`ALTER TABLE vaccination_sessions ADD COLUMN active boolean NOT NULL DEFAULT true`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`ALTER TABLE vaccination_sessions DROP COLUMN IF EXISTS active`);
}
