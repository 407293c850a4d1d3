import { IdentityError } from '@tessera/protocol';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.js';
import { grantFor } from '../grants/index.js';
import { parseTokenParameters } from '../grants/parameters.js';
import { correlationIdOf } from '../http/errors.js';
import { formFields } from '../http/form.js';
import { resolveTenantSegment } from '../directory/tenant-segment.js';

/**
 * `POST /{tenant}/oauth2/v2.0/token`: parses the form through the descriptor of its `grant_type` (only the
 * parameters the grant declares reach it; only those it lets repeat may), resolves the tenant and runs the
 * registered grant. Unknown parameters are ignored (MSAL sends many). Responses carry `Cache-Control: no-store`
 * and echo `client-request-id`.
 *
 * @throws IdentityError 9100007 (not a form), 9100004 (repeated parameter), 900144 (no `grant_type`),
 *   70003 (unsupported grant), 900561 (not POST), and the grant's errors.
 * @see RFC 6749 §3.2, §5.1, §5.2
 */
export function registerTokenEndpoint(app: FastifyInstance, context: ServerContext): void {
  app.post<{ Params: { tenant: string } }>('/:tenant/oauth2/v2.0/token', async (request, reply) => {
    const fields = formFields(request);
    const grantType = fields.grant_type;
    const grant = typeof grantType === 'string' ? grantFor(grantType) : undefined;
    const { params, repeatedParams } = parseTokenParameters(fields, grant);
    const tenantSegment = await resolveTenantSegment(request.params.tenant, context.cache);
    if (typeof grantType !== 'string' || grantType === '')
      throw new IdentityError(900144, { name: 'grant_type' });
    if (grant === undefined) throw new IdentityError(70003, { grantType: grantType.slice(0, 128) });
    const response = await grant.handle(context, {
      params,
      repeatedParams,
      authorization: request.headers.authorization,
      tenantSegment,
      origin: request.headers.origin,
    });
    return noStore(request, reply).send(response);
  });
  // RFC 9110 §15.5.6: a 405 names the allowed methods.
  app.route({
    method: ['GET', 'PUT', 'DELETE', 'PATCH'],
    url: '/:tenant/oauth2/v2.0/token',
    handler: (request, reply) => {
      void reply.header('allow', 'POST');
      throw new IdentityError(900561, { method: request.method });
    },
  });
}

function noStore(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return reply
    .header('cache-control', 'no-store')
    .header('pragma', 'no-cache')
    .header('client-request-id', correlationIdOf(request));
}
