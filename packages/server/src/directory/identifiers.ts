import type { Application } from './model.js';

/** Syntax of directory identifiers, shared by validation and lookup. */

/** A lower-case GUID (object ids, `appId`, tenant ids). Compare after lower-casing. */
export const GUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A lower-case DNS domain name of at least two labels (RFC 1035 §2.3.1 with RFC 1123 digits). */
export const DOMAIN_PATTERN = /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62}$/;

/** True for a GUID in any letter case. */
export function isGuid(value: string): boolean {
  return GUID_PATTERN.test(value.toLowerCase());
}

/**
 * True when `audience` (a token's `aud` claim) names the application: its `appId` or one of its App ID URIs, in any
 * letter case, as resources are resolved (a v1 token's `aud` keeps the spelling the client asked for).
 */
export function isAudienceOf(
  application: Pick<Application, 'appId' | 'identifierUris'>,
  audience: unknown,
): boolean {
  if (typeof audience !== 'string') return false;
  const named = audience.toLowerCase();
  return (
    application.appId.toLowerCase() === named ||
    application.identifierUris.some((uri) => uri.toLowerCase() === named)
  );
}
