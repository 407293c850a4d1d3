import { randomUUID } from 'node:crypto';
import type { Transaction } from 'kysely';
import { isUniqueViolation } from '../store/database.js';
import { hashPassword } from '../users/password-sign-in.js';
import type { DirectoryStore } from '../store/directory-store.js';
import type { Database } from '../store/schema.js';
import { DIRECTORY_APP_ID, builtinDirectoryApplication } from './builtin-directory-app.js';
import { DOMAIN_PATTERN, isGuid } from './identifiers.js';
import { generateClientSecret, hashSecret, parseCertificate } from './credentials.js';
import { MAX_REDIRECT_URIS, redirectUriProblem, type RedirectUriPlatform } from './redirect-uris.js';
import {
  GLOBAL_ADMINISTRATOR,
  emptyApplicationDefinition,
  type AppRole,
  type AppRoleAssignment,
  type Application,
  type ApplicationDefinition,
  type KeyCredential,
  type PasswordCredential,
  type PermissionScope,
  type RequiredResourceAccess,
  type ServicePrincipal,
  type SignInAudience,
  type Tenant,
  type TokenSigningAlgorithm,
  type User,
} from './model.js';

/** Why a directory write was refused. */
export type DirectoryErrorCode = 'not_found' | 'conflict' | 'invalid';

/** A refused directory write (bad input, missing object, duplicate). The message is safe to show. */
export class DirectoryError extends Error {
  override readonly name = 'DirectoryError';
  constructor(
    readonly code: DirectoryErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Input of {@link Directory.createApplication}. */
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

/** What {@link Directory.addPassword} returns: the credential as stored, and the secret (shown once). */
export interface NewPassword {
  readonly credential: Omit<PasswordCredential, 'secretHash'>;
  readonly secretText: string;
}

const ROLE_VALUE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,119}$/;

/** Default client secret lifetime: 2 years, in seconds (the Entra portal's longest recommended choice). */
export const DEFAULT_SECRET_LIFETIME_SECONDS = 2 * 365 * 24 * 3600;

/**
 * The directory's write side and uncached reads: tenants, app registrations and their credentials, service
 * principals, app role assignments and users, validated and stored through {@link DirectoryStore}.
 * Used by the CLI, the demo seed, the management API and tests; the token endpoint reads through the cache.
 */
export class Directory {
  constructor(
    readonly store: DirectoryStore,
    private readonly nowSeconds: () => number = () => Math.floor(Date.now() / 1000),
  ) {}

  /**
   * Creates a tenant with its verified domains and the built-in directory API's service principal.
   *
   * @throws DirectoryError `invalid` for a malformed domain, `conflict` when a domain belongs to another tenant.
   */
  async createTenant(input: {
    displayName: string;
    domains: readonly string[];
    id?: string;
  }): Promise<Tenant> {
    const domains = input.domains.map((d) => d.trim().toLowerCase());
    if (input.displayName.trim() === '')
      throw new DirectoryError('invalid', 'A tenant needs a display name.');
    for (const domain of domains) {
      if (!DOMAIN_PATTERN.test(domain))
        throw new DirectoryError('invalid', `'${domain}' is not a valid domain name.`);
      if (await this.store.isDomainTaken(domain)) {
        throw new DirectoryError('conflict', `The domain '${domain}' is already verified by another tenant.`);
      }
    }
    const tenant: Tenant = { id: input.id ?? randomUUID(), displayName: input.displayName.trim(), domains };
    const now = this.nowSeconds();
    const conflict =
      domains.length === 1
        ? `The domain '${domains[0] ?? ''}' is already verified by another tenant.`
        : 'One of the domains is already verified by another tenant.';
    await this.writeOrConflict(conflict, async (trx) => {
      await this.store.insertTenant(trx, tenant, now);
      await this.store.insertServicePrincipal(
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
  async requireTenant(idOrDomain: string): Promise<Tenant> {
    const tenant = await this.store.findTenant(idOrDomain);
    if (tenant === undefined) throw new DirectoryError('not_found', `Tenant '${idOrDomain}' not found.`);
    return tenant;
  }

  /**
   * Registers an application in its home tenant and creates its service principal there.
   *
   * @throws DirectoryError `invalid` for bad role/scope values or URIs, `conflict` for a taken App ID URI,
   *   `not_found` for an unknown tenant.
   */
  async createApplication(
    input: CreateApplicationInput,
  ): Promise<{ application: Application; servicePrincipal: ServicePrincipal }> {
    const tenant = await this.requireTenant(input.tenant);
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
    if (new Set(identifierUris.map((uri) => uri.toLowerCase())).size !== identifierUris.length) {
      throw new DirectoryError('invalid', 'Duplicate App ID URIs (they compare case-insensitively).');
    }
    for (const uri of identifierUris) {
      validateIdentifierUri(uri);
      if (
        (await this.store.isIdentifierUriTaken(uri)) ||
        sameUri(uri, builtinDirectoryApplication.identifierUris)
      ) {
        throw new DirectoryError(
          'conflict',
          `The App ID URI '${uri}' is already used by another application.`,
        );
      }
    }
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
    await this.writeOrConflict('An App ID URI is already used by another application.', async (trx) => {
      await this.store.insertApplication(trx, application, now);
      await this.store.insertServicePrincipal(trx, servicePrincipal, now);
    });
    return { application, servicePrincipal };
  }

  /** `requiredResourceAccess` entries for delegated scopes named by value, grouped per resource. */
  private async requiredScopeAccess(
    wanted: readonly { readonly resource: string; readonly scopes: readonly string[] }[],
  ): Promise<RequiredResourceAccess[]> {
    const result: RequiredResourceAccess[] = [];
    for (const { resource: named, scopes } of wanted) {
      const resourceAppId = isGuid(named)
        ? named.toLowerCase()
        : sameUri(named, builtinDirectoryApplication.identifierUris)
          ? DIRECTORY_APP_ID
          : await this.store.findAppIdByIdentifierUri(named);
      if (resourceAppId === undefined)
        throw new DirectoryError('not_found', `Resource '${named}' not found.`);
      const resource = await this.requireApplication(resourceAppId);
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
  async requireApplication(appId: string): Promise<Application> {
    const app = appId.toLowerCase() === DIRECTORY_APP_ID ? builtinDirectoryApplication : undefined;
    const found = app ?? (await this.store.findApplicationByAppId(appId));
    if (found === undefined) throw new DirectoryError('not_found', `Application '${appId}' not found.`);
    return found;
  }

  /**
   * Adds a server-generated client secret (Graph `addPassword`). The secret text is returned once, never stored.
   *
   * @param lifetimeSeconds default {@link DEFAULT_SECRET_LIFETIME_SECONDS}; may be negative in tests to make an
   *   already-expired secret.
   * @throws DirectoryError `not_found`.
   */
  async addPassword(input: {
    appId: string;
    displayName?: string;
    lifetimeSeconds?: number;
  }): Promise<NewPassword> {
    const app = await this.requireOwnApplication(input.appId);
    const secretText = generateClientSecret();
    const now = this.nowSeconds();
    const credential: PasswordCredential = {
      keyId: randomUUID(),
      displayName: input.displayName ?? 'Client secret',
      hint: secretText.slice(0, 3),
      secretHash: hashSecret(secretText),
      startDateTime: now,
      endDateTime: now + (input.lifetimeSeconds ?? DEFAULT_SECRET_LIFETIME_SECONDS),
    };
    await this.store.write((trx) => this.store.insertPasswordCredential(trx, app.id, credential));
    const { secretHash: _hash, ...listed } = credential;
    return { credential: listed, secretText };
  }

  /**
   * Registers an X.509 certificate (Graph `addKey`); assertions signed by its key authenticate the app.
   *
   * @throws DirectoryError `invalid` for a malformed or unsupported certificate, `not_found`.
   */
  async addCertificate(input: {
    appId: string;
    certificatePem: string;
    displayName?: string;
  }): Promise<KeyCredential> {
    const app = await this.requireOwnApplication(input.appId);
    let parsed;
    try {
      parsed = parseCertificate(input.certificatePem);
    } catch (error) {
      throw new DirectoryError('invalid', `Not a usable X.509 certificate: ${(error as Error).message}`);
    }
    const credential: KeyCredential = {
      keyId: randomUUID(),
      displayName: input.displayName ?? parsed.subject,
      thumbprintSha1: parsed.thumbprintSha1,
      thumbprintSha256: parsed.thumbprintSha256,
      certificatePem: parsed.pem,
      startDateTime: parsed.notBefore,
      endDateTime: parsed.notAfter,
    };
    await this.store.write((trx) => this.store.insertKeyCredential(trx, app.id, credential));
    return credential;
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
    const resourceAppId = isGuid(resourceName)
      ? resourceName.toLowerCase()
      : sameUri(resourceName, builtinDirectoryApplication.identifierUris)
        ? DIRECTORY_APP_ID
        : await this.store.findAppIdByIdentifierUri(resourceName);
    if (resourceAppId === undefined)
      throw new DirectoryError('not_found', `Resource '${resourceName}' not found.`);
    const resource = await this.requireApplication(resourceAppId);
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
   * Grants an application permission (an app role of the resource) to the client's service principal in a tenant,
   * as a tenant administrator's consent does.
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
    const tenant = await this.requireTenant(input.tenant);
    const { resource, appRole } = await this.assignableAppRole(input.resource, input.role, 'Application');
    const clientSp = await this.store.findServicePrincipal(tenant.id, input.clientAppId);
    const resourceSp = await this.store.findServicePrincipal(tenant.id, resource.appId);
    if (clientSp === undefined || resourceSp === undefined) {
      throw new DirectoryError(
        'not_found',
        `Both the client and the resource need a service principal in tenant '${tenant.id}'.`,
      );
    }
    const existing = await this.store.findAppRoleAssignment(clientSp.id, resourceSp.id, appRole.id);
    if (existing !== undefined) return existing;
    const assignment: AppRoleAssignment = {
      id: randomUUID(),
      tenantId: tenant.id,
      principalId: clientSp.id,
      principalType: 'ServicePrincipal',
      resourceId: resourceSp.id,
      appRoleId: appRole.id,
      createdDateTime: this.nowSeconds(),
    };
    await this.store.write((trx) => this.store.insertAppRoleAssignment(trx, assignment));
    // A concurrent identical grant may have won the insert; answer with the stored one either way.
    return (await this.store.findAppRoleAssignment(clientSp.id, resourceSp.id, appRole.id)) ?? assignment;
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
    const tenant = await this.requireTenant(input.tenant);
    const user = await this.store.findUserByUpn(input.userPrincipalName);
    if (user?.tenantId !== tenant.id) {
      throw new DirectoryError(
        'not_found',
        `User '${input.userPrincipalName}' not found in tenant '${tenant.id}'.`,
      );
    }
    const { resource, appRole } = await this.assignableAppRole(input.resource, input.role, 'User');
    const resourceSp = await this.store.findServicePrincipal(tenant.id, resource.appId);
    if (resourceSp === undefined) {
      throw new DirectoryError(
        'not_found',
        `The resource needs a service principal in tenant '${tenant.id}'.`,
      );
    }
    const existing = await this.store.findAppRoleAssignment(user.id, resourceSp.id, appRole.id);
    if (existing !== undefined) return existing;
    const assignment: AppRoleAssignment = {
      id: randomUUID(),
      tenantId: tenant.id,
      principalId: user.id,
      principalType: 'User',
      resourceId: resourceSp.id,
      appRoleId: appRole.id,
      createdDateTime: this.nowSeconds(),
    };
    await this.store.write((trx) => this.store.insertAppRoleAssignment(trx, assignment));
    // A concurrent identical assignment may have won the insert; answer with the stored one either way.
    return (await this.store.findAppRoleAssignment(user.id, resourceSp.id, appRole.id)) ?? assignment;
  }

  /**
   * Creates a user with an argon2id password hash.
   *
   * @throws DirectoryError `invalid` (UPN not in a verified domain, empty password), `conflict` (UPN taken).
   */
  async createUser(input: {
    tenant: string;
    userPrincipalName: string;
    password: string;
    displayName?: string;
    admin?: boolean;
  }): Promise<User> {
    const tenant = await this.requireTenant(input.tenant);
    const upn = input.userPrincipalName.trim();
    const domain = upn.split('@')[1]?.toLowerCase();
    if (domain === undefined || !tenant.domains.includes(domain)) {
      throw new DirectoryError(
        'invalid',
        `The UPN '${upn}' must end in one of the tenant's verified domains.`,
      );
    }
    if (input.password.length < 8)
      throw new DirectoryError('invalid', 'A password needs at least 8 characters.');
    if ((await this.store.findUserByUpn(upn)) !== undefined) {
      throw new DirectoryError('conflict', `A user '${upn}' already exists.`);
    }
    const user: User = {
      id: randomUUID(),
      tenantId: tenant.id,
      userPrincipalName: upn,
      displayName: input.displayName ?? upn.split('@')[0] ?? upn,
      accountEnabled: true,
      directoryRoles: input.admin === true ? [GLOBAL_ADMINISTRATOR] : [],
    };
    const passwordHash = await hashPassword(input.password);
    await this.writeOrConflict(`A user '${upn}' already exists.`, (trx) =>
      this.store.insertUser(trx, user, passwordHash, this.nowSeconds()),
    );
    return user;
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
    items: readonly { clientAppId: string; resourceAppId: string; scopes: readonly string[] }[];
  }): Promise<void> {
    const now = this.nowSeconds();
    const apps = new Map<string, Application>();
    for (const item of input.items) {
      for (const appId of [item.clientAppId, item.resourceAppId]) {
        if (!apps.has(appId)) apps.set(appId, await this.requireApplication(appId));
      }
    }
    // Looked up before the write: on SQLite a read outside the open transaction would wait for it forever.
    const spIds = new Map<string, string>();
    const missing: ServicePrincipal[] = [];
    for (const [appId, app] of apps) {
      const existing = await this.store.findServicePrincipal(input.tenantId, appId);
      const sp = existing ?? servicePrincipalFor(app, input.tenantId);
      if (existing === undefined) missing.push(sp);
      spIds.set(appId, sp.id);
    }
    await this.store.write(async (trx) => {
      for (const sp of missing) await this.store.insertServicePrincipal(trx, sp, now);
      for (const item of input.items) {
        await this.store.mergePermissionGrant(
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
   * Enables or disables a user's sign-in.
   *
   * @throws DirectoryError `not_found`.
   */
  async setUserAccountEnabled(userId: string, enabled: boolean): Promise<void> {
    const updated = await this.store.write((trx) => this.store.setUserAccountEnabled(trx, userId, enabled));
    if (!updated) throw new DirectoryError('not_found', `User '${userId}' not found.`);
  }

  /**
   * Replaces parts of an application's definition (redirect URIs, implicit grant settings, logout URL, API
   * settings, required resource access): what `app create` options and the management API change.
   *
   * @throws DirectoryError `not_found`, `invalid` for a malformed redirect URI.
   */
  async updateApplication(
    appId: string,
    change: (current: Application) => Partial<ApplicationDefinition>,
  ): Promise<Application> {
    const app = await this.requireOwnApplication(appId);
    const next: Application = { ...app, ...change(app) };
    validateRedirectUris({
      web: next.web.redirectUris,
      spa: next.spa.redirectUris,
      publicClient: next.publicClient.redirectUris,
    });
    if (next.web.logoutUrl !== null && next.web.logoutUrl !== app.web.logoutUrl) {
      validateLogoutUrl(next.web.logoutUrl);
    }
    await this.store.write((trx) => this.store.updateApplicationDefinition(trx, next));
    return next;
  }

  /** Runs a directory write; a unique-key race lost to another writer becomes a `conflict` DirectoryError. */
  private async writeOrConflict<T>(
    message: string,
    work: (trx: Transaction<Database>) => Promise<T>,
  ): Promise<T> {
    try {
      return await this.store.write(work);
    } catch (error) {
      if (isUniqueViolation(error)) throw new DirectoryError('conflict', message);
      throw error;
    }
  }

  private async requireOwnApplication(appId: string): Promise<Application> {
    if (appId.toLowerCase() === DIRECTORY_APP_ID) {
      throw new DirectoryError('invalid', 'The built-in directory application cannot be changed.');
    }
    return this.requireApplication(appId);
  }
}

/** A service principal for `application` in `tenantId`. */
export function servicePrincipalFor(application: Application, tenantId: string): ServicePrincipal {
  return {
    id: randomUUID(),
    appId: application.appId,
    tenantId,
    displayName: application.displayName,
    appOwnerOrganizationId: application.tenantId,
    accountEnabled: true,
  };
}

function uniqueValues(values: readonly string[], what: string): string[] {
  for (const value of values) {
    if (!ROLE_VALUE.test(value))
      throw new DirectoryError('invalid', `'${value}' is not a valid ${what} value.`);
  }
  if (new Set(values).size !== values.length)
    throw new DirectoryError('invalid', `Duplicate ${what} values.`);
  return [...values];
}

function sameUri(uri: string, list: readonly string[]): boolean {
  return list.some((candidate) => candidate.toLowerCase() === uri.toLowerCase());
}

function validateIdentifierUri(uri: string): void {
  let parsed: URL;
  try {
    parsed = new URL(uri);
  } catch {
    throw new DirectoryError('invalid', `The App ID URI '${uri}' is not an absolute URI.`);
  }
  if (parsed.search !== '' || uri.includes('#') || uri.endsWith('/') || uri.includes('*')) {
    throw new DirectoryError(
      'invalid',
      `The App ID URI '${uri}' must not have a query, fragment, wildcard or trailing slash.`,
    );
  }
  if (!['api:', 'https:', 'urn:'].includes(parsed.protocol)) {
    throw new DirectoryError('invalid', `The App ID URI '${uri}' must use the api, https or urn scheme.`);
  }
}

function requireGuid(value: string, what: string): string {
  if (!isGuid(value)) throw new DirectoryError('invalid', `The ${what} id '${value}' is not a GUID.`);
  return value.toLowerCase();
}

/**
 * A front-channel logout URL: what a `web` redirect URI may be (absolute `https`, or `http` on a loopback host;
 * no fragment, userinfo or wildcard).
 */
function validateLogoutUrl(uri: string): void {
  if (redirectUriProblem(uri, 'web') !== undefined) {
    throw new DirectoryError(
      'invalid',
      `The logout URL '${shown(uri)}' must be an absolute https URL (http only on a loopback host), without a fragment, userinfo or wildcard.`,
    );
  }
}

/**
 * Validates every redirect URI of an application for its platform ({@link redirectUriProblem}) and their number.
 *
 * @throws DirectoryError `invalid`, naming the first URI refused and why.
 */
function validateRedirectUris(byPlatform: Readonly<Record<RedirectUriPlatform, readonly unknown[]>>): void {
  let count = 0;
  for (const platform of ['web', 'spa', 'publicClient'] as const) {
    for (const uri of byPlatform[platform]) {
      count += 1;
      const problem = typeof uri === 'string' ? redirectUriProblem(uri, platform) : 'is not a string';
      if (problem !== undefined) {
        throw new DirectoryError('invalid', `The ${platform} redirect URI '${shown(uri)}' ${problem}.`);
      }
    }
  }
  if (count > MAX_REDIRECT_URIS) {
    throw new DirectoryError(
      'invalid',
      `An application may have at most ${MAX_REDIRECT_URIS} redirect URIs.`,
    );
  }
}

/** A value as it may be shown in an error message: printable and bounded. */
function shown(value: unknown): string {
  const json = typeof value === 'string' ? value : (JSON.stringify(value) as string | undefined);
  const text = json ?? String(value);
  // eslint-disable-next-line no-control-regex -- control characters are replaced so the message stays one line
  const printable = text.replace(/[\x00-\x1f\x7f]/g, '\uFFFD');
  return printable.length > 300 ? `${printable.slice(0, 300)}…` : printable;
}
