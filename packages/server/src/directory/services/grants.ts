import { randomUUID } from 'node:crypto';
import type { DirectoryStore } from '../../store/directory-store.js';
import { DirectoryError } from '../errors.js';
import type {
  AppRole,
  AppRoleAssignment,
  Application,
  OAuth2PermissionGrant,
  ServicePrincipal,
} from '../model.js';
import { resolveResourceAppId, servicePrincipalFor } from '../service-principals.js';
import type { ApplicationService } from './applications.js';
import type { TenantService } from './tenants.js';
import { tenantPage, type Page, type TenantPageRequest } from './paging.js';

/** One item of {@link GrantService.recordConsent}: a client's consent to scopes of one resource. */
export interface ConsentItem {
  readonly clientAppId: string;
  readonly resourceAppId: string;
  /** Delegated scope values. */
  readonly scopes: readonly string[];
}

/**
 * What principals may do with resources: app role assignments (Graph `appRoleAssignment`) to service principals
 * (application permissions) and to users, and delegated consent (Graph `oauth2PermissionGrant`), creating the
 * service principals a multi-tenant client or resource needs in the consenting tenant.
 */
export class GrantService {
  constructor(
    private readonly store: DirectoryStore,
    private readonly nowSeconds: () => number,
    private readonly tenants: TenantService,
    private readonly applications: ApplicationService,
  ) {}

  /**
   * Grants an application permission (an app role of the resource) to the client's service principal in a tenant,
   * as a tenant administrator's consent does. Granting it again returns the existing assignment.
   *
   * @param resource the resource's `appId` or App ID URI.
   * @throws DirectoryError `not_found` (tenant, app, service principal, role) or `invalid` (role not for apps).
   */
  async grantAppRole(input: {
    tenant: string;
    clientAppId: string;
    resource: string;
    role: string;
  }): Promise<AppRoleAssignment> {
    const tenant = await this.tenants.require(input.tenant);
    const { resource, appRole } = await this.assignableAppRole(input.resource, input.role, 'Application');
    const clientSp = await this.store.servicePrincipals.find(tenant.id, input.clientAppId);
    const resourceSp = await this.store.servicePrincipals.find(tenant.id, resource.appId);
    if (clientSp === undefined || resourceSp === undefined) {
      throw new DirectoryError(
        'not_found',
        `Both the client and the resource need a service principal in tenant '${tenant.id}'.`,
      );
    }
    return this.assign(tenant.id, { id: clientSp.id, type: 'ServicePrincipal' }, resourceSp, appRole);
  }

  /**
   * Assigns an app role of a resource to a user (Graph `appRoleAssignment` with the user as principal), as an
   * administrator does under Enterprise applications › Users and groups. The user's delegated tokens for that
   * resource then carry the role's value in `roles`. Assigning it again returns the existing assignment.
   *
   * @param resource the resource's `appId` or App ID URI.
   * @throws DirectoryError `not_found` (tenant, user in that tenant, resource, its service principal, role) or
   *   `invalid` (the role does not allow member type `User`).
   */
  async assignAppRoleToUser(input: {
    tenant: string;
    userPrincipalName: string;
    resource: string;
    role: string;
  }): Promise<AppRoleAssignment> {
    const tenant = await this.tenants.require(input.tenant);
    const user = await this.store.users.findByUpn(input.userPrincipalName);
    if (user?.tenantId !== tenant.id) {
      throw new DirectoryError(
        'not_found',
        `User '${input.userPrincipalName}' not found in tenant '${tenant.id}'.`,
      );
    }
    const { resource, appRole } = await this.assignableAppRole(input.resource, input.role, 'User');
    const resourceSp = await this.store.servicePrincipals.find(tenant.id, resource.appId);
    if (resourceSp === undefined) {
      throw new DirectoryError(
        'not_found',
        `The resource needs a service principal in tenant '${tenant.id}'.`,
      );
    }
    return this.assign(tenant.id, { id: user.id, type: 'User' }, resourceSp, appRole);
  }

  /**
   * Records delegated consent (Graph `oauth2PermissionGrant`s) given at sign-in, in one write: for each item a
   * grant of the client on the resource, `Principal` for the user or `AllPrincipals` when an administrator
   * consented for the organization; scopes are merged into an existing grant (incremental consent). A
   * multi-tenant client or resource without a service principal in the user's tenant gets one.
   *
   * @throws DirectoryError `not_found` for an unknown application.
   */
  async recordConsent(input: {
    tenantId: string;
    userId: string;
    forOrganization: boolean;
    items: readonly ConsentItem[];
  }): Promise<void> {
    const now = this.nowSeconds();
    const apps = new Map<string, Application>();
    for (const item of input.items) {
      for (const appId of [item.clientAppId, item.resourceAppId]) {
        if (!apps.has(appId)) apps.set(appId, await this.applications.require(appId));
      }
    }
    // Looked up before the write: on SQLite a read outside the open transaction would wait for it forever.
    const spIds = new Map<string, string>();
    const missing: ServicePrincipal[] = [];
    for (const [appId, app] of apps) {
      const existing = await this.store.servicePrincipals.find(input.tenantId, appId);
      const sp = existing ?? servicePrincipalFor(app, input.tenantId);
      if (existing === undefined) missing.push(sp);
      spIds.set(appId, sp.id);
    }
    await this.store.write(async (trx) => {
      for (const sp of missing) await this.store.servicePrincipals.insert(trx, sp, now);
      for (const item of input.items) {
        await this.store.permissionGrants.merge(
          trx,
          {
            id: randomUUID(),
            tenantId: input.tenantId,
            clientId: spIds.get(item.clientAppId) ?? '',
            consentType: input.forOrganization ? 'AllPrincipals' : 'Principal',
            principalId: input.forOrganization ? null : input.userId,
            resourceId: spIds.get(item.resourceAppId) ?? '',
            scopes: item.scopes,
          },
          now,
        );
      }
    });
  }

  /** Stores the assignment of `appRole` on `resourceSp` to a principal, or answers the one already stored. */
  private async assign(
    tenantId: string,
    principal: { readonly id: string; readonly type: AppRoleAssignment['principalType'] },
    resourceSp: ServicePrincipal,
    appRole: AppRole,
  ): Promise<AppRoleAssignment> {
    const existing = await this.store.appRoleAssignments.find(principal.id, resourceSp.id, appRole.id);
    if (existing !== undefined) return existing;
    const assignment: AppRoleAssignment = {
      id: randomUUID(),
      tenantId,
      principalId: principal.id,
      principalType: principal.type,
      resourceId: resourceSp.id,
      appRoleId: appRole.id,
      createdAt: this.nowSeconds(),
    };
    await this.store.write((trx) => this.store.appRoleAssignments.insert(trx, assignment));
    // A concurrent identical assignment may have won the insert; answer with the stored one either way.
    return (await this.store.appRoleAssignments.find(principal.id, resourceSp.id, appRole.id)) ?? assignment;
  }

  /**
   * The resource application (by `appId` or App ID URI) and its enabled app role `role` that may be assigned to
   * `memberType` principals.
   *
   * @throws DirectoryError `not_found` (resource, role) or `invalid` (the role does not allow `memberType`).
   */
  private async assignableAppRole(
    resourceName: string,
    role: string,
    memberType: 'Application' | 'User',
  ): Promise<{ resource: Application; appRole: AppRole }> {
    const resourceAppId = await resolveResourceAppId(this.store, resourceName);
    if (resourceAppId === undefined)
      throw new DirectoryError('not_found', `Resource '${resourceName}' not found.`);
    const resource = await this.applications.require(resourceAppId);
    const appRole = resource.appRoles.find((r) => r.value === role && r.isEnabled);
    if (appRole === undefined) {
      throw new DirectoryError(
        'not_found',
        `The resource '${resource.displayName}' has no app role '${role}'.`,
      );
    }
    if (!appRole.allowedMemberTypes.includes(memberType)) {
      const to = memberType === 'Application' ? 'granted to applications' : 'assigned to users';
      throw new DirectoryError('invalid', `The app role '${role}' cannot be ${to}.`);
    }
    return { resource, appRole };
  }

  /**
   * One page of the app role assignments in a tenant, by id.
   *
   * @throws DirectoryError `not_found` for an unknown tenant, `invalid` for a `top` out of range.
   */
  listAppRoleAssignments(request: TenantPageRequest): Promise<Page<AppRoleAssignment>> {
    return tenantPage(this.tenants, request, (page) => this.store.appRoleAssignments.list(page));
  }

  /**
   * One page of the delegated permission grants in a tenant, by id.
   *
   * @throws DirectoryError `not_found` for an unknown tenant, `invalid` for a `top` out of range.
   */
  listPermissionGrants(request: TenantPageRequest): Promise<Page<OAuth2PermissionGrant>> {
    return tenantPage(this.tenants, request, (page) => this.store.permissionGrants.list(page));
  }
}
