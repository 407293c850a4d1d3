import {
  authorizationCodeFields,
  authorizeUrl,
  endpointUrl,
  postForm,
  postgresAvailable,
  seedClientCredentialsScenario,
  seedInteractiveScenario,
  signInThrough,
  startTestServer,
  TestBrowser,
  type ClientCredentialsScenario,
  type InteractiveScenario,
  type TestServer,
} from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callApi, expectGraphError, GRAPH, graphAppToken, type Answer } from './support/management-api.js';

// PATCH and DELETE /v1.0/users/{id | userPrincipalName} over HTTPS against a real server, on SQLite and
// PostgreSQL: Graph's 204s and error bodies, nothing written on bad input, who may change whom (a plain user
// their own name only; a role holder's sign-in only by a Global Administrator), the last Global Administrator,
// tenant isolation, and what a password reset, a disabled account and a deletion end (refresh tokens, SSO
// sessions, access tokens at the management API).

const PASSWORD = 'Correct-Horse-9';
const DENIED = 'Insufficient privileges to complete the operation.';
const dialects = [
  { name: 'sqlite', database: 'sqlite' as const },
  ...((await postgresAvailable()) ? [{ name: 'postgres', database: 'postgres' as const }] : []),
];

/** A signed-in browser's tokens: the access token for Graph, the refresh token, and the browser (SSO cookie). */
interface SignedIn {
  readonly browser: TestBrowser;
  readonly accessToken: string;
  readonly refreshToken: string;
}

describe.each(dialects)('management API user changes on $name', ({ database }) => {
  let server: TestServer;
  /** Tenant A: its daemon holds User.ReadWrite.All. */
  let a: ClientCredentialsScenario;
  /** Tenant B: its daemon holds User.ReadWrite.All too (it must still never reach A). */
  let b: ClientCredentialsScenario;
  /** Tenant N: its daemon holds User.Read.All only. */
  let n: ClientCredentialsScenario;
  /** Tenant I: plain user alice and Global Administrator admin, signing in through a web app. */
  let i: InteractiveScenario;
  const tokens = new Map<string, string>();
  const token = (name: string) => tokens.get(name) ?? '';

  const appToken = async (scenario: ClientCredentialsScenario) =>
    (await graphAppToken(server, scenario.tenantId, scenario.daemon)).token;

  async function signIn(
    userName: string,
    scope: string,
    options: { password?: string; forOrganization?: boolean } = {},
  ): Promise<SignedIn> {
    const browser = new TestBrowser();
    const redirect = await signInThrough(
      browser,
      authorizeUrl(server.url, i.tenantId, i.web, { scope: `openid offline_access ${scope}` }),
      {
        userName,
        password: options.password ?? PASSWORD,
        consentForOrganization: options.forOrganization === true,
      },
    );
    const code = new URL(redirect.location ?? 'https://none.example/').searchParams.get('code');
    expect(code).not.toBeNull();
    const response = await postForm(
      endpointUrl(server.url, i.tenantId, 'token'),
      authorizationCodeFields({ ...i.web }, code ?? ''),
    );
    expect(response.status).toBe(200);
    const body = (await response.json()) as { access_token: string; refresh_token: string };
    return { browser, accessToken: body.access_token, refreshToken: body.refresh_token };
  }

  async function refresh(refreshToken: string): Promise<{ status: number; error?: string }> {
    const response = await postForm(endpointUrl(server.url, i.tenantId, 'token'), {
      grant_type: 'refresh_token',
      client_id: i.web.appId,
      client_secret: i.web.secret,
      refresh_token: refreshToken,
    });
    const body = (await response.json()) as { error?: string };
    return { status: response.status, ...(body.error === undefined ? {} : { error: body.error }) };
  }

  /** A `prompt=none` request riding the browser's SSO cookie: the `code` or `error` it redirects with. */
  async function silent(browser: TestBrowser): Promise<URLSearchParams> {
    const answer = await browser.get(
      authorizeUrl(server.url, i.tenantId, i.web, { scope: 'openid', prompt: 'none' }),
    );
    return new URL(answer.location ?? 'https://none.example/').searchParams;
  }

  const call = (path: string, bearer: string, init: { method?: string; body?: unknown } = {}) =>
    callApi(server, path, bearer, init);
  const patch = (path: string, bearer: string, body: unknown) =>
    call(path, bearer, { method: 'PATCH', body });
  const remove = (path: string, bearer: string) => call(path, bearer, { method: 'DELETE' });
  /** A 204 No Content: no body at all. */
  const expectNoContent = (answer: Answer): void => {
    expect({ status: answer.status, body: answer.body }).toEqual({ status: 204, body: {} });
  };

  async function newUser(scenario: { tenantId: string; domain: string }, name: string) {
    return server.directory.users.create({
      tenant: scenario.tenantId,
      userPrincipalName: `${name}@${scenario.domain}`,
      password: PASSWORD,
      displayName: name,
    });
  }

  beforeAll(async () => {
    server = await startTestServer({ database });
    a = await seedClientCredentialsScenario(server.directory);
    b = await seedClientCredentialsScenario(server.directory);
    n = await seedClientCredentialsScenario(server.directory);
    i = await seedInteractiveScenario(server.directory);
    for (const scenario of [a, b]) {
      await server.directory.grants.grantAppRole({
        tenant: scenario.tenantId,
        clientAppId: scenario.daemon.appId,
        resource: GRAPH,
        role: 'User.ReadWrite.All',
      });
    }
    await server.directory.grants.grantAppRole({
      tenant: n.tenantId,
      clientAppId: n.daemon.appId,
      resource: GRAPH,
      role: 'User.Read.All',
    });
    await server.server.refresh();
    tokens.set('a', await appToken(a));
    tokens.set('b', await appToken(b));
    tokens.set('n', await appToken(n));
  });
  afterAll(() => server.close());

  describe('PATCH /v1.0/users/{id}', () => {
    it('changes the name and profile properties (204, no body); Graph’s JSON shows them, null clears', async () => {
      const user = await newUser(a, 'pat');
      const answer = await patch(`/v1.0/users/${user.id}`, token('a'), {
        displayName: 'Pat Smith',
        givenName: 'Pat',
        surname: 'Smith',
        jobTitle: 'Engineer',
        mail: `pat.smith@${a.domain}`,
        mailNickname: 'pats',
      });
      expectNoContent(answer);
      const read = await call(`/v1.0/users/${user.id}`, token('a'));
      expect(read.body).toEqual({
        '@odata.context': `${server.url}/v1.0/$metadata#users/$entity`,
        businessPhones: [],
        displayName: 'Pat Smith',
        givenName: 'Pat',
        jobTitle: 'Engineer',
        mail: `pat.smith@${a.domain}`,
        mobilePhone: null,
        officeLocation: null,
        preferredLanguage: null,
        surname: 'Smith',
        userPrincipalName: user.userPrincipalName,
        id: user.id,
      });
      expect(
        (await patch(`/v1.0/users/${user.userPrincipalName}`, token('a'), { givenName: null })).status,
      ).toBe(204);
      expect(
        (await call(`/v1.0/users/${user.id}?$select=givenName,mailNickname,accountEnabled`, token('a'))).body,
      ).toEqual({
        '@odata.context': `${server.url}/v1.0/$metadata#users(givenName,mailNickname,accountEnabled)/$entity`,
        givenName: null,
        mailNickname: 'pats',
        accountEnabled: true,
      });
    });

    it('POST /users stores mailNickname', async () => {
      const created = await call('/v1.0/users', token('a'), {
        method: 'POST',
        body: {
          accountEnabled: true,
          displayName: 'Nick',
          mailNickname: 'nicky',
          userPrincipalName: `nick@${a.domain}`,
          passwordProfile: { password: PASSWORD, forceChangePasswordNextSignIn: false },
        },
      });
      expect(created.status).toBe(201);
      const id = created.body.id as string;
      expect((await call(`/v1.0/users/${id}?$select=mailNickname`, token('a'))).body.mailNickname).toBe(
        'nicky',
      );
    });

    it('changes the UPN within the tenant’s verified domains; the old UPN no longer finds the user', async () => {
      const user = await newUser(a, 'rename');
      expect(
        (await patch(`/v1.0/users/${user.id}`, token('a'), { userPrincipalName: `Renamed@${a.domain}` }))
          .status,
      ).toBe(204);
      expect((await call(`/v1.0/users/renamed@${a.domain}?$select=id`, token('a'))).body.id).toBe(user.id);
      expect((await call(`/v1.0/users/${user.userPrincipalName}`, token('a'))).status).toBe(404);
    });

    it.each([
      ['an unknown property', { displayName: 'Changed', nickname: 'x' }, "Invalid property 'nickname'."],
      [
        'a read-only property',
        { displayName: 'Changed', id: '00000000-0000-0000-0000-000000000000' },
        "Invalid property 'id'.",
      ],
      [
        'a wrong type',
        { displayName: 'Changed', accountEnabled: 'false' },
        "Cannot convert the value of property 'accountEnabled' to the expected type 'Edm.Boolean'.",
      ],
      [
        'a number for a string',
        { displayName: 7 },
        "Cannot convert the value of property 'displayName' to the expected type 'Edm.String'.",
      ],
      [
        'null for the display name',
        { displayName: null },
        "Cannot convert the value of property 'displayName' to the expected type 'Edm.String'.",
      ],
      ['an array body', [{ displayName: 'Changed' }], 'Expected a JSON object for the request body.'],
      ['an empty display name', { displayName: '  ' }, 'A user needs a display name.'],
      [
        'an over-long job title',
        { displayName: 'Changed', jobTitle: 'x'.repeat(257) },
        "Property 'jobTitle' has at most 256 characters.",
      ],
      [
        'a malformed mail',
        { displayName: 'Changed', mail: 'not-an-address' },
        "Property 'mail' must be an address 'name@domain'.",
      ],
      [
        'a mailNickname with a space',
        { displayName: 'Changed', mailNickname: 'two words' },
        "Property 'mailNickname' contains a character it can't hold.",
      ],
      [
        'a short password',
        { displayName: 'Changed', passwordProfile: { password: 'short' } },
        'A password needs at least 8 characters.',
      ],
      [
        'a forced password change',
        {
          displayName: 'Changed',
          passwordProfile: { password: PASSWORD, forceChangePasswordNextSignIn: true },
        },
        "Property 'passwordProfile.forceChangePasswordNextSignIn' can only be false: Tessera has no forced password change.",
      ],
      [
        'an unknown passwordProfile property',
        { displayName: 'Changed', passwordProfile: { password: PASSWORD, expires: true } },
        "Invalid property 'expires'.",
      ],
    ])('%s: 400 Request_BadRequest, nothing written', async (_name, body, message) => {
      const user = await newUser(a, `bad${Math.random().toString(36).slice(2, 8)}`);
      expectGraphError(
        await patch(`/v1.0/users/${user.id}`, token('a'), body),
        400,
        'Request_BadRequest',
        message,
      );
      expect(await server.directory.users.get(a.tenantId, user.id)).toEqual(user);
    });

    it('a UPN outside the verified domains, or taken: 400, nothing written', async () => {
      const user = await newUser(a, 'upnbad');
      const taken = await newUser(a, 'upntaken');
      expectGraphError(
        await patch(`/v1.0/users/${user.id}`, token('a'), {
          displayName: 'X',
          userPrincipalName: 'x@elsewhere.example',
        }),
        400,
        'Request_BadRequest',
        "The UPN 'x@elsewhere.example' must end in one of the tenant's verified domains.",
      );
      for (const [prefix, shown] of [
        ['two words', 'two words'],
        ['x'.repeat(65), 'x'.repeat(65)],
        ['nul\u0000byte', 'nul?byte'],
      ]) {
        expectGraphError(
          await patch(`/v1.0/users/${user.id}`, token('a'), { userPrincipalName: `${prefix}@${a.domain}` }),
          400,
          'Request_BadRequest',
          `The UPN '${shown}@${a.domain}' needs a prefix of at most 64 characters without spaces or control characters.`,
        );
      }
      const conflict = await patch(`/v1.0/users/${user.id}`, token('a'), {
        displayName: 'X',
        userPrincipalName: taken.userPrincipalName.toUpperCase(),
      });
      const message = `A user '${taken.userPrincipalName.toUpperCase()}' already exists.`;
      expectGraphError(conflict, 400, 'Request_BadRequest', message);
      expect((conflict.body.error as { details?: unknown }).details).toEqual([
        { code: 'ObjectConflict', message },
      ]);
      expect(await server.directory.users.get(a.tenantId, user.id)).toEqual(user);
    });

    it('a body that is not JSON: 400', async () => {
      const user = await newUser(a, 'notjson');
      const answer = await call(`/v1.0/users/${user.id}`, token('a'), {
        method: 'PATCH',
        body: '{"displayName":',
      });
      expect(answer.status).toBe(400);
      expect((answer.body.error as { code: string }).code).toBe('Request_BadRequest');
    });

    it('an unknown id: 404 Request_ResourceNotFound', async () => {
      const ghost = '3f2504e0-4f89-41d3-9a0c-0305e82c3301';
      expectGraphError(
        await patch(`/v1.0/users/${ghost}`, token('a'), { displayName: 'X' }),
        404,
        'Request_ResourceNotFound',
        `Resource '${ghost}' does not exist or one of its queried reference-property objects are not present.`,
      );
    });

    it('without User.ReadWrite.All: 403, nothing written', async () => {
      const user = await newUser(n, 'readonly');
      expectGraphError(
        await patch(`/v1.0/users/${user.id}`, token('n'), { displayName: 'X' }),
        403,
        'Authorization_RequestDenied',
        DENIED,
      );
      expect(await server.directory.users.get(n.tenantId, user.id)).toEqual(user);
    });
  });

  describe('DELETE /v1.0/users/{id}', () => {
    it('deletes (204); the user is then not found, a second delete 404', async () => {
      const user = await newUser(a, 'gone');
      const answer = await remove(`/v1.0/users/${user.userPrincipalName}`, token('a'));
      expectNoContent(answer);
      expect((await call(`/v1.0/users/${user.id}`, token('a'))).status).toBe(404);
      expectGraphError(
        await remove(`/v1.0/users/${user.id}`, token('a')),
        404,
        'Request_ResourceNotFound',
        `Resource '${user.id}' does not exist or one of its queried reference-property objects are not present.`,
      );
    });

    it('without User.ReadWrite.All: 403, the user stays', async () => {
      const user = await newUser(n, 'stays');
      expectGraphError(
        await remove(`/v1.0/users/${user.id}`, token('n')),
        403,
        'Authorization_RequestDenied',
        DENIED,
      );
      expect((await server.directory.users.get(n.tenantId, user.id)).id).toBe(user.id);
    });
  });

  describe('tenant isolation', () => {
    it('tenant B’s token can neither change nor delete tenant A’s user, by id or UPN (404), nothing written', async () => {
      const user = await newUser(a, 'isolated');
      for (const key of [user.id, user.userPrincipalName]) {
        const message = `Resource '${key}' does not exist or one of its queried reference-property objects are not present.`;
        expectGraphError(
          await patch(`/v1.0/users/${key}`, token('b'), { displayName: 'Owned' }),
          404,
          'Request_ResourceNotFound',
          message,
        );
        expectGraphError(
          await remove(`/v1.0/users/${key}`, token('b')),
          404,
          'Request_ResourceNotFound',
          message,
        );
      }
      expect(await server.directory.users.get(a.tenantId, user.id)).toEqual(user);
    });
  });

  describe('who may change whom', () => {
    it('a plain user with User.ReadWrite changes their own name only: not their sign-in, job, nor anyone else', async () => {
      const bob = await newUser(i, 'bob');
      const signedIn = await signIn(bob.userPrincipalName, `${GRAPH}/User.ReadWrite`);
      const own = `/v1.0/users/${bob.id}`;
      expect(
        (await patch(own, signedIn.accessToken, { displayName: 'Bob B', givenName: 'Bob' })).status,
      ).toBe(204);
      for (const body of [
        { accountEnabled: false },
        { jobTitle: 'CEO' },
        { passwordProfile: { password: 'Another-Horse-1' } },
        { userPrincipalName: `boss@${i.domain}` },
      ]) {
        expectGraphError(
          await patch(own, signedIn.accessToken, body),
          403,
          'Authorization_RequestDenied',
          DENIED,
        );
      }
      expectGraphError(
        await patch(`/v1.0/users/${i.user.id}`, signedIn.accessToken, { displayName: 'Not Alice' }),
        403,
        'Authorization_RequestDenied',
        DENIED,
      );
      expectGraphError(await remove(own, signedIn.accessToken), 403, 'Authorization_RequestDenied', DENIED);
      // PATCH /me is the same request on the signed-in user; an app-only token has no /me.
      expectNoContent(await patch('/v1.0/me', signedIn.accessToken, { surname: 'Builder' }));
      expectGraphError(
        await patch('/v1.0/me', signedIn.accessToken, { jobTitle: 'CEO' }),
        403,
        'Authorization_RequestDenied',
        DENIED,
      );
      expectGraphError(
        await patch('/v1.0/me', token('a'), { surname: 'X' }),
        400,
        'Request_BadRequest',
        '/me request is only valid with delegated authentication flow.',
      );
      expect(await server.directory.users.get(i.tenantId, bob.id)).toMatchObject({
        displayName: 'Bob B',
        givenName: 'Bob',
        surname: 'Builder',
        jobTitle: null,
        accountEnabled: true,
      });
      expect((await server.directory.users.get(i.tenantId, i.user.id)).displayName).toBe(i.user.displayName);
    });

    it('a plain user with User.ReadWrite.All consented for the organization still changes no one else (403)', async () => {
      const dan = await newUser(i, 'dan');
      await signIn(i.admin.userPrincipalName, `${GRAPH}/User.ReadWrite.All`, { forOrganization: true });
      const signedIn = await signIn(dan.userPrincipalName, `${GRAPH}/User.ReadWrite.All`);
      expectGraphError(
        await patch(`/v1.0/users/${i.user.id}`, signedIn.accessToken, { displayName: 'X' }),
        403,
        'Authorization_RequestDenied',
        DENIED,
      );
    });

    it('an administrator’s sign-in is changed only by a Global Administrator: an app-only caller gets 403', async () => {
      const second = await server.directory.users.create({
        tenant: a.tenantId,
        userPrincipalName: `ua@${a.domain}`,
        password: PASSWORD,
        directoryRoles: ['User Administrator'],
      });
      for (const body of [{ accountEnabled: false }, { passwordProfile: { password: 'Taken-Over-99' } }]) {
        expectGraphError(
          await patch(`/v1.0/users/${second.id}`, token('a'), body),
          403,
          'Authorization_RequestDenied',
          DENIED,
        );
      }
      expectGraphError(
        await remove(`/v1.0/users/${second.id}`, token('a')),
        403,
        'Authorization_RequestDenied',
        DENIED,
      );
      expect((await patch(`/v1.0/users/${second.id}`, token('a'), { jobTitle: 'Helpdesk' })).status).toBe(
        204,
      );
      expect(await server.directory.users.get(a.tenantId, second.id)).toMatchObject({
        accountEnabled: true,
        jobTitle: 'Helpdesk',
      });
    });
  });

  describe('the last Global Administrator', () => {
    it('cannot disable or delete themself (400), nor lose the role; with a second one they can', async () => {
      const admin = await signIn(i.admin.userPrincipalName, `${GRAPH}/User.ReadWrite.All`, {
        forOrganization: true,
      });
      const message = (change: string) =>
        `The last enabled Global Administrator of a tenant can't be ${change}; give another user the role first.`;
      expectGraphError(
        await patch(`/v1.0/users/${i.admin.id}`, admin.accessToken, { accountEnabled: false }),
        400,
        'Request_BadRequest',
        message('disabled'),
      );
      expectGraphError(
        await remove(`/v1.0/users/${i.admin.id}`, admin.accessToken),
        400,
        'Request_BadRequest',
        message('deleted'),
      );
      await expect(
        server.directory.users.removeDirectoryRole(i.tenantId, i.admin.id, 'Global Administrator'),
      ).rejects.toMatchObject({ code: 'invalid', message: message('demoted') });
      expect(await server.directory.users.get(i.tenantId, i.admin.id)).toMatchObject({
        accountEnabled: true,
        directoryRoles: ['Global Administrator'],
      });

      // A disabled holder does not count: it could not sign in to manage the tenant.
      const dormant = await server.directory.users.create({
        tenant: i.tenantId,
        userPrincipalName: `dormant@${i.domain}`,
        password: PASSWORD,
        admin: true,
        accountEnabled: false,
      });
      expect(
        (await patch(`/v1.0/users/${i.admin.id}`, admin.accessToken, { accountEnabled: false })).status,
      ).toBe(400);
      expect(
        (await patch(`/v1.0/users/${dormant.id}`, admin.accessToken, { accountEnabled: true })).status,
      ).toBe(204);
      const demoted = await server.directory.users.removeDirectoryRole(
        i.tenantId,
        dormant.id,
        'global administrator',
      );
      expect(demoted.directoryRoles).toEqual([]);
      await server.directory.users.addDirectoryRole(i.tenantId, dormant.id, 'Global Administrator');
      expect((await remove(`/v1.0/users/${dormant.id}`, admin.accessToken)).status).toBe(204);
    });
  });

  describe('what a password reset, disabling and deleting end', () => {
    it('a password reset: the old refresh token gets invalid_grant, the SSO cookie no longer signs in silently, the old access token stops at /v1.0', async () => {
      const eve = await newUser(i, 'eve');
      const signedIn = await signIn(eve.userPrincipalName, `${GRAPH}/User.Read`);
      expect((await silent(signedIn.browser)).get('code')).not.toBeNull();
      expect((await call('/v1.0/me', signedIn.accessToken)).status).toBe(200);
      const admin = await signIn(i.admin.userPrincipalName, `${GRAPH}/User.ReadWrite.All`, {
        forOrganization: true,
      });
      const reset = await patch(`/v1.0/users/${eve.id}`, admin.accessToken, {
        passwordProfile: { password: 'New-Horse-Battery-7', forceChangePasswordNextSignIn: false },
      });
      expect(reset.status).toBe(204);
      await server.server.refresh();
      expect(await refresh(signedIn.refreshToken)).toEqual({ status: 400, error: 'invalid_grant' });
      const again = await silent(signedIn.browser);
      expect({ error: again.get('error'), code: again.get('code') }).toEqual({
        error: 'login_required',
        code: null,
      });
      expectGraphError(
        await call('/v1.0/me', signedIn.accessToken),
        401,
        'InvalidAuthenticationToken',
        'Invalid token.',
      );
      // The admin's own sign-in is untouched; the new password signs eve in.
      expect((await call('/v1.0/me', admin.accessToken)).status).toBe(200);
      const fresh = await signIn(eve.userPrincipalName, `${GRAPH}/User.Read`, {
        password: 'New-Horse-Battery-7',
      });
      expect((await call('/v1.0/me', fresh.accessToken)).body.id).toBe(eve.id);
    });

    it('disabling an account (CLI or API, one rule) revokes its refresh tokens and ends its SSO sessions; enabling does not bring them back', async () => {
      const fay = await newUser(i, 'fay');
      const signedIn = await signIn(fay.userPrincipalName, `${GRAPH}/User.Read`);
      await server.directory.users.update(i.tenantId, fay.userPrincipalName, { accountEnabled: false });
      await server.directory.users.update(i.tenantId, fay.id, { accountEnabled: true });
      await server.server.refresh();
      expect(await refresh(signedIn.refreshToken)).toEqual({ status: 400, error: 'invalid_grant' });
      expect((await silent(signedIn.browser)).get('error')).toBe('login_required');
    });

    it('a change of the name alone ends nothing', async () => {
      const gil = await newUser(i, 'gil');
      const signedIn = await signIn(gil.userPrincipalName, `${GRAPH}/User.Read`);
      await server.directory.users.update(i.tenantId, gil.id, { displayName: 'Gil G', jobTitle: 'Chef' });
      await server.server.refresh();
      expect((await refresh(signedIn.refreshToken)).status).toBe(200);
      expect((await silent(signedIn.browser)).get('code')).not.toBeNull();
    });

    it('deleting a user revokes their refresh token families, ends their SSO sessions and their application ownerships go with it', async () => {
      const hal = await newUser(i, 'hal');
      await server.directory.applications.addOwner(i.tenantId, { appId: i.native.appId }, hal.id);
      const signedIn = await signIn(hal.userPrincipalName, `${GRAPH}/User.Read`);
      expect((await remove(`/v1.0/users/${hal.id}`, token('a'))).status).toBe(404);
      const admin = await signIn(i.admin.userPrincipalName, `${GRAPH}/User.ReadWrite.All`, {
        forOrganization: true,
      });
      expect((await remove(`/v1.0/users/${hal.id}`, admin.accessToken)).status).toBe(204);
      const db = server.directory.store.db;
      const families = await db
        .selectFrom('refresh_tokens')
        .select('revoked_at')
        .where('user_id', '=', hal.id)
        .execute();
      const sessions = await db
        .selectFrom('sso_sessions')
        .select('ended_at')
        .where('user_id', '=', hal.id)
        .execute();
      expect(families.length).toBeGreaterThan(0);
      expect(sessions.length).toBeGreaterThan(0);
      expect(families.every((row) => row.revoked_at !== null)).toBe(true);
      expect(sessions.every((row) => row.ended_at !== null)).toBe(true);
      const owned = await db
        .selectFrom('application_owners')
        .select('application_id')
        .where('user_id', '=', hal.id)
        .execute();
      expect(owned).toEqual([]);
      expect(await refresh(signedIn.refreshToken)).toEqual({ status: 400, error: 'invalid_grant' });
    });
  });
});
