import { IdentityError } from '@tessera/protocol';
import type { ServerContext } from '../context.js';
import { evaluateConditionalAccess, meetsControls } from '../directory/conditional-access.js';
import type { Application, AuthorizedGrant, User } from '../directory/model.js';
import type { AuthenticationEvent } from '../sessions/authentication-event.js';
import { isMfaRegistered } from '../users/authentication-methods.js';

/** What {@link checkConditionalAccess} looks at: who gets a token for which resource, authenticated how. */
export interface ConditionalAccessRequest {
  readonly client: Application;
  readonly resource: Application;
  readonly user: User;
  readonly authentication: AuthenticationEvent;
}

/**
 * The `suberror` of a conditional access refusal: MSAL's `basic_action` (the condition is resolved by the user
 * during an interactive sign-in: the second factor, or registering one, at `/authorize`). MSAL makes any
 * `interaction_required` an `InteractionRequiredAuthError`; the suberror tells what the user will be asked.
 *
 * @see https://learn.microsoft.com/dotnet/api/microsoft.identity.client.uirequiredexceptionclassification
 */
export const CONDITIONAL_ACCESS_SUBERROR = 'basic_action';

/**
 * The claims challenge of a refusal (OIDC Core §5.5 `claims` request syntax, as Entra sends it): the access token
 * must satisfy the policies `policyIds` (`polids`, essential). The client passes it to `/authorize` as `claims=`.
 *
 * @see https://learn.microsoft.com/entra/identity-platform/claims-challenge
 */
export function policyClaimsChallenge(policyIds: readonly string[]): string {
  return JSON.stringify({ access_token: { polids: { essential: true, values: [...policyIds] } } });
}

/**
 * Enforces the tenant's conditional access policies on a token issued without an interactive page (refresh,
 * On-Behalf-Of, token exchange, code redemption): when an enabled policy applies to the user and the resource
 * ({@link evaluateConditionalAccess}) and its grant controls (`mfa`) are not met by the authentication event's
 * `amr`, the grant is refused with `interaction_required` and a claims challenge naming the policies
 * ({@link policyClaimsChallenge}) that the client passes to `/authorize` as `claims=`. Report-only and disabled
 * policies never refuse. Reads the directory cache only (no I/O once warm) unless a policy refuses.
 *
 * @throws IdentityError 50076 (the user has a second factor: sign in with it) or 50079 (none registered: register
 *   one), `interaction_required`, `suberror` {@link CONDITIONAL_ACCESS_SUBERROR}, `claims` the challenge.
 * @see https://learn.microsoft.com/entra/identity-platform/v2-oauth2-on-behalf-of-flow (error response example)
 */
export async function checkConditionalAccess(
  context: ServerContext,
  request: ConditionalAccessRequest,
): Promise<void> {
  const outcome = await evaluateConditionalAccess(context.cache, {
    user: request.user,
    resourceAppId: request.resource.appId,
    authenticationContexts: [],
  });
  if (meetsControls(request.authentication.amr, outcome.requiredControls)) return;
  const registered = await isMfaRegistered(context, request.user.id);
  throw new IdentityError(
    registered ? 50076 : 50079,
    { resource: request.resource.appId },
    {
      suberror: CONDITIONAL_ACCESS_SUBERROR,
      claims: policyClaimsChallenge(outcome.policyIds),
      detail: `policies ${outcome.policyIds.join(' ')} require ${outcome.requiredControls.join(' ')}; amr ${request.authentication.amr.join(' ')}`,
    },
  );
}

/**
 * {@link checkConditionalAccess} for a refresh token, before its family rotates, so that a refusal consumes
 * nothing: the client keeps its refresh token and can use it once the user satisfied the policy (or it was lifted).
 * Without any policy in the user's tenant this reads nothing; otherwise it reads the family's authentication (one
 * read by primary key). A family that is not the client's, or gone, is left for the rotation to refuse.
 *
 * @param input.requested the grant the request's `scope` asks for; undefined: the family's own.
 * @throws IdentityError as {@link checkConditionalAccess}.
 */
export async function checkConditionalAccessBeforeRotation(
  context: ServerContext,
  input: {
    readonly client: Application;
    readonly user: User;
    readonly familyId: string;
    readonly requested: AuthorizedGrant | undefined;
  },
): Promise<void> {
  if ((await context.cache.conditionalAccessPolicies(input.user.tenantId)).length === 0) return;
  const family = await context.signIn.refreshFamilies.find(input.familyId);
  if (family === undefined || family.authentication.clientId !== input.client.appId) return;
  const resource = await context.cache.application((input.requested ?? family.grant).resourceAppId);
  if (resource === undefined) return;
  await checkConditionalAccess(context, {
    client: input.client,
    resource,
    user: input.user,
    authentication: family.authentication,
  });
}
