import {
  IdentityError,
  OIDC_SCOPES,
  defaultScopeResource,
  isScopeToken,
  parseScope,
} from '@tessera/protocol';
import { DIRECTORY_APP_ID } from './builtin-directory-app.js';
import type { DirectoryCache } from './directory-cache.js';
import type { Application, AuthorizedGrant } from './model.js';

/** A resolved `scope` parameter: the one resource of the access token and what is asked of it. */
export interface ResolvedScopes {
  readonly resource: Application;
  readonly grant: AuthorizedGrant;
}

/**
 * Resolves a delegated `scope` parameter (Microsoft identity platform rules): `openid profile email
 * offline_access` are OpenID Connect scopes; `{App ID URI or appId}/{value}` names a delegated scope of that
 * resource; a bare value is a scope of the built-in directory API; `{resource}/.default` stands for the client's
 * `requiredResourceAccess` delegated permissions on the resource. One resource per request; with none, the token
 * is for the directory API with the OIDC scopes it exposes. Values match case-insensitively (as on the Microsoft
 * identity platform) and come back in the registered spelling; the resource identifier is kept as written.
 *
 * @throws IdentityError 70011 (malformed scope or unknown value), 700022 (several resources), 500011 (unknown
 *   resource).
 */
export async function resolveScopes(
  cache: Pick<DirectoryCache, 'application' | 'resourceAppId'>,
  client: Application,
  scopeParameter: string | undefined,
  tenantName: string,
): Promise<ResolvedScopes> {
  const oidcScopes: string[] = [];
  let identifier: string | undefined;
  let resourceAppId: string | undefined;
  const values: string[] = [];
  let isDefault = false;
  for (const scope of parseScope(scopeParameter)) {
    if (!isScopeToken(scope)) throw new IdentityError(70011, { scope: scope.slice(0, 256) });
    // Scope values compare case-insensitively, as on the Microsoft identity platform (`User.Read` = `user.read`).
    const oidc = scope.toLowerCase();
    if (OIDC_SCOPES.has(oidc)) {
      if (!oidcScopes.includes(oidc)) oidcScopes.push(oidc);
      continue;
    }
    const slash = scope.lastIndexOf('/');
    const named = slash < 0 ? '' : scope.slice(0, slash);
    const value = slash < 0 ? scope : scope.slice(slash + 1);
    const appId = slash < 0 ? DIRECTORY_APP_ID : await cache.resourceAppId(named);
    if (appId === undefined)
      throw new IdentityError(500011, { resource: named.slice(0, 256), tenant: tenantName });
    if (resourceAppId !== undefined && resourceAppId !== appId) {
      throw new IdentityError(700022, { scope: (scopeParameter ?? '').slice(0, 512) });
    }
    resourceAppId = appId;
    identifier ??= named;
    if (defaultScopeResource(scope) !== undefined) isDefault = true;
    else values.push(value);
  }
  const resource = await cache.application(resourceAppId ?? DIRECTORY_APP_ID);
  if (resource === undefined)
    throw new IdentityError(500011, { resource: identifier ?? '', tenant: tenantName });
  const published = resource.api.oauth2PermissionScopes.filter((s) => s.isEnabled);
  // The registered spelling is what tokens (`scp`), consent records and responses carry.
  const registered = values.map((value) => {
    const match = published.find((s) => s.value.toLowerCase() === value.toLowerCase());
    if (match === undefined) throw new IdentityError(70011, { scope: value.slice(0, 256) });
    return match.value;
  });
  let scopes = [...new Set(registered)];
  if (isDefault) {
    const required = client.requiredResourceAccess.find((r) => r.resourceAppId === resource.appId);
    const ids = new Set(required?.resourceAccess.filter((a) => a.type === 'Scope').map((a) => a.id) ?? []);
    scopes = [...new Set([...scopes, ...published.filter((s) => ids.has(s.id)).map((s) => s.value)])];
  }
  if (resource.appId === DIRECTORY_APP_ID) {
    // The directory API publishes the OIDC scopes too: its tokens carry them beside the values named, as the
    // platform's do, so `openid profile User.Read` gives a token userinfo accepts.
    scopes = [...new Set([...oidcScopes.filter((s) => s !== 'offline_access'), ...scopes])];
  }
  return {
    resource,
    grant: {
      resourceAppId: resource.appId,
      requestedIdentifier: identifier ?? '',
      scopes,
      oidcScopes,
    },
  };
}

/** What one (client, resource) pair still needs consented: the consent page's item, the refresh grant's refusal. */
export interface ConsentNeed {
  /** The application asking (the client, or for combined consent the resource itself as a client). */
  readonly client: Application;
  readonly resource: Application;
  /** Missing scope values of the resource, in the registered spelling. */
  readonly scopes: readonly string[];
  /** The subset that only an administrator can grant (`type: 'Admin'`). */
  readonly adminScopes: readonly string[];
}

/** The directory reads the consent engine makes: the {@link DirectoryCache}'s, or a fake in unit tests. */
export type ConsentReader = Pick<DirectoryCache, 'application' | 'servicePrincipal' | 'permissionGrants'>;

/** A question to the consent engine: may this user use these scopes through this client, in this tenant? */
export interface ConsentQuery {
  /** The tenant whose grants count (the user's). */
  readonly tenantId: string;
  readonly userId: string;
  readonly client: Application;
  /** The resource of the token (from {@link resolveScopes}). */
  readonly resource: Application;
  /** The resolved scopes (from {@link resolveScopes}; `/.default` already stands for the static permissions). */
  readonly grant: AuthorizedGrant;
  /**
   * Also ask what the resource itself requires (`requiredResourceAccess` delegated permissions) when it lists the
   * client in `api.knownClientApplications`: combined consent, asked at the consent prompt so a middle tier can
   * later use On-Behalf-Of without a prompt of its own. Default false.
   */
  readonly combinedConsent?: boolean | undefined;
  /**
   * Count nothing as consented, not even pre-authorized scopes (`prompt=consent`, OIDC Core §3.1.2.1). Default
   * false.
   */
  readonly ignoreGranted?: boolean | undefined;
}

/**
 * The consent engine: what is missing for a user, client, resource and scopes in a tenant. The OIDC scopes are
 * asked of the directory API (which publishes them), the resource's scopes of the resource, and with
 * {@link ConsentQuery.combinedConsent} the resource's own static permissions of each resource it requires. A scope
 * counts as consented when a grant for everyone (`AllPrincipals`) or the user's own grant (`Principal`) names it,
 * or the resource pre-authorizes the client for it (`api.preAuthorizedApplications`). Reads through the directory
 * cache only.
 *
 * @returns one need per (client, resource) pair with something missing, in the order a consent page lists them
 *   (directory API, resource, then combined consent); empty when everything is consented.
 */
export async function missingConsent(cache: ConsentReader, query: ConsentQuery): Promise<ConsentNeed[]> {
  const needs: ConsentNeed[] = [];
  for (const wanted of await wantedConsent(cache, query)) {
    const granted =
      query.ignoreGranted === true
        ? new Set<string>()
        : await consentedScopes(cache, {
            tenantId: query.tenantId,
            userId: query.userId,
            client: wanted.client,
            resource: wanted.resource,
          });
    const missing = wanted.scopes.filter((s) => !granted.has(s));
    if (missing.length === 0) continue;
    const adminScopes = missing.filter(
      (value) => wanted.resource.api.oauth2PermissionScopes.find((s) => s.value === value)?.type === 'Admin',
    );
    needs.push({ client: wanted.client, resource: wanted.resource, scopes: missing, adminScopes });
  }
  return needs;
}

/** The scopes a query asks, per (client, resource) pair, each pair once. */
async function wantedConsent(
  cache: ConsentReader,
  query: ConsentQuery,
): Promise<{ client: Application; resource: Application; scopes: string[] }[]> {
  const wanted: { client: Application; resource: Application; scopes: string[] }[] = [];
  const add = (client: Application, resource: Application, scopes: readonly string[]) => {
    if (scopes.length === 0) return;
    const existing = wanted.find((w) => w.client === client && w.resource.appId === resource.appId);
    if (existing === undefined) wanted.push({ client, resource, scopes: [...new Set(scopes)] });
    else existing.scopes = [...new Set([...existing.scopes, ...scopes])];
  };
  const { client, resource, grant } = query;
  const directory = await cache.application(DIRECTORY_APP_ID);
  if (directory !== undefined) add(client, directory, grant.oidcScopes);
  add(client, resource, grant.scopes);
  if (query.combinedConsent === true && resource.api.knownClientApplications.includes(client.appId)) {
    for (const required of resource.requiredResourceAccess) {
      const downstream = await cache.application(required.resourceAppId);
      if (downstream === undefined) continue;
      const ids = new Set(required.resourceAccess.filter((a) => a.type === 'Scope').map((a) => a.id));
      add(
        resource,
        downstream,
        downstream.api.oauth2PermissionScopes.filter((s) => ids.has(s.id)).map((s) => s.value),
      );
    }
  }
  return wanted;
}

/**
 * Scope values of `resource` the user may use through `client` in a tenant without being asked: a grant for
 * everyone (`AllPrincipals`), the user's own grant (`Principal`), or the resource pre-authorizing the client
 * (`api.preAuthorizedApplications`). Values are in the resource's registered spelling whatever the case a grant
 * was written in.
 */
async function consentedScopes(
  cache: ConsentReader,
  input: { tenantId: string; userId: string; client: Application; resource: Application },
): Promise<Set<string>> {
  const granted = new Set<string>();
  const pre = input.resource.api.preAuthorizedApplications.find((p) => p.appId === input.client.appId);
  if (pre !== undefined) {
    for (const scope of input.resource.api.oauth2PermissionScopes) {
      if (pre.delegatedPermissionIds.includes(scope.id)) granted.add(scope.value);
    }
  }
  const [clientSp, resourceSp] = await Promise.all([
    cache.servicePrincipal(input.tenantId, input.client.appId),
    cache.servicePrincipal(input.tenantId, input.resource.appId),
  ]);
  if (clientSp === undefined || resourceSp === undefined) return granted;
  // A grant written with other letter case (the management API stores what it is given) still names the scope:
  // values are reported in the resource's registered spelling, which is what resolveScopes returns.
  const spelling = new Map(
    input.resource.api.oauth2PermissionScopes.map((s) => [s.value.toLowerCase(), s.value]),
  );
  for (const grant of await cache.permissionGrants(clientSp.id, resourceSp.id)) {
    if (grant.consentType === 'AllPrincipals' || grant.principalId === input.userId) {
      for (const scope of grant.scope.split(' ')) {
        if (scope !== '') granted.add(spelling.get(scope.toLowerCase()) ?? scope);
      }
    }
  }
  return granted;
}
