import { createHash } from 'node:crypto';
import type { ErrorCode } from '@tessera/protocol';
import {
  postgresAvailable,
  readErrorResponse,
  signInThrough,
  startInteractiveServer,
  TestBrowser,
} from '@tessera/testkit';
import type { InteractiveScenario, TestServer } from '@tessera/testkit';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Protocol details of the token endpoint's user grants, each a class of refusal asserted exactly, on SQLite and
// PostgreSQL: PKCE verifier syntax (RFC 7636 §4.1); spa codes and refresh tokens only cross-origin from that
// app's registered spa origins (Entra 9002327), other tokens never cross-origin, a refused origin consuming
// nothing; a wider scope at refresh is invalid_grant with suberror consent_required (RFC 6749 §5.2, Entra
// 65001); scope values compare case-insensitively and come back in the registered spelling; codes and refresh
// tokens are redeemed only at the token endpoint of their tenant (or an alias that admits it).

const pgAvailable = await postgresAvailable();
const challengeOf = (verifier: string) => createHash('sha256').update(verifier, 'ascii').digest('base64url');
const UNRESERVED = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~';

/** [case, verifier] whose S256 challenge matches but whose syntax RFC 7636 §4.1 refuses. */
const malformedVerifiers: readonly (readonly [string, string])[] = [
  ['42 characters (one too few)', 'a'.repeat(42)],
  ['one character', 'a'],
  ['129 characters (one too many)', 'a'.repeat(129)],
  ['base64 padding and +/', `${'a'.repeat(40)}+/=`],
  ['a space', `${'a'.repeat(42)} `],
  ['percent-encoding', `${'a'.repeat(40)}%41`],
  ['non-ASCII letters (hashed as ASCII they would equal other text)', '\u00e9'.repeat(43)],
  ['a NUL', `${'a'.repeat(42)}\u0000`],
  ['a new line', `${'a'.repeat(42)}\n`],
];

/** [case, verifier] at the edges of the syntax that must keep working. */
const validVerifiers: readonly (readonly [string, string])[] = [
  ['43 characters', 'b'.repeat(43)],
  ['128 characters', 'c'.repeat(128)],
  ['every unreserved character', UNRESERVED],
];

/** [case, Origin header] that is not one of the spa app's registered origins (`https://spa.example`). */
const foreignOrigins: readonly (readonly [string, string])[] = [
  ['another site', 'https://evil.example'],
  ['the opaque origin', 'null'],
  ['http instead of https', 'http://spa.example'],
  ['another port', 'https://spa.example:8443'],
  ['a trailing slash', 'https://spa.example/'],
  ['upper case', 'https://SPA.example'],
  ['a subdomain', 'https://evil.spa.example'],
  ['a suffix', 'https://spa.example.evil.example'],
  ["another app's spa origin", 'https://other-spa.example'],
  ["the web app's origin", 'https://app.example'],
];

const dialects = [
  { name: 'sqlite', available: true },
  { name: 'postgres', available: pgAvailable },
] as const;

describe.each(dialects)('token endpoint protocol details on $name', ({ name, available }) => {
  let server: TestServer;
  let s: InteractiveScenario;
  /** One browser signed in once: later authorization requests ride its SSO session. */
  let browser: TestBrowser;

  beforeAll(async () => {
    if (!available) return;
    ({ server, scenario: s } = await startInteractiveServer({ database: name }));
    await server.directory.applications.create({
      tenant: s.tenantId,
      displayName: 'Other SPA',
      redirectUris: { spa: ['https://other-spa.example/callback'] },
    });
    await server.server.refresh();
    browser = new TestBrowser();
  });
  afterAll(async () => {
    if (available) await server.close();
  });

  const tokenUrl = () => `${server.url}/${s.tenantId}/oauth2/v2.0/token`;
  const clients = () =>
    ({
      web: { appId: s.web.appId, redirectUri: s.web.redirectUri },
      spa: { appId: s.spa.appId, redirectUri: s.spa.redirectUri },
      native: { appId: s.native.appId, redirectUri: s.native.redirectUri },
    }) as const;

  async function codeFor(
    client: 'web' | 'spa' | 'native',
    options: { challenge?: string; scope?: string } = {},
  ): Promise<string> {
    const { appId, redirectUri } = clients()[client];
    const params = new URLSearchParams({
      client_id: appId,
      response_type: 'code',
      redirect_uri: redirectUri,
      scope: options.scope ?? 'openid profile offline_access',
      state: 'st',
      nonce: 'nn',
      code_challenge: options.challenge ?? challengeOf(UNRESERVED),
      code_challenge_method: 'S256',
    });
    const back = await signInThrough(
      browser,
      `${server.url}/${s.tenantId}/oauth2/v2.0/authorize?${params.toString()}`,
      {
        userName: s.user.userPrincipalName,
        password: s.password,
        consent: 'accept',
      },
    );
    const code = new URL(back.location ?? 'https://x.invalid/').searchParams.get('code');
    expect(code, back.body.slice(0, 300)).toBeTypeOf('string');
    return code ?? '';
  }

  function redeem(fields: Record<string, string>, origin?: string): Promise<Response> {
    return fetch(tokenUrl(), {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        ...(origin === undefined ? {} : { origin }),
      },
      body: new URLSearchParams(fields),
    });
  }

  const codeFields = (client: 'web' | 'spa' | 'native', code: string, verifier = UNRESERVED) => ({
    grant_type: 'authorization_code',
    client_id: clients()[client].appId,
    ...(client === 'web' ? { client_secret: s.web.secret } : {}),
    code,
    redirect_uri: clients()[client].redirectUri,
    code_verifier: verifier,
  });

  /** Tokens of a fresh sign-in of `client`, redeemed as that client must (spa: from its origin). */
  async function tokensFor(
    client: 'web' | 'spa' | 'native',
    scope?: string,
  ): Promise<{ refresh_token: string; scope: string; access_token: string }> {
    const code = await codeFor(client, scope === undefined ? {} : { scope });
    const response = await redeem(codeFields(client, code), client === 'spa' ? s.spa.origin : undefined);
    const body = (await response.json()) as { refresh_token: string; scope: string; access_token: string };
    expect(response.status, JSON.stringify(body)).toBe(200);
    return body;
  }

  const refreshFields = (client: 'web' | 'spa' | 'native', refreshToken: string, scope?: string) => ({
    grant_type: 'refresh_token',
    client_id: clients()[client].appId,
    ...(client === 'web' ? { client_secret: s.web.secret } : {}),
    refresh_token: refreshToken,
    ...(scope === undefined ? {} : { scope }),
  });

  async function expectRefusal(
    response: Response,
    expected: { status: number; error: string; code: ErrorCode; description: string; suberror?: string },
  ): Promise<void> {
    expect(await readErrorResponse(response, { withSuberror: true })).toEqual({
      status: expected.status,
      error: expected.error,
      codes: [expected.code],
      text: `TSS${expected.code}: ${expected.description}`,
      suberror: expected.suberror,
    });
  }

  describe('PKCE code_verifier syntax (RFC 7636 §4.1)', () => {
    it.skipIf(!available).each(malformedVerifiers)(
      'refuses a verifier of %s even when its hash matches the challenge (9100020)',
      async (_case, verifier) => {
        const code = await codeFor('native', { challenge: challengeOf(verifier) });
        await expectRefusal(await redeem(codeFields('native', code, verifier)), {
          status: 400,
          error: 'invalid_grant',
          code: 9100020,
          description:
            "The code_verifier is not valid: it must be 43 to 128 characters of A-Z, a-z, 0-9, '-', '.', '_' and '~' (RFC 7636 section 4.1).",
        });
      },
    );

    it.skipIf(!available).each(validVerifiers)('accepts a verifier of %s', async (_case, verifier) => {
      const code = await codeFor('native', { challenge: challengeOf(verifier) });
      expect((await redeem(codeFields('native', code, verifier))).status).toBe(200);
    });
  });

  describe('spa codes and refresh tokens only from the app’s registered spa origins', () => {
    it.skipIf(!available).each(foreignOrigins)(
      'refuses a spa code redeemed from %s (9100019)',
      async (_case, origin) => {
        const code = await codeFor('spa');
        await expectRefusal(await redeem(codeFields('spa', code), origin), {
          status: 400,
          error: 'invalid_request',
          code: 9100019,
          description: `The request origin '${origin}' is not the origin of a single-page application redirect URI registered for the application '${s.spa.appId}'.`,
        });
      },
    );

    it.skipIf(!available).each(foreignOrigins)(
      'refuses a spa refresh token redeemed from %s (9100019) without consuming it',
      async (_case, origin) => {
        const { refresh_token } = await tokensFor('spa');
        await expectRefusal(await redeem(refreshFields('spa', refresh_token), origin), {
          status: 400,
          error: 'invalid_request',
          code: 9100019,
          description: `The request origin '${origin}' is not the origin of a single-page application redirect URI registered for the application '${s.spa.appId}'.`,
        });
        expect((await redeem(refreshFields('spa', refresh_token), s.spa.origin)).status).toBe(200);
      },
    );

    it.skipIf(!available)(
      'refuses a spa refresh token redeemed without Origin (9002327) without consuming it',
      async () => {
        const { refresh_token } = await tokensFor('spa');
        await expectRefusal(await redeem(refreshFields('spa', refresh_token)), {
          status: 400,
          error: 'invalid_request',
          code: 9002327,
          description:
            "Tokens issued for the 'Single-Page Application' client-type may only be redeemed via cross-origin requests.",
        });
        const ok = await redeem(refreshFields('spa', refresh_token), s.spa.origin);
        expect(ok.status).toBe(200);
        expect(ok.headers.get('access-control-allow-origin')).toBe(s.spa.origin);
      },
    );

    it.skipIf(!available).each([
      ['a web app’s (no spa redirect URIs)', 'web', 'https://app.example'],
      ['a native app’s (no spa redirect URIs)', 'native', 'https://spa.example'],
    ] as const)(
      'refuses %s refresh token redeemed cross-origin (9002326) without consuming it',
      async (_case, client, origin) => {
        const { refresh_token } = await tokensFor(client);
        await expectRefusal(await redeem(refreshFields(client, refresh_token), origin), {
          status: 400,
          error: 'invalid_request',
          code: 9002326,
          description: `Cross-origin token redemption is permitted only for the 'Single-Page Application' client-type. Request origin: '${origin}'.`,
        });
        expect((await redeem(refreshFields(client, refresh_token))).status).toBe(200);
      },
    );

    it.skipIf(!available)(
      'refuses a native refresh token cross-origin from a spa origin of the same app (9002326)',
      async () => {
        // One app registered both as spa and as native: its origin is registered, but the token is not a spa one.
        const both = await server.directory.applications.create({
          tenant: s.tenantId,
          displayName: 'Hybrid',
          redirectUris: { spa: ['https://hybrid.example/cb'], publicClient: ['http://127.0.0.1/hybrid'] },
        });
        await server.server.refresh();
        const params = new URLSearchParams({
          client_id: both.application.appId,
          response_type: 'code',
          redirect_uri: 'http://127.0.0.1/hybrid',
          scope: 'openid offline_access',
          code_challenge: challengeOf(UNRESERVED),
          code_challenge_method: 'S256',
        });
        const back = await signInThrough(
          browser,
          `${server.url}/${s.tenantId}/oauth2/v2.0/authorize?${params.toString()}`,
          { userName: s.user.userPrincipalName, password: s.password, consent: 'accept' },
        );
        const code = new URL(back.location ?? 'https://x.invalid/').searchParams.get('code') ?? '';
        const fields = {
          grant_type: 'authorization_code',
          client_id: both.application.appId,
          code,
          redirect_uri: 'http://127.0.0.1/hybrid',
          code_verifier: UNRESERVED,
        };
        const tokens = (await (await redeem(fields)).json()) as { refresh_token: string };
        const refresh = {
          grant_type: 'refresh_token',
          client_id: both.application.appId,
          refresh_token: tokens.refresh_token,
        };
        await expectRefusal(await redeem(refresh, 'https://hybrid.example'), {
          status: 400,
          error: 'invalid_request',
          code: 9002326,
          description:
            "Cross-origin token redemption is permitted only for the 'Single-Page Application' client-type. Request origin: 'https://hybrid.example'.",
        });
        expect((await redeem(refresh)).status).toBe(200);
      },
    );
  });

  describe('a wider scope at refresh', () => {
    it.skipIf(!available).each([
      ['a scope of the API never consented', () => `${s.api.identifierUri}/Files.Read`],
      ['an admin-only scope', () => `${s.api.identifierUri}/Files.Admin`],
      ['a directory scope never consented', () => 'https://graph.microsoft.com/User.Read.All'],
    ])('answers invalid_grant, suberror consent_required, 65001 for %s', async (_case, scope) => {
      const { refresh_token } = await tokensFor('web');
      await expectRefusal(await redeem(refreshFields('web', refresh_token, scope())), {
        status: 400,
        error: 'invalid_grant',
        code: 65001,
        description: `The user or administrator has not consented to use the application with ID '${s.web.appId}'. Send an interactive authorization request for this user and resource.`,
        suberror: 'consent_required',
      });
    });
  });

  describe('scope values compare case-insensitively, answered in the registered spelling', () => {
    it.skipIf(!available).each([
      ['lower case, as the platform samples send it', 'https://graph.microsoft.com/user.read'],
      ['upper case', 'https://graph.microsoft.com/USER.READ'],
      ['the registered spelling', 'https://graph.microsoft.com/User.Read'],
      ['a bare value in lower case', 'user.read'],
    ])('%s: %s', async (_case, scope) => {
      const code = await codeFor('native', { scope: `openid ${scope}` });
      const response = await redeem(codeFields('native', code));
      const body = (await response.json()) as { scope: string; access_token: string };
      expect(response.status).toBe(200);
      const identifier = scope.includes('/') ? `${scope.slice(0, scope.lastIndexOf('/'))}/` : '';
      expect(body.scope.split(' ')).toContain(`${identifier}User.Read`);
      expect(decodeJwt(body.access_token).scp).toBe('openid User.Read');
    });

    it.skipIf(!available)(
      'takes OpenID Connect scopes in any case (a refresh token for OFFLINE_ACCESS)',
      async () => {
        const tokens = await tokensFor('native', 'OpenID Profile OFFLINE_ACCESS');
        expect(tokens.refresh_token).toBeTypeOf('string');
        expect(tokens.scope.split(' ')).toEqual(
          expect.arrayContaining(['openid', 'profile', 'offline_access']),
        );
      },
    );

    it.skipIf(!available)('moves a refresh token to a consented scope written in another case', async () => {
      const { refresh_token } = await tokensFor(
        'native',
        `openid offline_access ${s.api.identifierUri}/Files.Read`,
      );
      const response = await redeem(
        refreshFields('native', refresh_token, `${s.api.identifierUri}/files.read`),
      );
      const body = (await response.json()) as { scope: string };
      expect(response.status, JSON.stringify(body)).toBe(200);
      expect(body.scope.split(' ')).toContain(`${s.api.identifierUri}/Files.Read`);
    });

    it.skipIf(!available)(
      'userinfo and introspection take a token whose resource was written in another case',
      async () => {
        const { access_token } = await tokensFor(
          'web',
          'openid profile https://GRAPH.microsoft.com/User.Read',
        );
        expect(decodeJwt(access_token).aud).toBe('https://GRAPH.microsoft.com');
        const userinfo = await fetch(`${server.url}/oidc/userinfo`, {
          headers: { authorization: `Bearer ${access_token}` },
        });
        expect(userinfo.status).toBe(200);
        expect(((await userinfo.json()) as { preferred_username: string }).preferred_username).toBe(
          s.user.userPrincipalName,
        );
        const introspection = await fetch(`${server.url}/${s.tenantId}/oauth2/v2.0/introspect`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({
            token: access_token,
            client_id: s.web.appId,
            client_secret: s.web.secret,
          }),
        });
        expect(((await introspection.json()) as { active: boolean }).active).toBe(true);
      },
    );

    it.skipIf(!available)('an implicit id_token request takes openid in any case', async () => {
      const params = new URLSearchParams({
        client_id: s.spa.appId,
        response_type: 'id_token',
        redirect_uri: s.spa.redirectUri,
        scope: 'OpenID',
        state: 'st',
        nonce: 'nn',
      });
      const back = await signInThrough(
        browser,
        `${server.url}/${s.tenantId}/oauth2/v2.0/authorize?${params.toString()}`,
        { userName: s.user.userPrincipalName, password: s.password, consent: 'accept' },
      );
      const fragment = new URLSearchParams(new URL(back.location ?? 'https://x.invalid/').hash.slice(1));
      expect(fragment.get('id_token'), back.body.slice(0, 300)).toBeTypeOf('string');
    });

    it.skipIf(!available)(
      'still refuses a value the resource does not publish, in any case (70011)',
      async () => {
        const { refresh_token } = await tokensFor('native');
        await expectRefusal(
          await redeem(refreshFields('native', refresh_token, `${s.api.identifierUri}/FILES.WRITE`)),
          {
            status: 400,
            error: 'invalid_scope',
            code: 70011,
            description:
              "The provided value for the input parameter 'scope' is not valid. The scope FILES.WRITE is not valid.",
          },
        );
      },
    );
  });

  describe('a code or refresh token only at the token endpoint of the tenant it was issued in', () => {
    /** A second tenant of the same server: its token endpoint is not the one the user's grants belong to. */
    let otherTenantId: string;
    beforeAll(async () => {
      if (!available) return;
      const other = await server.directory.tenants.create({
        displayName: 'Fabrikam',
        domains: [`other-${s.domain}`],
      });
      otherTenantId = other.id;
      await server.server.refresh();
    });

    const redeemAt = (segment: string, fields: Record<string, string>, origin?: string) =>
      fetch(`${server.url}/${segment}/oauth2/v2.0/token`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          ...(origin === undefined ? {} : { origin }),
        },
        body: new URLSearchParams(fields),
      });

    /** [case, client, segment] of a token endpoint that is not the grant's tenant's. */
    const foreignEndpoints = [
      ['a native app’s', 'native', () => otherTenantId],
      ['a spa’s', 'spa', () => otherTenantId],
      ['a native app’s', 'native', () => 'consumers'],
      ['a spa’s', 'spa', () => 'consumers'],
    ] as const;

    it.skipIf(!available).each(foreignEndpoints)(
      'refuses %s code at another tenant’s endpoint (%s, 70000)',
      async (_case, client, segment) => {
        const code = await codeFor(client);
        const response = await redeemAt(
          segment(),
          codeFields(client, code),
          client === 'spa' ? s.spa.origin : undefined,
        );
        await expectRefusal(response, {
          status: 400,
          error: 'invalid_grant',
          code: 70000,
          description:
            "The provided value for the 'code' parameter is not valid. The code was issued in another tenant.",
        });
      },
    );

    it.skipIf(!available).each(foreignEndpoints)(
      'refuses %s refresh token at another tenant’s endpoint (%s, 70000) without consuming it',
      async (_case, client, segment) => {
        const { refresh_token } = await tokensFor(client);
        const origin = client === 'spa' ? s.spa.origin : undefined;
        await expectRefusal(await redeemAt(segment(), refreshFields(client, refresh_token), origin), {
          status: 400,
          error: 'invalid_grant',
          code: 70000,
          description:
            "The provided value for the 'refresh_token' parameter is not valid. The refresh token was issued in another tenant.",
        });
        expect((await redeem(refreshFields(client, refresh_token), origin)).status).toBe(200);
      },
    );

    it.skipIf(!available)('still redeems at the organizations and common endpoints', async () => {
      const code = await codeFor('native');
      const tokens = (await (await redeemAt('organizations', codeFields('native', code))).json()) as {
        refresh_token: string;
      };
      expect(tokens.refresh_token).toBeTypeOf('string');
      expect((await redeemAt('common', refreshFields('native', tokens.refresh_token))).status).toBe(200);
    });
  });
});
