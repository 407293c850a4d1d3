import { sql, type Kysely, type Migration } from 'kysely';

/**
 * Revoked grants and access tokens: one row per revoked grant (`g:{grant id}`, the refresh token family id access
 * tokens carry as `grant_id`) or access token (`u:{uti}`), numbered by `revocation_state.version` so every node
 * can read the rows it has not seen yet with one indexed query per poll.
 */
export const tokenRevocationsMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('token_revocations')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('version', 'bigint', (c) => c.notNull())
      .addColumn('revoked_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('token_revocations_version')
      .on('token_revocations')
      .column('version')
      .execute();
    await db.schema
      .createTable('revocation_state')
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .addColumn('version', 'bigint', (c) => c.notNull())
      .execute();
    await sql`insert into revocation_state (id, version) values (1, 0)`.execute(db);
  },
};
