import { DirectoryError } from './errors.js';
import { isGuid } from './identifiers.js';
import { MAX_REDIRECT_URIS, redirectUriProblem, type RedirectPlatform } from './redirect-uris.js';

/** Validation of directory input shared by the services: values, GUIDs, App ID URIs, redirect and logout URLs. */

/** An app role or scope value: what Entra ID accepts (no spaces; at most 120 characters). */
const ROLE_VALUE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,119}$/;

/**
 * App role or scope values, checked and without duplicates.
 *
 * @param what `app role` or `scope`, for the message.
 * @throws DirectoryError `invalid` for a malformed or repeated value.
 */
export function uniqueValues(values: readonly string[], what: string): string[] {
  for (const value of values) {
    if (!ROLE_VALUE.test(value))
      throw new DirectoryError('invalid', `'${value}' is not a valid ${what} value.`);
  }
  if (new Set(values).size !== values.length)
    throw new DirectoryError('invalid', `Duplicate ${what} values.`);
  return [...values];
}

/** True when `uri` is in `list`, ignoring letter case (App ID URIs compare case-insensitively). */
export function sameUri(uri: string, list: readonly string[]): boolean {
  return list.some((candidate) => candidate.toLowerCase() === uri.toLowerCase());
}

/**
 * An App ID URI: absolute, scheme `api`, `https` or `urn`, without query, fragment, wildcard or trailing slash.
 *
 * @throws DirectoryError `invalid`.
 */
export function validateIdentifierUri(uri: string): void {
  let parsed: URL;
  try {
    parsed = new URL(uri);
  } catch {
    throw new DirectoryError('invalid', `The App ID URI '${uri}' is not an absolute URI.`);
  }
  if (parsed.search !== '' || uri.includes('#') || uri.endsWith('/') || uri.includes('*')) {
    throw new DirectoryError(
      'invalid',
      `The App ID URI '${uri}' must not have a query, fragment, wildcard or trailing slash.`,
    );
  }
  if (!['api:', 'https:', 'urn:'].includes(parsed.protocol)) {
    throw new DirectoryError('invalid', `The App ID URI '${uri}' must use the api, https or urn scheme.`);
  }
}

/**
 * An object id, lower-cased.
 *
 * @param what whose id, for the message.
 * @throws DirectoryError `invalid` when `value` is not a GUID.
 */
export function requireGuid(value: string, what: string): string {
  if (!isGuid(value)) throw new DirectoryError('invalid', `The ${what} id '${value}' is not a GUID.`);
  return value.toLowerCase();
}

/**
 * A front-channel logout URL: what a `web` redirect URI may be (absolute `https`, or `http` on a loopback host;
 * no fragment, userinfo or wildcard).
 *
 * @throws DirectoryError `invalid`.
 */
export function validateLogoutUrl(uri: string): void {
  if (redirectUriProblem(uri, 'web') !== undefined) {
    throw new DirectoryError(
      'invalid',
      `The logout URL '${shown(uri)}' must be an absolute https URL (http only on a loopback host), without a fragment, userinfo or wildcard.`,
    );
  }
}

/**
 * Validates every redirect URI of an application for its platform ({@link redirectUriProblem}) and their number
 * (at most {@link MAX_REDIRECT_URIS}).
 *
 * @throws DirectoryError `invalid`, naming the first URI refused and why.
 */
export function validateRedirectUris(
  byPlatform: Readonly<Record<RedirectPlatform, readonly unknown[]>>,
): void {
  let count = 0;
  for (const platform of ['web', 'spa', 'publicClient'] as const) {
    for (const uri of byPlatform[platform]) {
      count += 1;
      const problem = typeof uri === 'string' ? redirectUriProblem(uri, platform) : 'is not a string';
      if (problem !== undefined) {
        throw new DirectoryError('invalid', `The ${platform} redirect URI '${shown(uri)}' ${problem}.`);
      }
    }
  }
  if (count > MAX_REDIRECT_URIS) {
    throw new DirectoryError(
      'invalid',
      `An application may have at most ${MAX_REDIRECT_URIS} redirect URIs.`,
    );
  }
}

/** A value as it may be shown in an error message: printable and bounded (300 characters). */
function shown(value: unknown): string {
  const json = typeof value === 'string' ? value : (JSON.stringify(value) as string | undefined);
  const text = json ?? String(value);
  // eslint-disable-next-line no-control-regex -- control characters are replaced so the message stays one line
  const printable = text.replace(/[\x00-\x1f\x7f]/g, '\uFFFD');
  return printable.length > 300 ? `${printable.slice(0, 300)}…` : printable;
}
