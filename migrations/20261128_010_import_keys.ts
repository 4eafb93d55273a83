import type { Knex } from 'knex';

/**
 * CSV import upserts centres on their natural key, the name (any case) within a PIN code. The
 * admin API has always refused a second centre with that key; the database now refuses it too, so
 * an import and a POST racing cannot both create one. Vaccinators' key, the phone, was unique
 * from the start. Sessions get no unique index: the admin API has always allowed two sessions of
 * one centre, day, vaccine, age and dose, and the import reports such a pair as ambiguous instead.
 */
export async function up(knex: Knex): Promise<void> {
  const { rows } = await knex.raw<{ rows: { pincode: string; name: string; ids: string }[] }>(
    `SELECT pincode, min(name) AS name, string_agg(id::text, ', ' ORDER BY id) AS ids
       FROM centres GROUP BY pincode, lower(name) HAVING count(*) > 1`,
  );
  if (rows.length) {
    const pairs = rows.map((row) => `"${row.name}" in ${row.pincode} (ids ${row.ids})`).join('; ');
    // Merging centres moves sessions, vaccinators and appointments: a person decides, not a migration.
    throw new Error(`centres with the same name and PIN code exist, rename or merge them first: ${pairs}`);
  }
  await knex.raw('CREATE UNIQUE INDEX centres_natural_key ON centres (pincode, lower(name))');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX IF EXISTS centres_natural_key');
}
