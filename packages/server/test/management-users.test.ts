import {
  authorizationCodeFields,
  authorizeUrl,
  endpointUrl,
  postForm,
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
import { callApi, DIALECTS, GRAPH, type Answer } from './support/management-api.js';

// The management API's users, me and organization over HTTPS against a real server, on SQLite and PostgreSQL:
// app-only tokens with and without Graph's application permissions, delegated tokens of a plain user and an
// administrator, paging with @odata.nextLink, $select, $filter, Graph's error bodies, and tenant isolation.

const dialects = DIALECTS;

/** Graph's default user properties, Tessera's values (what it does not keep is null). */
function defaultUser(user: { id: string; displayName: string; userPrincipalName: string }) {
  return {
    businessPhones: [],
    displayName: user.displayName,
    givenName: null,
    jobTitle: null,
    mail: null,
    mobilePhone: null,
    officeLocation: null,
    preferredLanguage: null,
    surname: null,
    userPrincipalName: user.userPrincipalName,
    id: user.id,
  };
}

describe.each(dialects)('management API users on $name', ({ database }) => {
  let server: TestServer;
  /** Tenant A: its daemon holds User.Read.All and User.ReadWrite.All on the directory API. */
  let a: ClientCredentialsScenario;
  /** Tenant B: its daemon holds User.Read.All and Directory.Read.All. */
  let b: ClientCredentialsScenario;
  /** Tenant N: its daemon holds no directory permission. */
  let n: ClientCredentialsScenario;
  /** Tenant I: a plain user and an administrator signing in through a web app. */
  let i: InteractiveScenario;
  const tokens = new Map<string, string>();
  /** Tenant A's users (besides none seeded by the scenario), by UPN order of creation. */
  const usersOfA: { id: string; displayName: string; userPrincipalName: string }[] = [];

  async function appToken(scenario: ClientCredentialsScenario): Promise<string> {
    const response = await postForm(endpointUrl(server.url, scenario.tenantId, 'token'), {
      grant_type: 'client_credentials',
      client_id: scenario.daemon.appId,
      client_secret: scenario.daemon.secret,
      scope: `${GRAPH}/.default`,
    });
    expect(response.status).toBe(200);
    return ((await response.json()) as { access_token: string }).access_token;
  }

  async function userToken(userName: string, scope: string, forOrganization = false): Promise<string> {
    const browser = new TestBrowser();
    const redirect = await signInThrough(
      browser,
      authorizeUrl(server.url, i.tenantId, i.web, { scope: `openid ${scope}` }),
      { userName, password: i.password, consentForOrganization: forOrganization },
    );
    const code = new URL(redirect.location ?? 'https://none.example/').searchParams.get('code');
    expect(code).not.toBeNull();
    const response = await postForm(
      endpointUrl(server.url, i.tenantId, 'token'),
      authorizationCodeFields({ ...i.web }, code ?? ''),
    );
    expect(response.status).toBe(200);
    return ((await response.json()) as { access_token: string }).access_token;
  }

  const call = (
    path: string,
    token: string | undefined,
    init: { method?: string; body?: unknown; headers?: Record<string, string> } = {},
  ): Promise<Answer> => callApi(server, path, token, init);

  /** Graph's error body for an answer: its code and message, innerError from the answer's own ids. */
  function expectGraphError(answer: Answer, status: number, code: string, message: string): void {
    expect({ status: answer.status, body: answer.body }).toEqual({
      status,
      body: {
        error: {
          code,
          message,
          innerError: {
            date: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/) as unknown,
            'request-id': answer.headers.get('request-id'),
            'client-request-id': answer.headers.get('client-request-id'),
          },
        },
      },
    });
    expect(answer.headers.get('request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(answer.headers.get('cache-control')).toBe('no-store');
  }

  beforeAll(async () => {
    server = await startTestServer({ database });
    a = await seedClientCredentialsScenario(server.directory);
    b = await seedClientCredentialsScenario(server.directory);
    n = await seedClientCredentialsScenario(server.directory);
    i = await seedInteractiveScenario(server.directory);
    for (const role of ['User.Read.All', 'User.ReadWrite.All']) {
      await server.directory.grants.grantAppRole({
        tenant: a.tenantId,
        clientAppId: a.daemon.appId,
        resource: GRAPH,
        role,
      });
    }
    for (const role of ['User.Read.All', 'Directory.Read.All']) {
      await server.directory.grants.grantAppRole({
        tenant: b.tenantId,
        clientAppId: b.daemon.appId,
        resource: GRAPH,
        role,
      });
    }
    for (const [index, name] of ['Ann', 'Bob', 'Cy', 'Dee', 'Eve', 'Fay', 'Gus'].entries()) {
      const user = await server.directory.users.create({
        tenant: a.tenantId,
        userPrincipalName: `${name.toLowerCase()}@${a.domain}`,
        password: 'Correct-Horse-9',
        displayName: index < 3 ? `Team ${name}` : name,
      });
      usersOfA.push(user);
    }
    await server.directory.users.create({
      tenant: b.tenantId,
      userPrincipalName: `ann@${b.domain}`,
      password: 'Correct-Horse-9',
      displayName: 'Team Ann of B',
    });
    usersOfA.sort((x, y) => (x.id < y.id ? -1 : 1));
    await server.server.refresh();
    tokens.set('a', await appToken(a));
    tokens.set('b', await appToken(b));
    tokens.set('n', await appToken(n));
  });
  afterAll(() => server.close());

  const token = (name: string) => tokens.get(name) ?? '';

  describe('authentication and authorization', () => {
    it('no token: 401 InvalidAuthenticationToken with a Bearer challenge (RFC 6750 §3)', async () => {
      const answer = await call('/v1.0/users', undefined);
      expectGraphError(answer, 401, 'InvalidAuthenticationToken', 'Access token is empty.');
      expect(answer.headers.get('www-authenticate')).toBe(
        `Bearer realm="", authorization_uri="${server.url}/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"`,
      );
    });

    it.each([
      ['not a JWT', () => 'abc.def'],
      ['a tampered signature', () => `${token('a').slice(0, -6)}AAAAAA`],
    ])('%s: 401 with error="invalid_token"', async (_label, value) => {
      const answer = await call('/v1.0/users', value());
      expectGraphError(answer, 401, 'InvalidAuthenticationToken', 'Invalid token.');
      expect(answer.headers.get('www-authenticate')).toMatch(/, error="invalid_token"$/);
    });

    it('a token for another resource: 401', async () => {
      const response = await postForm(endpointUrl(server.url, a.tenantId, 'token'), {
        grant_type: 'client_credentials',
        client_id: a.daemon.appId,
        client_secret: a.daemon.secret,
        scope: `${a.api.identifierUri}/.default`,
      });
      const other = ((await response.json()) as { access_token: string }).access_token;
      expectGraphError(
        await call('/v1.0/users', other),
        401,
        'InvalidAuthenticationToken',
        'Invalid audience.',
      );
    });

    it('an app token without a directory permission: 403 Authorization_RequestDenied', async () => {
      for (const path of ['/v1.0/users', `/v1.0/users/${usersOfA[0]?.id ?? ''}`, '/v1.0/organization']) {
        expectGraphError(
          await call(path, token('n')),
          403,
          'Authorization_RequestDenied',
          'Insufficient privileges to complete the operation.',
        );
      }
    });

    it('/me with an app token: 400', async () => {
      expectGraphError(
        await call('/v1.0/me', token('a')),
        400,
        'Request_BadRequest',
        '/me request is only valid with delegated authentication flow.',
      );
    });
  });

  describe('GET /v1.0/users', () => {
    it('lists the tenant’s users in Graph’s shape, one page', async () => {
      const answer = await call('/v1.0/users', token('a'));
      expect(answer.status).toBe(200);
      expect(answer.body).toEqual({
        '@odata.context': `${server.url}/v1.0/$metadata#users`,
        value: usersOfA.map(defaultUser),
      });
    });

    it('pages with $top and @odata.nextLink, keeping $select; tenant B never appears', async () => {
      const seen: unknown[] = [];
      let next: string | undefined = `/v1.0/users?$top=3&$select=id,displayName`;
      const links: string[] = [];
      while (next !== undefined) {
        const answer = await call(next, token('a'));
        expect(answer.status).toBe(200);
        expect(answer.body['@odata.context']).toBe(`${server.url}/v1.0/$metadata#users(id,displayName)`);
        const value = answer.body.value as unknown[];
        expect(value.length).toBeLessThanOrEqual(3);
        seen.push(...value);
        const link = answer.body['@odata.nextLink'] as string | undefined;
        if (link !== undefined) {
          expect(link.startsWith(`${server.url}/v1.0/users?`)).toBe(true);
          links.push(link);
        }
        next = link?.slice(server.url.length);
      }
      expect(links).toHaveLength(2);
      expect(seen).toEqual(usersOfA.map((user) => ({ id: user.id, displayName: user.displayName })));
      // The same link read twice gives the same page.
      const again = await call(links[0]?.slice(server.url.length) ?? '', token('a'));
      const twice = await call(links[0]?.slice(server.url.length) ?? '', token('a'));
      expect(again.body).toEqual(twice.body);
    });

    it.each([
      [`startswith(displayName,'team')`, (u: { displayName: string }) => u.displayName.startsWith('Team')],
      [`displayName eq 'bob'`, () => false],
      [`displayName eq 'Team Bob'`, (u: { displayName: string }) => u.displayName === 'Team Bob'],
      [
        `accountEnabled eq true and startswith(userPrincipalName,'E')`,
        (u: { userPrincipalName: string }) => u.userPrincipalName.startsWith('eve@'),
      ],
      [`accountEnabled eq false`, () => false],
    ])('$filter=%s', async (filter, keep) => {
      const answer = await call(
        `/v1.0/users?$filter=${encodeURIComponent(filter)}&$select=userPrincipalName`,
        token('a'),
      );
      expect(answer.status).toBe(200);
      expect(answer.body).toEqual({
        '@odata.context': `${server.url}/v1.0/$metadata#users(userPrincipalName)`,
        value: usersOfA
          .filter((user) => keep(user as never))
          .map((user) => ({ userPrincipalName: user.userPrincipalName })),
      });
    });

    it('a UPN eq filter ignores case; paging a filter keeps it', async () => {
      const upn = usersOfA[0]?.userPrincipalName ?? '';
      const answer = await call(
        `/v1.0/users?$filter=${encodeURIComponent(`userPrincipalName eq '${upn.toUpperCase()}'`)}&$select=id`,
        token('a'),
      );
      expect(answer.body.value).toEqual([{ id: usersOfA[0]?.id }]);
      const first = await call(
        `/v1.0/users?$top=2&$select=displayName&$filter=${encodeURIComponent("startswith(displayName,'Team')")}`,
        token('a'),
      );
      expect(first.body.value).toHaveLength(2);
      const second = await call(
        (first.body['@odata.nextLink'] as string).slice(server.url.length),
        token('a'),
      );
      expect(second.body).toEqual({
        '@odata.context': `${server.url}/v1.0/$metadata#users(displayName)`,
        value: [expect.objectContaining({ displayName: expect.stringMatching(/^Team /) as unknown })],
      });
    });

    it.each([
      [
        '$top=0',
        'Request_BadRequest',
        "Invalid page size specified: '0'. Must be between 1 and 999 inclusive.",
      ],
      [
        '$top=1000',
        'Request_BadRequest',
        "Invalid page size specified: '1000'. Must be between 1 and 999 inclusive.",
      ],
      [
        '$top=abc',
        'Request_BadRequest',
        "Invalid page size specified: 'abc'. Must be between 1 and 999 inclusive.",
      ],
      [
        '$select=password',
        'Request_BadRequest',
        "Could not find a property named 'password' on type 'microsoft.graph.user'.",
      ],
      ['$skiptoken=nope', 'Request_BadRequest', 'The $skiptoken is not valid.'],
      [
        '$orderby=displayName,id',
        'Request_UnsupportedQuery',
        'Sorting on more than one property is not supported.',
      ],
      ['$top=1&$top=2', 'Request_BadRequest', "The query option '$top' was specified more than once."],
      [
        `$filter=${encodeURIComponent("displayName eq 'x")}`,
        'Request_BadRequest',
        "Invalid filter clause: 'displayName eq 'x'.",
      ],
      [
        `$filter=${encodeURIComponent('displayName eq')}`,
        'Request_BadRequest',
        "Invalid filter clause: 'displayName eq'.",
      ],
      [
        `$filter=${encodeURIComponent("startswith(displayName 'x')")}`,
        'Request_BadRequest',
        "Invalid filter clause: 'startswith(displayName 'x')'.",
      ],
      [
        `$filter=${encodeURIComponent("displayName gt 'x'")}`,
        'Request_UnsupportedQuery',
        "The filter operator 'gt' is not supported.",
      ],
      [
        `$filter=${encodeURIComponent("displayName eq 'x' or not(displayName eq 'y')")}`,
        'Request_UnsupportedQuery',
        "The filter operator 'not' is not supported.",
      ],
      [
        `$filter=${encodeURIComponent("mobilePhone eq 'x'")}`,
        'Request_UnsupportedQuery',
        "Unsupported or invalid query filter clause specified for property 'mobilePhone' of resource 'User'.",
      ],
      [
        `$filter=${encodeURIComponent('accountEnabled eq 1')}`,
        'Request_BadRequest',
        "Invalid filter clause: 'accountEnabled eq 1'.",
      ],
      [
        `$filter=${encodeURIComponent("accountEnabled eq 'yes'")}`,
        'Request_BadRequest',
        "A binary operator with incompatible types was detected for property 'accountEnabled'.",
      ],
    ])('%s: 400 %s', async (query, code, message) => {
      expectGraphError(await call(`/v1.0/users?${query}`, token('a')), 400, code, message);
    });
  });

  describe('GET /v1.0/users/{id | userPrincipalName}', () => {
    it('by id and by UPN, with $select', async () => {
      const user = usersOfA[1] ?? usersOfA[0];
      if (user === undefined) throw new Error('no user');
      expect((await call(`/v1.0/users/${user.id}`, token('a'))).body).toEqual({
        '@odata.context': `${server.url}/v1.0/$metadata#users/$entity`,
        ...defaultUser(user),
      });
      const byUpn = await call(
        `/v1.0/users/${encodeURIComponent(user.userPrincipalName.toUpperCase())}?$select=id,accountEnabled`,
        token('a'),
      );
      expect(byUpn.body).toEqual({
        '@odata.context': `${server.url}/v1.0/$metadata#users(id,accountEnabled)/$entity`,
        id: user.id,
        accountEnabled: true,
      });
    });

    it.each([
      ['an unknown id', '00000000-0000-0000-0000-000000000000'],
      ['an unknown UPN', 'nobody@nowhere.test'],
      ['not an id', 'not-an-id'],
    ])('%s: 404 Request_ResourceNotFound', async (_label, key) => {
      expectGraphError(
        await call(`/v1.0/users/${key}`, token('a')),
        404,
        'Request_ResourceNotFound',
        `Resource '${key}' does not exist or one of its queried reference-property objects are not present.`,
      );
    });

    it('tenant isolation: tenant B’s token lists only B and finds none of A’s users', async () => {
      const listed = await call('/v1.0/users?$select=userPrincipalName', token('b'));
      expect(listed.body.value).toEqual([{ userPrincipalName: `ann@${b.domain}` }]);
      const filtered = await call(
        `/v1.0/users?$filter=${encodeURIComponent("startswith(displayName,'Team')")}&$select=displayName`,
        token('b'),
      );
      expect(filtered.body.value).toEqual([{ displayName: 'Team Ann of B' }]);
      for (const user of usersOfA.slice(0, 2)) {
        for (const key of [user.id, user.userPrincipalName]) {
          expect((await call(`/v1.0/users/${key}`, token('b'))).status).toBe(404);
        }
      }
    });
  });

  describe('POST /v1.0/users', () => {
    const body = (domain: string, extra: Record<string, unknown> = {}) => ({
      accountEnabled: true,
      displayName: 'New Person',
      mailNickname: 'newperson',
      userPrincipalName: `new.person@${domain}`,
      passwordProfile: { forceChangePasswordNextSignIn: false, password: 'Correct-Horse-9' },
      ...extra,
    });

    it.each([
      ['an unknown property', { city: 'Oslo' }, "Invalid property 'city'."],
      [
        'a wrong type',
        { accountEnabled: 'yes' },
        "Cannot convert the value of property 'accountEnabled' to the expected type 'Edm.Boolean'.",
      ],
      [
        'a wrong nested type',
        { passwordProfile: { password: 5 } },
        "Cannot convert the value of property 'password' to the expected type 'Edm.String'.",
      ],
      [
        'an unknown nested property',
        { passwordProfile: { password: 'Correct-Horse-9', x: 1 } },
        "Invalid property 'x'.",
      ],
      [
        'no passwordProfile',
        { passwordProfile: undefined },
        "Property 'passwordProfile' is required to create a user.",
      ],
      [
        'a UPN outside the tenant’s domains',
        { userPrincipalName: 'x@elsewhere.test' },
        "The UPN 'x@elsewhere.test' must end in one of the tenant's verified domains.",
      ],
    ])('%s: 400, nothing written', async (_label, extra, message) => {
      const answer = await call('/v1.0/users', token('a'), { method: 'POST', body: body(a.domain, extra) });
      expectGraphError(answer, 400, 'Request_BadRequest', message);
      const listed = await call(
        `/v1.0/users?$filter=${encodeURIComponent("displayName eq 'New Person'")}`,
        token('a'),
      );
      expect(listed.body.value).toEqual([]);
    });

    it('a body that is not JSON: 400', async () => {
      const answer = await call('/v1.0/users', token('a'), { method: 'POST', body: '{"a":' });
      expectGraphError(answer, 400, 'Request_BadRequest', 'The request could not be read.');
    });

    it('without User.ReadWrite.All: 403', async () => {
      const answer = await call('/v1.0/users', token('b'), { method: 'POST', body: body(b.domain) });
      expectGraphError(
        answer,
        403,
        'Authorization_RequestDenied',
        'Insufficient privileges to complete the operation.',
      );
    });

    it('creates a user (201, Graph’s entity) that then lists and signs in; a second time 400 ObjectConflict', async () => {
      const answer = await call('/v1.0/users', token('a'), {
        method: 'POST',
        body: body(a.domain, { accountEnabled: false }),
      });
      expect(answer.status).toBe(201);
      const id = answer.body.id as string;
      expect(answer.body).toEqual({
        '@odata.context': `${server.url}/v1.0/$metadata#users/$entity`,
        ...defaultUser({ id, displayName: 'New Person', userPrincipalName: `new.person@${a.domain}` }),
      });
      expect(answer.headers.get('location')).toBe(`${server.url}/v1.0/users/${id}`);
      const read = await call(`/v1.0/users/${id}?$select=accountEnabled,displayName`, token('a'));
      expect(read.body).toEqual({
        '@odata.context': `${server.url}/v1.0/$metadata#users(accountEnabled,displayName)/$entity`,
        accountEnabled: false,
        displayName: 'New Person',
      });
      const again = await call('/v1.0/users', token('a'), { method: 'POST', body: body(a.domain) });
      expect(again.status).toBe(400);
      expect(again.body.error).toEqual(
        expect.objectContaining({
          code: 'Request_BadRequest',
          details: [{ code: 'ObjectConflict', message: `A user 'new.person@${a.domain}' already exists.` }],
        }),
      );
    });
  });

  describe('GET /v1.0/organization', () => {
    it('the token’s tenant only', async () => {
      const answer = await call('/v1.0/organization', token('b'));
      expect(answer.body).toEqual({
        '@odata.context': `${server.url}/v1.0/$metadata#organization`,
        value: [
          {
            id: b.tenantId,
            displayName: `Tenant ${b.domain}`,
            tenantType: 'AAD',
            verifiedDomains: [
              { capabilities: 'None', isDefault: true, isInitial: true, name: b.domain, type: 'Managed' },
            ],
          },
        ],
      });
    });
  });

  describe('delegated tokens', () => {
    it('User.ReadWrite.All consented for the organization: a plain user still cannot create users (403), an administrator can', async () => {
      const admin = await userToken(i.admin.userPrincipalName, `${GRAPH}/User.ReadWrite.All`, true);
      const alice = await userToken(i.user.userPrincipalName, `${GRAPH}/User.ReadWrite.All`);
      const person = (name: string) => ({
        accountEnabled: true,
        displayName: name,
        mailNickname: name,
        userPrincipalName: `${name}@${i.domain}`,
        passwordProfile: { password: 'Correct-Horse-9' },
      });
      expectGraphError(
        await call('/v1.0/users', alice, { method: 'POST', body: person('mallory') }),
        403,
        'Authorization_RequestDenied',
        'Insufficient privileges to complete the operation.',
      );
      expect((await call(`/v1.0/users/mallory@${i.domain}`, admin)).status).toBe(404);
      const created = await call('/v1.0/users', admin, { method: 'POST', body: person('carol') });
      expect(created.status).toBe(201);
      expect(created.body.userPrincipalName).toBe(`carol@${i.domain}`);
    });

    it('a plain user with User.Read reads /me and themself, no one else', async () => {
      const alice = await userToken(i.user.userPrincipalName, `${GRAPH}/User.Read`);
      const me = await call('/v1.0/me', alice);
      expect(me.body).toEqual({
        '@odata.context': `${server.url}/v1.0/$metadata#users/$entity`,
        ...defaultUser(i.user),
      });
      expect((await call(`/v1.0/users/${i.user.id}?$select=id`, alice)).body).toEqual({
        '@odata.context': `${server.url}/v1.0/$metadata#users(id)/$entity`,
        id: i.user.id,
      });
      for (const path of ['/v1.0/users', `/v1.0/users/${i.admin.id}`]) {
        expectGraphError(
          await call(path, alice),
          403,
          'Authorization_RequestDenied',
          'Insufficient privileges to complete the operation.',
        );
      }
      expect((await call('/v1.0/organization', alice)).status).toBe(200);
    });

    it('an administrator with User.Read.All lists the tenant’s users (carol, created above, among them)', async () => {
      const admin = await userToken(i.admin.userPrincipalName, `${GRAPH}/User.Read.All`);
      const listed = await call('/v1.0/users?$select=userPrincipalName', admin);
      expect(listed.status).toBe(200);
      expect(
        (listed.body.value as { userPrincipalName: string }[]).map((u) => u.userPrincipalName).sort(),
      ).toEqual([i.admin.userPrincipalName, i.user.userPrincipalName, `carol@${i.domain}`].sort());
    });
  });

  describe('a disabled user', () => {
    it('their delegated token no longer authenticates (401)', async () => {
      const alice = await userToken(i.user.userPrincipalName, `${GRAPH}/User.Read`);
      expect((await call('/v1.0/me', alice)).status).toBe(200);
      await server.directory.users.setAccountEnabled(i.user.id, false);
      const answer = await call('/v1.0/me', alice);
      expectGraphError(answer, 401, 'InvalidAuthenticationToken', 'Invalid token.');
      expect(answer.headers.get('www-authenticate')).toMatch(/, error="invalid_token"$/);
    });
  });

  describe('methods a resource does not answer', () => {
    it.each([
      ['DELETE', '/v1.0/organization'],
      ['PUT', '/v1.0/users'],
      ['POST', '/v1.0/me'],
    ])('%s %s: 405', async (method, path) => {
      expectGraphError(
        await call(path, token('a'), { method }),
        405,
        'Request_BadRequest',
        `The method '${method}' is not allowed here.`,
      );
    });
  });

  describe('startswith takes %, _ and ! literally', () => {
    beforeAll(async () => {
      for (const name of ['50% off', '50x off', 'a_b c', 'aXb c', 'x! y', 'x y']) {
        await server.directory.users.create({
          tenant: b.tenantId,
          userPrincipalName: `${Buffer.from(name).toString('hex')}@${b.domain}`,
          password: 'Correct-Horse-9',
          displayName: name,
        });
      }
    });

    it.each([
      ['50%', ['50% off']],
      ['a_b', ['a_b c']],
      ['x!', ['x! y']],
    ])('startswith(displayName,%j)', async (prefix, expected) => {
      const answer = await call(
        `/v1.0/users?$select=displayName&$filter=${encodeURIComponent(`startswith(displayName,'${prefix}')`)}`,
        token('b'),
      );
      expect(answer.body.value).toEqual(expected.map((displayName) => ({ displayName })));
    });
  });

  describe('unknown routes under /v1.0', () => {
    it.each([
      ['/v1.0/groups', 'groups', 400],
      ['/v1.0/users/x/y/z', 'users', 400],
    ])('%s: Graph’s 400 BadRequest', async (path, segment, status) => {
      expectGraphError(
        await call(path, token('a')),
        status,
        'BadRequest',
        `Resource not found for the segment '${segment}'.`,
      );
    });
  });
});
