import type { Knex } from 'knex';

/**
 * Providers side by side: delivery reports are found by (provider, provider's message id), and
 * each keeps Tika's reading of the provider's status (delivered, failed-permanent, ...).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('outbound_messages', (t) => {
    t.text('delivery_state');
    t.dropIndex(['provider_message_id']);
    t.index(['provider', 'provider_message_id'], 'outbound_provider_message');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('outbound_messages', (t) => {
    t.dropIndex(['provider', 'provider_message_id'], 'outbound_provider_message');
    t.index(['provider_message_id']);
    t.dropColumn('delivery_state');
  });
}
