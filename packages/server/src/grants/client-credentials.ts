import {
  GrantType,
  IdentityError,
  defaultScopeResource,
  isScopeToken,
  parseScope,
  type TokenResponse,
} from '@tessera/protocol';
import { authenticateClient } from '../client-auth/authenticate-client.js';
import type { ServerContext } from '../context.js';
import type { Application } from '../directory/model.js';
import { issueAccessToken } from '../tokens/access-token.js';
import { assertDpopRequirement, type GrantDescriptor, type TokenRequest } from './grant.js';

/**
 * The client credentials grant: a confidential client gets an app-only access token for one resource, carrying the
 * application permissions (app roles) granted to its service principal in the tenant.
 *
 * `scope` must be exactly one `{App ID URI or appId}/.default`.
 *
 * @throws IdentityError 900144 (no `scope`), 70011 (several scopes), 1002012 (no `/.default`), 500011 (resource
 *   unknown or absent from the tenant), 9100303 (the app requires DPoP and no proof came), and client
 *   authentication errors.
 *
 * With a DPoP proof the access token is bound to its key (`cnf.jkt`, `token_type: DPoP`, RFC 9449 §5).
 * @see RFC 6749 §4.4, RFC 9449 §5, docs/endpoints.md (`grant_type=client_credentials`)
 */
export const clientCredentialsGrant: GrantDescriptor = {
  grantType: GrantType.clientCredentials,
  parameters: ['scope'],
  allowRepeated: [],
  async handle(context: ServerContext, request: TokenRequest): Promise<TokenResponse> {
    const client = await authenticateClient(context, request);
    assertDpopRequirement(client.application, request);
    const scope = request.params.scope;
    if (scope === undefined || scope.trim() === '') throw new IdentityError(900144, { name: 'scope' });
    const scopes = parseScope(scope);
    if (scopes.length !== 1 || scopes[0] === undefined || !isScopeToken(scopes[0])) {
      throw new IdentityError(70011, { scope: scope.slice(0, 512) });
    }
    const requestedIdentifier = defaultScopeResource(scopes[0]);
    if (requestedIdentifier === undefined) throw new IdentityError(1002012, { scope: scopes[0] });

    const { cache } = context;
    const tenant = client.tenant;
    const notFound = () => new IdentityError(500011, { resource: requestedIdentifier, tenant: tenant.id });
    const resourceAppId = await cache.resourceAppId(requestedIdentifier);
    const resource = resourceAppId === undefined ? undefined : await cache.application(resourceAppId);
    if (resource === undefined) throw notFound();
    const resourceSp = await cache.servicePrincipal(tenant.id, resource.appId);
    if (resourceSp === undefined || !resourceSp.accountEnabled) throw notFound();

    const assigned = await cache.assignedAppRoleIds(client.servicePrincipal.id, resourceSp.id);
    const roles = appRoleValues(resource, assigned);
    const now = context.now();
    const lifetimeSeconds = context.config.accessTokenLifetimeSeconds;
    const accessToken = await issueAccessToken({
      keyRing: context.keyRing(),
      base: context.baseUrl(),
      tenantId: tenant.id,
      client: client.application,
      clientAuthenticationLevel: client.clientAuthenticationLevel,
      resource,
      requestedIdentifier,
      subject: { kind: 'app', servicePrincipal: client.servicePrincipal, roles },
      now,
      lifetimeSeconds,
      dpopJkt: request.dpop?.jkt,
    });
    request.issued?.({ tenantId: tenant.id, client: client.application, resource });
    return {
      token_type: request.dpop === undefined ? 'Bearer' : 'DPoP',
      expires_in: lifetimeSeconds,
      ext_expires_in: lifetimeSeconds,
      access_token: accessToken,
    };
  },
};

/** Values of enabled application permissions among the assigned app role ids, in assignment order. */
function appRoleValues(resource: Application, assignedIds: readonly string[]): string[] {
  const values: string[] = [];
  for (const id of assignedIds) {
    const role = resource.appRoles.find((r) => r.id === id);
    if (role?.isEnabled === true && role.allowedMemberTypes.includes('Application')) values.push(role.value);
  }
  return values;
}
