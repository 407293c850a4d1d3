import {
  authorizeUrl,
  createPkcePair,
  endpointUrl,
  signInThrough,
  startInteractiveServer,
  TestBrowser,
} from '@tessera/testkit';
import type { InteractiveScenario, TestServer } from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Browser clients (docs/endpoints.md): CORS on every endpoint a single-page app calls with fetch — token, userinfo,
// revocation — only for the registered spa origins of the calling client (never `*`, never another origin); the
// discovery document where MSAL's OIDC mode and generic libraries derive it from a plain tenant authority; and no
// RFC 9207 `iss` where the issuer is the `{tenantid}` template (common / organizations).

let server: TestServer;
let s: InteractiveScenario;
/** Another spa app with its own origin: its origin must not read responses meant for the scenario's spa. */
const otherSpa = { appId: '', origin: 'https://other-spa.example' };
let spaAccessToken = '';

beforeAll(async () => {
  ({ server, scenario: s } = await startInteractiveServer());
  const other = await server.directory.applications.create({
    tenant: s.tenantId,
    displayName: 'Other SPA',
    redirectUris: { spa: [`${otherSpa.origin}/callback`] },
  });
  otherSpa.appId = other.application.appId;
  spaAccessToken = await spaTokens();
});
afterAll(() => server.close());

const endpoint = (name: string, tenant = s.tenantId) => endpointUrl(server.url, tenant, name);

/** Signs alice in to the spa (code + PKCE, redeemed cross-origin): its directory API access token. */
async function spaTokens(): Promise<string> {
  const { verifier, challenge } = createPkcePair();
  const authorize = authorizeUrl(server.url, s.tenantId, s.spa, {
    scope: 'openid profile offline_access',
    nonce: undefined,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  });
  const back = await signInThrough(new TestBrowser(), authorize, {
    userName: s.user.userPrincipalName,
    password: s.password,
  });
  const response = await fetch(endpoint('token'), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: s.spa.origin },
    body: new URLSearchParams({
      client_id: s.spa.appId,
      grant_type: 'authorization_code',
      code: new URL(back.location ?? '').searchParams.get('code') ?? '',
      redirect_uri: s.spa.redirectUri,
      code_verifier: verifier,
    }),
  });
  expect(response.status).toBe(200);
  return ((await response.json()) as { access_token: string }).access_token;
}

/** How a browser app calls each endpoint (the actual request after the preflight). */
const calls: Record<string, (origin: string) => Promise<Response>> = {
  token: (origin) =>
    fetch(endpoint('token'), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin },
      body: new URLSearchParams({ client_id: s.spa.appId, grant_type: 'refresh_token', refresh_token: 'x' }),
    }),
  revoke: (origin) =>
    fetch(endpoint('revoke'), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin },
      body: new URLSearchParams({ client_id: s.spa.appId, token: 'x', token_type_hint: 'refresh_token' }),
    }),
  'userinfo GET': (origin) =>
    fetch(`${server.url}/oidc/userinfo`, { headers: { authorization: `Bearer ${spaAccessToken}`, origin } }),
  'userinfo POST': (origin) =>
    fetch(`${server.url}/oidc/userinfo`, {
      method: 'POST',
      headers: { authorization: `Bearer ${spaAccessToken}`, origin },
    }),
  'userinfo with a bad token (the 401 is readable too)': (origin) =>
    fetch(`${server.url}/oidc/userinfo`, { headers: { authorization: 'Bearer not.a.token', origin } }),
};
const preflightPaths: Record<string, { path: () => string; method: string; headers: string }> = {
  token: { path: () => `/${s.tenantId}/oauth2/v2.0/token`, method: 'POST', headers: 'content-type' },
  revoke: { path: () => `/${s.tenantId}/oauth2/v2.0/revoke`, method: 'POST', headers: 'content-type' },
  userinfo: { path: () => '/oidc/userinfo', method: 'GET', headers: 'authorization' },
};

describe('CORS for the endpoints a spa calls: only its registered origins', () => {
  const origins: [string, () => string, boolean][] = [
    ["the client's registered spa origin", () => s.spa.origin, true],
    ["another app's spa origin", () => otherSpa.origin, false],
    ['an unregistered origin', () => 'https://evil.example', false],
    ['a look-alike of the registered origin', () => 'https://spa.example.evil.example', false],
    ['the opaque origin null', () => 'null', false],
  ];
  const rows = Object.keys(calls).flatMap((call) =>
    origins.map(([name, origin, allowed]) => [call, name, origin, allowed] as const),
  );
  it.each(rows)('%s from %s', async (call, name, origin, allowedForClient) => {
    // A request naming no (known) client may be read by any registered spa origin: there is no client to ask.
    const allowed = allowedForClient || (call.includes('bad token') && name === "another app's spa origin");
    const response = await calls[call]!(origin());
    expect(response.status).toBeLessThan(500);
    expect(response.headers.get('access-control-allow-origin')).toBe(allowed ? origin() : null);
    expect(response.headers.get('access-control-allow-credentials')).toBeNull();
    if (allowed) {
      expect(response.headers.get('vary')).toContain('Origin');
      expect(response.headers.get('access-control-expose-headers')).toContain('www-authenticate');
    }
  });

  it('userinfo answers the spa cross-origin with the claims', async () => {
    const response = await calls['userinfo GET']!(s.spa.origin);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ name: 'Alice Adams' });
  });

  const preflights = Object.entries(preflightPaths).flatMap(([name, p]) =>
    [
      ["the spa's origin", () => s.spa.origin, true],
      ['an unregistered origin', () => 'https://evil.example', false],
    ].map(
      ([who, origin, allowed]) =>
        [name, who as string, p, origin as () => string, allowed as boolean] as const,
    ),
  );
  it.each(preflights)('preflight of %s from %s', async (_name, _who, p, origin, allowed) => {
    const response = await fetch(`${server.url}${p.path()}`, {
      method: 'OPTIONS',
      headers: {
        origin: origin(),
        'access-control-request-method': p.method,
        'access-control-request-headers': p.headers,
      },
    });
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe(allowed ? origin() : null);
    if (allowed) {
      expect(response.headers.get('access-control-allow-methods')).toContain(p.method);
      expect(response.headers.get('access-control-allow-headers')).toBe(p.headers);
      expect(response.headers.get('access-control-max-age')).toBe('600');
    } else {
      expect(response.headers.get('access-control-allow-methods')).toBeNull();
    }
  });

  it('a preflight asking for a header list with junk gets only content-type back', async () => {
    const response = await fetch(endpoint('token'), {
      method: 'OPTIONS',
      headers: {
        origin: s.spa.origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type\r\nx-injected: 1',
      },
    }).catch(() => undefined);
    // fetch itself may refuse the header value; when sent, the answer never echoes it.
    if (response !== undefined)
      expect(response.headers.get('access-control-allow-headers')).toBe('content-type');
  });

  it('introspection (confidential clients only) and logout (a navigation) get no CORS headers', async () => {
    const introspect = await fetch(endpoint('introspect'), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: s.spa.origin },
      body: new URLSearchParams({ client_id: s.spa.appId, token: 'x' }),
    });
    expect(introspect.headers.get('access-control-allow-origin')).toBeNull();
    const logout = await fetch(endpoint('logout'), { headers: { origin: s.spa.origin }, redirect: 'manual' });
    expect(logout.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('discovery where clients derive it from a plain tenant authority', () => {
  const segments: [string, () => string, boolean][] = [
    ['the tenant id', () => s.tenantId, true],
    ['a verified domain', () => s.domain, true],
    ['common', () => 'common', false],
    ['organizations', () => 'organizations', false],
  ];
  it.each(segments)(
    '/{tenant}/.well-known/openid-configuration for %s is the v2.0 document',
    async (_name, segment, isTenant) => {
      const plain = await fetch(`${server.url}/${segment()}/.well-known/openid-configuration`);
      const v2 = await fetch(`${server.url}/${segment()}/v2.0/.well-known/openid-configuration`);
      expect([plain.status, v2.status]).toEqual([200, 200]);
      expect(plain.headers.get('access-control-allow-origin')).toBe('*');
      const document = (await plain.json()) as Record<string, unknown>;
      expect(document).toEqual(await v2.json());
      expect(document.issuer).toBe(`${server.url}/${isTenant ? s.tenantId : '{tenantid}'}/v2.0`);
      // RFC 9207: advertised only where the issuer is one URL.
      expect(document.authorization_response_iss_parameter_supported).toBe(isTenant);
      expect(document.claims_supported).toContain('login_hint');
    },
  );

  it('an unknown tenant is 400 invalid_tenant there too (90002)', async () => {
    const response = await fetch(`${server.url}/unknown.example/.well-known/openid-configuration`);
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'invalid_tenant', error_codes: [90002] });
  });
});

describe('RFC 9207 iss in authorization responses: per tenant only', () => {
  const authorize = (segment: string, extra: Record<string, string>) =>
    authorizeUrl(server.url, segment, s.web, extra);
  let browser: TestBrowser;
  beforeAll(async () => {
    browser = new TestBrowser();
    await signInThrough(browser, authorize(s.tenantId, {}), {
      userName: s.user.userPrincipalName,
      password: s.password,
    });
  });
  const rows: [string, () => string, Record<string, string>, string, boolean][] = [
    ['a code from the tenant', () => s.tenantId, { prompt: 'none' }, 'code', true],
    [
      'an error from the tenant',
      () => s.tenantId,
      { prompt: 'none', scope: 'openid nope.invalid/x' },
      'error',
      true,
    ],
    ['a code from common', () => 'common', { prompt: 'none' }, 'code', false],
    ['a code from organizations', () => 'organizations', { prompt: 'none' }, 'code', false],
    ['an error from common', () => 'common', { prompt: 'none', response_type: 'token' }, 'error', false],
    ['login_required from organizations', () => 'organizations', { prompt: 'none' }, 'error', false],
  ];
  it.each(rows)('%s', async (name, segment, extra, field, withIss) => {
    const from = name.includes('login_required') ? new TestBrowser() : browser;
    const answer = await from.get(authorize(segment(), extra));
    expect(answer.status).toBe(302);
    const fields = new URL((answer.location ?? '').replace('#', '?')).searchParams;
    expect(fields.has(field)).toBe(true);
    expect(fields.get('iss')).toBe(withIss ? `${server.url}/${s.tenantId}/v2.0` : null);
  });
});
