import { randomUUID } from 'node:crypto';
import type { Transaction } from 'kysely';
import type { DirectoryStore } from '../../store/directory-store.js';
import type { Database } from '../../store/schema.js';
import { DIRECTORY_APP_ID, builtinDirectoryApplication } from '../builtin-directory-app.js';
import { DirectoryError, writeOrConflict } from '../errors.js';
import {
  emptyApplicationDefinition,
  type AppRole,
  type Application,
  type ApplicationDefinition,
  type PermissionScope,
  type RequiredResourceAccess,
  type ServicePrincipal,
  type SignInAudience,
  type TokenSigningAlgorithm,
} from '../model.js';
import { resolveResourceAppId, servicePrincipalFor } from '../service-principals.js';
import {
  requireGuid,
  sameUri,
  uniqueValues,
  validateIdentifierUri,
  validateLogoutUrl,
  validateRedirectUris,
} from '../validation.js';
import type { TenantService } from './tenants.js';
import { tenantPage, type Page, type TenantPageRequest } from './paging.js';

/** Input of {@link ApplicationService.create}. */
export interface CreateApplicationInput {
  /** Home tenant: id or domain. */
  readonly tenant: string;
  readonly displayName: string;
  /** App ID URIs; defaults to `api://{appId}` when the app exposes roles or scopes. */
  readonly identifierUris?: readonly string[];
  /** Application permissions (app roles with `allowedMemberTypes: ["Application"]`), by value. */
  readonly appRoles?: readonly string[];
  /**
   * App roles assignable to users (`allowedMemberTypes: ["User"]`), by value; a value in both lists is one role
   * allowing both member types. Assigned users get it in `roles` of their tokens for this app.
   */
  readonly userRoles?: readonly string[];
  /** Delegated scopes (type `User`), by value. */
  readonly scopes?: readonly string[];
  readonly redirectUris?: {
    readonly web?: readonly string[];
    readonly spa?: readonly string[];
    readonly publicClient?: readonly string[];
  };
  /** Default `AzureADMyOrg`. */
  readonly signInAudience?: SignInAudience;
  /** Default null (v1 tokens), as in Entra ID. */
  readonly requestedAccessTokenVersion?: 1 | 2 | null;
  /** Default RS256. */
  readonly accessTokenSigningAlgorithm?: TokenSigningAlgorithm;
  /** `web.implicitGrantSettings`: which tokens the authorization endpoint may return directly. Default none. */
  readonly implicitGrant?: { readonly accessToken?: boolean; readonly idToken?: boolean };
  /** `web.logoutUrl`: the front-channel logout URL (absolute `https`, or `http` on a loopback host). */
  readonly logoutUrl?: string;
  /** `api.knownClientApplications`: client `appId`s whose consent also covers this API (combined consent). */
  readonly knownClientApplications?: readonly string[];
  /** `api.preAuthorizedApplications`: client `appId`s never asked for these of this app's own scopes (by value). */
  readonly preAuthorizedApplications?: readonly {
    readonly appId: string;
    readonly scopes: readonly string[];
  }[];
  /** `requiredResourceAccess` delegated permissions: resource `appId` or App ID URI, and scope values. */
  readonly requiredScopes?: readonly { readonly resource: string; readonly scopes: readonly string[] }[];
}

/**
 * App registrations (Graph `application`): registering one with its service principal in the home tenant,
 * loading, and changing its definition. Credentials are {@link CredentialService}'s.
 */
export class ApplicationService {
  constructor(
    private readonly store: DirectoryStore,
    private readonly nowSeconds: () => number,
    private readonly tenants: TenantService,
  ) {}

  /**
   * Registers an application in its home tenant and creates its service principal there.
   *
   * @throws DirectoryError `invalid` for bad role/scope values or URIs, `conflict` for a taken App ID URI,
   *   `not_found` for an unknown tenant or required resource.
   */
  async create(
    input: CreateApplicationInput,
  ): Promise<{ application: Application; servicePrincipal: ServicePrincipal }> {
    const tenant = await this.tenants.require(input.tenant);
    const appId = randomUUID();
    const forApps = uniqueValues(input.appRoles ?? [], 'app role');
    const forUsers = uniqueValues(input.userRoles ?? [], 'app role');
    const appRoles = [...new Set([...forUsers, ...forApps])].map((value): AppRole => ({
      id: randomUUID(),
      value,
      displayName: value,
      description: value,
      allowedMemberTypes: [
        ...(forUsers.includes(value) ? (['User'] as const) : []),
        ...(forApps.includes(value) ? (['Application'] as const) : []),
      ],
      isEnabled: true,
    }));
    const scopes = uniqueValues(input.scopes ?? [], 'scope').map((value): PermissionScope => ({
      id: randomUUID(),
      value,
      type: 'User',
      adminConsentDisplayName: value,
      adminConsentDescription: value,
      userConsentDisplayName: value,
      userConsentDescription: value,
      isEnabled: true,
    }));
    const exposesApi = appRoles.length > 0 || scopes.length > 0;
    const identifierUris = [...(input.identifierUris ?? (exposesApi ? [`api://${appId}`] : []))].map((uri) =>
      uri.replaceAll('{appId}', appId),
    );
    await this.checkIdentifierUris(identifierUris);
    const redirectUris = input.redirectUris ?? {};
    validateRedirectUris({
      web: redirectUris.web ?? [],
      spa: redirectUris.spa ?? [],
      publicClient: redirectUris.publicClient ?? [],
    });
    if (input.logoutUrl !== undefined) validateLogoutUrl(input.logoutUrl);
    const knownClientApplications = (input.knownClientApplications ?? []).map((id) =>
      requireGuid(id, 'client'),
    );
    const preAuthorizedApplications = (input.preAuthorizedApplications ?? []).map((entry) => ({
      appId: requireGuid(entry.appId, 'pre-authorized application'),
      delegatedPermissionIds: entry.scopes.map((value) => {
        const scope = scopes.find((s) => s.value === value);
        if (scope === undefined)
          throw new DirectoryError(
            'invalid',
            `The application exposes no scope '${value}' to pre-authorize.`,
          );
        return scope.id;
      }),
    }));
    const requiredResourceAccess = await this.requiredScopeAccess(input.requiredScopes ?? []);
    const application: Application = {
      ...emptyApplicationDefinition,
      id: randomUUID(),
      appId,
      tenantId: tenant.id,
      displayName: input.displayName,
      signInAudience: input.signInAudience ?? 'AzureADMyOrg',
      identifierUris,
      accountEnabled: true,
      passwordCredentials: [],
      keyCredentials: [],
      appRoles,
      api: {
        ...emptyApplicationDefinition.api,
        oauth2PermissionScopes: scopes,
        requestedAccessTokenVersion: input.requestedAccessTokenVersion ?? null,
        knownClientApplications: [...new Set(knownClientApplications)],
        preAuthorizedApplications,
      },
      requiredResourceAccess,
      web: {
        ...emptyApplicationDefinition.web,
        redirectUris: [...(redirectUris.web ?? [])],
        logoutUrl: input.logoutUrl ?? null,
        implicitGrantSettings: {
          enableAccessTokenIssuance: input.implicitGrant?.accessToken === true,
          enableIdTokenIssuance: input.implicitGrant?.idToken === true,
        },
      },
      spa: { redirectUris: [...(redirectUris.spa ?? [])] },
      publicClient: { redirectUris: [...(redirectUris.publicClient ?? [])] },
      accessTokenSigningAlgorithm: input.accessTokenSigningAlgorithm ?? 'RS256',
    };
    const servicePrincipal = servicePrincipalFor(application, tenant.id);
    const now = this.nowSeconds();
    await writeOrConflict(
      this.store,
      'An App ID URI is already used by another application.',
      async (trx) => {
        await this.store.applications.insert(trx, application, now);
        await this.store.servicePrincipals.insert(trx, servicePrincipal, now);
      },
    );
    return { application, servicePrincipal };
  }

  /** `requiredResourceAccess` entries for delegated scopes named by value, grouped per resource. */
  private async requiredScopeAccess(
    wanted: readonly { readonly resource: string; readonly scopes: readonly string[] }[],
  ): Promise<RequiredResourceAccess[]> {
    const result: RequiredResourceAccess[] = [];
    for (const { resource: named, scopes } of wanted) {
      const resourceAppId = await resolveResourceAppId(this.store, named);
      if (resourceAppId === undefined)
        throw new DirectoryError('not_found', `Resource '${named}' not found.`);
      const resource = await this.require(resourceAppId);
      const ids = scopes.map((value) => {
        const scope = resource.api.oauth2PermissionScopes.find((s) => s.value === value && s.isEnabled);
        if (scope === undefined) {
          throw new DirectoryError(
            'not_found',
            `The resource '${resource.displayName}' has no delegated scope '${value}'.`,
          );
        }
        return scope.id;
      });
      const existing = result.find((r) => r.resourceAppId === resource.appId);
      const access = [...(existing?.resourceAccess ?? [])];
      for (const id of ids) if (!access.some((a) => a.id === id)) access.push({ id, type: 'Scope' });
      if (existing === undefined) result.push({ resourceAppId: resource.appId, resourceAccess: access });
      else result[result.indexOf(existing)] = { resourceAppId: resource.appId, resourceAccess: access };
    }
    return result;
  }

  /**
   * Loads an application by `appId` (the built-in directory API included).
   *
   * @throws DirectoryError `not_found`.
   */
  async require(appId: string): Promise<Application> {
    const app = appId.toLowerCase() === DIRECTORY_APP_ID ? builtinDirectoryApplication : undefined;
    const found = app ?? (await this.store.applications.findByAppId(appId));
    if (found === undefined) throw new DirectoryError('not_found', `Application '${appId}' not found.`);
    return found;
  }

  /**
   * Loads an application that may be changed: any but the built-in directory application.
   *
   * @throws DirectoryError `invalid` for the built-in directory application, `not_found`.
   */
  async requireOwn(appId: string): Promise<Application> {
    if (appId.toLowerCase() === DIRECTORY_APP_ID) {
      throw new DirectoryError('invalid', 'The built-in directory application cannot be changed.');
    }
    return this.require(appId);
  }

  /**
   * Replaces parts of an application's definition (redirect URIs, implicit grant settings, logout URL, API
   * settings, required resource access): what `app create` options and the management API change.
   *
   * @throws DirectoryError `not_found`, `invalid` for a malformed redirect URI.
   */
  async update(
    appId: string,
    change: (current: Application) => Partial<ApplicationDefinition>,
  ): Promise<Application> {
    const app = await this.requireOwn(appId);
    const next: Application = { ...app, ...change(app) };
    validateRedirectUris({
      web: next.web.redirectUris,
      spa: next.spa.redirectUris,
      publicClient: next.publicClient.redirectUris,
    });
    if (next.web.logoutUrl !== null && next.web.logoutUrl !== app.web.logoutUrl) {
      validateLogoutUrl(next.web.logoutUrl);
    }
    await this.store.write((trx) => this.store.applications.updateDefinition(trx, next));
    return next;
  }

  /**
   * An application registered in a tenant, by object id (`{ id }`) or `appId` (`{ appId }`, Graph's
   * `applications(appId='…')`).
   *
   * @throws DirectoryError `not_found` (tenant, or no such application registered in it).
   */
  async get(tenant: string, ref: { readonly id: string } | { readonly appId: string }): Promise<Application> {
    const home = await this.tenants.require(tenant);
    const app =
      'id' in ref
        ? await this.store.applications.findById(ref.id)
        : await this.store.applications.findByAppId(ref.appId);
    if (app?.tenantId !== home.id) {
      const named = 'id' in ref ? ref.id : ref.appId;
      throw new DirectoryError('not_found', `Application '${named}' not found in tenant '${home.id}'.`);
    }
    return app;
  }

  /**
   * Deletes an application registered in a tenant with everything that hangs off it, in one write: its App ID
   * URIs and credentials, its service principals in every tenant, and the app role assignments and delegated
   * grants those service principals hold or are the resource of. The app gets no token afterwards on any node,
   * and no token is issued for it as a resource.
   *
   * @throws DirectoryError `not_found` (tenant, or no such application registered in it), `invalid` for the
   *   built-in directory application.
   * @see https://learn.microsoft.com/graph/api/application-delete
   */
  async delete(tenant: string, appId: string): Promise<void> {
    await this.requireOwn(appId);
    const app = await this.get(tenant, { appId });
    const servicePrincipals = await this.store.servicePrincipals.listByAppId(app.appId);
    const deleted = await this.store.write(async (trx) => {
      for (const sp of servicePrincipals) await deleteServicePrincipalRows(this.store, trx, sp.id);
      return this.store.applications.delete(trx, app);
    });
    if (!deleted) throw new DirectoryError('not_found', `Application '${appId}' not found.`);
  }

  /**
   * Changes an application's display name, sign-in audience or App ID URIs (Graph `PATCH /applications/{id}`
   * of `displayName`, `signInAudience`, `identifierUris`; the URI list replaces the registered one). Token
   * requests on every node see the change (the old URIs stop naming the app as a resource).
   *
   * @param change only the fields given change.
   * @returns the application as stored after the change.
   * @throws DirectoryError `not_found`, `invalid` (the built-in directory application, an empty display name, a
   *   malformed or duplicate URI), `conflict` (a URI another application registered).
   * @see https://learn.microsoft.com/graph/api/application-update
   */
  async updateProperties(
    appId: string,
    change: {
      readonly displayName?: string;
      readonly signInAudience?: SignInAudience;
      readonly identifierUris?: readonly string[];
    },
  ): Promise<Application> {
    const app = await this.requireOwn(appId);
    const displayName = change.displayName?.trim();
    if (displayName === '') throw new DirectoryError('invalid', 'An application needs a display name.');
    const identifierUris = change.identifierUris === undefined ? undefined : [...change.identifierUris];
    if (identifierUris !== undefined) {
      const kept = new Set(app.identifierUris.map((uri) => uri.toLowerCase()));
      await this.checkIdentifierUris(identifierUris, (uri) => kept.has(uri.toLowerCase()));
    }
    const next: Application = {
      ...app,
      ...(displayName === undefined ? {} : { displayName }),
      ...(change.signInAudience === undefined ? {} : { signInAudience: change.signInAudience }),
      ...(identifierUris === undefined ? {} : { identifierUris }),
    };
    await writeOrConflict(this.store, 'An App ID URI is already used by another application.', (trx) =>
      this.store.applications.updateProperties(trx, next),
    );
    return next;
  }

  /**
   * Checks App ID URIs for an application: well-formed, no duplicates, none registered by another application.
   *
   * @param own true for a URI the application itself already registered (it stays its own).
   * @throws DirectoryError `invalid` (malformed, duplicate), `conflict` (taken).
   */
  private async checkIdentifierUris(
    identifierUris: readonly string[],
    own: (uri: string) => boolean = () => false,
  ): Promise<void> {
    if (new Set(identifierUris.map((uri) => uri.toLowerCase())).size !== identifierUris.length) {
      throw new DirectoryError('invalid', 'Duplicate App ID URIs (they compare case-insensitively).');
    }
    for (const uri of identifierUris) {
      validateIdentifierUri(uri);
      if (own(uri)) continue;
      if (
        (await this.store.applications.isIdentifierUriTaken(uri)) ||
        sameUri(uri, builtinDirectoryApplication.identifierUris)
      ) {
        throw new DirectoryError(
          'conflict',
          `The App ID URI '${uri}' is already used by another application.`,
        );
      }
    }
  }

  /**
   * One page of the applications registered in a tenant, by object id.
   *
   * @throws DirectoryError `not_found` for an unknown tenant, `invalid` for a `top` out of range.
   */
  list(request: TenantPageRequest): Promise<Page<Application>> {
    return tenantPage(this.tenants, request, (page) => this.store.applications.list(page));
  }

  /**
   * One page of the service principals in a tenant (the applications present there), by object id.
   *
   * @throws DirectoryError `not_found` for an unknown tenant, `invalid` for a `top` out of range.
   */
  listServicePrincipals(request: TenantPageRequest): Promise<Page<ServicePrincipal>> {
    return tenantPage(this.tenants, request, (page) => this.store.servicePrincipals.list(page));
  }
}

/**
 * Deletes, in the write `trx`, a service principal with the app role assignments and delegated grants it holds
 * or is the resource of.
 *
 * @returns `false` when there is no such service principal.
 */
export async function deleteServicePrincipalRows(
  store: DirectoryStore,
  trx: Transaction<Database>,
  servicePrincipalId: string,
): Promise<boolean> {
  await store.appRoleAssignments.deleteInvolving(trx, servicePrincipalId);
  await store.permissionGrants.deleteInvolving(trx, servicePrincipalId);
  return store.servicePrincipals.delete(trx, servicePrincipalId);
}
