import type { Kysely, Migration } from 'kysely';

/**
 * Conditional access policies (Graph `conditionalAccessPolicy`), one row per policy of a tenant: its name and
 * state as columns, its conditions and grant controls as JSON (read whole, never queried by their contents).
 * The token endpoint reads a tenant's policies through the directory cache, so the index is by tenant.
 */
export const conditionalAccessPoliciesMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('conditional_access_policies')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
      .addColumn('display_name', 'text', (c) => c.notNull())
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('conditions', 'text', (c) => c.notNull())
      .addColumn('grant_controls', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('modified_at', 'bigint')
      .execute();
    await db.schema
      .createIndex('conditional_access_policies_tenant')
      .on('conditional_access_policies')
      .columns(['tenant_id', 'id'])
      .execute();
  },
};
