import { IdentityError } from '@tessera/protocol';
import type { FastifyRequest } from 'fastify';

/**
 * The `application/x-www-form-urlencoded` body of a protocol request as single-valued parameters.
 *
 * @throws IdentityError 9100007 (not a form body), 9100004 (a parameter given more than once, RFC 6749 §3.2).
 */
export function formParameters(request: FastifyRequest): Record<string, string> {
  const contentType = request.headers['content-type'] ?? '';
  if (
    !/^application\/x-www-form-urlencoded\b/i.test(contentType) ||
    typeof request.body !== 'object' ||
    request.body === null
  ) {
    throw new IdentityError(9100007);
  }
  const params: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.body as Record<string, unknown>)) {
    if (Array.isArray(value)) throw new IdentityError(9100004, { name: name.slice(0, 64) });
    if (typeof value === 'string') params[name] = value;
  }
  return params;
}
