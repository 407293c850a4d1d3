import { AuthenticationRequiredError, OnBehalfOfCredential } from '@azure/identity';
import { ConfidentialClientApplication, InteractionRequiredAuthError } from '@azure/msal-node';
import {
  authorizationCodeFields,
  authorizeUrl,
  endpointUrl,
  postForm,
  signInThrough,
  startTestServer,
  TestBrowser,
  type InteractiveScenario,
  type TestServer,
} from '@tessera/testkit';
import { decodeJwt } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  oboFields,
  postToken,
  spaAccessToken,
  startOnBehalfOfServer,
  type OnBehalfOfScenario,
} from './support/on-behalf-of.js';
import { DIALECTS } from './support/management-api.js';

// A tenant's policy requiring MFA for the Files API, enforced where no page can ask for the second factor: the
// refresh token grant and On-Behalf-Of answer interaction_required with Entra's codes and a claims challenge
// (seed 001), and unmodified MSAL and @azure/identity surface it. Tokens with `mfa` in `amr` are made by seeding
// the SSO session's or the refresh token family's methods directly in the store (the step-up page is elsewhere).

/** What `probe` resolves to once it is defined, polling every 100 ms for at most 10 s. */
async function eventually<T>(probe: () => Promise<T | undefined>): Promise<T | undefined> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return undefined;
}

describe.each(DIALECTS)('conditional access at the token endpoint on $name', ({ database }) => {
  let server: TestServer;
  let s: InteractiveScenario;
  let obo: OnBehalfOfScenario;
  let policyIds: string[] = [];

  beforeAll(async () => {
    ({ server, s, obo } = await startOnBehalfOfServer(database));
  });
  afterAll(() => server.close());
  afterEach(async () => {
    for (const id of policyIds) await server.directory.conditionalAccessPolicies.delete(s.tenantId, id);
    policyIds = [];
    await db().deleteFrom('software_oath_methods').where('user_id', '=', s.user.id).execute();
  });

  const db = () => server.server.store.db;
  const filesRead = () => `${s.api.identifierUri}/Files.Read`;

  /** An enabled (or `state`) policy requiring MFA of every user for the Files API. */
  async function requireMfaForFiles(state = 'enabled'): Promise<string> {
    const policy = await server.directory.conditionalAccessPolicies.create(s.tenantId, {
      displayName: 'Require MFA for Files',
      state,
      conditions: {
        users: { includeUsers: ['All'] },
        applications: { includeApplications: [s.api.appId] },
      },
      grantControls: { operator: 'OR', builtInControls: ['mfa'] },
    });
    policyIds.push(policy.id);
    return policy.id;
  }

  /** Registers a second factor for Alice (what `isMfaRegistered` looks for). */
  async function aliceHasAuthenticator(): Promise<void> {
    await db()
      .insertInto('software_oath_methods')
      .values({
        id: crypto.randomUUID(),
        tenant_id: s.tenantId,
        user_id: s.user.id,
        secret_encrypted: 'v1.unused',
        created_at: Math.floor(Date.now() / 1000),
        last_used_at: null,
        last_time_step: 0,
      })
      .execute();
  }

  /**
   * Alice's SPA access token for the middle tier; with `amr`, her SSO session's methods are set to it before a
   * second, silent authorization gives the token.
   */
  async function aliceTokenForMid(amr?: readonly string[]): Promise<string> {
    const browser = new TestBrowser();
    const url = authorizeUrl(server.url, s.tenantId, s.spa, {
      response_type: 'token',
      scope: `${obo.mid.identifierUri}/access_as_user`,
      nonce: undefined,
    });
    let page = await signInThrough(browser, url, {
      userName: s.user.userPrincipalName,
      password: s.password,
    });
    if (amr !== undefined) {
      await db()
        .updateTable('sso_sessions')
        .set({ amr: JSON.stringify(amr) })
        .where('user_id', '=', s.user.id)
        .execute();
      page = await signInThrough(browser, url, { userName: s.user.userPrincipalName, password: s.password });
    }
    const location = page.location ?? '';
    const token = new URLSearchParams(location.slice(location.indexOf('#') + 1)).get('access_token');
    if (token === null) throw new Error(`no access token: ${page.status} ${location.slice(0, 300)}`);
    return token;
  }

  /** Alice's refresh token of the web app for the Files API (signed in before any policy exists). */
  async function aliceRefreshToken(): Promise<string> {
    const redirect = await signInThrough(
      new TestBrowser(),
      authorizeUrl(server.url, s.tenantId, s.web, { scope: `openid offline_access ${filesRead()}` }),
      { userName: s.user.userPrincipalName, password: s.password },
    );
    const code = new URL(redirect.location ?? 'https://none.example/').searchParams.get('code') ?? '';
    const response = await postForm(
      endpointUrl(server.url, s.tenantId, 'token'),
      authorizationCodeFields(s.web, code),
    );
    expect(response.status).toBe(200);
    return ((await response.json()) as { refresh_token: string }).refresh_token;
  }

  const refresh = (refreshToken: string) =>
    postToken(server, s.tenantId, {
      grant_type: 'refresh_token',
      client_id: s.web.appId,
      client_secret: s.web.secret,
      refresh_token: refreshToken,
      scope: filesRead(),
    });

  const challenge = (id: string) =>
    JSON.stringify({ access_token: { polids: { essential: true, values: [id] } } });

  /** Asserts Entra's refusal (seed 001's shape) of code `code` for policy `id`. */
  function expectRefusal(
    answer: { status: number; body: Record<string, unknown> },
    code: number,
    id: string,
  ) {
    expect({ status: answer.status, body: answer.body }).toMatchObject({
      status: 400,
      body: { error_codes: [code] },
    });
    expect(Object.keys(answer.body).sort()).toEqual([
      'claims',
      'correlation_id',
      'error',
      'error_codes',
      'error_description',
      'suberror',
      'timestamp',
      'trace_id',
    ]);
    expect(answer.body).toMatchObject({
      error: 'interaction_required',
      error_codes: [code],
      suberror: 'basic_action',
      claims: challenge(id),
    });
    const action = code === 50079 ? 'enroll in' : 'use';
    expect(String(answer.body.error_description)).toMatch(
      new RegExp(
        `^[A-Z]+${code}: Due to a configuration change made by your administrator, or because you moved to a new location, you must ${action} multi-factor authentication to access '${s.api.appId}'\\.`,
      ),
    );
  }

  it('On-Behalf-Of without mfa: 50079 when the user has no second factor, 50076 when they have one', async () => {
    const assertion = await aliceTokenForMid();
    const id = await requireMfaForFiles();
    expectRefusal(await postToken(server, s.tenantId, oboFields(obo.mid, assertion, filesRead())), 50079, id);
    await aliceHasAuthenticator();
    expectRefusal(await postToken(server, s.tenantId, oboFields(obo.mid, assertion, filesRead())), 50076, id);
  });

  it('On-Behalf-Of with offline_access refused by a policy leaves no refresh token family behind', async () => {
    const assertion = await aliceTokenForMid();
    const id = await requireMfaForFiles();
    const families = () => db().selectFrom('refresh_tokens').select('family_id').execute();
    const before = (await families()).length;
    expectRefusal(
      await postToken(server, s.tenantId, oboFields(obo.mid, assertion, `${filesRead()} offline_access`)),
      50079,
      id,
    );
    expect((await families()).length).toBe(before);
  });

  it('RFC 8693 token exchange without mfa: refused the same way', async () => {
    const subjectToken = await aliceTokenForMid();
    const id = await requireMfaForFiles();
    const answer = await postToken(server, s.tenantId, {
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      client_id: obo.mid.appId,
      client_secret: obo.mid.secret,
      subject_token: subjectToken,
      subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      audience: s.api.identifierUri,
      scope: 'Files.Read',
    });
    expectRefusal(answer, 50079, id);
  });

  it('On-Behalf-Of with mfa in the assertion’s amr passes and keeps amr', async () => {
    await requireMfaForFiles();
    const assertion = await aliceTokenForMid(['pwd', 'mfa', 'otp']);
    expect(decodeJwt(assertion).amr).toEqual(['pwd', 'mfa', 'otp']);
    const { status, body } = await postToken(server, s.tenantId, oboFields(obo.mid, assertion, filesRead()));
    expect(status).toBe(200);
    expect(decodeJwt(String(body.access_token))).toMatchObject({
      aud: s.api.appId,
      oid: s.user.id,
      scp: 'Files.Read',
      amr: ['pwd', 'mfa', 'otp'],
    });
  });

  it('report-only and disabled policies never refuse; a policy on another resource does not either', async () => {
    const assertion = await aliceTokenForMid();
    await requireMfaForFiles('enabledForReportingButNotEnforced');
    await requireMfaForFiles('disabled');
    const other = await server.directory.conditionalAccessPolicies.create(s.tenantId, {
      displayName: 'Require MFA for the middle tier',
      state: 'enabled',
      conditions: {
        users: { includeUsers: ['All'] },
        applications: { includeApplications: ['All'], excludeApplications: [s.api.appId] },
      },
      grantControls: { operator: 'OR', builtInControls: ['mfa'] },
    });
    policyIds.push(other.id);
    const { status } = await postToken(server, s.tenantId, oboFields(obo.mid, assertion, filesRead()));
    expect(status).toBe(200);
  });

  it('a policy excluding the user, or naming another user, does not refuse', async () => {
    const assertion = await aliceTokenForMid();
    const policy = await server.directory.conditionalAccessPolicies.create(s.tenantId, {
      displayName: 'MFA for all but Alice',
      state: 'enabled',
      conditions: {
        users: { includeUsers: ['All'], excludeUsers: [s.user.id] },
        applications: { includeApplications: ['All'] },
      },
      grantControls: { operator: 'OR', builtInControls: ['mfa'] },
    });
    policyIds.push(policy.id);
    expect((await postToken(server, s.tenantId, oboFields(obo.mid, assertion, filesRead()))).status).toBe(
      200,
    );
  });

  it('the refresh token grant without mfa: 50079 with the challenge, and the refresh token stays usable', async () => {
    const refreshToken = await aliceRefreshToken();
    const id = await requireMfaForFiles();
    expectRefusal(await refresh(refreshToken), 50079, id);
    await aliceHasAuthenticator();
    expectRefusal(await refresh(refreshToken), 50076, id);
    // The refusal consumed nothing the client cannot use once the policy is satisfied or lifted.
    await server.directory.conditionalAccessPolicies.update(s.tenantId, id, { state: 'disabled' });
    const after = await refresh(refreshToken);
    expect({ status: after.status, error: after.body.error_codes }).toEqual({
      status: 200,
      error: undefined,
    });
  });

  it('the refresh token grant of a family whose authentication had mfa passes', async () => {
    const refreshToken = await aliceRefreshToken();
    await db()
      .updateTable('refresh_tokens')
      .set({ amr: JSON.stringify(['pwd', 'mfa', 'otp']) })
      .where('user_id', '=', s.user.id)
      .where('client_id', '=', s.web.appId)
      .execute();
    await requireMfaForFiles();
    const { status, body } = await refresh(refreshToken);
    expect(status).toBe(200);
    expect(decodeJwt(String(body.access_token)).amr).toEqual(['pwd', 'mfa', 'otp']);
  });

  it('another node on the same database enforces a new policy, and its removal, at its next directory poll', async () => {
    const b = await startTestServer({
      database,
      ...(database === 'sqlite' ? { dataDir: server.dataDir } : { databaseUrl: server.databaseUrl ?? '' }),
    });
    try {
      // Node B's own token (its issuer is its own base URL).
      const assertion = await spaAccessToken(b, s, `${obo.mid.identifierUri}/access_as_user`);
      const onB = () =>
        postForm(endpointUrl(b.url, s.tenantId, 'token'), oboFields(obo.mid, assertion, filesRead()));
      // Warm node B's cache of the tenant's (no) policies.
      const warm = await onB();
      expect(warm.status).toBe(200);
      const id = await requireMfaForFiles();
      const refused = await eventually(async () => {
        const response = await onB();
        return response.status === 400 ? ((await response.json()) as Record<string, unknown>) : undefined;
      });
      expect(refused).toMatchObject({ error_codes: [50079], claims: challenge(id) });
      await server.directory.conditionalAccessPolicies.delete(s.tenantId, id);
      policyIds = [];
      expect(await eventually(async () => ((await onB()).status === 200 ? true : undefined))).toBe(true);
    } finally {
      await b.close();
    }
  });

  it('unmodified @azure/msal-node acquireTokenOnBehalfOf surfaces InteractionRequiredAuthError with the challenge', async () => {
    const assertion = await aliceTokenForMid();
    const id = await requireMfaForFiles();
    const app = new ConfidentialClientApplication({
      auth: {
        clientId: obo.mid.appId,
        authority: `${server.url}/${s.tenantId}`,
        knownAuthorities: [new URL(server.url).host],
        clientSecret: obo.mid.secret,
      },
    });
    const failure = await app.acquireTokenOnBehalfOf({ oboAssertion: assertion, scopes: [filesRead()] }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(InteractionRequiredAuthError);
    expect(failure).toMatchObject({
      errorCode: 'interaction_required',
      subError: 'basic_action',
      errorNo: 50079,
      claims: challenge(id),
    });
  });
});

// @azure/identity's OnBehalfOfCredential pointed at Tessera: `authorityHost` is the server's base URL and
// `disableInstanceDiscovery` makes the authority a known one (no instance discovery call to
// login.microsoftonline.com, which does not know Tessera); MSAL then reads the tenant's OpenID configuration.
describe('On-Behalf-Of with @azure/identity OnBehalfOfCredential', () => {
  let server: TestServer;
  let s: InteractiveScenario;
  let obo: OnBehalfOfScenario;

  beforeAll(async () => {
    ({ server, s, obo } = await startOnBehalfOfServer('sqlite'));
  });
  afterAll(() => server.close());

  async function credential(): Promise<OnBehalfOfCredential> {
    const browser = new TestBrowser();
    const page = await signInThrough(
      browser,
      authorizeUrl(server.url, s.tenantId, s.spa, {
        response_type: 'token',
        scope: `${obo.mid.identifierUri}/access_as_user`,
        nonce: undefined,
      }),
      { userName: s.user.userPrincipalName, password: s.password },
    );
    const location = page.location ?? '';
    const assertion =
      new URLSearchParams(location.slice(location.indexOf('#') + 1)).get('access_token') ?? '';
    // OnBehalfOfCredential's option types (4.13) do not declare `disableInstanceDiscovery` (other credentials'
    // do, through AuthorityValidationOptions), though it hands every option to its MSAL client, which honours it:
    // passed through a variable, as the type cannot name it.
    const options = {
      tenantId: s.tenantId,
      clientId: obo.mid.appId,
      clientSecret: obo.mid.secret,
      userAssertionToken: assertion,
      authorityHost: server.url,
      disableInstanceDiscovery: true,
    };
    return new OnBehalfOfCredential(options);
  }

  it('a token for the downstream API with the user’s oid and the granted scp', async () => {
    const token = await (await credential()).getToken(`${s.api.identifierUri}/Files.Read`);
    expect(decodeJwt(token.token)).toMatchObject({
      aud: s.api.appId,
      tid: s.tenantId,
      oid: s.user.id,
      azp: obo.mid.appId,
      scp: 'Files.Read',
    });
    expect(token.expiresOnTimestamp).toBeGreaterThan(Date.now());
  });

  // @azure/identity turns MSAL's InteractionRequiredAuthError into its AuthenticationRequiredError, which keeps the
  // `error` and the description (with the code) in its message and the scopes, but neither the `suberror`
  // (`consent_required`, `basic_action`) nor the `claims` challenge: a middle tier that must relay the challenge
  // uses MSAL (above) or the resource library's On-Behalf-Of acquisition.
  it('missing consent surfaces as AuthenticationRequiredError with invalid_grant 65001', async () => {
    const failure = await (await credential()).getToken(`${s.api.identifierUri}/Files.Admin`).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(AuthenticationRequiredError);
    expect((failure as AuthenticationRequiredError).message).toMatch(/^invalid_grant: [A-Z]+65001: /);
    expect((failure as AuthenticationRequiredError).scopes).toEqual([`${s.api.identifierUri}/Files.Admin`]);
  });

  it('an MFA policy surfaces as AuthenticationRequiredError with interaction_required 50079', async () => {
    const policy = await server.directory.conditionalAccessPolicies.create(s.tenantId, {
      displayName: 'Require MFA for Files',
      state: 'enabled',
      conditions: { users: { includeUsers: ['All'] }, applications: { includeApplications: [s.api.appId] } },
      grantControls: { operator: 'OR', builtInControls: ['mfa'] },
    });
    try {
      const failure = await (await credential()).getToken(`${s.api.identifierUri}/Files.Read`).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(AuthenticationRequiredError);
      expect((failure as AuthenticationRequiredError).message).toMatch(
        /^interaction_required: [A-Z]+50079: /,
      );
    } finally {
      await server.directory.conditionalAccessPolicies.delete(s.tenantId, policy.id);
    }
  });
});
