import { IdentityError } from '@tessera/protocol';
import type { ServerContext } from '../../context.js';
import type { SsoSession } from '../../sessions/sso-session.js';
import type { AuthorizationContext, AuthorizationOutcome } from './request.js';

/**
 * Step: picks the signed-in account. Sessions of this browser are filtered to the tenant of the request (for
 * `common` / `organizations`, to the tenant of a known `domain_hint`);
 * `prompt=login` or an exceeded `max_age` ask for a fresh sign-in, `prompt=select_account` or several accounts
 * without a matching `login_hint` show the picker. With `prompt=none` nothing is shown: the request fails at once.
 *
 * Only a session signed in during this interaction (`ctx.interactionSessionFresh`) satisfies `prompt=login` and
 * `max_age`; an account picked on the picker is held to `max_age` like any other (OIDC Core §3.1.2.1).
 *
 * @returns an outcome when a page is needed, else undefined with `ctx.session` and `ctx.user` set.
 * @throws IdentityError 50058 login_required, 9100015 / 9100018 interaction_required (prompt=none only).
 */
export async function selectAccount(
  context: ServerContext,
  ctx: AuthorizationContext,
  sessions: readonly SsoSession[],
): Promise<AuthorizationOutcome | undefined> {
  const silent = ctx.prompts.has('none');
  const segment = ctx.tenantSegment;
  // domain_hint (a verified domain) narrows `common` / `organizations` to that tenant's accounts; unknown
  // domains are ignored, as the hint is only a hint.
  const hinted =
    segment.kind === 'alias' && ctx.params.domain_hint !== undefined && ctx.params.domain_hint !== ''
      ? await context.cache.tenant(ctx.params.domain_hint.slice(0, 253))
      : undefined;
  const usable = sessions.filter((s) =>
    segment.kind === 'tenant'
      ? s.tenantId === segment.tenant.id
      : segment.alias !== 'consumers' && (hinted === undefined || s.tenantId === hinted.id),
  );
  const now = context.now();
  const fresh = ctx.interactionSessionId !== undefined && ctx.interactionSessionFresh === true;
  let chosen: SsoSession | undefined;
  if (ctx.interactionSessionId !== undefined) {
    chosen = usable.find((s) => s.id === ctx.interactionSessionId);
    if (chosen === undefined) return { kind: 'sign-in' };
  } else {
    const hint = ctx.params.login_hint?.toLowerCase();
    let candidates = usable;
    if (hint !== undefined && hint !== '') {
      const users = await Promise.all(usable.map((s) => context.cache.user(s.userId)));
      candidates = usable.filter((_s, i) => users[i]?.userPrincipalName.toLowerCase() === hint);
    }
    if (candidates.length === 0) {
      if (silent) throw new IdentityError(50058);
      return { kind: 'sign-in' };
    }
    if (!ctx.prompts.has('login') && (ctx.prompts.has('select_account') || candidates.length > 1)) {
      if (silent) throw new IdentityError(9100015);
      return { kind: 'select-account', sessions: candidates };
    }
    chosen = candidates[0];
  }
  if (chosen === undefined) return { kind: 'sign-in' };
  // Fresh authentication only: a session from before this interaction never answers prompt=login.
  if (ctx.prompts.has('login') && !fresh) return { kind: 'sign-in' };
  if (ctx.maxAgeSeconds !== undefined && now - chosen.authTime > ctx.maxAgeSeconds && !fresh) {
    if (silent) throw new IdentityError(9100018);
    return { kind: 'sign-in' };
  }
  const user = await context.cache.user(chosen.userId);
  if (user?.accountEnabled !== true) {
    if (silent) throw new IdentityError(50058);
    return { kind: 'sign-in' };
  }
  ctx.session = chosen;
  ctx.user = user;
  return undefined;
}
