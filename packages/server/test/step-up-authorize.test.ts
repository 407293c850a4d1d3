import {
  authorizationCodeFields,
  authorizeUrl,
  endpointUrl,
  postForm,
  startInteractiveServer,
  TestBrowser,
} from '@tessera/testkit';
import type { BrowserResponse, InteractiveScenario, TestServer } from '@tessera/testkit';
import { decodeJwt } from 'jose';
import { generate } from 'otplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The MFA step-up at /authorize: a conditional access policy (or a `claims` request naming one, or an
// authentication context) sends the signed-in user to the second-factor page — set up an authenticator (QR code and
// secret, then a code) or enter a code — before consent; success upgrades the session (amr gains mfa, otp) and the
// tokens carry what was satisfied (`acrs`). Refusals are exact: wrong code 500121, reused code 9100090, a form
// from another origin 9100013, prompt=none 50079 / 50076, malformed `claims` 9002313 invalid_request.
let server: TestServer;
let s: InteractiveScenario;
let apiPolicyId: string;
/** A user of the scenario's tenant for each test that must start without an authenticator. */
let userCount = 0;

beforeAll(async () => {
  ({ server, scenario: s } = await startInteractiveServer({ config: { signInMaxFailuresPerAccount: 4 } }));
  const policy = await server.directory.conditionalAccessPolicies.create(s.tenantId, {
    displayName: 'MFA for the Files API',
    state: 'enabled',
    conditions: {
      users: { includeUsers: ['All'] },
      applications: { includeApplications: [s.api.appId] },
    },
    grantControls: { operator: 'OR', builtInControls: ['mfa'] },
  });
  apiPolicyId = policy.id;
  await server.directory.conditionalAccessPolicies.create(s.tenantId, {
    displayName: 'MFA for authentication context c1',
    state: 'enabled',
    conditions: {
      users: { includeUsers: ['All'] },
      applications: { includeAuthenticationContextClassReferences: ['c1'] },
    },
    grantControls: { operator: 'OR', builtInControls: ['mfa'] },
  });
  await server.server.refresh();
});
afterAll(() => server.close());

const FILES = () => `${s.api.identifierUri}/Files.Read`;

async function newUser(): Promise<string> {
  userCount += 1;
  const upn = `mfa${String(userCount)}-${Date.now().toString(36)}@${s.domain}`;
  await server.directory.users.create({
    tenant: s.tenantId,
    userPrincipalName: upn,
    password: s.password,
    displayName: `MFA user ${String(userCount)}`,
  });
  return upn;
}

const authorize = (overrides: Record<string, string | undefined> = {}) =>
  authorizeUrl(server.url, s.tenantId, s.web, {
    scope: `openid profile offline_access ${FILES()}`,
    ...overrides,
  });

const origin = () => ({ origin: new URL(server.url).origin });

/** Signs in with the password and returns the page that follows (the second-factor page, when required). */
async function passwordStep(browser: TestBrowser, url: string, upn: string): Promise<BrowserResponse> {
  const page = await browser.get(url);
  expect(page.status).toBe(200);
  return browser.submit(url, page, { username: upn, password: s.password });
}

/** The authenticator secret the enrolment page shows (in groups of four). */
function secretOf(page: BrowserResponse): string {
  const shown = /id="totp-secret"[^>]*>([A-Z2-7 ]+)</.exec(page.body)?.[1];
  if (shown === undefined) throw new Error(`no secret on the page (status ${String(page.status)})`);
  return shown.replaceAll(' ', '');
}

const codeAt = (secret: string, epoch = Math.floor(Date.now() / 1000)) => generate({ secret, epoch });

/** Accepts consent when asked, then returns the redirect to the app. */
async function finish(browser: TestBrowser, url: string, page: BrowserResponse): Promise<URL> {
  let current = page;
  if (current.status === 200 && current.body.includes('value="consent"'))
    current = await browser.submit(url, current, { action: 'consent' });
  expect(current.status).toBe(302);
  return new URL(current.location ?? '');
}

async function redeem(location: URL) {
  const code = location.searchParams.get('code');
  if (code === null) throw new Error(`no code: ${location.toString()}`);
  const response = await postForm(
    endpointUrl(server.url, s.tenantId, 'token'),
    authorizationCodeFields(s.web, code, { scope: `${FILES()} offline_access` }),
  );
  const body = (await response.json()) as Record<string, string>;
  expect(response.status, JSON.stringify(body)).toBe(200);
  return body;
}

/** The first line of an authorization error redirect's description, and its `error`. */
function errorOf(location: URL) {
  return {
    error: location.searchParams.get('error'),
    text: location.searchParams.get('error_description')?.split('\r\n')[0],
  };
}

describe('the second factor at /authorize', () => {
  it('a policy on the resource: enrolment page with QR code and secret, wrong code, then a code; amr gains mfa and otp', async () => {
    const upn = await newUser();
    const browser = new TestBrowser();
    const url = authorize();
    const setup = await passwordStep(browser, url, upn);
    expect(setup.status).toBe(200);
    expect(setup.body).toContain('Set up your authenticator app');
    expect(setup.body).toMatch(/<img class="qr" src="data:image\/svg\+xml;base64,[A-Za-z0-9+/=]+"/);
    expect(setup.body).toContain('otpauth://totp/Tessera:');
    const secret = secretOf(setup);

    const right = await codeAt(secret);
    const wrong = String((Number(right) + 123_456) % 1_000_000).padStart(6, '0');
    const again = await browser.submit(url, setup, { otc: wrong }, undefined, origin());
    expect(again.status).toBe(400);
    expect(again.body).toContain('the verification code is not correct');
    // Nothing changed: the same secret to set up, and no method stored.
    expect(secretOf(again)).toBe(secret);
    const user = await server.directory.store.users.findByUpn(upn);
    const rows = await server.directory.store.db
      .selectFrom('software_oath_methods')
      .selectAll()
      .where('user_id', '=', user?.id ?? '')
      .execute();
    expect(rows).toEqual([]);

    const done = await browser.submit(url, again, { otc: right }, undefined, origin());
    const tokens = await redeem(await finish(browser, url, done));
    const access = decodeJwt(tokens.access_token ?? '');
    expect(access.amr).toEqual(['pwd', 'mfa', 'otp']);
    expect(access.acrs).toBeUndefined();
    const id = decodeJwt(tokens.id_token ?? '');
    expect(id.amr).toEqual(['pwd', 'mfa', 'otp']);

    // The session now has the second factor: the next request needs no page at all.
    const silent = await browser.get(authorize({ prompt: 'none' }));
    expect(silent.status).toBe(302);
    expect(new URL(silent.location ?? '').searchParams.get('code')).not.toBeNull();
  });

  it('an enrolled user enters a code; a replayed code is refused (9100090), the next one accepted', async () => {
    const upn = await newUser();
    const first = new TestBrowser();
    const url = authorize();
    const setup = await passwordStep(first, url, upn);
    const secret = secretOf(setup);
    const code = await codeAt(secret);
    await finish(first, url, await first.submit(url, setup, { otc: code }, undefined, origin()));

    const second = new TestBrowser();
    const prompt = await passwordStep(second, url, upn);
    expect(prompt.status).toBe(200);
    expect(prompt.body).toContain('Enter your verification code');
    expect(prompt.body).not.toContain('totp-secret');
    const replayed = await second.submit(url, prompt, { otc: code }, undefined, origin());
    expect(replayed.status).toBe(400);
    expect(replayed.body).toContain('This verification code was already used.');
    // The next time step's code is inside the window.
    const next = await codeAt(secret, Math.floor(Date.now() / 1000) + 30);
    const location = await finish(
      second,
      url,
      await second.submit(url, replayed, { otc: next }, undefined, origin()),
    );
    expect(decodeJwt((await redeem(location)).access_token ?? '').amr).toEqual(['pwd', 'mfa', 'otp']);
  });

  it('a code from another origin is refused (9100013) and upgrades nothing', async () => {
    const upn = await newUser();
    const browser = new TestBrowser();
    const url = authorize();
    const setup = await passwordStep(browser, url, upn);
    const code = await codeAt(secretOf(setup));
    const refused = await browser.submit(url, setup, { otc: code }, undefined, {
      origin: 'https://evil.example',
    });
    expect(refused.status).toBe(403);
    expect(refused.body).toContain('9100013');
    const none = await browser.submit(url, setup, { otc: code });
    expect(none.status).toBe(403);
    const silent = errorOf(new URL((await browser.get(authorize({ prompt: 'none' }))).location ?? ''));
    expect(silent).toEqual({
      error: 'interaction_required',
      text: expect.stringMatching(/^TSS50079: .*must enroll in multi-factor authentication/) as unknown,
    });
  });

  it('prompt=none with MFA required answers interaction_required 50079 (not enrolled) or 50076 (enrolled) to the redirect URI', async () => {
    const upn = await newUser();
    const browser = new TestBrowser();
    // A session without the second factor: signed in for a resource no policy covers.
    const plain = await passwordStep(browser, authorize({ scope: 'openid profile' }), upn);
    await finish(browser, authorize({ scope: 'openid profile' }), plain);
    const notEnrolled = await browser.get(authorize({ prompt: 'none' }));
    expect(notEnrolled.status).toBe(302);
    const location = new URL(notEnrolled.location ?? '');
    expect(`${location.origin}${location.pathname}`).toBe(s.web.redirectUri);
    expect(errorOf(location)).toEqual({
      error: 'interaction_required',
      text: `TSS50079: Due to a configuration change made by your administrator, or because you moved to a new location, you must enroll in multi-factor authentication to access '${s.api.appId}'.`,
    });
    expect(location.searchParams.get('suberror')).toBe('basic_action');
    expect(location.searchParams.get('state')).toBe('st');

    // Enrolled (in another browser), this session still lacks the second factor: 50076.
    const other = new TestBrowser();
    const setup = await passwordStep(other, authorize(), upn);
    await finish(
      other,
      authorize(),
      await other.submit(authorize(), setup, { otc: await codeAt(secretOf(setup)) }, undefined, origin()),
    );
    const enrolled = await browser.get(authorize({ prompt: 'none' }));
    expect(errorOf(new URL(enrolled.location ?? ''))).toEqual({
      error: 'interaction_required',
      text: `TSS50076: Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access '${s.api.appId}'. Retry with a new authorize request for the resource.`,
    });
  });

  it('claims polids naming a policy of another resource ask for the second factor even for an uncovered resource', async () => {
    const upn = await newUser();
    const browser = new TestBrowser();
    const claims = JSON.stringify({
      access_token: { polids: { essential: true, values: [apiPolicyId] }, xms_cc: { values: ['CP1'] } },
    });
    const url = authorize({ scope: 'openid profile', claims });
    const page = await passwordStep(browser, url, upn);
    expect(page.body).toContain('Set up your authenticator app');
    const location = await finish(
      browser,
      url,
      await browser.submit(url, page, { otc: await codeAt(secretOf(page)) }, undefined, origin()),
    );
    expect(location.searchParams.get('code')).not.toBeNull();
    // Without the claims request the same resource needs nothing more.
    const plainBrowser = new TestBrowser();
    const plainUrl = authorize({ scope: 'openid profile' });
    const plain = await passwordStep(plainBrowser, plainUrl, await newUser());
    expect((await finish(plainBrowser, plainUrl, plain)).searchParams.get('code')).not.toBeNull();
  });

  it('claims acrs c1: the second factor, then the access token and its refreshed successor carry acrs ["c1"]', async () => {
    const upn = await newUser();
    const browser = new TestBrowser();
    const claims = JSON.stringify({ access_token: { acrs: { essential: true, value: 'c1' } } });
    const url = authorize({ claims });
    const page = await passwordStep(browser, url, upn);
    const location = await finish(
      browser,
      url,
      await browser.submit(url, page, { otc: await codeAt(secretOf(page)) }, undefined, origin()),
    );
    const tokens = await redeem(location);
    expect(decodeJwt(tokens.access_token ?? '').acrs).toEqual(['c1']);
    const refreshed = await postForm(endpointUrl(server.url, s.tenantId, 'token'), {
      grant_type: 'refresh_token',
      client_id: s.web.appId,
      client_secret: s.web.secret,
      refresh_token: tokens.refresh_token ?? '',
      scope: FILES(),
    });
    const body = (await refreshed.json()) as Record<string, string>;
    expect(refreshed.status, JSON.stringify(body)).toBe(200);
    expect(decodeJwt(body.access_token ?? '').acrs).toEqual(['c1']);
    // An unknown context no policy covers is not claimed as satisfied.
    const other = await browser.get(
      authorize({
        prompt: 'none',
        claims: JSON.stringify({ access_token: { acrs: { values: ['c1', 'c7'] } } }),
      }),
    );
    const code = new URL(other.location ?? '').searchParams.get('code');
    expect(code).not.toBeNull();
    expect(decodeJwt((await redeem(new URL(other.location ?? ''))).access_token ?? '').acrs).toEqual(['c1']);
  });

  it('the sign-in log records each second-factor attempt with its result; the code itself never', async () => {
    const upn = await newUser();
    const browser = new TestBrowser();
    const url = authorize();
    const setup = await passwordStep(browser, url, upn);
    const right = await codeAt(secretOf(setup));
    const wrong = String((Number(right) + 1) % 1_000_000).padStart(6, '0');
    const again = await browser.submit(url, setup, { otc: wrong }, undefined, origin());
    await finish(browser, url, await browser.submit(url, again, { otc: right }, undefined, origin()));
    await server.directory.signIns.flush();
    const user = await server.directory.store.users.findByUpn(upn);
    const rows = await server.directory.store.db
      .selectFrom('sign_ins')
      .selectAll()
      .where('user_id', '=', user?.id ?? '')
      .orderBy('created_ms')
      .execute();
    // The password, the wrong code, the right code (then the token endpoint's redemption, not interactive).
    const interactive = rows.filter((row) => row.is_interactive === 1);
    expect(interactive.map((row) => [row.error_code, row.failure_reason])).toEqual([
      [0, null],
      [
        500121,
        'Second factor (OATH verification code): Authentication failed during strong authentication request: the verification code is not correct. Enter the current code from your authenticator app.',
      ],
      [0, null],
    ]);
    expect(interactive.every((row) => row.app_id === s.web.appId && row.client_app_used === 'Browser')).toBe(
      true,
    );
    expect(JSON.stringify(rows)).not.toContain(right);
  });

  it('after the limit of wrong codes the user gets the lockout page (50053), even with the right code', async () => {
    const upn = await newUser();
    const browser = new TestBrowser();
    const url = authorize();
    let page = await passwordStep(browser, url, upn);
    const secret = secretOf(page);
    const right = await codeAt(secret);
    const wrong = String((Number(right) + 7) % 1_000_000).padStart(6, '0');
    for (let attempt = 0; attempt < 4; attempt++) {
      page = await browser.submit(url, page, { otc: wrong }, undefined, origin());
      expect(page.status).toBe(400);
    }
    const locked = await browser.submit(url, page, { otc: right }, undefined, origin());
    expect(locked.status).toBe(429);
    expect(locked.body).toContain('temporarily locked');
    expect(locked.body).toContain('50053');
    expect(locked.body).not.toContain('name="otc"');
    const user = await server.directory.store.users.findByUpn(upn);
    const rows = await server.directory.store.db
      .selectFrom('software_oath_methods')
      .select('id')
      .where('user_id', '=', user?.id ?? '')
      .execute();
    expect(rows).toEqual([]);
  });

  it.each([
    ['not JSON', '{"access_token":', "'claims' must be a JSON object."],
    ['an array', '[]', "'claims' must be a JSON object."],
    [
      'too long',
      JSON.stringify({ id_token: { x: { value: 'a'.repeat(9000) } } }),
      "'claims' must be at most 8192 characters.",
    ],
    ['access_token not an object', '{"access_token":"acrs"}', "'claims.access_token' must be a JSON object."],
    [
      'essential not a boolean',
      '{"access_token":{"acrs":{"essential":"yes","value":"c1"}}}',
      "'claims.access_token.acrs'.essential must be true or false.",
    ],
    [
      'values not strings',
      '{"access_token":{"polids":{"values":[1]}}}',
      "'claims.access_token.polids'.values must be an array of strings.",
    ],
    [
      'value not a string',
      '{"access_token":{"acrs":{"value":{"x":1}}}}',
      "'claims.access_token.acrs'.value must be a string.",
    ],
    [
      'a malformed id',
      '{"access_token":{"acrs":{"value":"c1 c2"}}}',
      "'claims' values of 'polids' and 'acrs' are ids of letters, digits, '-', '_' and '.' (at most 64).",
    ],
    [
      'too many values',
      JSON.stringify({
        access_token: { acrs: { values: Array.from({ length: 33 }, (_, i) => `c${String(i)}`) } },
      }),
      "'claims' may name at most 32 values per claim.",
    ],
  ])(
    'claims %s: invalid_request 9002313 to the redirect URI, before any page',
    async (_name, claims, reason) => {
      const response = await new TestBrowser().get(authorize({ claims }));
      expect(response.status).toBe(302);
      expect(errorOf(new URL(response.location ?? ''))).toEqual({
        error: 'invalid_request',
        text: `TSS9002313: Request is malformed or invalid: ${reason}`,
      });
    },
  );
});
