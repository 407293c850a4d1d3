import { IdentityError } from '@tessera/protocol';

/**
 * A browser request's parameters (query or form body, as Fastify parsed them) as single string values: a
 * repeated parameter is refused (RFC 6749 §3.1: "Request and response parameters MUST NOT be included more than
 * once"); non-string values are dropped.
 *
 * @throws IdentityError 9100004 naming the repeated parameter (its first 64 characters).
 */
export function singleValuedParameters(source: unknown): Record<string, string> {
  const params: Record<string, string> = {};
  if (typeof source !== 'object' || source === null) return params;
  for (const [name, value] of Object.entries(source as Record<string, unknown>)) {
    if (Array.isArray(value)) throw new IdentityError(9100004, { name: name.slice(0, 64) });
    if (typeof value === 'string') params[name] = value;
  }
  return params;
}
