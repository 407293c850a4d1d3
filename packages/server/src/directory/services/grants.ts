import { randomUUID } from 'node:crypto';
import type { DirectoryStore } from '../../store/directory-store.js';
import { isUniqueViolation } from '../../store/database.js';
import { DirectoryError, writeOrConflict } from '../errors.js';
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

/** An app role assignment with the display names of its principal and resource (Graph `appRoleAssignment`). */
export interface AppRoleAssignmentView extends AppRoleAssignment {
  readonly principalDisplayName: string;
  readonly resourceDisplayName: string;
}

/** Equality conditions on delegated permission grants (Graph `$filter` of `/oauth2PermissionGrants`). */
export interface PermissionGrantFilter {
  readonly clientId?: string;
  readonly consentType?: string;
  readonly principalId?: string;
  readonly resourceId?: string;
}

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
   * multi-tenant client or resource without a service principal in the user's tenant gets one. Service principal
   * and grant are atomic upserts, so the same consent recorded on several nodes at once succeeds on each and the
   * grant holds every scope consented.
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
    const missing: { appId: string; sp: ServicePrincipal }[] = [];
    for (const [appId, app] of apps) {
      const existing = await this.store.servicePrincipals.find(input.tenantId, appId);
      const sp = existing ?? servicePrincipalFor(app, input.tenantId);
      if (existing === undefined) missing.push({ appId, sp });
      spIds.set(appId, sp.id);
    }
    await this.store.write(async (trx) => {
      // A concurrent consent may have created one meanwhile: use the one stored.
      for (const { appId, sp } of missing) {
        spIds.set(appId, (await this.store.servicePrincipals.insertIfAbsent(trx, sp, now)).id);
      }
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

  /**
   * A tenant administrator's consent for the whole organization (the `/adminconsent` endpoint), in **one**
   * transaction: the service principals the client and each resource need in the tenant (when missing), each app
   * role (application permission) assigned to the client's service principal, and each resource's delegated
   * scopes merged into one `AllPrincipals` grant. Every role and scope is checked before anything is written, so
   * a refusal (a role or an application removed meanwhile) leaves nothing written. Granting again changes
   * nothing and succeeds. The write evicts what it changed from every node's directory cache (this node at once,
   * the others within one poll interval). Two approvals at once: the loser of an insert tries again (up to three
   * attempts), then finds what the winner wrote.
   *
   * @param consent.appRoles app role values by resource `appId` (roles that allow member type `Application`).
   * @param consent.scopes delegated scope values by resource `appId`.
   * @returns the client's service principal and the app role assignments it holds from this consent.
   * @throws DirectoryError `not_found` (tenant, client or resource application, enabled app role, delegated
   *   scope) or `invalid` (a role that cannot be granted to applications).
   * @see https://learn.microsoft.com/entra/identity-platform/v2-admin-consent
   */
  async grantAdminConsent(
    tenant: string,
    clientAppId: string,
    consent: {
      readonly appRoles: readonly { readonly resourceAppId: string; readonly roles: readonly string[] }[];
      readonly scopes: readonly { readonly resourceAppId: string; readonly scopes: readonly string[] }[];
    },
  ): Promise<{ servicePrincipal: ServicePrincipal; appRoleAssignments: AppRoleAssignment[] }> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.grantAdminConsentOnce(tenant, clientAppId, consent);
      } catch (error) {
        if (attempt >= 3 || !isUniqueViolation(error)) throw error;
      }
    }
  }

  private async grantAdminConsentOnce(
    tenantName: string,
    clientAppId: string,
    consent: Parameters<GrantService['grantAdminConsent']>[2],
  ): Promise<{ servicePrincipal: ServicePrincipal; appRoleAssignments: AppRoleAssignment[] }> {
    const tenant = await this.tenants.require(tenantName);
    const now = this.nowSeconds();
    // Everything is read and checked before the write: on SQLite a read outside the open transaction would wait
    // for it forever, and a refusal must leave nothing written.
    const sps = new Map<string, { sp: ServicePrincipal; missing: boolean }>();
    const spOf = async (appId: string): Promise<ServicePrincipal> => {
      const app = await this.applications.require(appId);
      const known = sps.get(app.appId);
      if (known !== undefined) return known.sp;
      const existing = await this.store.servicePrincipals.find(tenant.id, app.appId);
      const sp = existing ?? servicePrincipalFor(app, tenant.id);
      sps.set(app.appId, { sp, missing: existing === undefined });
      return sp;
    };
    const clientSp = await spOf(clientAppId);
    const assignments: { assignment: AppRoleAssignment; stored: boolean }[] = [];
    for (const { resourceAppId, roles } of consent.appRoles) {
      if (roles.length === 0) continue;
      const resourceSp = await spOf(resourceAppId);
      for (const role of roles) {
        const { appRole } = await this.assignableAppRole(resourceSp.appId, role, 'Application');
        const existing = await this.store.appRoleAssignments.find(clientSp.id, resourceSp.id, appRole.id);
        const twice = assignments.some(
          (a) => a.assignment.appRoleId === appRole.id && a.assignment.resourceId === resourceSp.id,
        );
        if (twice) continue;
        assignments.push({
          assignment: existing ?? {
            id: randomUUID(),
            tenantId: tenant.id,
            principalId: clientSp.id,
            principalType: 'ServicePrincipal',
            resourceId: resourceSp.id,
            appRoleId: appRole.id,
            createdAt: now,
          },
          stored: existing !== undefined,
        });
      }
    }
    const grants: { resourceSp: ServicePrincipal; scopes: string[] }[] = [];
    for (const { resourceAppId, scopes } of consent.scopes) {
      if (scopes.length === 0) continue;
      const resourceSp = await spOf(resourceAppId);
      const published = (await this.publishedScopes(resourceSp, scopes.join(' '))).split(' ');
      const granted = (await this.store.permissionGrants.listBetween(clientSp.id, resourceSp.id)).find(
        (g) => g.consentType === 'AllPrincipals',
      );
      const held = new Set(granted?.scope.split(' ') ?? []);
      if (published.some((value) => !held.has(value))) grants.push({ resourceSp, scopes: published });
    }
    const pending = [...sps.values()].filter((s) => s.missing);
    const unstored = assignments.filter((a) => !a.stored);
    if (pending.length > 0 || unstored.length > 0 || grants.length > 0) {
      await this.store.write(async (trx) => {
        for (const { sp } of pending) await this.store.servicePrincipals.insert(trx, sp, now);
        for (const { assignment } of unstored) await this.store.appRoleAssignments.insert(trx, assignment);
        for (const { resourceSp, scopes } of grants) {
          await this.store.permissionGrants.merge(
            trx,
            {
              id: randomUUID(),
              tenantId: tenant.id,
              clientId: clientSp.id,
              consentType: 'AllPrincipals',
              principalId: null,
              resourceId: resourceSp.id,
              scopes,
            },
            now,
          );
        }
      });
    }
    const held: AppRoleAssignment[] = [];
    for (const { assignment } of assignments) {
      // An identical assignment written meanwhile was left as it was (no conflict): answer the stored one.
      held.push(
        (await this.store.appRoleAssignments.find(
          assignment.principalId,
          assignment.resourceId,
          assignment.appRoleId,
        )) ?? assignment,
      );
    }
    return { servicePrincipal: clientSp, appRoleAssignments: held };
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
   * One page of the delegated permission grants in a tenant, by id; with `filter`, only those equal to each
   * condition given (ids case-insensitive, `consentType` exact).
   *
   * @throws DirectoryError `not_found` for an unknown tenant, `invalid` for a `top` out of range.
   */
  listPermissionGrants(
    request: TenantPageRequest & { readonly filter?: PermissionGrantFilter },
  ): Promise<Page<OAuth2PermissionGrant>> {
    const filter = request.filter ?? {};
    return tenantPage(this.tenants, request, (page) =>
      Object.values(filter).every((value) => value === undefined)
        ? this.store.permissionGrants.list(page)
        : this.store.permissionGrants.listMatching({ ...page, ...filter }),
    );
  }

  /**
   * Assigns an app role by ids, as Graph's `POST …/appRoleAssignedTo` and `…/appRoleAssignments` do: the
   * principal (a user or a service principal of the tenant), the resource service principal and the id of one of
   * its application's enabled app roles. Assigning it again returns the existing assignment, or with
   * `refuseExisting` (Graph's behaviour) is refused.
   *
   * @throws DirectoryError `not_found` (tenant, principal or resource in that tenant), `invalid` (no such enabled
   *   role on the resource's application, or the role does not allow the principal's member type), `conflict`
   *   (with `refuseExisting`: the principal already holds that role on the resource).
   * @see https://learn.microsoft.com/graph/api/serviceprincipal-post-approleassignedto
   * @see https://learn.microsoft.com/graph/api/user-post-approleassignments
   */
  async assignAppRoleById(input: {
    tenant: string;
    principalId: string;
    resourceId: string;
    appRoleId: string;
    refuseExisting?: boolean;
  }): Promise<AppRoleAssignment> {
    const tenant = await this.tenants.require(input.tenant);
    const resourceSp = await this.servicePrincipalIn(tenant.id, input.resourceId, 'resource');
    const principal = await this.principalIn(tenant.id, input.principalId);
    const resource = await this.applications.require(resourceSp.appId);
    const appRole = resource.appRoles.find((r) => r.id === input.appRoleId.toLowerCase() && r.isEnabled);
    if (appRole === undefined) {
      throw new DirectoryError(
        'invalid',
        `Permission being assigned was not found on application '${resource.appId}'.`,
      );
    }
    const memberType = principal.type === 'User' ? 'User' : 'Application';
    if (!appRole.allowedMemberTypes.includes(memberType)) {
      const to = memberType === 'Application' ? 'granted to applications' : 'assigned to users';
      throw new DirectoryError('invalid', `The app role '${appRole.value}' cannot be ${to}.`);
    }
    if (input.refuseExisting === true) {
      const existing = await this.store.appRoleAssignments.find(principal.id, resourceSp.id, appRole.id);
      if (existing !== undefined) {
        throw new DirectoryError('conflict', 'Permission being assigned already exists on the object.');
      }
    }
    return this.assign(tenant.id, principal, resourceSp, appRole);
  }

  /**
   * App role assignments with the display names Graph's `appRoleAssignment` carries: the principal's (a user's
   * or service principal's `displayName`) and the resource service principal's. A principal or resource deleted
   * meanwhile has an empty name.
   */
  async describeAppRoleAssignments(
    assignments: readonly AppRoleAssignment[],
  ): Promise<AppRoleAssignmentView[]> {
    const names = new Map<string, Promise<string>>();
    const nameOf = (id: string, type: AppRoleAssignment['principalType']) => {
      const key = `${type}|${id}`;
      let name = names.get(key);
      if (name === undefined) {
        name =
          type === 'User'
            ? this.store.users.findById(id).then((user) => user?.displayName ?? '')
            : this.store.servicePrincipals.findById(id).then((sp) => sp?.displayName ?? '');
        names.set(key, name);
      }
      return name;
    };
    return Promise.all(
      assignments.map(async (assignment) => ({
        ...assignment,
        principalDisplayName: await nameOf(assignment.principalId, assignment.principalType),
        resourceDisplayName: await nameOf(assignment.resourceId, 'ServicePrincipal'),
      })),
    );
  }

  /**
   * An app role assignment of a tenant by id; with `of`, only one held by that principal or granted on that
   * resource service principal (Graph's `…/appRoleAssignments/{id}`, `…/appRoleAssignedTo/{id}`).
   *
   * @throws DirectoryError `not_found` (tenant, or no such assignment in it, of `of`).
   */
  async getAppRoleAssignment(
    tenant: string,
    id: string,
    of?: { readonly principalId: string } | { readonly resourceId: string },
  ): Promise<AppRoleAssignment> {
    const home = await this.tenants.require(tenant);
    const assignment = await this.store.appRoleAssignments.findById(id);
    const belongs =
      of === undefined ||
      ('principalId' in of
        ? assignment?.principalId === of.principalId.toLowerCase()
        : assignment?.resourceId === of.resourceId.toLowerCase());
    if (assignment?.tenantId !== home.id || !belongs) {
      throw new DirectoryError('not_found', `App role assignment '${id}' not found in tenant '${home.id}'.`);
    }
    return assignment;
  }

  /**
   * Revokes an app role assignment (an application permission or a user's role): the principal's next tokens
   * for the resource lack the role, on every node. With `of`, only one held by that principal or granted on that
   * resource service principal (as {@link getAppRoleAssignment}).
   *
   * @throws DirectoryError `not_found` (tenant, or no such assignment in it, of `of`).
   * @see https://learn.microsoft.com/graph/api/serviceprincipal-delete-approleassignedto
   * @see https://learn.microsoft.com/graph/api/user-delete-approleassignments
   */
  async removeAppRoleAssignment(
    tenant: string,
    id: string,
    of?: { readonly principalId: string } | { readonly resourceId: string },
  ): Promise<void> {
    const assignment = await this.getAppRoleAssignment(tenant, id, of);
    const removed = await this.store.write((trx) => this.store.appRoleAssignments.delete(trx, assignment));
    if (!removed) throw new DirectoryError('not_found', `App role assignment '${id}' not found.`);
  }

  /**
   * One page of the app role assignments a principal (user or service principal) holds, by id (Graph
   * `/users/{id}/appRoleAssignments`, `/servicePrincipals/{id}/appRoleAssignments`).
   *
   * @throws DirectoryError `not_found` (tenant, or no such principal in it), `invalid` for a `top` out of range.
   */
  async listAppRoleAssignmentsOf(
    request: TenantPageRequest & { readonly principalId: string },
  ): Promise<Page<AppRoleAssignment>> {
    return tenantPage(this.tenants, request, async (page) => {
      const principal = await this.principalIn(page.tenantId, request.principalId);
      return this.store.appRoleAssignments.listByPrincipal({ ...page, principalId: principal.id });
    });
  }

  /**
   * One page of the app role assignments granted on a resource service principal, by id (Graph
   * `/servicePrincipals/{id}/appRoleAssignedTo`).
   *
   * @throws DirectoryError `not_found` (tenant, or no such service principal in it), `invalid` for a `top` out
   *   of range.
   */
  async listAppRoleAssignedTo(
    request: TenantPageRequest & { readonly resourceId: string },
  ): Promise<Page<AppRoleAssignment>> {
    return tenantPage(this.tenants, request, async (page) => {
      const resource = await this.servicePrincipalIn(page.tenantId, request.resourceId, 'resource');
      return this.store.appRoleAssignments.listByResource({ ...page, resourceId: resource.id });
    });
  }

  /**
   * One page of the delegated permission grants of a client service principal, by id (Graph
   * `/servicePrincipals/{id}/oauth2PermissionGrants`).
   *
   * @throws DirectoryError `not_found` (tenant, or no such service principal in it), `invalid` for a `top` out
   *   of range.
   */
  async listPermissionGrantsOf(
    request: TenantPageRequest & { readonly clientId: string },
  ): Promise<Page<OAuth2PermissionGrant>> {
    return tenantPage(this.tenants, request, async (page) => {
      const client = await this.servicePrincipalIn(page.tenantId, request.clientId, 'client');
      return this.store.permissionGrants.listByClient({ ...page, clientId: client.id });
    });
  }

  /**
   * A delegated permission grant of a tenant by id.
   *
   * @throws DirectoryError `not_found` (tenant, or no such grant in it).
   */
  async getPermissionGrant(tenant: string, id: string): Promise<OAuth2PermissionGrant> {
    const home = await this.tenants.require(tenant);
    const grant = await this.store.permissionGrants.findById(id);
    if (grant?.tenantId !== home.id) {
      throw new DirectoryError('not_found', `Permission grant '${id}' not found in tenant '${home.id}'.`);
    }
    return grant;
  }

  /**
   * Creates a delegated permission grant (Graph `POST /oauth2PermissionGrants`): the client service principal
   * may call the resource service principal with `scope`, for everyone (`AllPrincipals`, admin consent) or one
   * user (`Principal`). The next token requests on every node see it.
   *
   * @param input.scope space-separated delegated scope values the resource publishes (may be empty).
   * @param input.principalId the user, for `Principal` only.
   * @throws DirectoryError `not_found` (tenant, client, resource or user in that tenant), `invalid` (an unknown
   *   scope, a principal given with `AllPrincipals` or missing with `Principal`), `conflict` (that client already
   *   has a grant of this consent type and principal on the resource: update it instead).
   * @see https://learn.microsoft.com/graph/api/oauth2permissiongrant-post
   */
  async createPermissionGrant(input: {
    tenant: string;
    clientId: string;
    resourceId: string;
    consentType: OAuth2PermissionGrant['consentType'];
    principalId?: string | null;
    scope: string;
  }): Promise<OAuth2PermissionGrant> {
    const tenant = await this.tenants.require(input.tenant);
    const principalId = input.principalId ?? null;
    if (input.consentType === 'AllPrincipals' && principalId !== null) {
      throw new DirectoryError('invalid', 'An AllPrincipals grant has no principalId.');
    }
    if (input.consentType === 'Principal' && principalId === null) {
      throw new DirectoryError('invalid', 'A Principal grant needs the principalId of the user.');
    }
    const client = await this.servicePrincipalIn(tenant.id, input.clientId, 'client');
    const resource = await this.servicePrincipalIn(tenant.id, input.resourceId, 'resource');
    const user = principalId === null ? undefined : await this.principalIn(tenant.id, principalId);
    if (user !== undefined && user.type !== 'User') {
      throw new DirectoryError('invalid', 'The principalId of a Principal grant names a user.');
    }
    const grant: OAuth2PermissionGrant = {
      id: randomUUID(),
      tenantId: tenant.id,
      clientId: client.id,
      consentType: input.consentType,
      principalId: user?.id ?? null,
      resourceId: resource.id,
      scope: await this.publishedScopes(resource, input.scope),
    };
    await writeOrConflict(
      this.store,
      'The client already has a grant of this consent type and principal on the resource.',
      (trx) => this.store.permissionGrants.insert(trx, grant, this.nowSeconds()),
    );
    return grant;
  }

  /**
   * Replaces the scopes of a delegated permission grant (Graph `PATCH /oauth2PermissionGrants/{id}`).
   *
   * @param scope space-separated delegated scope values the resource publishes (may be empty).
   * @returns the grant as stored after the change.
   * @throws DirectoryError `not_found` (tenant, or no such grant in it), `invalid` (an unknown scope).
   * @see https://learn.microsoft.com/graph/api/oauth2permissiongrant-update
   */
  async updatePermissionGrant(tenant: string, id: string, scope: string): Promise<OAuth2PermissionGrant> {
    const grant = await this.getPermissionGrant(tenant, id);
    const resource = await this.servicePrincipalIn(grant.tenantId, grant.resourceId, 'resource');
    const next = { ...grant, scope: await this.publishedScopes(resource, scope) };
    const updated = await this.store.write((trx) =>
      this.store.permissionGrants.updateScope(trx, grant, next.scope),
    );
    if (!updated) throw new DirectoryError('not_found', `Permission grant '${id}' not found.`);
    return next;
  }

  /**
   * Deletes a delegated permission grant (Graph `DELETE /oauth2PermissionGrants/{id}`): the client's next token
   * requests need consent again, on every node.
   *
   * @throws DirectoryError `not_found` (tenant, or no such grant in it).
   * @see https://learn.microsoft.com/graph/api/oauth2permissiongrant-delete
   */
  async deletePermissionGrant(tenant: string, id: string): Promise<void> {
    const grant = await this.getPermissionGrant(tenant, id);
    const deleted = await this.store.write((trx) => this.store.permissionGrants.delete(trx, grant));
    if (!deleted) throw new DirectoryError('not_found', `Permission grant '${id}' not found.`);
  }

  /**
   * `scope` with each value in the spelling `resource` publishes, deduplicated, single-spaced.
   *
   * @throws DirectoryError `invalid` for a value the resource does not publish (or has disabled).
   */
  private async publishedScopes(resource: ServicePrincipal, scope: string): Promise<string> {
    const app = await this.applications.require(resource.appId);
    const values = scope.split(' ').filter((value) => value !== '');
    const registered = values.map((value) => {
      const match = app.api.oauth2PermissionScopes.find(
        (s) => s.isEnabled && s.value.toLowerCase() === value.toLowerCase(),
      );
      if (match === undefined) {
        throw new DirectoryError(
          'invalid',
          `The resource '${app.displayName}' has no delegated scope '${value}'.`,
        );
      }
      return match.value;
    });
    return [...new Set(registered)].join(' ');
  }

  /**
   * A service principal of the tenant by object id.
   *
   * @param role what it is in the request, for the message.
   * @throws DirectoryError `not_found`.
   */
  private async servicePrincipalIn(
    tenantId: string,
    id: string,
    role: 'client' | 'resource',
  ): Promise<ServicePrincipal> {
    const sp = await this.store.servicePrincipals.findById(id);
    if (sp?.tenantId !== tenantId) {
      throw new DirectoryError(
        'not_found',
        `The ${role} service principal '${id}' is not in tenant '${tenantId}'.`,
      );
    }
    return sp;
  }

  /**
   * A principal of the tenant by object id: a user or a service principal.
   *
   * @throws DirectoryError `not_found`.
   */
  private async principalIn(
    tenantId: string,
    id: string,
  ): Promise<{ readonly id: string; readonly type: AppRoleAssignment['principalType'] }> {
    const user = await this.store.users.findById(id);
    if (user?.tenantId === tenantId) return { id: user.id, type: 'User' };
    const sp = await this.store.servicePrincipals.findById(id);
    if (sp?.tenantId === tenantId) return { id: sp.id, type: 'ServicePrincipal' };
    throw new DirectoryError('not_found', `Principal '${id}' not found in tenant '${tenantId}'.`);
  }
}
