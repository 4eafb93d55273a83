import type { Knex } from 'knex';

/** Booking core: who may be booked, where, when, and the appointment that carries the security code. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('accounts', (t) => {
    t.bigIncrements('id');
    t.text('phone').notNullable().unique();
    t.text('language').notNullable().defaultTo('en');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  await knex.schema.createTable('beneficiaries', (t) => {
    t.bigIncrements('id');
    t.bigInteger('account_id').notNullable().references('accounts.id');
    t.text('name').notNullable();
    t.integer('birth_year').notNullable();
    t.text('gender').notNullable();
    t.text('id_type').notNullable();
    t.text('id_hash').notNullable();
    t.text('id_last4').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['id_type', 'id_hash']);
    t.index(['account_id']);
  });
  await knex.raw(`ALTER TABLE beneficiaries
    ADD CONSTRAINT beneficiaries_gender_check CHECK (gender IN ('F', 'M', 'O')),
    ADD CONSTRAINT beneficiaries_birth_year_check CHECK (birth_year BETWEEN 1900 AND 2100),
    ADD CONSTRAINT beneficiaries_name_check CHECK (char_length(name) BETWEEN 1 AND 60)`);

  await knex.schema.createTable('centres', (t) => {
    t.bigIncrements('id');
    t.text('name').notNullable();
    t.text('pincode').notNullable().index();
    t.text('district').notNullable();
    t.text('state').notNullable();
    t.text('timezone').notNullable().defaultTo('Asia/Kolkata');
    t.boolean('active').notNullable().defaultTo(true);
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw(`ALTER TABLE centres ADD CONSTRAINT centres_pincode_check CHECK (pincode ~ '^[1-9][0-9]{5}$')`);

  await knex.schema.createTable('vaccination_sessions', (t) => {
    t.bigIncrements('id');
    t.bigInteger('centre_id').notNullable().references('centres.id');
    t.date('date').notNullable();
    t.text('vaccine').notNullable();
    t.integer('min_age').notNullable();
    t.integer('dose').notNullable();
    t.integer('capacity').notNullable();
    t.integer('booked').notNullable().defaultTo(0);
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['centre_id', 'date']);
  });
  // Seats never exceed capacity, whatever the code does: the database refuses the row.
  await knex.raw(`ALTER TABLE vaccination_sessions
    ADD CONSTRAINT sessions_seats_check CHECK (booked >= 0 AND booked <= capacity),
    ADD CONSTRAINT sessions_dose_check CHECK (dose BETWEEN 1 AND 3),
    ADD CONSTRAINT sessions_min_age_check CHECK (min_age BETWEEN 0 AND 120)`);

  await knex.schema.createTable('vaccinators', (t) => {
    t.bigIncrements('id');
    t.text('phone').notNullable().unique();
    t.text('name').notNullable();
    t.bigInteger('centre_id').notNullable().references('centres.id');
    t.boolean('active').notNullable().defaultTo(true);
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  await knex.schema.createTable('appointments', (t) => {
    t.bigIncrements('id');
    t.text('reference').notNullable().unique();
    t.bigInteger('beneficiary_id').notNullable().references('beneficiaries.id');
    t.bigInteger('session_id').notNullable().references('vaccination_sessions.id');
    t.integer('dose').notNullable();
    t.text('status').notNullable().defaultTo('booked');
    t.text('code_hmac').notNullable();
    // The code encrypted with a key derived from CODE_SECRET, so the SMS can be rendered at send
    // time; erased when the appointment closes. Verification only ever uses code_hmac.
    t.text('code_cipher');
    t.integer('failed_attempts').notNullable().defaultTo(0);
    t.timestamp('locked_at', { useTz: true });
    t.timestamp('booked_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['session_id']);
    t.index(['beneficiary_id']);
  });
  await knex.raw(`ALTER TABLE appointments
    ADD CONSTRAINT appointments_status_check CHECK (status IN ('booked', 'vaccinated', 'cancelled', 'no_show'))`);
  // One live appointment per beneficiary per dose: a second booking of the same dose is refused
  // by the database even if two requests race.
  await knex.raw(`CREATE UNIQUE INDEX appointments_one_live_per_dose
    ON appointments (beneficiary_id, dose) WHERE status IN ('booked', 'vaccinated')`);
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['appointments', 'vaccinators', 'vaccination_sessions', 'centres', 'beneficiaries', 'accounts']) {
    await knex.schema.dropTableIfExists(table);
  }
}
