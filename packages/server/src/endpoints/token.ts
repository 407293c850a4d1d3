import { IdentityError } from '@tessera/protocol';
import { decodeJwt, type JWTPayload } from 'jose';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.js';
import { dpopNonceHeader, tokenRequestProof } from '../dpop/token-request.js';
import { grantFor } from '../grants/index.js';
import { parseTokenParameters } from '../grants/parameters.js';
import { asIdentityError, correlationIdOf } from '../http/errors.js';
import { formFields } from '../http/form.js';
import type { NewSignIn } from '../directory/audit-sign-ins.js';
import type { IssuedAccessToken } from '../grants/grant.js';
import { resolveTenantSegment, type ResolvedTenantSegment } from '../directory/tenant-segment.js';

/**
 * `POST /{tenant}/oauth2/v2.0/token`: parses the form through the descriptor of its `grant_type` (only the
 * parameters the grant declares reach it; only those it lets repeat may), resolves the tenant and runs the
 * registered grant. Unknown parameters are ignored (MSAL sends many). Responses carry `Cache-Control: no-store`
 * and echo `client-request-id`.
 *
 * A `DPoP` header is verified before the grant runs ({@link tokenRequestProof}) and handed to it; with
 * `dpopNonceRequired` every response, success or error, carries a fresh `DPoP-Nonce` (RFC 9449 §8, §8.2).
 *
 * @throws IdentityError 9100007 (not a form), 9100004 (repeated parameter), 900144 (no `grant_type`),
 *   70003 (unsupported grant), 900561 (not POST), 9100300 / 9100301 / 9100302 (DPoP proof), and the grant's
 *   errors.
 * @see RFC 6749 §3.2, §5.1, §5.2; RFC 9449 §5, §8
 */
export function registerTokenEndpoint(app: FastifyInstance, context: ServerContext): void {
  app.post<{ Params: { tenant: string } }>('/:tenant/oauth2/v2.0/token', async (request, reply) => {
    const nonce = dpopNonceHeader(context);
    if (nonce !== undefined) void reply.header('dpop-nonce', nonce);
    const fields = formFields(request);
    const grantType = fields.grant_type;
    const grant = typeof grantType === 'string' ? grantFor(grantType) : undefined;
    const { params, repeatedParams } = parseTokenParameters(fields, grant);
    const tenantSegment = await resolveTenantSegment(request.params.tenant, context.cache);
    let response;
    let issued: IssuedAccessToken | undefined;
    try {
      if (typeof grantType !== 'string' || grantType === '')
        throw new IdentityError(900144, { name: 'grant_type' });
      if (grant === undefined) throw new IdentityError(70003, { grantType: grantType.slice(0, 128) });
      const dpop = await tokenRequestProof(context, request.raw.headersDistinct.dpop, request.url);
      response = await grant.handle(context, {
        params,
        repeatedParams,
        authorization: request.headers.authorization,
        tenantSegment,
        origin: request.headers.origin,
        dpop,
        issued: (token) => {
          issued = token;
        },
      });
    } catch (error) {
      const clientId = typeof fields.client_id === 'string' ? fields.client_id : undefined;
      await context.directory.signIns.recordFrom(() =>
        tokenFailure(context, request, tenantSegment, clientId, error),
      );
      throw error;
    }
    // The sign-in log is written later, in batches. A grant that said whom it issued the token for is recorded
    // from that, with no lookups; for the others the token's claims are read back (cached directory reads only).
    if (issued !== undefined) context.directory.signIns.record(issuedSignIn(request, issued));
    else {
      const accessToken = response.access_token;
      await context.directory.signIns.recordFrom(() => tokenSignIn(context, request, accessToken));
    }
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

const TOKEN_CLIENT_APP = 'Mobile Apps and Desktop clients';

/**
 * The sign-in of a token the endpoint issued (non-interactive), from whom the grant said it issued it for
 * ({@link IssuedAccessToken}): the same record {@link tokenSignIn} makes from the token's claims, without decoding
 * the token or reading the directory again.
 */
function issuedSignIn(request: FastifyRequest, issued: IssuedAccessToken): NewSignIn {
  const { user, client, resource } = issued;
  return {
    tenantId: issued.tenantId,
    userId: user?.id ?? null,
    userPrincipalName: user?.userPrincipalName ?? null,
    userDisplayName: user?.displayName ?? null,
    appId: client.appId,
    appDisplayName: client.displayName,
    ipAddress: request.ip,
    clientAppUsed: TOKEN_CLIENT_APP,
    correlationId: correlationIdOf(request),
    isInteractive: false,
    resourceId: resource.appId,
    resourceDisplayName: resource.displayName,
    errorCode: 0,
    failureReason: null,
  };
}

/**
 * The sign-in of a token the endpoint issued (non-interactive), from the access token's own claims: the
 * user (or, app-only, no user), the client and the resource. Only cached directory reads; the sign-in log is
 * written later, in batches.
 */
async function tokenSignIn(
  context: ServerContext,
  request: FastifyRequest,
  accessToken: string | undefined,
): Promise<NewSignIn | undefined> {
  let claims: JWTPayload;
  try {
    claims = accessToken === undefined ? {} : decodeJwt(accessToken);
  } catch {
    return undefined;
  }
  const tenantId = typeof claims.tid === 'string' ? claims.tid : undefined;
  if (tenantId === undefined) return undefined;
  const appId =
    typeof claims.appid === 'string' ? claims.appid : typeof claims.azp === 'string' ? claims.azp : null;
  const audience = typeof claims.aud === 'string' ? claims.aud : undefined;
  const resourceId = audience === undefined ? undefined : await context.cache.resourceAppId(audience);
  const resource = resourceId === undefined ? undefined : await context.cache.application(resourceId);
  const client = appId === null ? undefined : await context.cache.application(appId);
  const isUser = claims.idtyp !== 'app' && typeof claims.oid === 'string';
  const user = isUser ? await context.cache.user(String(claims.oid)) : undefined;
  return {
    tenantId,
    userId: user?.id ?? null,
    userPrincipalName: user?.userPrincipalName ?? null,
    userDisplayName: user?.displayName ?? null,
    appId,
    appDisplayName: client?.displayName ?? null,
    ipAddress: request.ip,
    clientAppUsed: TOKEN_CLIENT_APP,
    correlationId: correlationIdOf(request),
    isInteractive: false,
    resourceId: resource?.appId ?? resourceId ?? null,
    resourceDisplayName: resource?.displayName ?? null,
    errorCode: 0,
    failureReason: null,
  };
}

/**
 * A refused token request (non-interactive sign-in failure) with its AADSTS code, in the log of the
 * `{tenant}` segment's tenant, else of the client's home tenant; not recorded when neither is known. Server
 * errors are recorded with their catalogue code, never their detail.
 */
async function tokenFailure(
  context: ServerContext,
  request: FastifyRequest,
  segment: ResolvedTenantSegment,
  clientId: string | undefined,
  error: unknown,
): Promise<NewSignIn | undefined> {
  const refusal = asIdentityError(error);
  const client =
    clientId === undefined ? undefined : await context.cache.application(clientId).catch(() => undefined);
  const tenantId = segment.kind === 'tenant' ? segment.tenant.id : client?.tenantId;
  if (tenantId === undefined) return undefined;
  return {
    tenantId,
    userId: null,
    userPrincipalName: null,
    userDisplayName: null,
    appId: client?.appId ?? clientId?.slice(0, 64) ?? null,
    appDisplayName: client?.displayName ?? null,
    ipAddress: request.ip,
    clientAppUsed: TOKEN_CLIENT_APP,
    correlationId: correlationIdOf(request),
    isInteractive: false,
    resourceId: null,
    resourceDisplayName: null,
    errorCode: refusal.code,
    failureReason: refusal.description,
  };
}
