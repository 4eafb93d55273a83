import type { Knex } from 'knex';

/**
 * Indexes for the retention purge (src/domain/retention.ts): each batch finds the oldest rows still
 * due by one of these, so a batch stays a small read however large the table grows. The partial
 * ones hold only bodies not yet blanked: once blanked, a row leaves the index and is never read
 * again. Built CONCURRENTLY (outside a transaction) so that a large live table keeps taking
 * writes while its index is built; a build that failed half-way is dropped and built again.
 */
export const config = { transaction: false };

const INDEXES: Record<string, string> = {
  inbound_messages_unblanked: `inbound_messages (received_at) WHERE text <> ''`,
  outbound_messages_with_params: `outbound_messages (created_at) WHERE params <> '{}'::jsonb`,
  sandbox_messages_created: `sandbox_messages (created_at)`,
  ussd_session_events_received: `ussd_session_events (received_at)`,
  ussd_session_events_with_response: `ussd_session_events (received_at) WHERE last_app_response IS NOT NULL`,
  verification_attempts_created: `verification_attempts (created_at)`,
  outbox_tasks_done: `outbox_tasks (done_at) WHERE done_at IS NOT NULL`,
};

export async function up(knex: Knex): Promise<void> {
  for (const [name, definition] of Object.entries(INDEXES)) {
    await knex.raw(`DROP INDEX CONCURRENTLY IF EXISTS ${name}`);
    await knex.raw(`CREATE INDEX CONCURRENTLY ${name} ON ${definition}`);
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const name of Object.keys(INDEXES)) await knex.raw(`DROP INDEX CONCURRENTLY IF EXISTS ${name}`);
}
