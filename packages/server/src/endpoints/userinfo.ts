import { IdentityError } from '@tessera/protocol';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.js';
import { builtinDirectoryApplication } from '../directory/builtin-directory-app.js';
import { isAudienceOf } from '../directory/identifiers.js';
import { sendIdentityError } from '../http/errors.js';
import { verifyOwnAccessToken } from '../tokens/verify-own-token.js';

/**
 * `GET|POST /oidc/userinfo` (OIDC Core §5.3): the claims of the user a bearer access token represents.
 *
 * The token must be a user's access token for the directory API carrying `openid`, issued by this server, unexpired,
 * neither it nor its grant revoked, and its user enabled; anything else answers 401 with
 * `WWW-Authenticate: Bearer error="invalid_token"` and 9100016 (RFC 6750 §3.1). `profile` adds `name` and
 * `preferred_username`, `email` adds `email`.
 */
export function registerUserinfoEndpoint(app: FastifyInstance, context: ServerContext): void {
  const userinfo = async (request: FastifyRequest, reply: FastifyReply) => {
    const header = request.headers.authorization ?? '';
    const token = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/i.exec(header)?.[1];
    // Only a user's access token for the directory API, and not one whose grant or self was revoked (a replayed
    // code, refresh token reuse or revocation): ID tokens and app tokens are no credential here.
    const verified =
      token === undefined
        ? undefined
        : await verifyOwnAccessToken(
            context.keyRing(),
            context.baseUrl(),
            token,
            context.config.clockSkewSeconds,
            { revocations: context.revocations },
          );
    // RFC 6750 §3.1: every refusal is the same invalid_token; the reason stays here.
    const claims = verified?.ok === true ? verified.claims : undefined;
    const forDirectory = isAudienceOf(builtinDirectoryApplication, claims?.aud);
    const scopes = typeof claims?.scp === 'string' ? claims.scp.toLowerCase().split(' ') : [];
    // RFC 9449 §7.2: a DPoP-bound token (`cnf`) is no bearer token.
    if (
      claims === undefined ||
      claims.idtyp !== 'user' ||
      claims.cnf !== undefined ||
      !forDirectory ||
      !scopes.includes('openid')
    ) {
      void reply.header('www-authenticate', 'Bearer error="invalid_token"');
      return sendIdentityError(request, reply, new IdentityError(9100016));
    }
    const user = typeof claims.oid === 'string' ? await context.cache.user(claims.oid) : undefined;
    if (user?.accountEnabled !== true) {
      void reply.header('www-authenticate', 'Bearer error="invalid_token"');
      return sendIdentityError(request, reply, new IdentityError(9100016));
    }
    return reply.header('cache-control', 'no-store').send({
      sub: claims.sub,
      ...(scopes.includes('profile')
        ? { name: user.displayName, preferred_username: user.userPrincipalName }
        : {}),
      ...(scopes.includes('email') ? { email: user.userPrincipalName } : {}),
    });
  };
  app.get('/oidc/userinfo', userinfo);
  app.post('/oidc/userinfo', userinfo);
}
