import type { Kysely, Selectable, Transaction } from 'kysely';
import type { AppRoleAssignment } from '../../directory/model.js';
import type { AppRoleAssignmentTable, Database } from '../schema.js';
import { recordChange } from './directory-changes.js';
import { listByTenant, listWhere, type Page, type PageRequest } from './paging.js';

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

  /** An assignment by id (case-insensitive). */
  async findById(id: string): Promise<AppRoleAssignment | undefined> {
    const row = await this.db
      .selectFrom('app_role_assignments')
      .selectAll()
      .where('id', '=', id.toLowerCase())
      .executeTakeFirst();
    return row === undefined ? undefined : fromRow(row);
  }

  /** Deletes one assignment; `false` when there is no such one. */
  async delete(trx: Transaction<Database>, assignment: AppRoleAssignment): Promise<boolean> {
    const result = await trx
      .deleteFrom('app_role_assignments')
      .where('id', '=', assignment.id)
      .executeTakeFirst();
    const deleted = Number(result.numDeletedRows) === 1;
    if (deleted) await recordChange(trx, 'appRoleAssignment', assignment.principalId);
    return deleted;
  }

  /**
   * Deletes every assignment held by the principal `objectId` or granted on the resource service principal
   * `objectId` (a user or service principal being deleted), recording a change for each principal affected.
   *
   * @returns how many were deleted.
   */
  async deleteInvolving(trx: Transaction<Database>, objectId: string): Promise<number> {
    const rows = await trx
      .selectFrom('app_role_assignments')
      .select('principal_id')
      .where((eb) => eb.or([eb('principal_id', '=', objectId), eb('resource_id', '=', objectId)]))
      .execute();
    if (rows.length === 0) return 0;
    await trx
      .deleteFrom('app_role_assignments')
      .where((eb) => eb.or([eb('principal_id', '=', objectId), eb('resource_id', '=', objectId)]))
      .execute();
    for (const principal of new Set(rows.map((row) => row.principal_id))) {
      await recordChange(trx, 'appRoleAssignment', principal);
    }
    return rows.length;
  }

  /**
   * One page of the assignments held by a principal (Graph `…/appRoleAssignments`), by id.
   *
   * @throws RangeError for a `top` out of range.
   */
  async listByPrincipal(
    request: PageRequest & { readonly tenantId: string; readonly principalId: string },
  ): Promise<Page<AppRoleAssignment>> {
    return listWhere(
      this.db,
      'app_role_assignments',
      { tenant_id: request.tenantId, principal_id: request.principalId },
      request,
      fromRow,
    );
  }

  /**
   * One page of the assignments granted on a resource service principal (Graph `…/appRoleAssignedTo`), by id.
   *
   * @throws RangeError for a `top` out of range.
   */
  async listByResource(
    request: PageRequest & { readonly tenantId: string; readonly resourceId: string },
  ): Promise<Page<AppRoleAssignment>> {
    return listWhere(
      this.db,
      'app_role_assignments',
      { tenant_id: request.tenantId, resource_id: request.resourceId },
      request,
      fromRow,
    );
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
