import type { Knex } from 'knex';

/**
 * Code guessing charged to whom it concerns (issue 7, finding 3). Each attempt row now names the
 * centre it counted against and how many codes it tested (a guess at a family mobile tests every
 * open member's code), so the per-vaccinator and per-centre budgets sum what was really tried. A
 * wrong code at a family mobile is charged to the mobile (account_id) and, on each member it was
 * tested against, to family_attempts: it narrows the member's remaining tries but never locks it.
 * Look-ups by the vaccinator USSD menu are audited in the same table (outcome 'lookup').
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('verification_attempts', (t) => {
    t.bigInteger('centre_id').references('centres.id');
    t.bigInteger('account_id').references('accounts.id');
    t.integer('codes_tested');
  });
  // The budgets read wrong codes only; under attack most rows are refusals, which these skip.
  await knex.raw(`CREATE INDEX verification_attempts_centre_wrong ON verification_attempts (centre_id, created_at) WHERE outcome = 'wrong_code'`);
  await knex.raw(`CREATE INDEX verification_attempts_vaccinator_wrong ON verification_attempts (vaccinator_id, created_at) WHERE outcome = 'wrong_code'`);
  await knex.raw(`CREATE INDEX verification_attempts_account_wrong ON verification_attempts (account_id, created_at) WHERE outcome = 'wrong_code'`);
  await knex.raw(`CREATE INDEX verification_attempts_lookups ON verification_attempts (vaccinator_id, created_at) WHERE outcome = 'lookup'`);
  await knex.schema.alterTable('appointments', (t) => {
    t.integer('family_attempts').notNullable().defaultTo(0);
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const index of ['centre_wrong', 'vaccinator_wrong', 'account_wrong', 'lookups']) await knex.raw(`DROP INDEX IF EXISTS verification_attempts_${index}`);
  await knex.schema.alterTable('appointments', (t) => t.dropColumn('family_attempts'));
  await knex.schema.alterTable('verification_attempts', (t) => {
    t.dropColumn('centre_id');
    t.dropColumn('account_id');
    t.dropColumn('codes_tested');
  });
}
