import { GrantType, IdentityError, TOKEN_TYPE_ACCESS_TOKEN, type TokenResponse } from '@tessera/protocol';
import { authenticateClient } from '../client-auth/authenticate-client.js';
import type { ServerContext } from '../context.js';
import type { ActorClaim } from '../tokens/access-token.js';
import {
  consentedDelegatedGrant,
  issueDelegatedToken,
  verifyActorToken,
  verifyDelegatedUserToken,
} from './delegation.js';
import type { GrantDescriptor, TokenRequest } from './grant.js';

/** OIDC scopes: never qualified with the target resource. */
const OIDC_SCOPES = new Set(['openid', 'profile', 'email', 'offline_access']);

/**
 * OAuth 2.0 Token Exchange (RFC 8693, `grant_type=urn:ietf:params:oauth:grant-type:token-exchange`) for delegation:
 * a confidential client trades a user's access token it received (`subject_token`) for a delegated token for one
 * downstream resource, with On-Behalf-Of's rules (`delegation.ts`: the same subject token checks, the same consent
 * engine, the same issuing).
 *
 * - `subject_token_type` must be `urn:ietf:params:oauth:token-type:access_token` (RFC 8693 §3); so must
 *   `actor_token_type` and, when given, `requested_token_type`. The response's `issued_token_type` says so (§2.2.1).
 * - The target is named by `audience` (appId or App ID URI) and/or `resource` (App ID URI), each repeatable (§2.1);
 *   every value must name the same resource of the tenant, otherwise `invalid_target` (§2.2.2). `scope` values
 *   without a resource are qualified with the target; with no `scope`, the target's `/.default` is meant (the
 *   client's static permissions). Without a target, `scope` names the resource as in On-Behalf-Of. A resource-qualified `scope` value of another resource than the
 *   target is `invalid_target` too.
 * - The access token carries `act` (§4.1): the actor (the `actor_token`'s `sub` and `iss` when one is given, a
 *   token the client obtained itself; otherwise the client, `sub` = its appId), with the subject token's own `act`
 *   nested inside it on a chain (A → B → C).
 *
 * @throws IdentityError 900144 (no `subject_token`, `subject_token_type`, or `actor_token_type` beside an
 *   `actor_token`; no `scope`, `audience` or `resource`), 9100070 `invalid_request` (a token type other than the
 *   access token's), 9100071 `invalid_target` (targets of several resources, or none of the tenant), client
 *   authentication errors (7000218 for a public client), and every refusal of On-Behalf-Of: 500133, 50013, 500131,
 *   50057, 70011 / 700022 / 500011, 65001 `invalid_grant` with `suberror: consent_required`.
 * @see RFC 8693 §2 (request, response), §4.1 (`act`); Entra has no counterpart, see `docs/endpoints.md`
 */
export const tokenExchangeGrant: GrantDescriptor = {
  grantType: GrantType.tokenExchange,
  parameters: [
    'subject_token',
    'subject_token_type',
    'actor_token',
    'actor_token_type',
    'requested_token_type',
    'audience',
    'resource',
    'scope',
    'client_info',
  ],
  allowRepeated: ['audience', 'resource'],
  async handle(context: ServerContext, request: TokenRequest): Promise<TokenResponse> {
    const { params, repeatedParams } = request;
    const subjectToken = params.subject_token;
    if (subjectToken === undefined || subjectToken === '')
      throw new IdentityError(900144, { name: 'subject_token' });
    requireAccessTokenType(params.subject_token_type, 'subject_token_type');
    const actorToken = params.actor_token;
    if (actorToken !== undefined && actorToken !== '') {
      requireAccessTokenType(params.actor_token_type, 'actor_token_type');
    } else if (params.actor_token_type !== undefined && params.actor_token_type !== '') {
      throw new IdentityError(900144, { name: 'actor_token' });
    }
    if (params.requested_token_type !== undefined && params.requested_token_type !== '')
      requireAccessTokenType(params.requested_token_type, 'requested_token_type');
    const targets = [...(repeatedParams.audience ?? []), ...(repeatedParams.resource ?? [])].filter(
      (t) => t !== '',
    );
    const scopeParameter = params.scope?.trim() ?? '';
    if (targets.length === 0 && scopeParameter === '') throw new IdentityError(900144, { name: 'scope' });

    const client = await authenticateClient(context, request);
    const target = await oneTarget(context, targets);
    const scope =
      target === undefined ? scopeParameter : await qualifiedScope(context, target, scopeParameter, targets);
    const delegated = await verifyDelegatedUserToken(context, client, subjectToken, 'subject_token');
    const actor =
      actorToken !== undefined && actorToken !== ''
        ? await verifyActorToken(context, client, actorToken)
        : { sub: client.application.appId };
    const consented = await consentedDelegatedGrant(context, client, delegated.user, scope);
    const nested = actClaim(delegated.claims.act);
    const act: ActorClaim = nested === undefined ? actor : { ...actor, act: nested };
    const response = await issueDelegatedToken(context, {
      client,
      delegated,
      consented,
      clientInfo: params.client_info === '1',
      act,
      issued: request.issued,
    });
    return { ...response, issued_token_type: TOKEN_TYPE_ACCESS_TOKEN };
  },
};

/** Refuses a missing token type (900144) or another than the access token's (9100070, RFC 8693 §2.2.2). */
function requireAccessTokenType(value: string | undefined, name: string): void {
  if (value === undefined || value === '') throw new IdentityError(900144, { name });
  if (value !== TOKEN_TYPE_ACCESS_TOKEN)
    throw new IdentityError(9100070, { name, value: value.slice(0, 256) });
}

/** The one resource the `audience` / `resource` values name: the first value's spelling and the resource's appId. */
interface Target {
  readonly identifier: string;
  readonly appId: string;
}

/**
 * The one resource the `audience` / `resource` values name; undefined without targets.
 *
 * @throws IdentityError 9100071 `invalid_target` when a value names no resource of the tenant or two name different
 *   ones (RFC 8693 §2.2.2).
 */
async function oneTarget(context: ServerContext, targets: readonly string[]): Promise<Target | undefined> {
  let appId: string | undefined;
  for (const target of targets) {
    const named = await context.cache.resourceAppId(target);
    if (named === undefined || (appId !== undefined && named !== appId)) {
      throw new IdentityError(9100071, { targets: targets.join(' ').slice(0, 512) });
    }
    appId = named;
  }
  const identifier = targets[0];
  return identifier === undefined || appId === undefined ? undefined : { identifier, appId };
}

/**
 * `scope` with every value that names no resource qualified with the target (OIDC scopes kept as they are); the
 * target's `/.default` when `scope` names no resource scope.
 *
 * @throws IdentityError 9100071 `invalid_target` when a qualified value names another resource than the target.
 */
async function qualifiedScope(
  context: ServerContext,
  target: Target,
  scope: string,
  targets: readonly string[],
): Promise<string> {
  const values = scope.split(' ').filter((v) => v !== '');
  const qualified: string[] = [];
  for (const value of values) {
    if (OIDC_SCOPES.has(value.toLowerCase())) qualified.push(value);
    else if (!value.includes('/')) qualified.push(`${target.identifier}/${value}`);
    else {
      const named = await context.cache.resourceAppId(value.slice(0, value.lastIndexOf('/')));
      if (named !== undefined && named !== target.appId) {
        throw new IdentityError(9100071, { targets: [...targets, value].join(' ').slice(0, 512) });
      }
      qualified.push(value);
    }
  }
  if (!values.some((v) => !OIDC_SCOPES.has(v.toLowerCase()))) qualified.push(`${target.identifier}/.default`);
  return qualified.join(' ');
}

/** The subject token's `act` claim as an {@link ActorClaim}, depth-limited; undefined when absent or malformed. */
function actClaim(value: unknown, depth = 0): ActorClaim | undefined {
  if (depth > 8 || typeof value !== 'object' || value === null) return undefined;
  const record = value as Record<string, unknown>;
  if (typeof record.sub !== 'string') return undefined;
  const inner = actClaim(record.act, depth + 1);
  return {
    sub: record.sub,
    ...(typeof record.iss === 'string' ? { iss: record.iss } : {}),
    ...(inner === undefined ? {} : { act: inner }),
  };
}
