import { IdentityError, RESPONSE_MODES, type ResponseMode } from '@tessera/protocol';
import { matchRedirectUri } from '../../directory/redirect-uris.js';
import type { AuthorizationContext } from './request.js';

/**
 * Step: `redirect_uri` is registered for the client; from here on errors go back to it. Also fixes the response
 * mode errors use (the requested one when valid, else the response type's default).
 *
 * @throws IdentityError 900971 (missing), 50011 (not registered) — both on the error page.
 */
export function checkRedirectUri(ctx: AuthorizationContext, issuer: string | undefined): void {
  const client = ctx.client;
  if (client === undefined) throw new Error('checkClient must run first');
  const redirectUri = ctx.params.redirect_uri;
  if (redirectUri === undefined || redirectUri === '') throw new IdentityError(900971);
  const platform = matchRedirectUri(client, redirectUri);
  // Responses build URLs from it (form_post's form-action origin): one that cannot parse is never used.
  if (platform === undefined || !URL.canParse(redirectUri)) {
    throw new IdentityError(50011, { redirectUri: redirectUri.slice(0, 512), clientId: client.appId });
  }
  const requested = ctx.params.response_mode;
  const responseType = ctx.params.response_type ?? '';
  const carriesTokens = responseType.split(' ').some((part) => part === 'token' || part === 'id_token');
  const fallback: ResponseMode = carriesTokens ? 'fragment' : 'query';
  const usable =
    requested !== undefined &&
    (RESPONSE_MODES as readonly string[]).includes(requested) &&
    !(requested === 'query' && carriesTokens)
      ? (requested as ResponseMode)
      : fallback;
  ctx.target = { redirectUri, platform, responseMode: usable, state: ctx.params.state, issuer };
}
