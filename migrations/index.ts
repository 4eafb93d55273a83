import type { Knex } from 'knex';
import * as core from './20261128_001_core';
import * as messages from './20261128_002_messages';
import * as vaccination from './20261128_003_vaccination';
import * as lockout from './20261128_004_lockout';
import * as outboxSweep from './20261128_005_outbox_sweep';
import * as sessionTimes from './20261128_006_session_times';
import * as channels from './20261128_007_channels';
import * as retention from './20261128_008_retention';
import * as sessionActive from './20261128_009_session_active';
import * as importKeys from './20261128_010_import_keys';

/**
 * Migrations in order. Listed explicitly (rather than read from the folder) so they run the same
 * under tsx, jest and compiled output.
 */
export const migrations: Record<string, Knex.Migration> = {
  '20261128_001_core': core,
  '20261128_002_messages': messages,
  '20261128_003_vaccination': vaccination,
  '20261128_004_lockout': lockout,
  '20261128_005_outbox_sweep': outboxSweep,
  '20261128_006_session_times': sessionTimes,
  '20261128_007_channels': channels,
  '20261128_008_retention': retention,
  '20261128_009_session_active': sessionActive,
  '20261128_010_import_keys': importKeys,
};
