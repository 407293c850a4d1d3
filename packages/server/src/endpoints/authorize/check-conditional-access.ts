import { IdentityError } from '@tessera/protocol';
import type { ServerContext } from '../../context.js';
import { resolveScopes } from '../../directory/consent.js';
import {
  evaluateConditionalAccess,
  meetsControls,
  type ConditionalAccessControl,
} from '../../directory/conditional-access.js';
import { CONDITIONAL_ACCESS_SUBERROR } from '../../grants/conditional-access.js';
import { isMfaRegistered } from '../../users/authentication-methods.js';
import type { AuthorizationContext, AuthorizationOutcome } from './request.js';

/**
 * Step (after the account is selected, before consent, as Entra orders them): conditional access for the user,
 * the requested resource and the `claims` request. The grant controls required are those of every enabled policy
 * that applies to the user and the resource or to an authentication context the request asks for (`acrs`,
 * {@link evaluateConditionalAccess}), plus those of the enabled policies of the user's tenant that the request
 * names (`polids`: the claims challenge of a token endpoint refusal for another resource, such as the downstream
 * API of an On-Behalf-Of request). When the session's `amr` meets them, `ctx.acrs` becomes the requested
 * authentication contexts the applying policies cover (the tokens' `acrs`); otherwise the user is asked for the
 * second factor — or, with `prompt=none`, the request fails.
 *
 * @returns the second-factor page outcome, or undefined when nothing more is required.
 * @throws IdentityError 50076 (`prompt=none`, the user has an authenticator) or 50079 (`prompt=none`, none
 *   registered), `interaction_required` with `suberror` `basic_action`; scope errors of {@link resolveScopes}.
 * @see https://learn.microsoft.com/entra/identity-platform/claims-challenge
 */
export async function checkConditionalAccess(
  context: ServerContext,
  ctx: AuthorizationContext,
): Promise<AuthorizationOutcome | undefined> {
  const { client, user, session } = ctx;
  if (client === undefined || user === undefined || session === undefined)
    throw new Error('selectAccount must run first');
  const { grant } = await resolveScopes(context.cache, client, ctx.params.scope, user.tenantId);
  const requested = ctx.claimsRequest ?? { policyIds: [], authenticationContexts: [] };
  const outcome = await evaluateConditionalAccess(context.cache, {
    user,
    resourceAppId: grant.resourceAppId,
    authenticationContexts: requested.authenticationContexts,
  });
  const required = new Set<ConditionalAccessControl>(outcome.requiredControls);
  if (requested.policyIds.length > 0) {
    const named = new Set(requested.policyIds.map((id) => id.toLowerCase()));
    for (const policy of await context.cache.conditionalAccessPolicies(user.tenantId)) {
      if (policy.state !== 'enabled' || !named.has(policy.id.toLowerCase())) continue;
      for (const control of policy.grantControls.builtInControls) required.add(control);
    }
  }
  if (meetsControls(session.amr, [...required])) {
    ctx.acrs = outcome.authenticationContexts;
    return undefined;
  }
  const registered = await isMfaRegistered(context, user.id);
  if (ctx.prompts.has('none')) {
    throw new IdentityError(
      registered ? 50076 : 50079,
      { resource: grant.resourceAppId },
      {
        suberror: CONDITIONAL_ACCESS_SUBERROR,
        detail: `authorize: ${[...required].join(' ')} required; amr ${session.amr.join(' ')}`,
      },
    );
  }
  return { kind: 'mfa', registered };
}
