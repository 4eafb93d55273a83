import type { Knex } from 'knex';

/** The outbox (every SMS we owe someone) and the inbound records that make telco retries harmless. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('outbound_messages', (t) => {
    t.bigIncrements('id');
    // Names the queue job: unique even if the database is restored or recreated under a live Redis.
    t.uuid('job_key').notNullable().unique().defaultTo(knex.raw('gen_random_uuid()'));
    t.text('phone').notNullable();
    t.text('language').notNullable().defaultTo('en');
    t.text('template').notNullable();
    t.jsonb('params').notNullable().defaultTo('{}');
    t.bigInteger('appointment_id').references('appointments.id');
    t.text('status').notNullable().defaultTo('pending');
    t.timestamp('relayed_at', { useTz: true });
    t.integer('attempts').notNullable().defaultTo(0);
    t.text('provider');
    t.text('provider_message_id');
    t.integer('provider_status_code');
    t.text('provider_status');
    t.text('cost');
    t.text('last_error');
    t.text('delivery_status');
    t.text('failure_reason');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('sent_at', { useTz: true });
    t.timestamp('delivered_at', { useTz: true });
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['provider_message_id']);
    t.index(['phone']);
  });
  await knex.raw(`ALTER TABLE outbound_messages ADD CONSTRAINT outbound_status_check
    CHECK (status IN ('pending', 'sending', 'retrying', 'sent', 'failed', 'skipped'))`);
  // The relay's work list stays small however large the table grows.
  await knex.raw(`CREATE INDEX outbound_unrelayed ON outbound_messages (id) WHERE relayed_at IS NULL`);

  await knex.schema.createTable('inbound_messages', (t) => {
    t.bigIncrements('id');
    t.text('provider').notNullable();
    t.text('provider_message_id').notNullable();
    t.text('phone').notNullable();
    t.text('to');
    t.text('text').notNullable();
    t.text('link_id');
    t.text('network_code');
    t.timestamp('provider_date', { useTz: true });
    t.text('status').notNullable().defaultTo('received');
    t.timestamp('received_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('processed_at', { useTz: true });
    t.unique(['provider', 'provider_message_id']);
  });

  await knex.schema.createTable('ussd_session_events', (t) => {
    t.bigIncrements('id');
    t.text('provider').notNullable();
    t.text('session_id').notNullable();
    t.text('phone').notNullable();
    t.text('service_code');
    t.text('network_code');
    t.text('status').notNullable();
    t.text('cost');
    t.integer('duration_ms');
    t.integer('hops_count');
    t.text('last_app_response');
    t.text('error_message');
    t.timestamp('event_date', { useTz: true });
    t.timestamp('received_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['provider', 'session_id']);
  });

  // What the embedded sandbox provider "sent": lets the product run with no telecom account.
  await knex.schema.createTable('sandbox_messages', (t) => {
    t.bigIncrements('id');
    t.text('phone').notNullable().index();
    t.text('message').notNullable();
    t.text('provider_message_id').notNullable().unique();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['sandbox_messages', 'ussd_session_events', 'inbound_messages', 'outbound_messages']) {
    await knex.schema.dropTableIfExists(table);
  }
}
