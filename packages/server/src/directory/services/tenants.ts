import { randomUUID } from 'node:crypto';
import type { DirectoryStore } from '../../store/directory-store.js';
import { builtinDirectoryApplication } from '../builtin-directory-app.js';
import { DirectoryError, writeOrConflict } from '../errors.js';
import { DOMAIN_PATTERN } from '../identifiers.js';
import type { Tenant } from '../model.js';
import { servicePrincipalFor } from '../service-principals.js';
import { checkedPage, type Page, type PageRequest } from './paging.js';

/** Tenants (Graph `organization`) and their verified domains. */
export class TenantService {
  constructor(
    private readonly store: DirectoryStore,
    private readonly nowSeconds: () => number,
  ) {}

  /**
   * Creates a tenant with its verified domains (the first is the default) and the built-in directory API's
   * service principal.
   *
   * @param id default a new GUID.
   * @throws DirectoryError `invalid` for an empty name or a malformed domain, `conflict` when a domain belongs to
   *   another tenant.
   */
  async create(input: { displayName: string; domains: readonly string[]; id?: string }): Promise<Tenant> {
    const domains = input.domains.map((d) => d.trim().toLowerCase());
    if (input.displayName.trim() === '')
      throw new DirectoryError('invalid', 'A tenant needs a display name.');
    for (const domain of domains) {
      if (!DOMAIN_PATTERN.test(domain))
        throw new DirectoryError('invalid', `'${domain}' is not a valid domain name.`);
      if (await this.store.tenants.isDomainTaken(domain)) {
        throw new DirectoryError('conflict', `The domain '${domain}' is already verified by another tenant.`);
      }
    }
    const tenant: Tenant = { id: input.id ?? randomUUID(), displayName: input.displayName.trim(), domains };
    const now = this.nowSeconds();
    const conflict =
      domains.length === 1
        ? `The domain '${domains[0] ?? ''}' is already verified by another tenant.`
        : 'One of the domains is already verified by another tenant.';
    await writeOrConflict(this.store, conflict, async (trx) => {
      await this.store.tenants.insert(trx, tenant, now);
      await this.store.servicePrincipals.insert(
        trx,
        servicePrincipalFor(builtinDirectoryApplication, tenant.id),
        now,
      );
    });
    return tenant;
  }

  /**
   * Resolves a tenant by id or verified domain.
   *
   * @throws DirectoryError `not_found`.
   */
  async require(idOrDomain: string): Promise<Tenant> {
    const tenant = await this.store.tenants.find(idOrDomain);
    if (tenant === undefined) throw new DirectoryError('not_found', `Tenant '${idOrDomain}' not found.`);
    return tenant;
  }

  /**
   * One page of every tenant, by id.
   *
   * @throws DirectoryError `invalid` for a `top` out of range.
   */
  list(request: PageRequest = {}): Promise<Page<Tenant>> {
    return this.store.tenants.list(checkedPage(request));
  }
}
