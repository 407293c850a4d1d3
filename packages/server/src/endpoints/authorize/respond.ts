import type { ServerContext } from '../../context.js';
import { DIRECTORY_APP_ID } from '../../directory/builtin-directory-app.js';
import type { AuthenticationEvent } from '../../sessions/authentication-event.js';
import { loginHintFor } from '../../sessions/login-hint.js';
import { issueAccessToken } from '../../tokens/access-token.js';
import { newFamilyId, randomToken, tokenHash } from '../../tokens/opaque-tokens.js';
import { clientInfoOf, issueIdToken, responseScope } from '../../tokens/user-tokens.js';
import { userAppRoles } from '../../tokens/user-roles.js';
import type { AuthorizationContext, AuthorizationOutcome } from './request.js';

/**
 * Step: the successful response. A `code` is stored hashed (10-minute life, bound to client, redirect URI, PKCE
 * challenge and nonce); implicit `token` / `id_token` are issued here (never a refresh token). Every response
 * carries `state` when sent, `iss` (RFC 9207; on a tenant's endpoint only, never for `common` / `organizations`),
 * `session_state`-free, and `client_info` when asked.
 *
 * @see RFC 6749 §4.1.2, §4.2.2; OIDC Core §3.2.2.5, §3.3.2.5
 */
export async function respond(
  context: ServerContext,
  ctx: AuthorizationContext,
): Promise<AuthorizationOutcome> {
  const { client, user, session, grant, target, responseType } = ctx;
  if (
    client === undefined ||
    user === undefined ||
    session === undefined ||
    grant === undefined ||
    target === undefined ||
    responseType === undefined
  ) {
    throw new Error('earlier steps must run first');
  }
  const now = context.now();
  const authentication: AuthenticationEvent = {
    userId: user.id,
    tenantId: user.tenantId,
    clientId: client.appId,
    platform: target.platform,
    authTime: session.authTime,
    amr: session.amr,
    ...(ctx.acrs === undefined || ctx.acrs.length === 0 ? {} : { acrs: ctx.acrs }),
  };
  const parts = responseType.split(' ');
  const fields: Record<string, string> = {};
  let code: string | undefined;
  if (parts.includes('code')) {
    code = randomToken();
    await context.signIn.codes.insert(
      {
        codeHash: tokenHash(code),
        authentication,
        sessionId: session.id,
        redirectUri: target.redirectUri,
        grant,
        codeChallenge: ctx.codeChallenge ?? null,
        nonce: ctx.params.nonce ?? null,
        clientInfo: ctx.params.client_info === '1',
        familyId: newFamilyId(),
        expiresAt: now + context.config.authorizationCodeLifetimeSeconds,
        // RFC 9449 §10: the code is redeemed only with a DPoP proof by this key (a malformed value never matches).
        ...(ctx.params.dpop_jkt === undefined ? {} : { dpopJkt: ctx.params.dpop_jkt.slice(0, 128) }),
      },
      now,
    );
    fields.code = code;
  }
  const base = context.baseUrl();
  const lifetimeSeconds = context.config.accessTokenLifetimeSeconds;
  const common = { keyRing: context.keyRing(), base, tenantId: user.tenantId, client, now, lifetimeSeconds };
  let accessToken: string | undefined;
  if (parts.includes('token')) {
    const resource =
      (await context.cache.application(grant.resourceAppId)) ??
      (await context.cache.application(DIRECTORY_APP_ID));
    if (resource === undefined) throw new Error('directory API missing');
    // Implicit-flow tokens belong to no grant (no `grant_id`) and their client never authenticates.
    accessToken = await issueAccessToken({
      ...common,
      clientAuthenticationLevel: '0',
      resource,
      requestedIdentifier: grant.requestedIdentifier,
      subject: {
        kind: 'user',
        user,
        scopes: grant.scopes,
        roles: await userAppRoles(context.cache, user, resource),
        amr: authentication.amr,
        acrs: authentication.acrs,
        pairwiseKey: context.keys.pairwise,
      },
    });
    fields.access_token = accessToken;
    fields.token_type = 'Bearer';
    fields.expires_in = String(lifetimeSeconds);
    fields.scope = responseScope(
      grant.requestedIdentifier,
      grant.scopes,
      grant.oidcScopes.filter((s) => s !== 'offline_access'),
    );
  }
  if (parts.includes('id_token')) {
    fields.id_token = await issueIdToken({
      ...common,
      pairwiseKey: context.keys.pairwise,
      loginHint: loginHintFor(context.keys.pairwise, user.id),
      user,
      authentication,
      nonce: ctx.params.nonce,
      accessToken,
      code,
    });
  }
  if (ctx.params.client_info === '1') fields.client_info = clientInfoOf(user.id, user.tenantId);
  if (target.state !== undefined) fields.state = target.state;
  if (target.issuer !== undefined) fields.iss = target.issuer;
  await context.signIn.sessions.touch(session.id, client.appId, now);
  return { kind: 'respond', fields, target };
}
