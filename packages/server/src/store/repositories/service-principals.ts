import type { Insertable, Kysely, Selectable, Transaction } from 'kysely';
import type { ServicePrincipal } from '../../directory/model.js';
import type { Database, ServicePrincipalTable } from '../schema.js';
import { recordChange } from './directory-changes.js';
import { listByTenant, type Page, type PageRequest } from './paging.js';

/** Service principals (`service_principals`): an application's instance in a tenant. */
export class ServicePrincipalRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** Stores a service principal; `createdAt` in Unix seconds. */
  async insert(trx: Transaction<Database>, sp: ServicePrincipal, createdAt: number): Promise<void> {
    await trx.insertInto('service_principals').values(rowOf(sp, createdAt)).execute();
    await recordChange(trx, 'servicePrincipal', sp.id);
  }

  /**
   * Stores a service principal unless its app already has one in the tenant (another consent created it
   * meanwhile); `createdAt` in Unix seconds. One atomic upsert on the (tenant, app) unique key, so concurrent
   * callers never fail with a unique violation.
   *
   * @returns the service principal stored for the app in the tenant: `sp`, or the one another writer stored.
   */
  async insertIfAbsent(
    trx: Transaction<Database>,
    sp: ServicePrincipal,
    createdAt: number,
  ): Promise<ServicePrincipal> {
    const row = await trx
      .insertInto('service_principals')
      .values(rowOf(sp, createdAt))
      .onConflict((conflict) =>
        conflict
          .columns(['tenant_id', 'app_id'])
          // A no-op update, so the stored row is returned (and locked until commit).
          .doUpdateSet((eb) => ({ app_id: eb.ref('service_principals.app_id') })),
      )
      .returningAll()
      .executeTakeFirstOrThrow();
    const stored = fromRow(row);
    if (stored.id === sp.id) await recordChange(trx, 'servicePrincipal', sp.id);
    return stored;
  }

  /** The service principal of `appId` (case-insensitive) in `tenantId`, if the app is present there. */
  async find(tenantId: string, appId: string): Promise<ServicePrincipal | undefined> {
    const row = await this.db
      .selectFrom('service_principals')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('app_id', '=', appId.toLowerCase())
      .executeTakeFirst();
    return row === undefined ? undefined : fromRow(row);
  }

  /** A service principal by object id (case-insensitive). */
  async findById(id: string): Promise<ServicePrincipal | undefined> {
    const row = await this.db
      .selectFrom('service_principals')
      .selectAll()
      .where('id', '=', id.toLowerCase())
      .executeTakeFirst();
    return row === undefined ? undefined : fromRow(row);
  }

  /** The service principals of `appId` (case-insensitive) in every tenant it is present in. */
  async listByAppId(appId: string): Promise<ServicePrincipal[]> {
    const rows = await this.db
      .selectFrom('service_principals')
      .selectAll()
      .where('app_id', '=', appId.toLowerCase())
      .orderBy('id')
      .execute();
    return rows.map(fromRow);
  }

  /** Enables or disables a service principal (Graph `accountEnabled`); `false` when there is no such one. */
  async setAccountEnabled(trx: Transaction<Database>, id: string, enabled: boolean): Promise<boolean> {
    const result = await trx
      .updateTable('service_principals')
      .set({ account_enabled: enabled ? 1 : 0 })
      .where('id', '=', id)
      .executeTakeFirst();
    const updated = Number(result.numUpdatedRows) === 1;
    if (updated) await recordChange(trx, 'servicePrincipal', id);
    return updated;
  }

  /**
   * Deletes a service principal (not its assignments and grants: see those repositories); `false` when there is
   * no such one.
   */
  async delete(trx: Transaction<Database>, id: string): Promise<boolean> {
    const result = await trx.deleteFrom('service_principals').where('id', '=', id).executeTakeFirst();
    const deleted = Number(result.numDeletedRows) === 1;
    if (deleted) await recordChange(trx, 'servicePrincipal', id);
    return deleted;
  }

  /**
   * One page of the service principals in a tenant, by object id.
   *
   * @throws RangeError for a `top` out of range.
   */
  async list(request: PageRequest & { readonly tenantId: string }): Promise<Page<ServicePrincipal>> {
    return listByTenant(this.db, 'service_principals', request, fromRow);
  }
}

function fromRow(row: Selectable<ServicePrincipalTable>): ServicePrincipal {
  return {
    id: row.id,
    appId: row.app_id,
    tenantId: row.tenant_id,
    displayName: row.display_name,
    appOwnerOrganizationId: row.app_owner_tenant_id,
    accountEnabled: row.account_enabled === 1,
  };
}

/** The directory's service principal of a `service_principals` row (for the management API's list queries). */
export const servicePrincipalFromRow = fromRow;

/** The row that stores `sp`; `createdAt` in Unix seconds. */
function rowOf(sp: ServicePrincipal, createdAt: number): Insertable<ServicePrincipalTable> {
  return {
    id: sp.id,
    app_id: sp.appId,
    tenant_id: sp.tenantId,
    display_name: sp.displayName,
    app_owner_tenant_id: sp.appOwnerOrganizationId,
    account_enabled: sp.accountEnabled ? 1 : 0,
    created_at: createdAt,
  };
}
