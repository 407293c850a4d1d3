import { IdentityError } from '@tessera/protocol';
import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../context.js';
import { segmentAdmitsTenant } from '../directory/tenant-segment.js';
import { tokenRevocationId } from '../store/repositories/token-revocations.js';
import { openRefreshToken } from '../tokens/opaque-tokens.js';
import { verifyOwnAccessToken } from '../tokens/verify-own-token.js';
import { tokenRequestOf } from './token-request.js';

/**
 * `POST /{tenant}/oauth2/v2.0/revoke` (RFC 7009): a refresh token revokes its family and the family's grant (so its
 * access tokens too); an access token is revoked by its `uti`. Answers 200 with an empty body for revoked, unknown
 * and foreign tokens alike (§2.2); 900144 without `token`; 7000218 when a confidential client's token is revoked
 * without client credentials. A token of a tenant the `{tenant}` segment does not admit is foreign there: it is
 * not revoked, and the answer does not say so.
 */
export function registerRevocationEndpoint(app: FastifyInstance, context: ServerContext): void {
  app.post<{ Params: { tenant: string } }>('/:tenant/oauth2/v2.0/revoke', async (request, reply) => {
    const { token, client, tenantSegment } = await tokenRequestOf(context, request);
    const claims = openRefreshToken(context.keys.refreshToken, token);
    if (claims !== undefined) {
      const family = await context.signIn.refreshFamilies.find(claims.familyId);
      // RFC 7009 §2.1: a token of another client is not revoked, and the answer does not say so.
      if (
        family?.authentication.clientId === client.application.appId &&
        segmentAdmitsTenant(tenantSegment, family.authentication.tenantId)
      ) {
        // RFC 7009 §2.1: a confidential (web) client authenticates first.
        if (family.authentication.platform === 'web' && client.clientAuthenticationLevel === '0')
          throw new IdentityError(7000218);
        // Revokes the family's grant too, so its access tokens stop being active (RFC 7009 §2.1).
        await context.signIn.refreshFamilies.revoke(claims.familyId, context.now());
      }
    } else {
      // An access token of this client is revoked by its `uti` (RFC 7009 §2.1 MAY; the grant stays).
      const verified = await verifyOwnAccessToken(
        context.keyRing(),
        context.baseUrl(),
        token,
        context.config.clockSkewSeconds,
      );
      const access = verified.ok ? verified.claims : undefined;
      const issuedTo = access?.azp ?? access?.appid;
      if (
        access !== undefined &&
        issuedTo === client.application.appId &&
        typeof access.tid === 'string' &&
        segmentAdmitsTenant(tenantSegment, access.tid)
      ) {
        const issuedToConfidential = (access.azpacr ?? access.appidacr) !== '0';
        if (issuedToConfidential && client.clientAuthenticationLevel === '0')
          throw new IdentityError(7000218);
        await context.signIn.revocations.record([tokenRevocationId(String(access.uti))], context.now());
      }
    }
    // RFC 7009 §2.2: 200 for revoked, unknown and unsupported tokens alike.
    return reply.header('cache-control', 'no-store').status(200).send();
  });
}
