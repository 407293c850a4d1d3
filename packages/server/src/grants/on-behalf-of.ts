import { GrantType, IdentityError, type TokenResponse } from '@tessera/protocol';
import { authenticateClient } from '../client-auth/authenticate-client.js';
import type { ServerContext } from '../context.js';
import { consentedDelegatedGrant, issueDelegatedToken, verifyDelegatedUserToken } from './delegation.js';
import type { GrantDescriptor, TokenRequest } from './grant.js';

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
 *   (`consentedDelegatedGrant` of `delegation.ts`, shared with token exchange) finds consented for the client on the resource: the user's own grant, an
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
    const delegated = await verifyDelegatedUserToken(context, client, assertion, 'assertion');
    const consented = await consentedDelegatedGrant(context, client, delegated.user, scope);
    return issueDelegatedToken(context, {
      client,
      delegated,
      consented,
      clientInfo: params.client_info === '1',
      issued: request.issued,
    });
  },
};
