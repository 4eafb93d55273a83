import type { Knex } from 'knex';

/**
 * Vaccination by code: the audit of every attempt, the dose record, the certificate, and a task
 * outbox for work that must follow a commit (certificates, inbound SMS processing).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('appointments', (t) => {
    t.timestamp('vaccinated_at', { useTz: true });
    t.timestamp('closed_at', { useTz: true });
  });

  await knex.schema.createTable('verification_attempts', (t) => {
    t.bigIncrements('id');
    t.bigInteger('vaccinator_id').references('vaccinators.id');
    t.text('vaccinator_phone').notNullable();
    t.bigInteger('appointment_id').references('appointments.id');
    t.text('channel').notNullable();
    t.text('outcome').notNullable();
    t.bigInteger('inbound_message_id').references('inbound_messages.id');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['vaccinator_id', 'created_at']);
    t.index(['appointment_id']);
  });

  await knex.schema.createTable('vaccinations', (t) => {
    t.bigIncrements('id');
    t.bigInteger('appointment_id').notNullable().unique().references('appointments.id');
    t.bigInteger('beneficiary_id').notNullable().references('beneficiaries.id');
    t.integer('dose').notNullable();
    t.text('vaccine').notNullable();
    t.bigInteger('centre_id').notNullable().references('centres.id');
    t.bigInteger('vaccinator_id').notNullable().references('vaccinators.id');
    t.date('session_date').notNullable();
    t.timestamp('vaccinated_at', { useTz: true }).notNullable();
    t.unique(['beneficiary_id', 'dose']);
  });

  // Issued once per (beneficiary, dose), as DIVOC keys certificates on programme and dose.
  await knex.schema.createTable('certificates', (t) => {
    t.text('id').primary();
    t.bigInteger('vaccination_id').notNullable().unique().references('vaccinations.id');
    t.bigInteger('beneficiary_id').notNullable().references('beneficiaries.id');
    t.integer('dose').notNullable();
    t.text('status').notNullable().defaultTo('pending');
    t.jsonb('claims');
    t.text('jws');
    t.text('key_id');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('issued_at', { useTz: true });
    t.unique(['beneficiary_id', 'dose']);
  });
  await knex.raw(`ALTER TABLE certificates ADD CONSTRAINT certificates_status_check CHECK (status IN ('pending', 'issued'))`);

  await knex.schema.createTable('outbox_tasks', (t) => {
    t.bigIncrements('id');
    t.uuid('job_key').notNullable().unique().defaultTo(knex.raw('gen_random_uuid()'));
    t.text('kind').notNullable();
    t.jsonb('payload').notNullable().defaultTo('{}');
    t.timestamp('relayed_at', { useTz: true });
    t.timestamp('done_at', { useTz: true });
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw(`CREATE INDEX outbox_tasks_unrelayed ON outbox_tasks (id) WHERE relayed_at IS NULL`);

  // At most one SMS of a kind per cause (one confirmation per certificate, one reply per inbound SMS).
  await knex.schema.alterTable('outbound_messages', (t) => {
    t.text('dedupe_key').unique();
    // Delivery reports arrive out of order: once a final one is in, later intermediate ones are ignored.
    t.boolean('delivery_final').notNullable().defaultTo(false);
    t.timestamp('delivery_reported_at', { useTz: true });
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('outbound_messages', (t) => {
    t.dropColumn('dedupe_key');
    t.dropColumn('delivery_final');
    t.dropColumn('delivery_reported_at');
  });
  for (const table of ['outbox_tasks', 'certificates', 'vaccinations', 'verification_attempts']) {
    await knex.schema.dropTableIfExists(table);
  }
  await knex.schema.alterTable('appointments', (t) => {
    t.dropColumn('vaccinated_at');
    t.dropColumn('closed_at');
  });
}
