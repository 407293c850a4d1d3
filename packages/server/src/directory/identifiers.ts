/** Syntax of directory identifiers, shared by validation and lookup. */

/** A lower-case GUID (object ids, `appId`, tenant ids). Compare after lower-casing. */
export const GUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A lower-case DNS domain name of at least two labels (RFC 1035 §2.3.1 with RFC 1123 digits). */
export const DOMAIN_PATTERN = /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62}$/;

/** True for a GUID in any letter case. */
export function isGuid(value: string): boolean {
  return GUID_PATTERN.test(value.toLowerCase());
}
