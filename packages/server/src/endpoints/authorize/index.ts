import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../../context.js';
import { singleValuedParameters } from '../interaction/request-parameters.js';
import { authorize } from './pipeline.js';

/**
 * `GET|POST /{tenant}/oauth2/v2.0/authorize`, the authorization endpoint (RFC 6749 §3.1, OIDC Core §3.1.2):
 * the query (GET) or form body (POST) as single-valued parameters (a repeated one: 9100004), run through the
 * named steps of {@link authorize}. Its interactions are answered at `POST /{tenant}/login` and resume here
 * through `authorizeResumeTarget`.
 */
export function registerAuthorizationEndpoint(app: FastifyInstance, context: ServerContext): void {
  const handler = (request: FastifyRequest<{ Params: { tenant: string } }>, reply: FastifyReply) => {
    const source = request.method === 'GET' ? request.query : request.body;
    return authorize(
      context,
      request,
      reply,
      request.params.tenant,
      () => singleValuedParameters(source),
      {},
    );
  };
  app.get<{ Params: { tenant: string } }>('/:tenant/oauth2/v2.0/authorize', handler);
  app.post<{ Params: { tenant: string } }>('/:tenant/oauth2/v2.0/authorize', handler);
}
