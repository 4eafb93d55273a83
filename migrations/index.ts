import type { Knex } from 'knex';
import * as core from './20261128_001_core';
import * as messages from './20261128_002_messages';

/**
 * Migrations in order. Listed explicitly (rather than read from the folder) so they run the same
 * under tsx, jest and compiled output.
 */
export const migrations: Record<string, Knex.Migration> = {
  '20261128_001_core': core,
  '20261128_002_messages': messages,
};
