import { createHash } from 'node:crypto';
import type { ErrorCode } from '@tessera/protocol';
import {
  authorizationCodeFields,
  authorizeUrl,
  createPkcePair,
  endpointUrl,
  postForm,
  seedInteractiveScenario,
  signInThrough,
  startInteractiveServer,
  TestBrowser,
} from '@tessera/testkit';
import type { BrowserResponse, InteractiveScenario, TestServer } from '@tessera/testkit';
import { createRemoteJWKSet, decodeJwt, jwtVerify, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Positive interactive flows the attack suite does not cover: implicit and hybrid responses (fragment and
// form_post, at_hash / c_hash, never a refresh token), the account picker, max_age, login_hint, domain_hint and
// the prompts login / consent.
let server: TestServer;
let s: InteractiveScenario;
/** An app whose implicit settings allow id_tokens only. */
let idOnly: { appId: string; redirectUri: string };

beforeAll(async () => {
  ({ server, scenario: s } = await startInteractiveServer());
  const created = await server.directory.applications.create({
    tenant: s.tenantId,
    displayName: 'ID-token only',
    redirectUris: { web: ['https://idonly.example/cb'] },
    implicitGrant: { idToken: true },
  });
  idOnly = { appId: created.application.appId, redirectUri: 'https://idonly.example/cb' };
});
afterAll(() => server.close());

const halfHash = (value: string) =>
  createHash('sha256').update(value, 'ascii').digest().subarray(0, 16).toString('base64url');
const issuer = () => `${server.url}/${s.tenantId}/v2.0`;

/** An authorization URL of the web app, `offline_access` included; `undefined` removes a parameter. */
const authorize = (overrides: Record<string, string | undefined> = {}, tenant: string = s.tenantId) =>
  authorizeUrl(server.url, tenant, s.web, { scope: 'openid profile offline_access', ...overrides });

const spa = (overrides: Record<string, string | undefined>) =>
  authorize({ client_id: s.spa.appId, redirect_uri: s.spa.redirectUri, ...overrides });

const alice = () => ({ userName: s.user.userPrincipalName, password: s.password });
const admin = () => ({ userName: s.admin.userPrincipalName, password: s.password });

/** The fields of a redirect's fragment (asserting it goes to `redirectUri#`). */
function fragmentOf(page: BrowserResponse, redirectUri: string): Record<string, string> {
  expect(page.status).toBe(302);
  const location = page.location ?? '';
  expect(location.startsWith(`${redirectUri}#`)).toBe(true);
  expect(location).not.toContain('?');
  return Object.fromEntries(new URLSearchParams(location.slice(redirectUri.length + 1)));
}

function queryOf(page: BrowserResponse, redirectUri: string): Record<string, string> {
  expect(page.status).toBe(302);
  const location = page.location ?? '';
  expect(location.startsWith(`${redirectUri}?`)).toBe(true);
  return Object.fromEntries(new URL(location).searchParams);
}

async function verifyIdToken(token: string, audience: string): Promise<JWTPayload> {
  const jwks = createRemoteJWKSet(new URL(`${server.url}/${s.tenantId}/discovery/v2.0/keys`));
  const { payload } = await jwtVerify(token, jwks, { issuer: issuer(), audience });
  return payload;
}

/** Redeems a code as the web app; `extra` overrides fields, `undefined` removes one. */
async function redeem(
  code: string,
  extra: Record<string, string | undefined> = {},
  headers: Record<string, string> = {},
) {
  const response = await postForm(
    endpointUrl(server.url, s.tenantId, 'token'),
    authorizationCodeFields(s.web, code, extra),
    headers,
  );
  return { status: response.status, body: (await response.json()) as Record<string, string> };
}

describe('implicit and hybrid responses', () => {
  it('response_type=token: an access token in the fragment, never a refresh token', async () => {
    const page = await signInThrough(
      new TestBrowser(),
      spa({ response_type: 'token', scope: `openid ${s.api.identifierUri}/Files.Read offline_access` }),
      alice(),
    );
    const fields = fragmentOf(page, s.spa.redirectUri);
    expect(Object.keys(fields).sort()).toEqual([
      'access_token',
      'expires_in',
      'iss',
      'scope',
      'state',
      'token_type',
    ]);
    expect(fields).toMatchObject({
      token_type: 'Bearer',
      expires_in: String(server.server.config.accessTokenLifetimeSeconds),
      scope: `${s.api.identifierUri}/Files.Read openid`,
      state: 'st',
      iss: issuer(),
    });
    const claims = decodeJwt(fields.access_token ?? '');
    expect(claims).toMatchObject({
      aud: s.api.appId,
      azp: s.spa.appId,
      azpacr: '0',
      scp: 'Files.Read',
      oid: s.user.id,
      ver: '2.0',
    });
  });

  it('response_type=id_token token: id_token with nonce and at_hash, no refresh token even with offline_access', async () => {
    const page = await signInThrough(
      new TestBrowser(),
      spa({ response_type: 'id_token token', nonce: 'n-0S6_WzA2Mj' }),
      alice(),
    );
    const fields = fragmentOf(page, s.spa.redirectUri);
    expect(Object.keys(fields).sort()).toEqual([
      'access_token',
      'expires_in',
      'id_token',
      'iss',
      'scope',
      'state',
      'token_type',
    ]);
    expect(fields.scope).toBe('openid profile');
    const idToken = await verifyIdToken(fields.id_token ?? '', s.spa.appId);
    expect(idToken).toMatchObject({
      nonce: 'n-0S6_WzA2Mj',
      at_hash: halfHash(fields.access_token ?? ''),
      oid: s.user.id,
      tid: s.tenantId,
      preferred_username: s.user.userPrincipalName,
      name: s.user.displayName,
    });
    expect(idToken.c_hash).toBeUndefined();
  });

  it('response_type=id_token: only the id_token (no at_hash, no c_hash)', async () => {
    const page = await signInThrough(new TestBrowser(), spa({ response_type: 'id_token' }), alice());
    const fields = fragmentOf(page, s.spa.redirectUri);
    expect(Object.keys(fields).sort()).toEqual(['id_token', 'iss', 'state']);
    const idToken = await verifyIdToken(fields.id_token ?? '', s.spa.appId);
    expect(idToken.nonce).toBe('nn');
    expect(idToken.at_hash).toBeUndefined();
    expect(idToken.c_hash).toBeUndefined();
  });

  it('id_token only app: id_token works, token is refused (70005)', async () => {
    const ok = await signInThrough(
      new TestBrowser(),
      authorize({ client_id: idOnly.appId, redirect_uri: idOnly.redirectUri, response_type: 'id_token' }),
      alice(),
    );
    expect(Object.keys(fragmentOf(ok, idOnly.redirectUri)).sort()).toEqual(['id_token', 'iss', 'state']);
    const refused = await fetch(
      authorize({
        client_id: idOnly.appId,
        redirect_uri: idOnly.redirectUri,
        response_type: 'id_token token',
      }),
      { redirect: 'manual' },
    );
    const fields = new URLSearchParams((refused.headers.get('location') ?? '').split('#')[1]);
    expect(fields.get('error')).toBe('unsupported_response_type');
    expect(fields.get('error_description')?.split('\r\n')[0]).toBe(
      `TSS70005: The response type 'id_token token' is not supported: response type 'token' is not enabled for the application.`,
    );
  });

  it('response_mode=form_post: an auto-submitting form to the redirect URI, allowed by the CSP', async () => {
    const page = await signInThrough(
      new TestBrowser(),
      spa({ response_type: 'id_token', response_mode: 'form_post' }),
      alice(),
    );
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('cache-control')).toBe('no-store');
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("form-action 'self' https://spa.example");
    const script = "document.getElementById('response').submit();";
    const hash = createHash('sha256').update(script).digest('base64');
    expect(csp).toContain(`script-src 'sha256-${hash}'`);
    expect(csp).toContain("frame-ancestors 'none'");
    expect(page.body).toContain(`<script>${script}</script>`);
    const form = /<form method="post" action="([^"]*)" id="response">([\s\S]*?)<\/form>/.exec(page.body);
    expect(form?.[1]).toBe(s.spa.redirectUri);
    const fields = Object.fromEntries(
      [...(form?.[2] ?? '').matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)">/g)].map(
        (m): [string, string] => [m[1] ?? '', m[2] ?? ''],
      ),
    );
    expect(Object.keys(fields).sort()).toEqual(['id_token', 'iss', 'state']);
    expect((await verifyIdToken(fields.id_token ?? '', s.spa.appId)).nonce).toBe('nn');
  });

  it('response_type=code id_token (hybrid): code and id_token with c_hash in the fragment; the code redeems', async () => {
    const { verifier, challenge } = createPkcePair();
    const page = await signInThrough(
      new TestBrowser(),
      // Multiple Response Types §5: order does not matter.
      spa({ response_type: 'id_token code', code_challenge: challenge, code_challenge_method: 'S256' }),
      alice(),
    );
    const fields = fragmentOf(page, s.spa.redirectUri);
    expect(Object.keys(fields).sort()).toEqual(['code', 'id_token', 'iss', 'state']);
    const idToken = await verifyIdToken(fields.id_token ?? '', s.spa.appId);
    expect(idToken.c_hash).toBe(halfHash(fields.code ?? ''));
    expect(idToken.at_hash).toBeUndefined();
    const redeemed = await redeem(
      fields.code ?? '',
      {
        client_id: s.spa.appId,
        client_secret: undefined,
        redirect_uri: s.spa.redirectUri,
        code_verifier: verifier,
      },
      { origin: s.spa.origin },
    );
    expect(redeemed.status).toBe(200);
    expect(redeemed.body.refresh_token).toBeTypeOf('string');
  });

  const refusals: [string, Record<string, string | undefined>, string, ErrorCode, () => string][] = [
    [
      'token, implicit access tokens off',
      { response_type: 'token' },
      'unsupported_response_type',
      70005,
      () =>
        "The response type 'token' is not supported: response type 'token' is not enabled for the application.",
    ],
    [
      'id_token token, implicit off',
      { response_type: 'id_token token' },
      'unsupported_response_type',
      70005,
      () =>
        "The response type 'id_token token' is not supported: response type 'token' is not enabled for the application.",
    ],
    [
      'id_token, implicit off',
      { response_type: 'id_token' },
      'unauthorized_client',
      700054,
      () => `Response_type 'id_token' is not enabled for the application '${s.web.appId}'.`,
    ],
    [
      'code id_token, implicit off',
      { response_type: 'code id_token' },
      'unauthorized_client',
      700054,
      () => `Response_type 'id_token' is not enabled for the application '${s.web.appId}'.`,
    ],
  ];
  it.each(refusals)('refuses %s on the web app', async (_name, overrides, error, code, description) => {
    const response = await fetch(authorize(overrides), { redirect: 'manual' });
    expect(response.status).toBe(302);
    const location = response.headers.get('location') ?? '';
    expect(location.startsWith(`${s.web.redirectUri}#`)).toBe(true);
    const fields = new URLSearchParams(location.slice(s.web.redirectUri.length + 1));
    expect({
      error: fields.get('error'),
      text: fields.get('error_description')?.split('\r\n')[0],
      state: fields.get('state'),
      iss: fields.get('iss'),
    }).toEqual({ error, text: `TSS${code}: ${description()}`, state: 'st', iss: issuer() });
  });

  it.each([
    ['id_token token', 'nonce'],
    ['code id_token', 'nonce'],
  ])('requires a nonce for %s (900144)', async (responseType, name) => {
    const { challenge } = createPkcePair();
    const response = await fetch(
      spa({
        response_type: responseType,
        nonce: undefined,
        code_challenge: challenge,
        code_challenge_method: 'S256',
      }),
      { redirect: 'manual' },
    );
    const fields = new URLSearchParams((response.headers.get('location') ?? '').split('#')[1]);
    expect(fields.get('error')).toBe('invalid_request');
    expect(fields.get('error_description')?.split('\r\n')[0]).toBe(
      `TSS900144: The request body must contain the following parameter: '${name}'.`,
    );
  });
});

describe('account selection and prompts', () => {
  /** A browser with alice and then the admin signed in (both consented to the web app). */
  async function twoAccounts(): Promise<TestBrowser> {
    const browser = new TestBrowser();
    expect((await signInThrough(browser, authorize(), alice())).location).toContain('code=');
    expect((await signInThrough(browser, authorize({ prompt: 'login' }), admin())).location).toContain(
      'code=',
    );
    return browser;
  }
  async function userOfCode(page: BrowserResponse): Promise<JWTPayload> {
    const code = queryOf(page, s.web.redirectUri).code ?? '';
    const { status, body } = await redeem(code);
    expect(status).toBe(200);
    return decodeJwt(body.id_token ?? '');
  }

  it('prompt=select_account with two sessions shows the picker listing both; picking one continues as that user', async () => {
    const browser = await twoAccounts();
    const picker = await browser.get(authorize({ prompt: 'select_account' }));
    expect(picker.status).toBe(200);
    expect(picker.body).toContain(s.user.userPrincipalName);
    expect(picker.body).toContain(s.admin.userPrincipalName);
    expect(picker.body.match(/name="session"/g)?.length).toBe(2);
    const picked = await browser.submit(server.url, picker, {}, s.user.userPrincipalName);
    expect((await userOfCode(picked)).oid).toBe(s.user.id);
    const pickedAdmin = await browser.submit(server.url, picker, {}, s.admin.userPrincipalName);
    expect((await userOfCode(pickedAdmin)).oid).toBe(s.admin.id);
  });

  it('two sessions without a hint show the picker; prompt=none then answers interaction_required (9100015)', async () => {
    const browser = await twoAccounts();
    const picker = await browser.get(authorize());
    expect(picker.status).toBe(200);
    expect(picker.body.match(/name="session"/g)?.length).toBe(2);
    const silent = queryOf(await browser.get(authorize({ prompt: 'none' })), s.web.redirectUri);
    expect(silent.error).toBe('interaction_required');
    expect(silent.error_description?.split('\r\n')[0]).toBe(
      `TSS9100015: Several accounts are signed in and the request named none of them (login_hint), so the user must choose one.`,
    );
  });

  it('login_hint picks the matching session (also silently), and pre-fills the sign-in page otherwise', async () => {
    const browser = await twoAccounts();
    const hinted = await browser.get(authorize({ login_hint: s.admin.userPrincipalName.toUpperCase() }));
    expect((await userOfCode(hinted)).oid).toBe(s.admin.id);
    const silent = await browser.get(authorize({ prompt: 'none', login_hint: s.user.userPrincipalName }));
    expect((await userOfCode(silent)).oid).toBe(s.user.id);
    const other = `nobody@${s.domain}`;
    const page = await browser.get(authorize({ login_hint: other }));
    expect(page.status).toBe(200);
    expect(page.body).toContain(
      `name="username" type="email" autocomplete="username" required autofocus value="${other}"`,
    );
    const silentOther = queryOf(
      await browser.get(authorize({ prompt: 'none', login_hint: other })),
      s.web.redirectUri,
    );
    expect(silentOther.error).toBe('login_required');
  });

  it('domain_hint narrows common to the hinted tenant (an unknown domain is ignored)', async () => {
    const other = await seedInteractiveScenario(server.directory);
    const browser = new TestBrowser();
    await signInThrough(browser, authorize(), alice());
    const viaCommon = (hint: string | undefined) =>
      browser.get(authorize({ prompt: 'none', domain_hint: hint }, 'common'));
    const hinted = await viaCommon(s.domain);
    expect(hinted.location?.startsWith(`${s.web.redirectUri}?code=`)).toBe(true);
    expect((await viaCommon('unknown.invalid')).location).toContain('code=');
    const elsewhere = queryOf(await viaCommon(other.domain), s.web.redirectUri);
    expect(elsewhere.error).toBe('login_required');
  });

  it('prompt=login asks for the password despite a session, and the new sign-in has a newer auth_time', async () => {
    const browser = new TestBrowser();
    const first = await userOfCode(await signInThrough(browser, authorize(), alice()));
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const page = await browser.get(authorize({ prompt: 'login' }));
    expect(page.status).toBe(200);
    expect(page.body).toContain('name="password"');
    const again = await userOfCode(await signInThrough(browser, authorize({ prompt: 'login' }), alice()));
    expect(again.auth_time).toBeGreaterThan(first.auth_time as number);
  });

  it('max_age: a recent sign-in is reused; an older one asks again (or interaction_required with prompt=none)', async () => {
    const browser = new TestBrowser();
    const first = await userOfCode(await signInThrough(browser, authorize(), alice()));
    expect((await browser.get(authorize({ max_age: '3600' }))).location).toContain('code=');
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const silent = queryOf(await browser.get(authorize({ max_age: '0', prompt: 'none' })), s.web.redirectUri);
    expect(silent.error).toBe('interaction_required');
    expect(silent.error_description?.split('\r\n')[0]).toBe(
      `TSS9100018: The user signed in too long ago for this request (max_age) and the request asked for no interaction (prompt=none).`,
    );
    const page = await browser.get(authorize({ max_age: '0' }));
    expect(page.body).toContain('name="password"');
    const fresh = await userOfCode(await signInThrough(browser, authorize({ max_age: '0' }), alice()));
    expect(fresh.auth_time).toBeGreaterThan(first.auth_time as number);
  });

  it('refuses a malformed max_age (9002313)', async () => {
    const response = await fetch(authorize({ max_age: '-1' }), { redirect: 'manual' });
    const fields = new URL(response.headers.get('location') ?? '').searchParams;
    expect(fields.get('error_description')?.split('\r\n')[0]).toBe(
      `TSS9002313: Request is malformed or invalid: 'max_age' must be a number of seconds.`,
    );
  });

  it('prompt=consent shows the consent page to a user who already consented', async () => {
    const browser = new TestBrowser();
    await signInThrough(browser, authorize(), alice());
    expect((await browser.get(authorize())).location).toContain('code=');
    const page = await browser.get(authorize({ prompt: 'consent' }));
    expect(page.status).toBe(200);
    expect(page.body).toContain('value="consent"');
    const accepted = await browser.submit(server.url, page, { action: 'consent' });
    expect(queryOf(accepted, s.web.redirectUri).code).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });
});
