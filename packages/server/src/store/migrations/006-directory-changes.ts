import type { Kysely, Migration } from 'kysely';

/**
 * The directory change log: which entities each directory version changed, so a node evicts only those cache
 * entries instead of dropping its whole cache on every write.
 */
export const directoryChangesMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('directory_changes')
      .addColumn('version', 'bigint', (c) => c.notNull())
      .addColumn('entity_type', 'text', (c) => c.notNull())
      .addColumn('entity_id', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('directory_changes_pk', ['version', 'entity_type', 'entity_id'])
      .execute();
  },
};
