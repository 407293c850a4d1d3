import type { Application } from './model.js';

/** Where a redirect URI is registered: `web`, `spa` or `publicClient` (mobile and desktop). */
export type RedirectPlatform = 'web' | 'spa' | 'publicClient';

/** Longest redirect URI registered, in characters (the Microsoft identity platform's limit). */
export const MAX_REDIRECT_URI_CHARS = 256;

/** Most redirect URIs on one application, across platforms (the Microsoft identity platform's limit). */
export const MAX_REDIRECT_URIS = 256;

/** Host names that are the loopback interface, as written in a URI (RFC 8252 §7.3, §8.3). */
const LOOPBACK_HOSTS: ReadonlySet<string> = new Set(['127.0.0.1', '[::1]', 'localhost']);

/** Schemes that can never carry an authorization response: script, inline content, local files, other protocols. */
const FORBIDDEN_SCHEMES: ReadonlySet<string> = new Set([
  'about',
  'blob',
  'chrome',
  'data',
  'file',
  'filesystem',
  'ftp',
  'javascript',
  'mailto',
  'sms',
  'tel',
  'vbscript',
  'view-source',
  'ws',
  'wss',
]);

/** Characters the Microsoft identity platform refuses in redirect URIs, plus `\` and `*` (no wildcards). */
const REFUSED_CHARACTERS = /[!$'(),;*\\]/;

/** `{scheme}://{authority}`: the authority of a hierarchical URI as written, before any normalisation. */
const AUTHORITY = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#]*)/;

/** A private-use scheme in reverse domain name form (RFC 8252 §7.1), e.g. `com.example.app`. */
const REVERSE_DNS_SCHEME = /^[a-z][a-z0-9-]*(?:\.[a-z0-9][a-z0-9-]*)+$/;

/** MSAL's default private-use scheme for mobile apps, `msal{appId}`. */
const MSAL_SCHEME = /^msal[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/;

/**
 * Why a redirect URI may not be registered on a platform, or `undefined` when it may. The rules, after RFC 6749
 * §3.1.2, RFC 8252 §7 and §8.4, RFC 9700 §2.1 and the Microsoft identity platform's redirect URI restrictions:
 *
 * - an absolute URI of at most {@link MAX_REDIRECT_URI_CHARS} characters, without fragment (`#`), userinfo
 *   (`user@`), wildcard (`*`), white space, control characters, `\` or any of `! $ ' ( ) , ;`;
 * - `https` with a host, on every platform;
 * - `http` only on a loopback host written as `127.0.0.1`, `[::1]` or `localhost` (the redirect never leaves the
 *   device), on every platform, as the platform allows for local development;
 * - a private-use scheme only for `publicClient` (native apps, RFC 8252 §7.1), in reverse domain name form
 *   (`com.example.app:/callback`), or MSAL's `msal{appId}://auth`;
 * - never `javascript:`, `data:`, `file:` or another scheme that can run script, show content or leave the
 *   browser for another protocol.
 *
 * @returns a sentence completing "The redirect URI '…' …", or undefined.
 */
export function redirectUriProblem(uri: string, platform: RedirectPlatform): string | undefined {
  if (uri.length === 0) return 'is empty';
  if (uri.length > MAX_REDIRECT_URI_CHARS) return `is longer than ${MAX_REDIRECT_URI_CHARS} characters`;
  const written = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(uri)?.[1]?.toLowerCase();
  if (written !== undefined && FORBIDDEN_SCHEMES.has(written)) {
    return `uses the scheme '${written}:', which is never allowed`;
  }
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused here
  if (/[\s\x00-\x1f\x7f]/.test(uri)) return 'must not contain white space or control characters';
  if (uri.includes('#')) return 'must not contain a fragment (#)';
  if (uri.includes('*')) return 'must not contain a wildcard (*)';
  if (REFUSED_CHARACTERS.test(uri)) return "must not contain any of ! $ ' ( ) , ; \\";
  const schemeEnd = uri.indexOf(':');
  const scheme = schemeEnd > 0 ? uri.slice(0, schemeEnd) : '';
  if (!/^[A-Za-z][A-Za-z0-9+.-]*$/.test(scheme) || !URL.canParse(uri)) return 'is not an absolute URI';
  const lowerScheme = scheme.toLowerCase();
  if (scheme !== lowerScheme) return 'must have a lower-case scheme';
  const authority = AUTHORITY.exec(uri)?.[1];
  if (authority?.includes('@') === true) return 'must not contain user information (user@host)';
  const parsed = new URL(uri);
  if (lowerScheme === 'https') {
    if (authority === undefined || authority === '' || parsed.hostname === '') return 'must name a host';
    return undefined;
  }
  if (lowerScheme === 'http') {
    const host = authority?.replace(/:\d*$/, '');
    if (host === undefined || !LOOPBACK_HOSTS.has(host)) {
      return "must use https; http is allowed only on a loopback host ('127.0.0.1', '[::1]' or 'localhost')";
    }
    return undefined;
  }
  if (platform !== 'publicClient') {
    return `uses the private-use scheme '${lowerScheme}:', which only mobile and desktop (publicClient) redirect URIs may use`;
  }
  if (REVERSE_DNS_SCHEME.test(lowerScheme) || MSAL_SCHEME.test(lowerScheme)) return undefined;
  if (lowerScheme === 'ms-appx-web' && parsed.hostname === 'microsoft.aad.brokerplugin') return undefined;
  return `uses the scheme '${lowerScheme}:'; a private-use scheme must be a reverse domain name such as 'com.example.app' (RFC 8252 section 7.1)`;
}

/**
 * The origins (RFC 6454) of an application's `spa` redirect URIs: where its browser code may redeem codes and
 * refresh tokens from. URIs that cannot be parsed (none can be registered) are skipped.
 */
export function spaOriginsOf(application: Application): ReadonlySet<string> {
  const cached = spaOriginCache.get(application);
  if (cached !== undefined) return cached;
  const origins = new Set<string>();
  for (const uri of application.spa.redirectUris) {
    if (URL.canParse(uri)) origins.add(new URL(uri).origin);
  }
  spaOriginCache.set(application, origins);
  return origins;
}

/** Applications are immutable values (the directory cache replaces them on change), so origins are kept per object. */
const spaOriginCache = new WeakMap<Application, ReadonlySet<string>>();

/**
 * True when `origin` (an `Origin` header value) is the origin of one of the application's `spa` redirect URIs.
 * Exact comparison: browsers send the serialised origin (`https://app.example`, default port omitted).
 */
export function isRegisteredSpaOrigin(application: Application, origin: string | undefined): boolean {
  return origin !== undefined && spaOriginsOf(application).has(origin);
}

/**
 * The platform on which the application registered a redirect URI: exact, case-sensitive string equality
 * (scheme, host, port, path and query; RFC 9700 §2.1), except that for `publicClient` URIs on a
 * loopback host over `http` the port may differ (RFC 8252 §7.3). Nothing is normalised first, so trailing
 * slashes, letter case, encodings, userinfo and extra query parameters all fail.
 *
 * @returns the platform, or undefined when the URI is not registered.
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
