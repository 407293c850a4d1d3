import type { Kysely, Migration } from 'kysely';

/**
 * Server-side interaction steps (which page the browser was shown and which answers it may post) and the
 * sign-in throttle's counters (failed or in-flight password attempts per account name and per client IP).
 */
export const signInInteractionsMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('interaction_steps')
      .addColumn('handle_hash', 'text', (c) => c.primaryKey())
      .addColumn('tenant', 'text', (c) => c.notNull())
      .addColumn('step', 'text', (c) => c.notNull())
      .addColumn('actions', 'text', (c) => c.notNull())
      .addColumn('choices', 'text', (c) => c.notNull())
      .addColumn('session_id', 'text')
      .addColumn('session_fresh', 'integer', (c) => c.notNull())
      .addColumn('organization_consent', 'integer', (c) => c.notNull())
      .addColumn('params', 'text', (c) => c.notNull())
      .addColumn('csrf_hash', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('interaction_steps_expiry')
      .on('interaction_steps')
      .column('expires_at')
      .execute();

    await db.schema
      .createTable('sign_in_attempts')
      .addColumn('key_hash', 'text', (c) => c.primaryKey())
      .addColumn('attempts', 'integer', (c) => c.notNull())
      .addColumn('window_started_ms', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('sign_in_attempts_window')
      .on('sign_in_attempts')
      .column('window_started_ms')
      .execute();
  },
};
