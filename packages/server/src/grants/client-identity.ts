import { IdentityError } from '@tessera/protocol';
import { authenticateClient, type ClientCredentialsPresented } from '../client-auth/authenticate-client.js';
import type { ServerContext } from '../context.js';
import type { Application } from '../directory/model.js';
import type { ClientAuthenticationLevel } from '../tokens/access-token.js';

/** The client of a user grant: authenticated (confidential) or only identified (public / spa). */
export interface GrantClient {
  readonly application: Application;
  /** `0` public, `1` secret, `2` certificate (`appidacr` / `azpacr`). */
  readonly clientAuthenticationLevel: ClientAuthenticationLevel;
}

/**
 * Identifies the client of an authorization code or refresh token request. A client that presents credentials
 * (Basic, `client_secret`, `client_assertion`) is authenticated as at the client credentials grant; otherwise it
 * is a public client named by `client_id`, which the caller only accepts for `spa` / `publicClient` grants.
 *
 * @throws IdentityError 900144 (no `client_id`), 700016, 7000112, and client authentication errors.
 */
export async function identifyClient(
  context: ServerContext,
  request: ClientCredentialsPresented,
): Promise<GrantClient> {
  const { params } = request;
  const presentsCredentials =
    request.authorization !== undefined && /^basic /i.test(request.authorization)
      ? true
      : params.client_secret !== undefined || params.client_assertion !== undefined;
  if (presentsCredentials) {
    const client = await authenticateClient(context, request);
    return {
      application: client.application,
      clientAuthenticationLevel: client.clientAuthenticationLevel,
    };
  }
  const clientId = params.client_id;
  if (clientId === undefined || clientId === '') throw new IdentityError(900144, { name: 'client_id' });
  const application = await context.cache.application(clientId);
  const segment = request.tenantSegment;
  if (application === undefined) {
    throw new IdentityError(700016, { clientId: clientId.slice(0, 64), tenant: segment.segment });
  }
  if (!application.accountEnabled) throw new IdentityError(7000112, { clientId: application.appId });
  return { application, clientAuthenticationLevel: '0' };
}
