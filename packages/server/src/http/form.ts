import { IdentityError } from '@tessera/protocol';
import type { FastifyRequest } from 'fastify';

/** A form field as the body parser gives it: one value, or every value of a repeated field in order. */
export type FormField = string | readonly string[];

/**
 * The `application/x-www-form-urlencoded` body of a protocol request, each field as given (repeated fields as
 * arrays, in body order). Callers decide which fields may repeat.
 *
 * @throws IdentityError 9100007 (not a form body).
 */
export function formFields(request: FastifyRequest): Readonly<Record<string, FormField>> {
  const contentType = request.headers['content-type'] ?? '';
  if (
    !/^application\/x-www-form-urlencoded\b/i.test(contentType) ||
    typeof request.body !== 'object' ||
    request.body === null
  ) {
    throw new IdentityError(9100007);
  }
  const fields: Record<string, FormField> = {};
  for (const [name, value] of Object.entries(request.body as Record<string, unknown>)) {
    if (Array.isArray(value)) fields[name] = value.filter((v): v is string => typeof v === 'string');
    else if (typeof value === 'string') fields[name] = value;
  }
  return fields;
}

/**
 * The `application/x-www-form-urlencoded` body of a protocol request as single-valued parameters.
 *
 * @throws IdentityError 9100007 (not a form body), 9100004 (a parameter given more than once, RFC 6749 §3.2).
 */
export function formParameters(request: FastifyRequest): Record<string, string> {
  const params: Record<string, string> = {};
  for (const [name, value] of Object.entries(formFields(request))) {
    if (typeof value !== 'string') throw new IdentityError(9100004, { name: name.slice(0, 64) });
    params[name] = value;
  }
  return params;
}
