import type { FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.js';
import { builtinDirectoryApplication, DIRECTORY_APP_ID } from '../directory/builtin-directory-app.js';
import { isAudienceOf } from '../directory/identifiers.js';
import type { User } from '../directory/model.js';
import { verifyOwnAccessToken } from '../tokens/verify-own-token.js';
import { INSUFFICIENT_PRIVILEGES, ManagementError } from './errors.js';
import { OPERATION_PERMISSIONS, type ManagementOperation } from './permissions.js';

/** Who calls the management API: a signed-in user through a client (delegated), or a client by itself (app-only). */
export type Caller =
  | {
      readonly kind: 'delegated';
      /** The token's `tid`: the only tenant the request may see. */
      readonly tenantId: string;
      /** The client the user signed in to (`appid` of a v1 token, `azp` of a v2 one). */
      readonly clientAppId: string;
      /** The signed-in user, read from the directory (current roles and `accountEnabled`). */
      readonly user: User;
      /** The token's `scp` values, lower-case. */
      readonly scopes: ReadonlySet<string>;
    }
  | {
      readonly kind: 'app';
      readonly tenantId: string;
      /** The calling client (`appid` / `azp`). */
      readonly clientAppId: string;
      /** The client's service principal in the tenant (the token's `oid`). */
      readonly servicePrincipalId: string;
      /** The token's `roles` values, lower-case. */
      readonly roles: ReadonlySet<string>;
    };

const BEARER = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/i;

/**
 * The caller of a management request, from its `Authorization: Bearer` access token (RFC 6750 §2.1): a v1 or v2
 * access token this server issued for the built-in directory API (`aud` its appId or
 * `https://graph.microsoft.com`), unexpired, neither it nor its grant revoked; a user token's user must exist in
 * the token's tenant and be enabled; an app-only token's client must still have that service principal (`oid`)
 * in the token's tenant, enabled; not bound to a DPoP key (`cnf`, RFC 9449 §7.2: the API takes bearer tokens only).
 *
 * @throws ManagementError `unauthenticated` (401 `InvalidAuthenticationToken`) otherwise.
 */
export async function authenticateCaller(request: FastifyRequest, context: ServerContext): Promise<Caller> {
  const token = BEARER.exec(request.headers.authorization ?? '')?.[1];
  if (token === undefined) {
    throw new ManagementError('unauthenticated', 'Access token is empty.');
  }
  const verified = await verifyOwnAccessToken(
    context.keyRing(),
    context.baseUrl(),
    token,
    context.config.clockSkewSeconds,
    { revocations: context.revocations },
  );
  if (!verified.ok) {
    throw new ManagementError(
      'unauthenticated',
      verified.reason === 'expired' ? 'Lifetime validation failed, the token is expired.' : 'Invalid token.',
    );
  }
  const claims = verified.claims;
  // RFC 9449 §7.2: a DPoP-bound token is no bearer token, and this API takes only bearer tokens.
  if (claims.cnf !== undefined) {
    throw new ManagementError(
      'unauthenticated',
      'The access token is bound to a DPoP key (cnf): it cannot be used as a bearer token.',
    );
  }
  const tenantId = claims.tid as string;
  if (!isAudienceOf(builtinDirectoryApplication, claims.aud)) {
    throw new ManagementError('unauthenticated', 'Invalid audience.');
  }
  const clientAppId = typeof claims.appid === 'string' ? claims.appid : String(claims.azp);
  if (claims.idtyp === 'app') {
    const servicePrincipalId = String(claims.oid).toLowerCase();
    // The client's service principal as it is now (read through the directory cache): one disabled or deleted
    // since the token was issued (or deleted and created again, a new `oid`) no longer authenticates.
    const sp = await context.cache.servicePrincipal(tenantId, clientAppId);
    if (sp?.id !== servicePrincipalId || !sp.accountEnabled) {
      throw new ManagementError('unauthenticated', 'Invalid token.');
    }
    return { kind: 'app', tenantId, clientAppId, servicePrincipalId, roles: lowerSet(claims.roles) };
  }
  const user = typeof claims.oid === 'string' ? await context.store.users.findById(claims.oid) : undefined;
  if (user?.tenantId !== tenantId || !user.accountEnabled) {
    throw new ManagementError('unauthenticated', 'Invalid token.');
  }
  const { passwordHash: _hash, ...withoutHash } = user;
  const scopes = typeof claims.scp === 'string' ? claims.scp.split(' ') : [];
  return { kind: 'delegated', tenantId, clientAppId, user: withoutHash, scopes: lowerSet(scopes) };
}

/**
 * Whether a caller may perform an operation under {@link OPERATION_PERMISSIONS}: delegated callers by scope and
 * directory role, app-only callers by app role.
 */
export function isAllowed(caller: Caller, operation: ManagementOperation): boolean {
  const rule = OPERATION_PERMISSIONS[operation];
  if (caller.kind === 'app') return rule.appRoles.some((role) => caller.roles.has(role.toLowerCase()));
  const scoped = rule.delegatedScopes.some((scope) => caller.scopes.has(scope.toLowerCase()));
  const roles: readonly string[] = rule.directoryRoles;
  return scoped && (roles.length === 0 || caller.user.directoryRoles.some((role) => roles.includes(role)));
}

/**
 * Requires {@link isAllowed}.
 *
 * @throws ManagementError `denied` (403 `Authorization_RequestDenied`).
 */
export function requireAllowed(caller: Caller, operation: ManagementOperation): void {
  if (!isAllowed(caller, operation)) throw new ManagementError('denied', INSUFFICIENT_PRIVILEGES);
}

/**
 * The `WWW-Authenticate` challenge of a 401 (RFC 6750 §3), as Microsoft Graph sends it: the authorization server
 * and the resource's client id, and `error="invalid_token"` when a token was presented (§3.1).
 */
export function bearerChallenge(context: ServerContext, request: FastifyRequest): string {
  const presented = BEARER.test(request.headers.authorization ?? '');
  return [
    'Bearer realm=""',
    `authorization_uri="${context.baseUrl()}/common/oauth2/authorize"`,
    `client_id="${DIRECTORY_APP_ID}"`,
    ...(presented ? ['error="invalid_token"'] : []),
  ].join(', ');
}

function lowerSet(values: unknown): ReadonlySet<string> {
  return new Set(
    (Array.isArray(values) ? values : [])
      .filter((v): v is string => typeof v === 'string')
      .map((v) => v.toLowerCase()),
  );
}
