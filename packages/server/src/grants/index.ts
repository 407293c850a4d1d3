import { clientCredentialsGrant } from './client-credentials.js';
import type { Grant } from './grant.js';

/** Every grant the token endpoint serves, by `grant_type`. Register new grants here. */
export const grants: ReadonlyMap<string, Grant> = new Map(
  [clientCredentialsGrant].map((grant) => [grant.grantType, grant]),
);

export type { Grant, TokenRequest } from './grant.js';
