import type { Kysely, Migration } from 'kysely';

/**
 * Owners of applications (Graph `application.owners`): users of the application's home tenant. A row goes with
 * its application or its user (foreign keys with `ON DELETE CASCADE`; SQLite runs with `foreign_keys = ON`).
 *
 * @see https://learn.microsoft.com/graph/api/application-post-owners
 */
export const applicationOwnersMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('application_owners')
      .addColumn('application_id', 'text', (c) =>
        c.notNull().references('applications.id').onDelete('cascade'),
      )
      .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('application_owners_pk', ['application_id', 'user_id'])
      .execute();
    await db.schema
      .createIndex('application_owners_user')
      .on('application_owners')
      .column('user_id')
      .execute();
  },
};
