import type { Kysely, Transaction } from 'kysely';
import type { Tenant } from '../../directory/model.js';
import type { Database } from '../schema.js';
import { recordChange } from './directory-changes.js';
import { pageSize, toPage, type Page, type PageRequest } from './paging.js';

/** Tenants (`tenants`) and their verified domains (`tenant_domains`). */
export class TenantRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** Stores a tenant with its domains (the first is the default); `createdAt` in Unix seconds. */
  async insert(trx: Transaction<Database>, tenant: Tenant, createdAt: number): Promise<void> {
    await trx
      .insertInto('tenants')
      .values({ id: tenant.id, display_name: tenant.displayName, created_at: createdAt })
      .execute();
    if (tenant.domains.length > 0) {
      await trx
        .insertInto('tenant_domains')
        .values(
          tenant.domains.map((domain, index) => ({
            domain: domain.toLowerCase(),
            tenant_id: tenant.id,
            is_default: index === 0 ? 1 : 0,
          })),
        )
        .execute();
    }
    await recordChange(trx, 'tenant', tenant.id);
  }

  /** Finds a tenant by id (GUID, lower-case) or by one of its domains (case-insensitive). */
  async find(idOrDomain: string): Promise<Tenant | undefined> {
    const key = idOrDomain.toLowerCase();
    const byId = await this.db.selectFrom('tenants').selectAll().where('id', '=', key).executeTakeFirst();
    const row =
      byId ??
      (await this.db
        .selectFrom('tenant_domains')
        .innerJoin('tenants', 'tenants.id', 'tenant_domains.tenant_id')
        .selectAll('tenants')
        .where('tenant_domains.domain', '=', key)
        .executeTakeFirst());
    if (row === undefined) return undefined;
    return { id: row.id, displayName: row.display_name, domains: await this.domainsOf(row.id) };
  }

  /** Every tenant id, oldest first. */
  async listIds(): Promise<string[]> {
    const rows = await this.db.selectFrom('tenants').select('id').orderBy('created_at').execute();
    return rows.map((row) => row.id);
  }

  /**
   * One page of tenants, by id.
   *
   * @throws RangeError for a `top` out of range.
   */
  async list(request: PageRequest = {}): Promise<Page<Tenant>> {
    const size = pageSize(request);
    let query = this.db
      .selectFrom('tenants')
      .selectAll()
      .orderBy('id')
      .limit(size + 1);
    if (request.after !== undefined) query = query.where('id', '>', request.after);
    const rows = await query.execute();
    const tenants = await Promise.all(
      rows.map(async (row) => ({
        id: row.id,
        displayName: row.display_name,
        domains: await this.domainsOf(row.id),
      })),
    );
    return toPage(tenants, size, (tenant) => tenant.id);
  }

  /** True when some tenant verified this domain (case-insensitive). */
  async isDomainTaken(domain: string): Promise<boolean> {
    const row = await this.db
      .selectFrom('tenant_domains')
      .select('domain')
      .where('domain', '=', domain.toLowerCase())
      .executeTakeFirst();
    return row !== undefined;
  }

  private async domainsOf(tenantId: string): Promise<string[]> {
    const domains = await this.db
      .selectFrom('tenant_domains')
      .select('domain')
      .where('tenant_id', '=', tenantId)
      .orderBy('is_default', 'desc')
      .orderBy('domain')
      .execute();
    return domains.map((d) => d.domain);
  }
}
