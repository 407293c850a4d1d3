import type { Kysely, Selectable, Transaction } from 'kysely';
import type { ServicePrincipal } from '../../directory/model.js';
import type { Database, ServicePrincipalTable } from '../schema.js';
import { recordChange } from './directory-changes.js';
import { listByTenant, type Page, type PageRequest } from './paging.js';

/** Service principals (`service_principals`): an application's instance in a tenant. */
export class ServicePrincipalRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** Stores a service principal; `createdAt` in Unix seconds. */
  async insert(trx: Transaction<Database>, sp: ServicePrincipal, createdAt: number): Promise<void> {
    await trx
      .insertInto('service_principals')
      .values({
        id: sp.id,
        app_id: sp.appId,
        tenant_id: sp.tenantId,
        display_name: sp.displayName,
        app_owner_tenant_id: sp.appOwnerOrganizationId,
        account_enabled: sp.accountEnabled ? 1 : 0,
        created_at: createdAt,
      })
      .execute();
    await recordChange(trx, 'servicePrincipal', sp.id);
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
