import { ConfidentialClientApplication } from '@azure/msal-node';
import { signInThrough, startInteractiveServer, TestBrowser } from '@tessera/testkit';
import type { InteractiveScenario, TestServer } from '@tessera/testkit';
import { decodeJwt, importPKCS8 } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Unmodified openid-client v6 and @azure/msal-node against a real server over HTTPS; the user signs in by
// submitting the server's own forms with a cookie-carrying fetch (no JavaScript involved).
let server: TestServer;
let s: InteractiveScenario;

beforeAll(async () => {
  ({ server, scenario: s } = await startInteractiveServer());
});
afterAll(() => server.close());

const signIn = (url: string) =>
  signInThrough(new TestBrowser(), url, { userName: s.user.userPrincipalName, password: s.password });

describe('openid-client v6', () => {
  const issuer = () => new URL(`${server.url}/${s.tenantId}/v2.0`);

  it('code + PKCE (client_secret_post), userinfo, refresh with rotation', async () => {
    const config = await oidc.discovery(
      issuer(),
      s.web.appId,
      undefined,
      oidc.ClientSecretPost(s.web.secret),
    );
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: s.web.redirectUri,
      scope: 'openid profile offline_access',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    const back = await signIn(url.toString());
    expect(back.status).toBe(302);
    const tokens = await oidc.authorizationCodeGrant(config, new URL(back.location!), {
      pkceCodeVerifier: verifier,
      expectedState: state,
      expectedNonce: nonce,
    });
    const claims = tokens.claims()!;
    expect(claims).toMatchObject({
      aud: s.web.appId,
      iss: issuer().toString(),
      nonce,
      oid: s.user.id,
      tid: s.tenantId,
      name: 'Alice Adams',
      preferred_username: s.user.userPrincipalName,
    });
    expect(claims.sub).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(claims.sub).not.toBe(s.user.id);

    const info = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
    expect(info).toEqual({
      sub: claims.sub,
      name: 'Alice Adams',
      preferred_username: s.user.userPrincipalName,
    });

    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.refresh_token).toBeTypeOf('string');
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
    expect(refreshed.claims()).toMatchObject({ sub: claims.sub, oid: s.user.id });
    await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({
      error: 'invalid_grant',
    });
    // Reuse of the rotated token revoked the family: the newest token is dead too.
    await expect(oidc.refreshTokenGrant(config, refreshed.refresh_token!)).rejects.toMatchObject({
      error: 'invalid_grant',
    });
  });

  it('code + PKCE with private_key_jwt for an API scope (v2 access token with scp)', async () => {
    const key = await importPKCS8(s.web.certificate.privateKeyPem, 'RS256');
    const config = await oidc.discovery(
      issuer(),
      s.web.appId,
      undefined,
      oidc.PrivateKeyJwt({ key, kid: s.web.certificate.x5t }),
    );
    const verifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: s.web.redirectUri,
      scope: `openid offline_access ${s.api.identifierUri}/Files.Read`,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    const back = await signIn(url.toString());
    const tokens = await oidc.authorizationCodeGrant(config, new URL(back.location!), {
      pkceCodeVerifier: verifier,
      idTokenExpected: true,
    });
    expect(decodeJwt(tokens.access_token)).toMatchObject({
      aud: s.api.appId,
      azp: s.web.appId,
      azpacr: '2',
      scp: 'Files.Read',
      ver: '2.0',
      oid: s.user.id,
    });
    expect(tokens.scope).toBe(`${s.api.identifierUri}/Files.Read openid offline_access`);
  });
});

describe('@azure/msal-node', () => {
  it('getAuthCodeUrl → sign-in → acquireTokenByCode → acquireTokenSilent via the refresh token', async () => {
    const msal = new ConfidentialClientApplication({
      auth: {
        clientId: s.web.appId,
        authority: `${server.url}/${s.tenantId}`,
        knownAuthorities: [new URL(server.url).host],
        clientSecret: s.web.secret,
      },
    });
    const scopes = [`${s.api.identifierUri}/Files.Read`];
    const verifier = oidc.randomPKCECodeVerifier();
    const url = await msal.getAuthCodeUrl({
      scopes,
      redirectUri: s.web.redirectUri,
      codeChallenge: await oidc.calculatePKCECodeChallenge(verifier),
      codeChallengeMethod: 'S256',
      state: 'msal-state',
    });
    const back = await signIn(url);
    const returned = new URL(back.location!);
    expect(returned.searchParams.get('state')).toBe('msal-state');
    expect(returned.searchParams.get('client_info')).toBeTypeOf('string');
    const result = await msal.acquireTokenByCode({
      code: returned.searchParams.get('code')!,
      redirectUri: s.web.redirectUri,
      scopes,
      codeVerifier: verifier,
    });
    expect(result.account).toMatchObject({
      homeAccountId: `${s.user.id}.${s.tenantId}`,
      tenantId: s.tenantId,
      username: s.user.userPrincipalName,
      name: 'Alice Adams',
    });
    expect(decodeJwt(result.accessToken)).toMatchObject({ scp: 'Files.Read', aud: s.api.appId });

    const silent = await msal.acquireTokenSilent({ account: result.account!, scopes, forceRefresh: true });
    expect(silent.fromCache).toBe(false);
    expect(silent.accessToken).not.toBe(result.accessToken);
    expect(silent.account?.homeAccountId).toBe(`${s.user.id}.${s.tenantId}`);
  });
});
