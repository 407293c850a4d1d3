import type { Kysely, Selectable, Transaction } from 'kysely';
import type { AppRoleAssignment } from '../../directory/model.js';
import type { AppRoleAssignmentTable, Database } from '../schema.js';
import { recordChange } from './directory-changes.js';
import { listByTenant, type Page, type PageRequest } from './paging.js';

/**
 * App role assignments (`app_role_assignments`) to service principals and users. A write records an
 * `appRoleAssignment` change under the principal's id (the principal's `appRoleAssignments` changed).
 */
export class AppRoleAssignmentRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** Stores an assignment; an identical one (principal, resource, role) already stored is left as it is. */
  async insert(trx: Transaction<Database>, assignment: AppRoleAssignment): Promise<void> {
    await trx
      .insertInto('app_role_assignments')
      .values({
        id: assignment.id,
        tenant_id: assignment.tenantId,
        principal_id: assignment.principalId,
        principal_type: assignment.principalType,
        resource_id: assignment.resourceId,
        app_role_id: assignment.appRoleId,
        created_at: assignment.createdAt,
      })
      .onConflict((oc) => oc.columns(['principal_id', 'resource_id', 'app_role_id']).doNothing())
      .execute();
    await recordChange(trx, 'appRoleAssignment', assignment.principalId);
  }

  /** The assignment of one app role to a principal on a resource, if granted. */
  async find(
    principalId: string,
    resourceId: string,
    appRoleId: string,
  ): Promise<AppRoleAssignment | undefined> {
    const row = await this.db
      .selectFrom('app_role_assignments')
      .selectAll()
      .where('principal_id', '=', principalId)
      .where('resource_id', '=', resourceId)
      .where('app_role_id', '=', appRoleId)
      .executeTakeFirst();
    return row === undefined ? undefined : fromRow(row);
  }

  /** App role ids granted to `principalId` on the resource service principal `resourceId`, oldest first. */
  async listAppRoleIds(principalId: string, resourceId: string): Promise<string[]> {
    const rows = await this.db
      .selectFrom('app_role_assignments')
      .select('app_role_id')
      .where('principal_id', '=', principalId)
      .where('resource_id', '=', resourceId)
      .orderBy('created_at')
      .orderBy('app_role_id')
      .execute();
    return rows.map((row) => row.app_role_id);
  }

  /**
   * One page of the assignments in a tenant, by id.
   *
   * @throws RangeError for a `top` out of range.
   */
  async list(request: PageRequest & { readonly tenantId: string }): Promise<Page<AppRoleAssignment>> {
    return listByTenant(this.db, 'app_role_assignments', request, fromRow);
  }
}

function fromRow(row: Selectable<AppRoleAssignmentTable>): AppRoleAssignment {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    principalId: row.principal_id,
    principalType: row.principal_type,
    resourceId: row.resource_id,
    appRoleId: row.app_role_id,
    createdAt: row.created_at,
  };
}
