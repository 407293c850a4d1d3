import { IdentityError } from '@tessera/protocol';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { identifyClient } from '../grants/client-identity.js';
import type { ServerContext } from '../context.js';
import { DIRECTORY_APP_ID, DIRECTORY_IDENTIFIER_URI } from '../directory/builtin-directory-app.js';
import { sendIdentityError } from '../http/errors.js';
import { formParameters } from '../http/form.js';
import { tokenRevocationId } from '../store/sign-in-store.js';
import { openRefreshToken, tokenHash } from '../tokens/opaque-tokens.js';
import { pairwiseSubject, responseScope } from '../tokens/user-tokens.js';
import { verifyOwnAccessToken } from '../tokens/verify-own-token.js';
import { registerEndSessionEndpoints } from './end-session.js';
import { resolveTenantSegment } from './tenant-segment.js';

/**
 * Session and token endpoints beyond authorize and token:
 * - `GET|POST /oidc/userinfo` (OIDC Core §5.3) with a user's directory API access token carrying `openid`, neither
 *   it nor its grant revoked;
 * - `GET|POST /{tenant}/oauth2/v2.0/logout` (OIDC RP-Initiated Logout 1.0), see {@link registerEndSessionEndpoints};
 * - `POST /{tenant}/oauth2/v2.0/revoke` (RFC 7009): a refresh token revokes its family and the family's grant (so
 *   its access tokens too); an access token is revoked by its `uti`;
 * - `POST /{tenant}/oauth2/v2.0/introspect` (RFC 7662) for confidential clients: refresh and access tokens only,
 *   revocation consulted.
 */
export function registerSessionEndpoints(app: FastifyInstance, context: ServerContext): void {
  const userinfo = async (request: FastifyRequest, reply: FastifyReply) => {
    const header = request.headers.authorization ?? '';
    const token = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/i.exec(header)?.[1];
    // Only a user's access token for the directory API, and not one whose grant or self was revoked (a replayed
    // code, refresh token reuse or revocation): ID tokens and app tokens are no credential here.
    const claims =
      token === undefined
        ? undefined
        : await verifyOwnAccessToken(
            context.keyRing(),
            context.baseUrl(),
            token,
            context.config.clockSkewSeconds,
          );
    const audience = claims?.aud;
    const forDirectory = audience === DIRECTORY_APP_ID || audience === DIRECTORY_IDENTIFIER_URI;
    const scopes = typeof claims?.scp === 'string' ? claims.scp.split(' ') : [];
    if (
      claims === undefined ||
      claims.idtyp !== 'user' ||
      !forDirectory ||
      !scopes.includes('openid') ||
      context.revocations.isRevoked(claims)
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

  registerEndSessionEndpoints(app, context);

  app.post<{ Params: { tenant: string } }>('/:tenant/oauth2/v2.0/revoke', async (request, reply) => {
    const params = formParameters(request);
    const tenantSegment = await resolveTenantSegment(request.params.tenant, context.cache);
    const token = params.token;
    if (token === undefined) throw new IdentityError(900144, { name: 'token' });
    const client = await identifyClient(context, {
      params,
      authorization: request.headers.authorization,
      tenantSegment,
      origin: request.headers.origin,
    });
    const claims = openRefreshToken(context.keys.refreshToken, token);
    if (claims !== undefined) {
      const family = await context.signIn.findRefreshFamily(claims.familyId);
      // RFC 7009 §2.1: a token of another client is not revoked, and the answer does not say so.
      if (family?.clientId === client.application.appId) {
        // RFC 7009 §2.1: a confidential (web) client authenticates first.
        if (family.platform === 'web' && client.acr === '0') throw new IdentityError(7000218);
        // Revokes the family's grant too, so its access tokens stop being active (RFC 7009 §2.1).
        await context.signIn.revokeRefreshFamily(claims.familyId, context.now());
      }
    } else {
      // An access token of this client is revoked by its `uti` (RFC 7009 §2.1 MAY; the grant stays).
      const access = await verifyOwnAccessToken(
        context.keyRing(),
        context.baseUrl(),
        token,
        context.config.clockSkewSeconds,
      );
      const issuedTo = access?.azp ?? access?.appid;
      if (access !== undefined && issuedTo === client.application.appId) {
        const issuedToConfidential = (access.azpacr ?? access.appidacr) !== '0';
        if (issuedToConfidential && client.acr === '0') throw new IdentityError(7000218);
        await context.signIn.recordRevocations([tokenRevocationId(String(access.uti))], context.now());
      }
    }
    // RFC 7009 §2.2: 200 for revoked, unknown and unsupported tokens alike.
    return reply.header('cache-control', 'no-store').status(200).send();
  });

  app.post<{ Params: { tenant: string } }>('/:tenant/oauth2/v2.0/introspect', async (request, reply) => {
    const params = formParameters(request);
    const tenantSegment = await resolveTenantSegment(request.params.tenant, context.cache);
    const token = params.token;
    if (token === undefined) throw new IdentityError(900144, { name: 'token' });
    const client = await identifyClient(context, {
      params,
      authorization: request.headers.authorization,
      tenantSegment,
      origin: request.headers.origin,
    });
    if (client.acr === '0') throw new IdentityError(7000218);
    const now = context.now();
    const inactive = { active: false };
    const send = (body: object) => reply.header('cache-control', 'no-store').send(body);
    const refresh = openRefreshToken(context.keys.refreshToken, token);
    if (refresh !== undefined) {
      const family = await context.signIn.findRefreshFamily(refresh.familyId);
      if (
        family === undefined ||
        family.clientId !== client.application.appId ||
        family.revokedAt !== null ||
        context.revocations.isGrantRevoked(family.familyId) ||
        // A disabled user's tokens are no longer redeemable (50057), so not active either.
        (await context.cache.user(family.userId))?.accountEnabled !== true ||
        family.expiresAt <= now ||
        family.tokenHash !== tokenHash(token)
      ) {
        return send(inactive);
      }
      return send({
        active: true,
        token_type: 'refresh_token',
        client_id: family.clientId,
        // As the token response named them: resource scopes qualified, OIDC scopes once.
        scope: responseScope(family.grant.requestedIdentifier, family.grant.scopes, family.grant.oidcScopes),
        exp: family.expiresAt,
        iat: family.createdAt,
        // The pairwise subject the client's tokens carry, not the object id.
        sub: pairwiseSubject(context.keys.pairwise, family.userId, family.clientId),
        tid: family.tenantId,
      });
    }
    // Only access tokens we issued are active (never an ID token), and only while neither they nor their grant
    // are revoked (RFC 7662 §2.2).
    const claims = await verifyOwnAccessToken(context.keyRing(), context.baseUrl(), token, 0);
    const appId = client.application.appId;
    const aud = claims?.aud;
    const allowed =
      claims !== undefined &&
      (aud === appId ||
        client.application.identifierUris.includes(String(aud)) ||
        claims.azp === appId ||
        claims.appid === appId);
    if (!allowed || context.revocations.isRevoked(claims)) return send(inactive);
    // As at userinfo: a user token stops being active when its user is disabled (a cached lookup).
    if (claims.idtyp === 'user') {
      const user = typeof claims.oid === 'string' ? await context.cache.user(claims.oid) : undefined;
      if (user?.accountEnabled !== true) return send(inactive);
    }
    return send({
      active: true,
      token_type: 'access_token',
      ...claims,
      client_id: claims.azp ?? claims.appid,
    });
  });
}
