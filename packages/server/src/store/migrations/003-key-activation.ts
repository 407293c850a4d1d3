import type { Kysely, Migration } from 'kysely';

/**
 * Pre-published signing keys: `activates_at` is when a key rotated in as *next* starts signing (null: at
 * `created_at`, the behaviour of every key before this migration and of `keys rotate --now`).
 */
export const keyActivationMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.alterTable('signing_keys').addColumn('activates_at', 'bigint').execute();
  },
};
