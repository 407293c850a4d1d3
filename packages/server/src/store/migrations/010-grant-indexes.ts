import type { Kysely, Migration } from 'kysely';

/**
 * Indexes for the management API's lists of app role assignments and delegated permission grants, each keyset-
 * paged by id (`…/appRoleAssignments`, `…/appRoleAssignedTo`, `/oauth2PermissionGrants` with `$filter` on
 * `clientId`, `resourceId`, `principalId`): one `(column, id)` index per list, so a page is an ordered index
 * range on SQLite and PostgreSQL alike. The same indexes serve the deletes of everything involving a user or
 * service principal. Lookups by (principal, resource, role) and (client, resource, consent type, principal) keep
 * the unique constraints of migrations 001 and 002.
 */
export const grantIndexesMigration: Migration = {
  async up(db: Kysely<unknown>) {
    const indexes: readonly (readonly [name: string, table: string, column: string])[] = [
      ['app_role_assignments_tenant_id', 'app_role_assignments', 'tenant_id'],
      ['app_role_assignments_principal_id', 'app_role_assignments', 'principal_id'],
      ['app_role_assignments_resource_id', 'app_role_assignments', 'resource_id'],
      ['oauth2_permission_grants_tenant_id', 'oauth2_permission_grants', 'tenant_id'],
      ['oauth2_permission_grants_client_id', 'oauth2_permission_grants', 'client_id'],
      ['oauth2_permission_grants_resource_id', 'oauth2_permission_grants', 'resource_id'],
      ['oauth2_permission_grants_principal_id', 'oauth2_permission_grants', 'principal_id'],
    ];
    for (const [name, table, column] of indexes) {
      await db.schema.createIndex(name).on(table).columns([column, 'id']).execute();
    }
  },
};
