import { IdentityError } from '@tessera/protocol';
import { CLIENT_AUTHENTICATION_PARAMETERS, type GrantDescriptor, type TokenRequest } from './grant.js';

/**
 * Parses a token request's form fields through its grant's descriptor: a parameter given more than once is refused
 * unless the grant lets it repeat, whether the grant reads it or not (MSAL sends many parameters no grant reads);
 * then only the parameters the grant declares, and client authentication's, are kept. Without a grant (no or an
 * unknown `grant_type`, refused next) nothing may repeat and nothing is kept.
 *
 * @param fields the form, a repeated field as every value in body order (as `formFields` of `http/form.ts` gives it).
 * @throws IdentityError 9100004 naming the first repeated parameter the grant does not let repeat (RFC 6749 §3.2).
 */
export function parseTokenParameters(
  fields: Readonly<Record<string, string | readonly string[]>>,
  grant: GrantDescriptor | undefined,
): Pick<TokenRequest, 'params' | 'repeatedParams'> {
  const repeatable = new Set(grant?.allowRepeated ?? []);
  const declared = new Set([...(grant?.parameters ?? []), ...CLIENT_AUTHENTICATION_PARAMETERS]);
  const params: Record<string, string> = {};
  const repeatedParams: Record<string, readonly string[]> = {};
  for (const [name, value] of Object.entries(fields)) {
    if (repeatable.has(name)) repeatedParams[name] = typeof value === 'string' ? [value] : [...value];
    else if (typeof value !== 'string') throw new IdentityError(9100004, { name: name.slice(0, 64) });
    else if (grant !== undefined && declared.has(name)) params[name] = value;
  }
  return { params, repeatedParams };
}
