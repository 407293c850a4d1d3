import { IdentityError } from '@tessera/protocol';
import type { AuthorizationContext } from './request.js';

const CODE_CHALLENGE = /^[A-Za-z0-9_-]{43,128}$/;

/**
 * Step: PKCE. Only `S256` is accepted (`plain` would hand the verifier to whoever sees the request); a code for a
 * `spa` or `publicClient` redirect URI requires a challenge.
 *
 * @throws IdentityError 9100012 (method other than S256), 900144 (method without challenge), 50147 (malformed
 *   challenge), 9100011 (missing for spa/public clients).
 * @see RFC 7636 §4.2, §4.3; RFC 9700 §2.1.1
 */
export function checkPkce(ctx: AuthorizationContext): void {
  const challenge = ctx.params.code_challenge;
  const method = ctx.params.code_challenge_method;
  if (method !== undefined && method !== 'S256')
    throw new IdentityError(9100012, { method: method.slice(0, 32) });
  if (challenge === undefined || challenge === '') {
    if (method !== undefined) throw new IdentityError(900144, { name: 'code_challenge' });
    const platform = ctx.target?.platform;
    if (
      ctx.responseType?.startsWith('code') === true &&
      (platform === 'spa' || platform === 'publicClient')
    ) {
      throw new IdentityError(9100011, {
        platform: platform === 'spa' ? 'single-page application' : 'public',
      });
    }
    return;
  }
  // RFC 7636 §4.3: an absent method means plain, which we refuse.
  if (method === undefined) throw new IdentityError(9100012, { method: 'plain' });
  if (!CODE_CHALLENGE.test(challenge)) throw new IdentityError(50147);
  ctx.codeChallenge = challenge;
}
