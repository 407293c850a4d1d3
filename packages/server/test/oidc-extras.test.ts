import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ErrorCode } from '@tessera/protocol';
import { migrateToLatest, openDatabase, SignInStore } from '@tessera/server';
import {
  authorizationCodeFields,
  expectedErrorResponse,
  readErrorResponse,
  signInThrough,
  startInteractiveServer,
  TestBrowser,
} from '@tessera/testkit';
import type { InteractiveScenario, TestServer } from '@tessera/testkit';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// OIDC extras: front-channel logout with RP-initiated logout, RFC 7009 revocation and RFC 7662 introspection (who
// may call them and exactly what they answer), and the periodic purge of expired sign-in state.
let server: TestServer;
let s: InteractiveScenario;
/** Web apps with a front-channel logout URL, and a second confidential client. */
const fa = { appId: '', redirectUri: 'https://fa.example/cb', logoutUrl: 'https://fa.example/logout' };
const fb = {
  appId: '',
  redirectUri: 'https://fb.example/cb',
  logoutUrl: 'https://fb.example/signout?x=1&y=2',
};
const otherClient = { appId: '', secret: '' };

beforeAll(async () => {
  ({ server, scenario: s } = await startInteractiveServer());
  for (const app of [fa, fb]) {
    const { application } = await server.directory.applications.create({
      tenant: s.tenantId,
      displayName: `Front ${app.redirectUri}`,
      redirectUris: { web: [app.redirectUri] },
      logoutUrl: app.logoutUrl,
      implicitGrant: { idToken: true },
    });
    app.appId = application.appId;
  }
  const { application } = await server.directory.applications.create({
    tenant: s.tenantId,
    displayName: 'Other confidential client',
    redirectUris: { web: ['https://other.example/cb'] },
  });
  otherClient.appId = application.appId;
  otherClient.secret = (
    await server.directory.credentials.addPassword({ appId: application.appId })
  ).secretText;
});
afterAll(() => server.close());

const endpoint = (name: string) => `${server.url}/${s.tenantId}/oauth2/v2.0/${name}`;
const alice = () => ({ userName: s.user.userPrincipalName, password: s.password });

function authorize(clientId: string, redirectUri: string, extra: Record<string, string> = {}): string {
  const params = new URLSearchParams({
    client_id: clientId,
    response_type: 'code',
    redirect_uri: redirectUri,
    scope: 'openid profile offline_access',
    state: 'st',
    nonce: 'nn',
    ...extra,
  });
  return `${endpoint('authorize')}?${params.toString()}`;
}
const logoutUrl = (params: Record<string, string>) =>
  `${endpoint('logout')}?${new URLSearchParams(params).toString()}`;

function post(name: string, fields: Record<string, string>, headers: Record<string, string> = {}) {
  return fetch(endpoint(name), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(fields),
  });
}
const web = () => ({ client_id: s.web.appId, client_secret: s.web.secret });
const other = () => ({ client_id: otherClient.appId, client_secret: otherClient.secret });

/** Signs alice in to the web app and redeems the code: its tokens. */
async function webTokens(): Promise<{ access_token: string; refresh_token: string; id_token: string }> {
  const back = await signInThrough(new TestBrowser(), authorize(s.web.appId, s.web.redirectUri), alice());
  const code = new URL(back.location ?? '').searchParams.get('code') ?? '';
  const response = await post('token', authorizationCodeFields(s.web, code));
  expect(response.status).toBe(200);
  return (await response.json()) as { access_token: string; refresh_token: string; id_token: string };
}
const refresh = (token: string, client: Record<string, string> = web()) =>
  post('token', { ...client, grant_type: 'refresh_token', refresh_token: token });

async function expectError(
  response: Response,
  status: number,
  error: string,
  code: ErrorCode,
  description: string,
) {
  expect(await readErrorResponse(response)).toEqual(expectedErrorResponse(status, error, code, description));
}

describe('front-channel and RP-initiated logout', () => {
  it('renders a hidden iframe to the logoutUrl of each app the session signed in to, then returns to a registered URI', async () => {
    const browser = new TestBrowser();
    await signInThrough(browser, authorize(fa.appId, fa.redirectUri), alice());
    await signInThrough(browser, authorize(fb.appId, fb.redirectUri), alice());
    // The web app (no logoutUrl) is signed in too, and gets no frame.
    await signInThrough(browser, authorize(s.web.appId, s.web.redirectUri), alice());
    // Nothing proves the user asked (no hint): one click on Tessera's account picker first.
    const picker = await browser.get(
      logoutUrl({ client_id: fa.appId, post_logout_redirect_uri: fa.redirectUri, state: 'bye' }),
    );
    expect(picker.body).toContain('<h1>Pick an account to sign out</h1>');
    const out = await browser.submit(endpoint('logout'), picker, {});
    expect(out.status).toBe(200);
    const frames = [...out.body.matchAll(/<iframe class="hidden-frames" [^>]*src="([^"]*)"><\/iframe>/g)]
      .map((m) => (m[1] ?? '').replaceAll('&amp;', '&'))
      .sort();
    expect(frames).toEqual([fa.logoutUrl, fb.logoutUrl].sort());
    const csp = out.headers.get('content-security-policy') ?? '';
    expect(csp).toMatch(
      /frame-src (https:\/\/fa\.example https:\/\/fb\.example|https:\/\/fb\.example https:\/\/fa\.example)/,
    );
    expect(csp).toContain("frame-ancestors 'none'");
    expect(out.body).toContain(`<meta http-equiv="refresh" content="2;url=${fa.redirectUri}?state=bye">`);
    expect(out.headers.getSetCookie().some((c) => /max-age=0|expires=thu, 01 jan 1970/i.test(c))).toBe(true);
    const silent = await browser.get(authorize(fa.appId, fa.redirectUri, { prompt: 'none' }));
    expect(new URL(silent.location ?? '').searchParams.get('error')).toBe('login_required');
  });

  it('finds the client from id_token_hint; redirects at once when no app needs a frame', async () => {
    const browser = new TestBrowser();
    const back = await signInThrough(browser, authorize(s.web.appId, s.web.redirectUri), alice());
    const code = new URL(back.location ?? '').searchParams.get('code') ?? '';
    const tokens = (await (
      await post('token', {
        ...web(),
        grant_type: 'authorization_code',
        code,
        redirect_uri: s.web.redirectUri,
      })
    ).json()) as { id_token: string };
    const out = await browser.get(
      logoutUrl({ id_token_hint: tokens.id_token, post_logout_redirect_uri: s.web.redirectUri }),
    );
    expect([out.status, out.location]).toEqual([302, s.web.redirectUri]);
  });

  // Without a session of the named app in the browser no return address is trusted (see logout-attacks.test.ts
  // for the full table, with sessions).
  const refused: [string, () => Record<string, string>, () => string][] = [
    [
      'a near-miss of a registered URI',
      () => ({ client_id: fa.appId, post_logout_redirect_uri: `${fa.redirectUri}/` }),
      () =>
        `The post_logout_redirect_uri '${fa.redirectUri}/' is not registered for an application whose session this sign-out ended, so the browser stays on the signed-out page.`,
    ],
    [
      "another app's URI",
      () => ({ client_id: fa.appId, post_logout_redirect_uri: fb.redirectUri }),
      () =>
        `The post_logout_redirect_uri '${fb.redirectUri}' is not registered for an application whose session this sign-out ended, so the browser stays on the signed-out page.`,
    ],
    [
      'a registered URI, no client named',
      () => ({ post_logout_redirect_uri: fa.redirectUri }),
      () =>
        `The post_logout_redirect_uri '${fa.redirectUri}' is not registered for an application whose session this sign-out ended, so the browser stays on the signed-out page.`,
    ],
    [
      'a forged id_token_hint',
      () => ({
        id_token_hint: 'eyJhbGciOiJub25lIn0.eyJhdWQiOiJ4In0.',
        post_logout_redirect_uri: fa.redirectUri,
      }),
      () =>
        `The post_logout_redirect_uri '${fa.redirectUri}' is not registered for an application whose session this sign-out ended, so the browser stays on the signed-out page.`,
    ],
  ];
  it.each(refused)(
    'refuses post_logout_redirect_uri without a session of its app: %s (9100060, no redirect)',
    async (_name, params, expected) => {
      const page = await fetch(logoutUrl(params()), { redirect: 'manual' });
      const body = await page.text();
      expect(page.status).toBe(400);
      expect(page.headers.get('location')).toBeNull();
      expect(body).toContain('<h1>You signed out</h1>');
      expect(body).toContain('Error code: TSS9100060');
      expect(body).toContain(expected().replaceAll("'", '&#39;'));
    },
  );
});

describe('RFC 7009 revocation', () => {
  it('revokes a refresh token family: 200 with an empty body, then the refresh fails (70008)', async () => {
    const tokens = await webTokens();
    const revoked = await post('revoke', {
      ...web(),
      token: tokens.refresh_token,
      token_type_hint: 'refresh_token',
    });
    expect([revoked.status, await revoked.text(), revoked.headers.get('cache-control')]).toEqual([
      200,
      '',
      'no-store',
    ]);
    await expectError(
      await refresh(tokens.refresh_token),
      400,
      'invalid_grant',
      70008,
      'The provided authorization code or refresh token has expired or was revoked. Send a new interactive authorization request for this user and resource.',
    );
  });

  it.each([
    ['an unknown token', 'not-a-token'],
    ['a JWT this server did not sign (RFC 7009 §2.2)', 'eyJhbGciOiJSUzI1NiJ9.e30.sig'],
  ])('answers 200 for %s', async (_name, token) => {
    const response = await post('revoke', { ...web(), token });
    expect(response.status).toBe(200);
  });

  it("cannot revoke another client's token (200, token still works)", async () => {
    const tokens = await webTokens();
    expect((await post('revoke', { ...other(), token: tokens.refresh_token })).status).toBe(200);
    expect((await refresh(tokens.refresh_token)).status).toBe(200);
  });

  it('requires client authentication for a confidential client (7000218 without, 7000215 with a wrong secret)', async () => {
    const tokens = await webTokens();
    await expectError(
      await post('revoke', { client_id: s.web.appId, token: tokens.refresh_token }),
      401,
      'invalid_client',
      7000218,
      "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
    );
    await expectError(
      await post('revoke', { client_id: s.web.appId, client_secret: 'wrong', token: tokens.refresh_token }),
      401,
      'invalid_client',
      7000215,
      `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${s.web.appId}'.`,
    );
    expect((await refresh(tokens.refresh_token)).status).toBe(200);
  });

  it('a web refresh token is not redeemable without the client secret (7000218), and is not burnt by the attempt', async () => {
    const tokens = await webTokens();
    await expectError(
      await refresh(tokens.refresh_token, { client_id: s.web.appId }),
      401,
      'invalid_client',
      7000218,
      "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
    );
    expect((await refresh(tokens.refresh_token)).status).toBe(200);
  });

  const refusals: [string, boolean, number, string, ErrorCode, () => string][] = [
    [
      'no token (form)',
      false,
      400,
      'invalid_request',
      900144,
      () => "The request body must contain the following parameter: 'token'.",
    ],
    [
      'a JSON body',
      true,
      415,
      'invalid_request',
      9100007,
      () => "The request body must be 'application/x-www-form-urlencoded'.",
    ],
  ];
  it.each(refusals)('refuses %s', async (_name, json, status, error, code, description) => {
    const response = json
      ? await fetch(endpoint('revoke'), {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ ...web(), token: 'x' }),
        })
      : await post('revoke', web());
    await expectError(response, status, error, code, description());
  });
});

describe('RFC 7662 introspection', () => {
  const introspect = async (token: string, client: Record<string, string> = web()) => {
    const response = await post('introspect', { ...client, token });
    expect(response.headers.get('cache-control')).toBe('no-store');
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  it('describes an active refresh token to its own client, with exactly the RFC 7662 fields it knows', async () => {
    const tokens = await webTokens();
    const { status, body } = await introspect(tokens.refresh_token);
    expect(status).toBe(200);
    expect(Object.keys(body).sort()).toEqual([
      'active',
      'client_id',
      'exp',
      'iat',
      'scope',
      'sub',
      'tid',
      'token_type',
    ]);
    expect(body).toMatchObject({
      active: true,
      token_type: 'refresh_token',
      client_id: s.web.appId,
      scope: 'openid profile offline_access',
      // The pairwise subject of the client's id_token, not the object id.
      sub: decodeJwt(tokens.id_token).sub,
      tid: s.tenantId,
    });
    expect(body.exp as number).toBeGreaterThan(body.iat as number);
  });

  it('answers exactly {"active": false} for rotated, revoked, unknown and other clients’ tokens', async () => {
    const tokens = await webTokens();
    expect(await introspect(tokens.refresh_token, other())).toEqual({ status: 200, body: { active: false } });
    expect(await introspect(tokens.access_token, other())).toEqual({ status: 200, body: { active: false } });
    expect(await introspect('garbage')).toEqual({ status: 200, body: { active: false } });
    const rotated = (await (await refresh(tokens.refresh_token)).json()) as { refresh_token: string };
    expect(await introspect(tokens.refresh_token)).toEqual({ status: 200, body: { active: false } });
    await post('revoke', { ...web(), token: rotated.refresh_token });
    expect(await introspect(rotated.refresh_token)).toEqual({ status: 200, body: { active: false } });
  });

  it('describes an access token the client requested', async () => {
    const tokens = await webTokens();
    const { body } = await introspect(tokens.access_token);
    const claims = decodeJwt(tokens.access_token);
    expect(body).toMatchObject({
      active: true,
      token_type: 'access_token',
      client_id: s.web.appId,
      oid: s.user.id,
      exp: claims.exp,
    });
  });

  it('only for authenticated clients: a public client gets 7000218, a wrong secret 7000215', async () => {
    const tokens = await webTokens();
    const spa = await post('introspect', { client_id: s.spa.appId, token: tokens.refresh_token });
    await expectError(
      spa,
      401,
      'invalid_client',
      7000218,
      "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
    );
    await expectError(
      await post('introspect', {
        client_id: s.web.appId,
        client_secret: 'nope',
        token: tokens.refresh_token,
      }),
      401,
      'invalid_client',
      7000215,
      `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${s.web.appId}'.`,
    );
  });
});

describe('purge of expired sign-in state', () => {
  it('deletes expired codes, ended / expired / idle sessions and expired refresh families; keeps live and revoked-but-unexpired ones', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-purge-'));
    const db = openDatabase({ dialect: 'sqlite', file: join(dir, 'store.db') });
    try {
      await migrateToLatest(db);
      const store = new SignInStore(db);
      const now = 1_000_000;
      const session = (id: string, lastActiveAt: number, expiresAt: number) =>
        store.sessions.insert({
          id,
          userId: s.user.id,
          tenantId: s.tenantId,
          authTime: now - 10,
          amr: ['pwd'],
          lastActiveAt,
          expiresAt,
          browserHash: `b-${id}`,
          createdAt: now - 10,
        });
      await session('live', now - 5, now + 100);
      await session('idle', now - 1000, now + 100);
      await session('expired', now - 5, now - 1);
      await session('ended', now - 5, now + 100);
      await store.sessions.end('b-ended', now - 2);
      for (const id of ['live', 'idle', 'ended'])
        await store.sessions.touch(id, s.web.appId, id === 'idle' ? now - 1000 : now - 5);
      const grant = {
        resourceAppId: s.api.appId,
        requestedIdentifier: '',
        scopes: [],
        oidcScopes: ['openid'],
      };
      const authentication = {
        userId: s.user.id,
        tenantId: s.tenantId,
        clientId: s.web.appId,
        platform: 'web' as const,
        authTime: now,
        amr: ['pwd'],
      };
      const code = (hash: string, expiresAt: number) =>
        store.codes.insert(
          {
            codeHash: hash,
            authentication,
            sessionId: 'live',
            redirectUri: s.web.redirectUri,
            grant,
            codeChallenge: null,
            nonce: null,
            clientInfo: false,
            familyId: `f-${hash}`,
            expiresAt,
          },
          now - 20,
        );
      await code('old', now - 1);
      await code('fresh', now + 60);
      const family = (familyId: string, expiresAt: number) =>
        store.refreshFamilies.insert({
          familyId,
          tokenHash: `h-${familyId}`,
          generation: 0,
          authentication,
          grant,
          clientInfo: false,
          createdAt: now - 100,
          expiresAt,
        });
      await family('expired', now - 1);
      await family('live', now + 100);
      await family('revoked', now + 100);
      await store.refreshFamilies.revoke('revoked', now - 3);

      expect(await store.purgeExpired(now, 500)).toEqual({ codes: 1, sessions: 3, refreshFamilies: 1 });
      const left = async (
        table: 'sso_sessions' | 'authorization_codes' | 'refresh_tokens' | 'sso_session_apps',
        column: string,
      ) =>
        (
          await db
            .selectFrom(table)
            .select(column as never)
            .execute()
        )
          .map((row) => Object.values(row)[0] as string)
          .sort();
      expect(await left('sso_sessions', 'id')).toEqual(['live']);
      expect(await left('sso_session_apps', 'session_id')).toEqual(['live']);
      expect(await left('authorization_codes', 'code_hash')).toEqual(['fresh']);
      expect(await left('refresh_tokens', 'family_id')).toEqual(['live', 'revoked']);
      expect(await store.purgeExpired(now, 500)).toEqual({ codes: 0, sessions: 0, refreshFamilies: 0 });
    } finally {
      await db.destroy();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
