import { GrantType, IdentityError, type TokenResponse } from '@tessera/protocol';
import type { JWTPayload } from 'jose';
import { authenticateClient } from '../client-auth/authenticate-client.js';
import type { ServerContext } from '../context.js';
import { missingConsent, resolveScopes } from '../directory/consent.js';
import { isAudienceOf } from '../directory/identifiers.js';
import type { AuthorizedGrant } from '../directory/model.js';
import type { AuthenticationEvent } from '../sessions/authentication-event.js';
import { newFamilyId } from '../tokens/opaque-tokens.js';
import { responseScope } from '../tokens/user-tokens.js';
import { verifyOwnAccessToken, type OwnTokenRefusal } from '../tokens/verify-own-token.js';
import type { GrantDescriptor, TokenRequest } from './grant.js';
import { refreshTokenFor, userTokenResponse, type IssuedRefreshToken } from './user-token-response.js';

/** The only `requested_token_use` of the jwt-bearer grant this server serves. */
const ON_BEHALF_OF = 'on_behalf_of';

/**
 * The OAuth 2.0 On-Behalf-Of grant (`grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` with
 * `requested_token_use=on_behalf_of`): a confidential middle tier trades the user's access token it received
 * (`assertion`) for a delegated token for a downstream resource (`scope`).
 *
 * - The client authenticates with a secret or a certificate; a public client has no credential and is refused.
 * - The assertion is an access token this server issued (signature, `iss`, lifetime, not revoked), in the client's
 *   tenant, addressed to the client (`aud` its appId or one of its App ID URIs, v1 or v2), and about a user.
 * - The result is about the same user (`oid`, `tid`, `amr`, `name`, `preferred_username` or `upn` by the
 *   downstream resource's token version) and carries only the scopes the consent engine
 *   ({@link missingConsent}) finds consented for the client on the resource: the user's own grant, an
 *   `AllPrincipals` grant (combined consent through `knownClientApplications` records one for the middle tier), or
 *   the resource's `preAuthorizedApplications`. `{resource}/.default` stands for the client's static permissions
 *   on the resource. The OIDC scopes are not consent-checked here: the user's sign-in already granted them.
 * - `offline_access` adds a refresh token of a new family, owned by the middle tier and tied to this grant (not
 *   to a browser session); without it, the access token carries the assertion's `grant_id`, so revoking the
 *   original grant also revokes what was issued on behalf of it.
 * - The response's `scope` names the resource's scopes only, qualified as the client named the resource (no OIDC
 *   scopes), as Entra's On-Behalf-Of responses do.
 *
 * @throws IdentityError 900144 (no `requested_token_use`, `assertion` or `scope`), 70000 (another
 *   `requested_token_use`), client authentication errors (7000218 for a client without a credential), 500133
 *   (assertion expired or not yet valid), 50013 (assertion not this server's access token, an ID token, an
 *   app-only token, revoked, or of another tenant), 500131 (assertion addressed to another audience), 50057 (user
 *   disabled), 70011 / 700022 / 500011 (scope), 65001 `invalid_grant` with `suberror: consent_required`.
 * @see https://learn.microsoft.com/entra/identity-platform/v2-oauth2-on-behalf-of-flow, RFC 7523 §2.1
 */
export const onBehalfOfGrant: GrantDescriptor = {
  grantType: GrantType.jwtBearer,
  parameters: ['assertion', 'scope', 'requested_token_use', 'client_info'],
  allowRepeated: [],
  async handle(context: ServerContext, request: TokenRequest): Promise<TokenResponse> {
    const { params } = request;
    const use = params.requested_token_use;
    if (use === undefined || use === '') throw new IdentityError(900144, { name: 'requested_token_use' });
    if (use !== ON_BEHALF_OF) {
      throw new IdentityError(70000, {
        name: 'requested_token_use',
        reason: `Only '${ON_BEHALF_OF}' is supported.`,
      });
    }
    const assertion = params.assertion;
    if (assertion === undefined || assertion === '') throw new IdentityError(900144, { name: 'assertion' });
    const scope = params.scope;
    if (scope === undefined || scope.trim() === '') throw new IdentityError(900144, { name: 'scope' });

    const client = await authenticateClient(context, request);
    const tenantId = client.tenant.id;
    const verified = await verifyOwnAccessToken(
      context.keyRing(),
      context.baseUrl(),
      assertion,
      context.config.clockSkewSeconds,
      { tenantId, revocations: context.revocations },
    );
    if (!verified.ok) throw assertionRefusal(verified.reason);
    const claims = verified.claims;
    if (claims.idtyp !== 'user' || typeof claims.oid !== 'string') {
      throw new IdentityError(50013, {
        reason: 'The assertion is an app-only token: it represents no user.',
      });
    }
    if (!isAudienceOf(client.application, claims.aud)) {
      throw new IdentityError(500131, {
        tokenAudience: String(claims.aud).slice(0, 256),
        expectedAudience: client.application.appId,
      });
    }
    const user = await context.cache.user(claims.oid);
    if (user === undefined || user.tenantId !== tenantId) {
      throw new IdentityError(50013, { reason: 'The user of the assertion does not exist.' });
    }
    if (!user.accountEnabled) throw new IdentityError(50057);

    const { resource, grant } = await resolveScopes(context.cache, client.application, scope, tenantId);
    const needs = await missingConsent(context.cache, {
      tenantId,
      userId: user.id,
      client: client.application,
      resource,
      grant: { ...grant, oidcScopes: [] },
    });
    const missing = needs.flatMap((need) => need.scopes);
    if (missing.length > 0 || grant.scopes.length === 0) {
      throw new IdentityError(
        65001,
        { clientId: client.application.appId },
        {
          error: 'invalid_grant',
          suberror: 'consent_required',
          detail: missing.length > 0 ? `missing ${missing.join(' ')}` : 'no scope of the resource consented',
        },
      );
    }

    const now = context.now();
    const authentication: AuthenticationEvent = {
      userId: user.id,
      tenantId,
      authTime: typeof claims.iat === 'number' ? claims.iat : now,
      amr: amrOf(claims),
      clientId: client.application.appId,
      platform: 'web',
    };
    const issued: AuthorizedGrant = grant;
    let refreshToken: IssuedRefreshToken | undefined;
    let grantId = typeof claims.grant_id === 'string' ? claims.grant_id : newFamilyId();
    if (issued.oidcScopes.includes('offline_access')) {
      grantId = newFamilyId();
      const expiresAt = now + context.config.refreshTokenLifetimeSeconds;
      const minted = refreshTokenFor(context, {
        familyId: grantId,
        generation: 0,
        userId: user.id,
        tenantId,
      });
      await context.signIn.refreshFamilies.insert({
        familyId: grantId,
        tokenHash: minted.hash,
        generation: 0,
        authentication,
        grant: issued,
        clientInfo: params.client_info === '1',
        createdAt: now,
        expiresAt,
      });
      refreshToken = { token: minted.token, expiresAt };
    }
    const response = await userTokenResponse(context, {
      client: client.application,
      clientAuthenticationLevel: client.clientAuthenticationLevel,
      user,
      grant: issued,
      authentication,
      clientInfo: params.client_info === '1',
      refreshToken,
      grantId,
    });
    // As Entra answers On-Behalf-Of: `scope` names the downstream resource's scopes only, resource-qualified.
    response.scope = responseScope(issued.requestedIdentifier, issued.scopes, []);
    return response;
  },
};

/** The refusal of an assertion this server does not accept, by why. */
function assertionRefusal(reason: OwnTokenRefusal): IdentityError {
  switch (reason) {
    case 'expired':
    case 'not_yet_valid':
      return new IdentityError(500133, {}, { detail: reason });
    case 'wrong_tenant':
      return new IdentityError(50013, { reason: 'The assertion was issued in another tenant.' });
    case 'revoked':
      return new IdentityError(50013, { reason: 'The assertion has been revoked.' });
    case 'not_access_token':
      return new IdentityError(50013, {
        reason: 'The assertion is not an access token (an ID token cannot be used).',
      });
    default:
      return new IdentityError(
        50013,
        { reason: 'The assertion is not a token this server issued, or its signature is invalid.' },
        { detail: reason },
      );
  }
}

/** The assertion's `amr` (RFC 8176), strings only; `pwd` when it carries none. */
function amrOf(claims: JWTPayload): string[] {
  const amr = Array.isArray(claims.amr) ? claims.amr.filter((m): m is string => typeof m === 'string') : [];
  return amr.length > 0 ? amr : ['pwd'];
}
