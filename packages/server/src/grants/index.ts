import { authorizationCodeGrant } from './authorization-code.js';
import { clientCredentialsGrant } from './client-credentials.js';
import type { GrantDescriptor } from './grant.js';
import { onBehalfOfGrant } from './on-behalf-of.js';
import { refreshTokenGrant } from './refresh-token.js';
import { tokenExchangeGrant } from './token-exchange.js';

/**
 * Every grant the token endpoint serves, in the order discovery lists them (`grant_types_supported`). Register new
 * grants here (On-Behalf-Of, RFC 8693 token exchange): nothing else needs to know them.
 */
export const grants: readonly GrantDescriptor[] = [
  authorizationCodeGrant,
  refreshTokenGrant,
  clientCredentialsGrant,
  onBehalfOfGrant,
  tokenExchangeGrant,
];

const byGrantType: ReadonlyMap<string, GrantDescriptor> = new Map(grants.map((g) => [g.grantType, g]));

/** The registered grant of a `grant_type` value (exact match, RFC 6749 §4), or undefined. */
export function grantFor(grantType: string): GrantDescriptor | undefined {
  return byGrantType.get(grantType);
}

export { CLIENT_AUTHENTICATION_PARAMETERS, type GrantDescriptor, type TokenRequest } from './grant.js';
