import type { UssdSessionEnded } from '../contracts/messages';
import type { Db } from '../db/knex';

/** Keeps the provider's end-of-session notice (once per session, however often it is resent). */
export async function recordUssdSessionEnded(db: Db, provider: string, event: UssdSessionEnded): Promise<void> {
  await db('ussd_session_events')
    .insert({
      provider,
      session_id: event.sessionId,
      phone: event.phone,
      service_code: event.serviceCode ?? null,
      network_code: event.networkCode ?? null,
      status: event.status,
      cost: event.cost ?? null,
      duration_ms: event.durationMs ?? null,
      hops_count: event.hopsCount ?? null,
      last_app_response: event.lastAppResponse ?? null,
      error_message: event.errorMessage ?? null,
      event_date: event.date ?? null,
    })
    .onConflict(['provider', 'session_id'])
    .ignore();
}
