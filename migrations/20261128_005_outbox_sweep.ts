import type { Knex } from 'knex';

/**
 * The outbox sweep (every OUTBOX_SWEEP_MS, 20 s) looks only at unfinished rows: partial indexes keep
 * that a small read however large the message tables grow.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`CREATE INDEX outbound_unfinished ON outbound_messages (id) WHERE status IN ('pending', 'sending', 'retrying') AND relayed_at IS NOT NULL`);
  await knex.raw(`CREATE INDEX outbox_tasks_undone ON outbox_tasks (id) WHERE done_at IS NULL AND relayed_at IS NOT NULL`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX IF EXISTS outbound_unfinished');
  await knex.raw('DROP INDEX IF EXISTS outbox_tasks_undone');
}
