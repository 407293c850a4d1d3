import { authorizationCodeGrant } from './authorization-code.js';
import { clientCredentialsGrant } from './client-credentials.js';
import type { Grant } from './grant.js';
import { refreshTokenGrant } from './refresh-token.js';

/** Every grant the token endpoint serves, by `grant_type`. Register new grants here. */
export const grants: ReadonlyMap<string, Grant> = new Map(
  [clientCredentialsGrant, authorizationCodeGrant, refreshTokenGrant].map((grant) => [
    grant.grantType,
    grant,
  ]),
);

export type { Grant, TokenRequest } from './grant.js';
