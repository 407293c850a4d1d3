import { sql, type Kysely, type Migration } from 'kysely';

/**
 * Indexes for the management API's collection queries (`collection-queries.ts`): each page is a keyset read of one
 * tenant's rows in sort order, so every sort order has an index that starts with `tenant_id` and ends with `id`
 * (the tie-break of the cursor). Display names sort and compare lower-cased, so those indexes are on
 * `lower(display_name)`, the expression the queries use. The same statements on SQLite and PostgreSQL; no column
 * is added, so nothing is backfilled.
 *
 * @see https://learn.microsoft.com/graph/paging
 */
const INDEXES: readonly (readonly [name: string, table: string, columns: string])[] = [
  ['users_tenant_id', 'users', 'tenant_id, id'],
  ['users_tenant_display_name', 'users', 'tenant_id, lower(display_name), id'],
  ['users_tenant_upn', 'users', 'tenant_id, upn_lower, id'],
  ['applications_tenant_id', 'applications', 'tenant_id, id'],
  ['applications_tenant_display_name', 'applications', 'tenant_id, lower(display_name), id'],
  ['service_principals_tenant_id', 'service_principals', 'tenant_id, id'],
  ['service_principals_tenant_display_name', 'service_principals', 'tenant_id, lower(display_name), id'],
];

export const collectionIndexesMigration: Migration = {
  async up(db: Kysely<unknown>) {
    for (const [name, table, columns] of INDEXES) {
      await sql`create index ${sql.id(name)} on ${sql.table(table)} (${sql.raw(columns)})`.execute(db);
    }
  },
};
