import { createHash } from 'node:crypto';
import { GrantType, IdentityError, type TokenResponse } from '@tessera/protocol';
import type { ServerContext } from '../context.js';
import { segmentAdmitsTenant } from '../directory/tenant-segment.js';
import { isRegisteredSpaOrigin } from '../directory/redirect-uris.js';
import type { User } from '../directory/model.js';
import type { StoredAuthorizationCode } from '../store/repositories/authorization-codes.js';
import type { RefreshTokenFamily } from '../store/repositories/refresh-token-families.js';
import { tokenHash } from '../tokens/opaque-tokens.js';
import { identifyClient, type GrantClient } from './client-identity.js';
import { assertDpopRequirement, type GrantDescriptor, type TokenRequest } from './grant.js';
import { refreshTokenFor, userTokenResponse } from './user-token-response.js';

/** A PKCE `code_verifier` (RFC 7636 §4.1): 43–128 of `A-Z a-z 0-9 - . _ ~`. */
const CODE_VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;

/**
 * The authorization code grant. The client is authenticated first (confidential) or named (public / spa), then
 * the code is checked and redeemed by one conditional statement in one transaction with the refresh token family
 * it creates (both or neither survive a crash): a second redemption fails with 54005 and revokes the grant the
 * first one created (its refresh token family, and its access tokens wherever revocation is consulted). The
 * code must belong to the client, be redeemed at its tenant's token endpoint (or `common` / `organizations`), be
 * unexpired (10 minutes), come with the same `redirect_uri` and the PKCE verifier of its challenge (RFC 7636 §4.1
 * syntax first); `spa` codes only cross-origin from an origin of the app's `spa` redirect URIs, and only `spa`
 * codes cross-origin. A refresh token is issued only with `offline_access`; `spa` ones live a fixed 24 hours.
 *
 * @throws IdentityError 900144 (missing `code` / `redirect_uri` / `code_verifier`), 70000 (unknown code, other
 *   client, another tenant's endpoint, redirect URI differs), 54005 (replayed), 70008 (expired), 9100020
 *   (malformed PKCE verifier), 501481 (PKCE mismatch), 9002327 / 9002326 / 9100019 (origin), 7000218 (web code
 *   without client credentials), 50057 (user disabled), 9100303 (the app requires DPoP and no proof came),
 *   9100304 / 9100305 (a code bound by `dpop_jkt` redeemed without a proof / with another key's).
 *
 * With a DPoP proof (verified by the endpoint) the access token is bound to its key (`cnf.jkt`, `token_type:
 * DPoP`), and so is the refresh token family of a public or spa client (RFC 9449 §5).
 * @see RFC 6749 §4.1.3, RFC 7636 §4.1 and §4.6, RFC 9700 §4.2.4, RFC 9449 §5 and §10
 */
export const authorizationCodeGrant: GrantDescriptor = {
  grantType: GrantType.authorizationCode,
  parameters: ['code', 'redirect_uri', 'code_verifier', 'client_info'],
  allowRepeated: [],
  async handle(context: ServerContext, request: TokenRequest): Promise<TokenResponse> {
    const { params } = request;
    const code = params.code;
    if (code === undefined || code === '') throw new IdentityError(900144, { name: 'code' });
    const client = await identifyClient(context, request);
    assertDpopRequirement(client.application, request);
    const now = context.now();
    if (code.length > 256)
      throw new IdentityError(70000, { name: 'code', reason: 'The code is unknown or expired.' });
    const codeHash = tokenHash(code);
    const found = await context.signIn.codes.find(codeHash);
    if (found.kind === 'unknown') {
      throw new IdentityError(70000, { name: 'code', reason: 'The code is unknown or expired.' });
    }
    if (found.kind === 'replayed') return replayed(context, found.familyId, now);
    // Checked before the code is marked used, so a redemption that succeeds marks it used and inserts its family
    // in one transaction. A refusal still burns the code, as a redemption would (the same refusals in the same
    // order): only an IdentityError is a refusal; anything else (the store unreachable) burns nothing.
    let checked: Checked | IdentityError;
    try {
      checked = await check(context, request, client, found.value, now);
    } catch (error) {
      if (!(error instanceof IdentityError)) throw error;
      checked = error;
    }
    const family = checked instanceof IdentityError ? undefined : checked.family;
    const redemption = await context.signIn.codes.redeem(
      codeHash,
      now,
      family === undefined ? undefined : (trx) => context.signIn.refreshFamilies.insert(family, trx),
    );
    if (redemption.kind === 'unknown') {
      throw new IdentityError(70000, { name: 'code', reason: 'The code is unknown or expired.' });
    }
    // Another redemption committed first (with its family, in its transaction): revoke what it issued.
    if (redemption.kind === 'replayed') return replayed(context, redemption.familyId, now);
    if (checked instanceof IdentityError) throw checked;
    const { stored, user, refreshToken } = checked;
    return userTokenResponse(context, {
      client: client.application,
      clientAuthenticationLevel: client.clientAuthenticationLevel,
      now,
      user,
      grant: stored.grant,
      authentication: stored.authentication,
      nonce: stored.nonce ?? undefined,
      clientInfo: stored.clientInfo || params.client_info === '1',
      refreshToken,
      grantId: stored.familyId,
      dpopJkt: request.dpop?.jkt,
    });
  },
};

/** What a code that passed every check redeems into: the user, and the family to insert with the redemption. */
interface Checked {
  readonly stored: StoredAuthorizationCode;
  readonly user: User;
  readonly family: RefreshTokenFamily | undefined;
  readonly refreshToken: { readonly token: string; readonly expiresAt: number } | undefined;
}

/**
 * RFC 6749 §4.1.2: a used code presented again revokes what its redemption issued — the refresh token family
 * and, through the grant id the access tokens carry, its access tokens at introspection and userinfo.
 *
 * @throws IdentityError 54005, always.
 */
async function replayed(context: ServerContext, familyId: string, now: number): Promise<never> {
  await context.signIn.refreshFamilies.revoke(familyId, now);
  throw new IdentityError(54005, {}, { detail: `replayed code; family ${familyId} revoked` });
}

/**
 * The checks of a stored, unused code against the request (see {@link authorizationCodeGrant} for the errors),
 * and the refresh token family it creates with `offline_access`.
 */
async function check(
  context: ServerContext,
  request: TokenRequest,
  client: GrantClient,
  stored: StoredAuthorizationCode,
  now: number,
): Promise<Checked> {
  const { params } = request;
  if (stored.authentication.clientId !== client.application.appId) {
    throw new IdentityError(70000, { name: 'code', reason: 'The code was issued to another client.' });
  }
  if (!segmentAdmitsTenant(request.tenantSegment, stored.authentication.tenantId)) {
    throw new IdentityError(70000, { name: 'code', reason: 'The code was issued in another tenant.' });
  }
  if (stored.expiresAt <= now) throw new IdentityError(70008);
  const { platform } = stored.authentication;
  if (platform === 'spa' && request.origin === undefined) throw new IdentityError(9002327);
  if (platform === 'spa' && !isRegisteredSpaOrigin(client.application, request.origin)) {
    throw new IdentityError(9100019, {
      origin: (request.origin ?? '').slice(0, 256),
      clientId: client.application.appId,
    });
  }
  if (platform !== 'spa' && request.origin !== undefined) {
    throw new IdentityError(9002326, { origin: request.origin.slice(0, 256) });
  }
  if (platform === 'web' && client.clientAuthenticationLevel === '0') throw new IdentityError(7000218);
  const redirectUri = params.redirect_uri;
  if (redirectUri === undefined || redirectUri === '')
    throw new IdentityError(900144, { name: 'redirect_uri' });
  if (redirectUri !== stored.redirectUri) {
    throw new IdentityError(70000, {
      name: 'redirect_uri',
      reason: 'It does not match the redirect URI of the authorization request.',
    });
  }
  const verifier = params.code_verifier;
  if (stored.codeChallenge !== null) {
    if (verifier === undefined || verifier === '') throw new IdentityError(900144, { name: 'code_verifier' });
    // RFC 7636 §4.1: 43–128 unreserved characters. Checked before hashing: hashing other text (hashed as
    // 'ascii', which drops high bits) would let different strings meet one challenge.
    if (!CODE_VERIFIER.test(verifier)) throw new IdentityError(9100020);
    const computed = createHash('sha256').update(verifier, 'ascii').digest('base64url');
    if (computed !== stored.codeChallenge) throw new IdentityError(501481);
  } else if (verifier !== undefined) {
    // RFC 9700 §4.8.2: a verifier for a code requested without a challenge is a downgrade attempt.
    throw new IdentityError(501481);
  }
  if (stored.dpopJkt !== undefined) {
    // RFC 9449 §10.1: a code requested with `dpop_jkt` is redeemed only with a proof by that key.
    if (request.dpop === undefined) throw new IdentityError(9100304, { grant: 'authorization code' });
    if (request.dpop.jkt !== stored.dpopJkt) {
      throw new IdentityError(9100305, { grant: 'authorization code' });
    }
  }
  const user = await context.cache.user(stored.authentication.userId);
  if (user?.accountEnabled !== true) throw new IdentityError(50057);
  if (!stored.grant.oidcScopes.includes('offline_access')) {
    return { stored, user, family: undefined, refreshToken: undefined };
  }
  // RFC 9449 §5: refresh tokens of public clients (spa included) are bound to the proof's key; a confidential
  // client's are not (they are already bound to its credentials), its access tokens are.
  const familyJkt =
    platform === 'spa' || client.clientAuthenticationLevel === '0' ? request.dpop?.jkt : undefined;
  const expiresAt =
    now +
    (platform === 'spa'
      ? context.config.spaRefreshTokenLifetimeSeconds
      : context.config.refreshTokenLifetimeSeconds);
  const minted = refreshTokenFor(context, {
    familyId: stored.familyId,
    generation: 0,
    userId: user.id,
    tenantId: user.tenantId,
  });
  const family: RefreshTokenFamily = {
    familyId: stored.familyId,
    tokenHash: minted.hash,
    generation: 0,
    authentication: stored.authentication,
    grant: stored.grant,
    clientInfo: stored.clientInfo || params.client_info === '1',
    createdAt: now,
    expiresAt,
    dpopJkt: familyJkt,
  };
  return { stored, user, family, refreshToken: { token: minted.token, expiresAt } };
}
