import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { calculateJwkThumbprint, decodeJwt, exportJWK } from 'jose';
import * as oauth from 'oauth4webapi';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenValidator } from '@tessera/resource';
import { tesseraAuth } from '@tessera/resource/fastify';
import {
  signInThrough,
  startInteractiveServer,
  TestBrowser,
  type InteractiveScenario,
  type TestServer,
} from '@tessera/testkit';

// Unmodified openid-client 6 (getDPoPHandle) and oauth4webapi 3 (DPoP()) against a real Tessera server that
// requires DPoP nonces (RFC 9449 §8): code + PKCE for a public client, the use_dpop_nonce round trip, a refresh
// with the bound refresh token, and a call to an API protected by @tessera/resource with the DPoP access token.
let server: TestServer;
let s: InteractiveScenario;
let api: FastifyInstance;
let apiUrl: string;

beforeAll(async () => {
  ({ server, scenario: s } = await startInteractiveServer({ config: { dpopNonceRequired: true } }));
  const tlsDir = process.env.TESSERA_TEST_TLS_DIR;
  if (tlsDir === undefined) throw new Error('the test TLS directory is not prepared');
  api = Fastify({
    https: {
      key: readFileSync(join(tlsDir, 'server-key.pem')),
      cert: readFileSync(join(tlsDir, 'server.pem')),
    },
  });
  const validator = createTokenValidator({
    authority: `${server.url}/${s.tenantId}`,
    audience: s.api.appId,
  });
  await api.register(tesseraAuth, { validator, dpop: { required: true } });
  api.get('/files', (request) => ({ scp: request.auth?.scp, cnf: request.auth?.cnf }));
  const listening = new URL(await api.listen({ port: 0, host: '127.0.0.1' }));
  apiUrl = `https://localhost:${listening.port}/files`;
});
afterAll(async () => {
  await api.close();
  await server.close();
});

const signIn = (url: string) =>
  signInThrough(new TestBrowser(), url, { userName: s.user.userPrincipalName, password: s.password });
const scope = () => `openid offline_access ${s.api.identifierUri}/Files.Read`;
const redirectUri = 'http://127.0.0.1:53117/callback';

describe('openid-client 6 with getDPoPHandle', () => {
  it('code + PKCE, refresh and an API call, all DPoP-bound, through the nonce round trip', async () => {
    const config = await oidc.discovery(
      new URL(`${server.url}/${s.tenantId}/v2.0`),
      s.native.appId,
      undefined,
      oidc.None(),
    );
    expect(config.serverMetadata().dpop_signing_alg_values_supported).toContain('ES256');
    const keyPair = await oidc.randomDPoPKeyPair('ES256');
    const DPoP = oidc.getDPoPHandle(config, keyPair);
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: scope(),
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
    });
    const back = await signIn(url.toString());
    expect(back.status).toBe(302);
    const tokens = await oidc.authorizationCodeGrant(
      config,
      new URL(back.location ?? ''),
      { pkceCodeVerifier: verifier, expectedState: state },
      undefined,
      { DPoP },
    );
    expect(tokens.token_type).toBe('dpop');
    const jkt = await calculateJwkThumbprint(await exportJWK(keyPair.publicKey));
    expect(decodeJwt(tokens.access_token).cnf).toEqual({ jkt });

    const called = await oidc.fetchProtectedResource(
      config,
      tokens.access_token,
      new URL(apiUrl),
      'GET',
      undefined,
      undefined,
      { DPoP },
    );
    expect(called.status).toBe(200);
    expect(await called.json()).toEqual({ scp: 'Files.Read', cnf: { jkt } });

    // The refresh token is bound to the key: without the handle it is refused, with it it rotates.
    await expect(oidc.refreshTokenGrant(config, tokens.refresh_token ?? '')).rejects.toMatchObject({
      error: 'invalid_grant',
    });
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token ?? '', undefined, { DPoP });
    expect(refreshed.token_type).toBe('dpop');
    expect(decodeJwt(refreshed.access_token).cnf).toEqual({ jkt });
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);

    // Another key (a thief's handle) cannot use the new refresh token either.
    const thief = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair('ES256'));
    await expect(
      oidc.refreshTokenGrant(config, refreshed.refresh_token ?? '', undefined, { DPoP: thief }),
    ).rejects.toMatchObject({ error: 'invalid_grant' });
  });
});

describe('oauth4webapi 3 with DPoP()', () => {
  it('code + PKCE with the use_dpop_nonce retry, refresh, and an API call', async () => {
    const issuer = new URL(`${server.url}/${s.tenantId}/v2.0`);
    const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer));
    const client: oauth.Client = { client_id: s.native.appId };
    const clientAuth = oauth.None();
    const keyPair = await oauth.generateKeyPair('ES256');
    const DPoP = oauth.DPoP(client, keyPair);
    const verifier = oauth.generateRandomCodeVerifier();
    const state = oauth.generateRandomState();
    const url = new URL(as.authorization_endpoint ?? '');
    url.search = new URLSearchParams({
      client_id: client.client_id,
      response_type: 'code',
      redirect_uri: redirectUri,
      scope: scope(),
      code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
    }).toString();
    const back = await signIn(url.toString());
    const params = oauth.validateAuthResponse(as, client, new URL(back.location ?? ''), state);

    const redeem = () =>
      oauth.authorizationCodeGrantRequest(as, client, clientAuth, params, redirectUri, verifier, { DPoP });
    let nonceErrors = 0;
    let result: oauth.TokenEndpointResponse;
    try {
      result = await oauth.processAuthorizationCodeResponse(as, client, await redeem());
    } catch (error) {
      // RFC 9449 §8: the first proof has no nonce; the handle kept the one the server sent.
      if (!oauth.isDPoPNonceError(error)) throw error;
      nonceErrors += 1;
      result = await oauth.processAuthorizationCodeResponse(as, client, await redeem());
    }
    expect(nonceErrors).toBe(1);
    expect(result.token_type).toBe('dpop');
    const jkt = await calculateJwkThumbprint(await exportJWK(keyPair.publicKey));
    expect(decodeJwt(result.access_token).cnf).toEqual({ jkt });

    const called = await oauth.protectedResourceRequest(
      result.access_token,
      'GET',
      new URL(apiUrl),
      undefined,
      undefined,
      { DPoP },
    );
    expect(called.status).toBe(200);

    // The nonce of the last token response is reused: the refresh needs no retry.
    const refreshed = await oauth.processRefreshTokenResponse(
      as,
      client,
      await oauth.refreshTokenGrantRequest(as, client, clientAuth, result.refresh_token ?? '', { DPoP }),
    );
    expect(refreshed.token_type).toBe('dpop');
    expect(decodeJwt(refreshed.access_token).cnf).toEqual({ jkt });

    // A stolen DPoP access token presented as a bearer token is refused by the API.
    const asBearer = await fetch(apiUrl, { headers: { authorization: `Bearer ${refreshed.access_token}` } });
    expect(asBearer.status).toBe(401);
    expect(asBearer.headers.get('www-authenticate')).toMatch(/^DPoP realm="", error="invalid_token"/);
  });
});
