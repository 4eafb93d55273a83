import type { Knex } from 'knex';

/**
 * A session runs from start_time to end_time on its date, at its centre's time zone. Booking
 * closes at the end time and the no-show sweep closes what is left soon after it, instead of at
 * midnight. Existing sessions get the programme's usual day, 09:00 to 17:00. An end of 24:00
 * (PostgreSQL's own notation) means the session runs to the end of its day.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`ALTER TABLE vaccination_sessions
    ADD COLUMN start_time time NOT NULL DEFAULT '09:00',
    ADD COLUMN end_time time NOT NULL DEFAULT '17:00',
    ADD CONSTRAINT sessions_times_check CHECK (end_time > start_time)`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`ALTER TABLE vaccination_sessions
    DROP CONSTRAINT IF EXISTS sessions_times_check,
    DROP COLUMN IF EXISTS start_time,
    DROP COLUMN IF EXISTS end_time`);
}
