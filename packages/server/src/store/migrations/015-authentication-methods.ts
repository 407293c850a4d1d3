import type { Kysely, Migration } from 'kysely';

/**
 * Users' authentication methods beyond the password: software OATH (TOTP, RFC 6238) authenticators, one per user,
 * each with its secret encrypted at rest (AES-256-GCM under a key derived from the master key) and the replay
 * guard of its codes (`last_time_step`: the last accepted RFC 6238 time step, only ever raised by a conditional
 * UPDATE). Deleting the user deletes the method.
 *
 * Also the authentication context ids (`acrs`) an authorization code and a refresh token family were issued with,
 * so every token of the grant reports them: nullable JSON text (null on rows from before, read as none).
 *
 * @see https://learn.microsoft.com/graph/api/resources/softwareoathauthenticationmethod
 */
export const authenticationMethodsMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('software_oath_methods')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
      .addColumn('user_id', 'text', (c) => c.notNull().unique().references('users.id').onDelete('cascade'))
      .addColumn('secret_encrypted', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('last_used_at', 'bigint')
      .addColumn('last_time_step', 'bigint', (c) => c.notNull().defaultTo(0))
      .execute();
    await db.schema.alterTable('authorization_codes').addColumn('acrs', 'text').execute();
    await db.schema.alterTable('refresh_tokens').addColumn('acrs', 'text').execute();
  },
};
