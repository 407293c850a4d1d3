import { randomUUID } from 'node:crypto';
import type { Transaction } from 'kysely';
import type { DirectoryStore } from '../../store/directory-store.js';
import type { Database } from '../../store/schema.js';
import { DIRECTORY_APP_ID, builtinDirectoryApplication } from '../builtin-directory-app.js';
import { DirectoryError, writeOrConflict } from '../errors.js';
import {
  emptyApplicationDefinition,
  type ApiApplication,
  type AppRole,
  type Application,
  type KeyCredential,
  type ApplicationDefinition,
  type PermissionScope,
  type RequiredResourceAccess,
  type ServicePrincipal,
  type SignInAudience,
  type TokenSigningAlgorithm,
  type User,
  type WebApplication,
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
import { checkedPage, tenantPage, type Page, type PageRequest, type TenantPageRequest } from './paging.js';

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
  /**
   * `requiredResourceAccess` application permissions (`Role` entries): resource `appId` or App ID URI, and values
   * of its app roles that may be granted to applications — what admin consent grants and `/.default` of the client
   * credentials grant means.
   */
  readonly requiredRoles?: readonly { readonly resource: string; readonly roles: readonly string[] }[];
  /** Delegated scopes of type `Admin` (only an administrator can consent to them), by value. */
  readonly adminScopes?: readonly string[];
}

/**
 * A change of the Graph-settable properties of an application (Graph `PATCH /applications/{id}`, and the
 * properties of `POST /applications`), in Graph's shapes. A property given replaces the stored one; `api`, `web`
 * and `web.implicitGrantSettings` are complex values changed property by property (OData's PATCH of a complex
 * property); collections (`appRoles`, `identifierUris`, `requiredResourceAccess`, redirect URIs, …) are replaced
 * whole.
 *
 * @see https://learn.microsoft.com/graph/api/application-update
 */
export interface ApplicationChange {
  readonly displayName?: string;
  readonly signInAudience?: SignInAudience;
  readonly identifierUris?: readonly string[];
  readonly appRoles?: readonly AppRole[];
  readonly api?: Partial<ApiApplication>;
  readonly requiredResourceAccess?: readonly RequiredResourceAccess[];
  readonly web?: Partial<Omit<WebApplication, 'implicitGrantSettings'>> & {
    readonly implicitGrantSettings?: Partial<WebApplication['implicitGrantSettings']>;
  };
  readonly spa?: { readonly redirectUris: readonly string[] };
  readonly publicClient?: { readonly redirectUris: readonly string[] };
  /** Tessera extension (RFC 9449 §5.2): every token request of the app must carry a DPoP proof. */
  readonly dpopBoundAccessTokens?: boolean;
}

/** An application by object id (`{ id }`) or `appId` (`{ appId }`, Graph's `applications(appId='…')`). */
export type ApplicationRef = { readonly id: string } | { readonly appId: string };

/** What {@link ApplicationService.register} creates besides the application itself. */
export interface RegistrationOptions {
  /**
   * Whether to create the application's service principal in its home tenant too: the CLI's `app create` does
   * (an app it registers can sign in at once); Graph's `POST /applications` does not (`POST
   * /servicePrincipals` does).
   */
  readonly servicePrincipal: boolean;
  /** Certificate credentials to register with the application, in the same write. */
  readonly keyCredentials?: readonly KeyCredential[];
}

/** Graph's message when a permission (scope or role) is removed or its value changed while it is enabled. */
export const ENABLED_PERMISSION_MESSAGE =
  'Permission (scope or role) cannot be deleted or updated unless disabled first.';

/** Most app roles, and most delegated scopes, an application may define. */
export const MAX_PERMISSIONS = 500;

/** Longest display name of an application, in characters (Graph's limit). */
export const MAX_DISPLAY_NAME_CHARS = 256;

/** `appRole.allowedMemberTypes` values. */
const MEMBER_TYPES: readonly string[] = ['User', 'Application'];
/** `permissionScope.type` values. */
const SCOPE_TYPES: readonly string[] = ['User', 'Admin'];
/** `api.requestedAccessTokenVersion` values. */
const TOKEN_VERSIONS: readonly unknown[] = [null, 1, 2];

const SIGN_IN_AUDIENCES: readonly SignInAudience[] = [
  'AzureADMyOrg',
  'AzureADMultipleOrgs',
  'AzureADandPersonalMicrosoftAccount',
  'PersonalMicrosoftAccount',
];

/**
 * The application `current` with `change` applied (nothing checked: see {@link ApplicationService.register} and
 * {@link ApplicationService.change}).
 */
export function applyApplicationChange(current: Application, change: ApplicationChange): Application {
  const { web, api, ...replaced } = change;
  return {
    ...current,
    ...(replaced.displayName === undefined ? {} : { displayName: replaced.displayName }),
    ...(replaced.signInAudience === undefined ? {} : { signInAudience: replaced.signInAudience }),
    ...(replaced.identifierUris === undefined ? {} : { identifierUris: [...replaced.identifierUris] }),
    ...(replaced.appRoles === undefined ? {} : { appRoles: replaced.appRoles }),
    ...(replaced.requiredResourceAccess === undefined
      ? {}
      : { requiredResourceAccess: replaced.requiredResourceAccess }),
    ...(replaced.spa === undefined ? {} : { spa: replaced.spa }),
    ...(replaced.publicClient === undefined ? {} : { publicClient: replaced.publicClient }),
    ...(replaced.dpopBoundAccessTokens === undefined
      ? {}
      : { dpopBoundAccessTokens: replaced.dpopBoundAccessTokens }),
    api: api === undefined ? current.api : { ...current.api, ...api },
    web:
      web === undefined
        ? current.web
        : {
            ...current.web,
            ...web,
            implicitGrantSettings: { ...current.web.implicitGrantSettings, ...web.implicitGrantSettings },
          },
  };
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
   * Registers an application in its home tenant and creates its service principal there (the CLI's `app
   * create`): roles, scopes and required permissions named by value. Checked as {@link register} checks.
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
    const adminScopes = input.adminScopes ?? [];
    const scopeValues = [
      ...(input.scopes ?? []),
      ...adminScopes.filter((v) => !(input.scopes ?? []).includes(v)),
    ];
    const scopes = uniqueValues(scopeValues, 'scope').map((value): PermissionScope => ({
      id: randomUUID(),
      value,
      type: adminScopes.includes(value) ? 'Admin' : 'User',
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
    const redirectUris = input.redirectUris ?? {};
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
    const requiredResourceAccess = await this.requiredScopeAccess(
      input.requiredScopes ?? [],
      input.requiredRoles ?? [],
    );
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
    const registered = await this.insertChecked(application, { servicePrincipal: true });
    if (registered.servicePrincipal === undefined) throw new Error('The service principal was not created.');
    return { application: registered.application, servicePrincipal: registered.servicePrincipal };
  }

  /**
   * Registers an application in its home tenant from Graph's properties (`POST /applications`): a new object id
   * and `appId`, `properties` over an empty definition (no App ID URI unless given), every property checked as
   * {@link change} checks it, then one write with the certificates given and, if asked, the service principal.
   *
   * @throws DirectoryError `invalid` (a property {@link change} refuses), `conflict` (a taken App ID URI),
   *   `not_found` (tenant).
   * @see https://learn.microsoft.com/graph/api/application-post-applications
   */
  async register(
    tenant: string,
    properties: ApplicationChange & { readonly displayName: string },
    options: RegistrationOptions,
  ): Promise<{ application: Application; servicePrincipal: ServicePrincipal | undefined }> {
    const home = await this.tenants.require(tenant);
    const empty: Application = {
      ...emptyApplicationDefinition,
      id: randomUUID(),
      appId: randomUUID(),
      tenantId: home.id,
      displayName: properties.displayName,
      signInAudience: 'AzureADMyOrg',
      identifierUris: [],
      accountEnabled: true,
      passwordCredentials: [],
      keyCredentials: [],
    };
    return this.insertChecked(applyApplicationChange(empty, properties), options);
  }

  /** Checks a new application ({@link checkApplication}) and stores it in one write, as `options` say. */
  private async insertChecked(
    application: Application,
    options: RegistrationOptions,
  ): Promise<{ application: Application; servicePrincipal: ServicePrincipal | undefined }> {
    await this.checkApplication(application, undefined);
    const now = this.nowSeconds();
    const registered: Application = {
      ...application,
      keyCredentials: [...(options.keyCredentials ?? [])],
      createdAt: now,
    };
    const servicePrincipal = options.servicePrincipal
      ? servicePrincipalFor(registered, registered.tenantId)
      : undefined;
    await writeOrConflict(this.store, IDENTIFIER_URI_CONFLICT, async (trx) => {
      await this.store.applications.insert(trx, registered, now);
      for (const credential of registered.keyCredentials) {
        await this.store.applications.insertKeyCredential(trx, registered, credential);
      }
      if (servicePrincipal !== undefined)
        await this.store.servicePrincipals.insert(trx, servicePrincipal, now);
    });
    return { application: registered, servicePrincipal };
  }

  /**
   * Changes Graph's properties of an application (`PATCH /applications/{id}`; {@link ApplicationChange} says how
   * each one merges), checked as on registration, in one write (with `keyCredentials`, when given, replacing the
   * application's certificates: Graph's `PATCH` of the collection). Nothing is written when a check fails. Token
   * requests on every node see the change.
   *
   * Checks: a display name of 1 to {@link MAX_DISPLAY_NAME_CHARS} characters; a known sign-in audience; App ID
   * URIs well-formed, without duplicates and registered by no other application; app roles and scopes with
   * unique GUID ids and unique valid values, at most {@link MAX_PERMISSIONS} each, and none that is enabled
   * removed or given another value (disable it first, as Graph requires); pre-authorized applications naming
   * GUIDs and scopes of this application; known client applications GUIDs; `requiredResourceAccess` naming
   * existing resources and, per entry, a delegated scope (`Scope`) or an application permission (`Role`) of
   * that resource; valid redirect and logout URLs; an access token version of null, 1 or 2.
   *
   * @returns the application as stored after the change.
   * @throws DirectoryError `not_found`, `invalid` (the built-in directory application, a check above),
   *   `enabled_permission` (an enabled role or scope removed or changed), `conflict` (an App ID URI another
   *   application registered).
   * @see https://learn.microsoft.com/graph/api/application-update
   */
  async change(
    appId: string,
    change: ApplicationChange,
    keyCredentials?: readonly KeyCredential[],
  ): Promise<Application> {
    const app = await this.requireOwn(appId);
    const next: Application = {
      ...applyApplicationChange(app, change),
      ...(keyCredentials === undefined ? {} : { keyCredentials }),
    };
    await this.checkApplication(next, app);
    await writeOrConflict(this.store, IDENTIFIER_URI_CONFLICT, async (trx) => {
      await this.store.applications.updateProperties(trx, next);
      await this.store.applications.updateDefinition(trx, next);
      if (keyCredentials !== undefined) {
        await this.store.applications.replaceKeyCredentials(trx, next, keyCredentials);
      }
    });
    return next;
  }

  /**
   * Every rule an application's properties follow, on registration and on change ({@link change} lists them).
   *
   * @param previous the application before the change; undefined on registration.
   * @throws DirectoryError `invalid`, `enabled_permission`, `conflict`.
   */
  private async checkApplication(next: Application, previous: Application | undefined): Promise<void> {
    const displayName = next.displayName.trim();
    if (displayName === '') throw new DirectoryError('invalid', 'An application needs a display name.');
    if (next.displayName.length > MAX_DISPLAY_NAME_CHARS) {
      throw new DirectoryError(
        'invalid',
        `The display name is longer than ${MAX_DISPLAY_NAME_CHARS} characters.`,
      );
    }
    if (!SIGN_IN_AUDIENCES.includes(next.signInAudience)) {
      throw new DirectoryError('invalid', `'${next.signInAudience}' is not a valid signInAudience.`);
    }
    if (previous === undefined || !sameList(previous.identifierUris, next.identifierUris)) {
      const kept = new Set((previous?.identifierUris ?? []).map((uri) => uri.toLowerCase()));
      await this.checkIdentifierUris(next.identifierUris, (uri) => kept.has(uri.toLowerCase()));
    }
    checkPermissions(next.appRoles, previous?.appRoles ?? [], 'app role');
    for (const role of next.appRoles) {
      const types = role.allowedMemberTypes;
      // The values come from JSON: checked as text, whatever the model's type says.
      const known = types.every((type: string) => MEMBER_TYPES.includes(type));
      if (!known || types.length === 0 || new Set(types).size !== types.length) {
        throw new DirectoryError(
          'invalid',
          `The app role '${role.value}' needs allowedMemberTypes of User, Application or both.`,
        );
      }
    }
    checkPermissions(next.api.oauth2PermissionScopes, previous?.api.oauth2PermissionScopes ?? [], 'scope');
    for (const scope of next.api.oauth2PermissionScopes) {
      if (!SCOPE_TYPES.includes(scope.type)) {
        throw new DirectoryError('invalid', `The type of the scope '${scope.value}' must be User or Admin.`);
      }
    }
    if (!TOKEN_VERSIONS.includes(next.api.requestedAccessTokenVersion)) {
      throw new DirectoryError('invalid', 'requestedAccessTokenVersion must be null, 1 or 2.');
    }
    for (const id of next.api.knownClientApplications) requireGuid(id, 'known client application');
    const scopeIds = new Set(next.api.oauth2PermissionScopes.map((scope) => scope.id));
    for (const entry of next.api.preAuthorizedApplications) {
      requireGuid(entry.appId, 'pre-authorized application');
      for (const id of entry.delegatedPermissionIds) {
        if (!scopeIds.has(id)) {
          throw new DirectoryError(
            'invalid',
            `The pre-authorized application '${entry.appId}' names '${id}', which is no scope of this application.`,
          );
        }
      }
    }
    await this.checkRequiredResourceAccess(next);
    validateRedirectUris({
      web: next.web.redirectUris,
      spa: next.spa.redirectUris,
      publicClient: next.publicClient.redirectUris,
    });
    if (next.web.logoutUrl !== null && next.web.logoutUrl !== previous?.web.logoutUrl) {
      validateLogoutUrl(next.web.logoutUrl);
    }
  }

  /**
   * `requiredResourceAccess`: one entry per resource, each an existing application (this one included) and each
   * permission a delegated scope (`Scope`) or an application permission (`Role`, an app role allowing
   * `Application`) of it, listed once.
   *
   * @throws DirectoryError `invalid`.
   */
  private async checkRequiredResourceAccess(next: Application): Promise<void> {
    const resources = new Set<string>();
    for (const entry of next.requiredResourceAccess) {
      const resourceAppId = requireGuid(entry.resourceAppId, 'required resource');
      if (resources.has(resourceAppId)) {
        throw new DirectoryError('invalid', `The resource '${resourceAppId}' is required twice.`);
      }
      resources.add(resourceAppId);
      let resource: Application;
      try {
        resource = resourceAppId === next.appId ? next : await this.require(resourceAppId);
      } catch (error) {
        if (error instanceof DirectoryError && error.code === 'not_found') {
          throw new DirectoryError('invalid', `The required resource '${resourceAppId}' does not exist.`);
        }
        throw error;
      }
      const seen = new Set<string>();
      for (const access of entry.resourceAccess) {
        const id = requireGuid(access.id, 'required permission');
        const type: string = access.type;
        const known =
          type === 'Scope'
            ? resource.api.oauth2PermissionScopes.some((scope) => scope.id === id)
            : type === 'Role'
              ? resource.appRoles.some(
                  (role) => role.id === id && role.allowedMemberTypes.includes('Application'),
                )
              : undefined;
        if (known === undefined) {
          throw new DirectoryError('invalid', `A required permission's type must be Scope or Role.`);
        }
        if (!known) {
          throw new DirectoryError(
            'invalid',
            `The resource '${resource.displayName}' has no ${access.type === 'Scope' ? 'delegated scope' : 'application permission'} '${id}'.`,
          );
        }
        if (seen.has(`${access.type}:${id}`)) {
          throw new DirectoryError('invalid', `The required permission '${id}' is listed twice.`);
        }
        seen.add(`${access.type}:${id}`);
      }
    }
  }

  /** `requiredResourceAccess` entries for delegated scopes named by value, grouped per resource. */
  private async requiredScopeAccess(
    wanted: readonly { readonly resource: string; readonly scopes: readonly string[] }[],
    wantedRoles: readonly { readonly resource: string; readonly roles: readonly string[] }[] = [],
  ): Promise<RequiredResourceAccess[]> {
    const result: RequiredResourceAccess[] = [];
    const add = (resourceAppId: string, entries: readonly { id: string; type: 'Scope' | 'Role' }[]) => {
      const existing = result.find((r) => r.resourceAppId === resourceAppId);
      const access = [...(existing?.resourceAccess ?? [])];
      for (const entry of entries) if (!access.some((a) => a.id === entry.id)) access.push(entry);
      if (existing === undefined) result.push({ resourceAppId, resourceAccess: access });
      else result[result.indexOf(existing)] = { resourceAppId, resourceAccess: access };
    };
    for (const { resource: named, roles } of wantedRoles) {
      const resourceAppId = await resolveResourceAppId(this.store, named);
      if (resourceAppId === undefined)
        throw new DirectoryError('not_found', `Resource '${named}' not found.`);
      const resource = await this.require(resourceAppId);
      const entries = roles.map((value) => {
        const role = resource.appRoles.find((r) => r.value === value && r.isEnabled);
        if (role === undefined) {
          throw new DirectoryError(
            'not_found',
            `The resource '${resource.displayName}' has no app role '${value}'.`,
          );
        }
        if (!role.allowedMemberTypes.includes('Application'))
          throw new DirectoryError('invalid', `The app role '${value}' cannot be granted to applications.`);
        return { id: role.id, type: 'Role' as const };
      });
      add(resource.appId, entries);
    }
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
   * Checked as {@link change} checks.
   *
   * @throws DirectoryError `not_found`, `invalid`, `enabled_permission`.
   */
  async update(
    appId: string,
    change: (current: Application) => Partial<ApplicationDefinition>,
  ): Promise<Application> {
    const app = await this.requireOwn(appId);
    const next: Application = { ...app, ...change(app) };
    await this.checkApplication(next, app);
    await this.store.write((trx) => this.store.applications.updateDefinition(trx, next));
    return next;
  }

  /**
   * An application registered in a tenant, by object id (`{ id }`) or `appId` (`{ appId }`, Graph's
   * `applications(appId='…')`).
   *
   * @throws DirectoryError `not_found` (tenant, or no such application registered in it).
   */
  async get(tenant: string, ref: ApplicationRef): Promise<Application> {
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
    const displayName = change.displayName?.trim();
    return this.change(appId, {
      ...change,
      ...(displayName === undefined ? {} : { displayName }),
    });
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
   * Makes a user of the application's home tenant one of its owners (Graph `POST /applications/{id}/owners/$ref`).
   *
   * @throws DirectoryError `not_found` (tenant, application, or no such user in the tenant), `conflict` (the user
   *   already owns the application).
   * @see https://learn.microsoft.com/graph/api/application-post-owners
   */
  async addOwner(tenant: string, ref: ApplicationRef, userId: string): Promise<void> {
    const app = await this.get(tenant, ref);
    const user = await this.store.users.findById(userId.toLowerCase());
    if (user?.tenantId !== app.tenantId) {
      throw new DirectoryError('not_found', `User '${userId}' not found in tenant '${app.tenantId}'.`);
    }
    const added = await this.store.write((trx) =>
      this.store.applicationOwners.add(trx, app, user.id, this.nowSeconds()),
    );
    if (!added) {
      throw new DirectoryError(
        'conflict',
        "One or more added object references already exist for the following modified properties: 'owners'.",
      );
    }
  }

  /**
   * Removes a user from an application's owners (Graph `DELETE /applications/{id}/owners/{id}/$ref`).
   *
   * @throws DirectoryError `not_found` (tenant, application, or the user is no owner).
   * @see https://learn.microsoft.com/graph/api/application-delete-owners
   */
  async removeOwner(tenant: string, ref: ApplicationRef, userId: string): Promise<void> {
    const app = await this.get(tenant, ref);
    const removed = await this.store.write((trx) =>
      this.store.applicationOwners.remove(trx, app, userId.toLowerCase()),
    );
    if (!removed) {
      throw new DirectoryError('not_found', `User '${userId}' is not an owner of the application.`);
    }
  }

  /**
   * One page of an application's owners (users), by object id (Graph `GET /applications/{id}/owners`).
   *
   * @throws DirectoryError `not_found` (tenant, application), `invalid` for a `top` out of range.
   * @see https://learn.microsoft.com/graph/api/application-list-owners
   */
  async listOwners(tenant: string, ref: ApplicationRef, page: PageRequest): Promise<Page<User>> {
    const app = await this.get(tenant, ref);
    return this.store.applicationOwners.list(app.id, checkedPage(page));
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

/** The message of a lost race for an App ID URI (another writer registered it meanwhile). */
const IDENTIFIER_URI_CONFLICT = 'An App ID URI is already used by another application.';

/** Whether two lists hold the same strings in the same order. */
function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((item, index) => item === b[index]);
}

/**
 * The rules app roles and delegated scopes share: GUID ids and valid values, each unique, at most
 * {@link MAX_PERMISSIONS}; and Graph's rule that an enabled one is neither removed nor given another value (it is
 * disabled first, in an earlier change).
 *
 * @param what `app role` or `scope`, for the messages.
 * @throws DirectoryError `invalid`, `enabled_permission`.
 */
function checkPermissions(
  next: readonly (AppRole | PermissionScope)[],
  previous: readonly (AppRole | PermissionScope)[],
  what: string,
): void {
  if (next.length > MAX_PERMISSIONS) {
    throw new DirectoryError('invalid', `An application may define at most ${MAX_PERMISSIONS} ${what}s.`);
  }
  const ids = next.map((permission) => requireGuid(permission.id, what));
  if (new Set(ids).size !== ids.length) throw new DirectoryError('invalid', `Duplicate ${what} ids.`);
  uniqueValues(
    next.map((permission) => permission.value),
    what,
  );
  for (const before of previous) {
    if (!before.isEnabled) continue;
    const after = next.find((permission) => permission.id.toLowerCase() === before.id.toLowerCase());
    if (after?.value !== before.value) {
      throw new DirectoryError('enabled_permission', ENABLED_PERMISSION_MESSAGE);
    }
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
