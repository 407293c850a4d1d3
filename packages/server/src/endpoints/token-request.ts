import { IdentityError } from '@tessera/protocol';
import type { FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.js';
import { identifyClient, type GrantClient } from '../grants/client-identity.js';
import { formParameters } from '../http/form.js';
import { resolveTenantSegment, type ResolvedTenantSegment } from '../directory/tenant-segment.js';

/**
 * The `token` parameter of a revocation (RFC 7009 §2.1) or introspection (RFC 7662 §2.1) request, the client
 * that sent it, identified as at the token endpoint (credentials when presented, else a public `client_id`), and
 * the `{tenant}` segment it was sent to (a token is only introspected or revoked at an endpoint that admits its
 * tenant: see `segmentAdmitsTenant`).
 *
 * @throws IdentityError 900144 (no `token`), the tenant segment's errors, and {@link identifyClient}'s.
 */
export async function tokenRequestOf(
  context: ServerContext,
  request: FastifyRequest<{ Params: { tenant: string } }>,
): Promise<{ token: string; client: GrantClient; tenantSegment: ResolvedTenantSegment }> {
  const params = formParameters(request);
  const tenantSegment = await resolveTenantSegment(request.params.tenant, context.cache);
  const token = params.token;
  if (token === undefined) throw new IdentityError(900144, { name: 'token' });
  const client = await identifyClient(context, {
    params,
    authorization: request.headers.authorization,
    tenantSegment,
  });
  return { token, client, tenantSegment };
}
