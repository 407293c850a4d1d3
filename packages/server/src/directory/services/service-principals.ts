import type { DirectoryStore } from '../../store/directory-store.js';
import { DIRECTORY_APP_ID } from '../builtin-directory-app.js';
import { DirectoryError, writeOrConflict } from '../errors.js';
import type { ServicePrincipal } from '../model.js';
import { servicePrincipalFor } from '../service-principals.js';
import { deleteServicePrincipalRows, type ApplicationService } from './applications.js';
import { tenantPage, type Page, type TenantPageRequest } from './paging.js';
import type { TenantService } from './tenants.js';

/**
 * Service principals (Graph `servicePrincipal`): an application's instance in a tenant, the `oid` of its app-only
 * tokens and the principal of its app role assignments and delegated grants.
 */
export class ServicePrincipalService {
  constructor(
    private readonly store: DirectoryStore,
    private readonly nowSeconds: () => number,
    private readonly tenants: TenantService,
    private readonly applications: ApplicationService,
  ) {}

  /**
   * Creates the service principal of `appId` in a tenant (Graph `POST /servicePrincipals` with `appId`): for an
   * application registered in that tenant, or a multi-tenant one (`signInAudience` other than `AzureADMyOrg`)
   * registered elsewhere. `options.accountEnabled` false creates it disabled, in the same write.
   *
   * @throws DirectoryError `not_found` (tenant, application), `invalid` (a single-tenant application of another
   *   tenant), `conflict` (the application already has a service principal there).
   * @see https://learn.microsoft.com/graph/api/serviceprincipal-post-serviceprincipals
   */
  async create(
    tenant: string,
    appId: string,
    options: { readonly accountEnabled?: boolean } = {},
  ): Promise<ServicePrincipal> {
    const home = await this.tenants.require(tenant);
    const app = await this.applications.require(appId);
    if (app.tenantId !== home.id && app.signInAudience === 'AzureADMyOrg') {
      throw new DirectoryError(
        'invalid',
        `The application '${app.appId}' is single-tenant: it can have a service principal only in its home tenant.`,
      );
    }
    const conflict = `The application '${app.appId}' already has a service principal in tenant '${home.id}'.`;
    if ((await this.store.servicePrincipals.find(home.id, app.appId)) !== undefined) {
      throw new DirectoryError('conflict', conflict);
    }
    const sp = { ...servicePrincipalFor(app, home.id), accountEnabled: options.accountEnabled ?? true };
    await writeOrConflict(this.store, conflict, (trx) =>
      this.store.servicePrincipals.insert(trx, sp, this.nowSeconds()),
    );
    return sp;
  }

  /**
   * A service principal of a tenant by object id (`{ id }`) or `appId` (`{ appId }`, Graph's
   * `servicePrincipals(appId='…')`).
   *
   * @throws DirectoryError `not_found` (tenant, or no such service principal in it).
   */
  async get(
    tenant: string,
    ref: { readonly id: string } | { readonly appId: string },
  ): Promise<ServicePrincipal> {
    const home = await this.tenants.require(tenant);
    const sp =
      'id' in ref
        ? await this.store.servicePrincipals.findById(ref.id)
        : await this.store.servicePrincipals.find(home.id, ref.appId);
    if (sp?.tenantId !== home.id) {
      const named = 'id' in ref ? ref.id : ref.appId;
      throw new DirectoryError('not_found', `Service principal '${named}' not found in tenant '${home.id}'.`);
    }
    return sp;
  }

  /**
   * Enables or disables a service principal (Graph `accountEnabled`): a disabled one gets no token as a client,
   * and no token is issued for it as a resource, on every node.
   *
   * @returns the service principal as stored after the change.
   * @throws DirectoryError `not_found` (tenant, or no such service principal in it), `denied` for the built-in
   *   directory API's service principal.
   * @see https://learn.microsoft.com/graph/api/serviceprincipal-update
   */
  async update(
    tenant: string,
    id: string,
    change: { readonly accountEnabled?: boolean },
  ): Promise<ServicePrincipal> {
    const sp = await this.changeable(tenant, id);
    if (change.accountEnabled === undefined || change.accountEnabled === sp.accountEnabled) return sp;
    const enabled = change.accountEnabled;
    const updated = await this.store.write((trx) =>
      this.store.servicePrincipals.setAccountEnabled(trx, sp.id, enabled),
    );
    if (!updated) throw new DirectoryError('not_found', `Service principal '${id}' not found.`);
    return { ...sp, accountEnabled: enabled };
  }

  /**
   * Deletes a service principal with the app role assignments and delegated grants it holds or is the resource
   * of, in one write. The application stays registered; it gets no token in that tenant until a service
   * principal is created again.
   *
   * @throws DirectoryError `not_found` (tenant, or no such service principal in it), `denied` for the built-in
   *   directory API's service principal.
   * @see https://learn.microsoft.com/graph/api/serviceprincipal-delete
   */
  async delete(tenant: string, id: string): Promise<void> {
    const sp = await this.changeable(tenant, id);
    const deleted = await this.store.write((trx) => deleteServicePrincipalRows(this.store, trx, sp.id));
    if (!deleted) throw new DirectoryError('not_found', `Service principal '${id}' not found.`);
  }

  /**
   * One page of the service principals in a tenant (the applications present there), by object id.
   *
   * @throws DirectoryError `not_found` for an unknown tenant, `invalid` for a `top` out of range.
   */
  list(request: TenantPageRequest): Promise<Page<ServicePrincipal>> {
    return tenantPage(this.tenants, request, (page) => this.store.servicePrincipals.list(page));
  }

  /**
   * A service principal of a tenant that may be changed: any but the built-in directory API's.
   *
   * @throws DirectoryError `not_found`, `denied`.
   */
  private async changeable(tenant: string, id: string): Promise<ServicePrincipal> {
    const sp = await this.get(tenant, { id });
    if (sp.appId === DIRECTORY_APP_ID) {
      throw new DirectoryError('denied', "The built-in directory API's service principal cannot be changed.");
    }
    return sp;
  }
}
