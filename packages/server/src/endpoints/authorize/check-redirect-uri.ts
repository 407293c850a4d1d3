import { IdentityError, RESPONSE_MODES, type ResponseMode } from '@tessera/protocol';
import type { Application } from '../../directory/model.js';
import type { RedirectPlatform } from '../../sessions/authentication-event.js';
import type { AuthorizationContext } from './request.js';

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost']);

/**
 * Finds the platform of a redirect URI registered on the application: exact, case-sensitive string equality
 * (scheme, host, port, path and query), except that for `publicClient` URIs on a loopback host over `http` the
 * port may differ (RFC 8252 §7.3). Nothing is normalised first, so trailing slashes, letter case, encodings,
 * userinfo and extra query parameters all fail.
 */
export function matchRedirectUri(
  application: Application,
  redirectUri: string,
): RedirectPlatform | undefined {
  if (application.web.redirectUris.includes(redirectUri)) return 'web';
  if (application.spa.redirectUris.includes(redirectUri)) return 'spa';
  if (application.publicClient.redirectUris.includes(redirectUri)) return 'publicClient';
  const loopback = loopbackWithoutPort(redirectUri);
  if (
    loopback !== undefined &&
    application.publicClient.redirectUris.some((uri) => loopbackWithoutPort(uri) === loopback)
  ) {
    return 'publicClient';
  }
  return undefined;
}

/** `http://{loopback}{path}?{query}` with the port removed, when `uri` is an http loopback URI; else undefined. */
function loopbackWithoutPort(uri: string): string | undefined {
  const match = /^http:\/\/(127\.0\.0\.1|\[::1\]|localhost)(?::(\d{1,5}))?(\/[^#]*)?$/.exec(uri);
  if (match === null || !LOOPBACK_HOSTS.has(match[1] ?? '')) return undefined;
  // Five digits are not a port: 65536–99999 would match here, then fail every later URL parse (a 500).
  if (match[2] !== undefined && Number(match[2]) > 65_535) return undefined;
  return `http://${match[1] ?? ''}${match[3] ?? ''}`;
}

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
