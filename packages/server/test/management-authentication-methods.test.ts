import { randomUUID } from 'node:crypto';
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
import { callApi, DIALECTS, expectGraphError, GRAPH } from './support/management-api.js';

// Graph's authentication methods of users (/me/authentication/…, /users/{id}/authentication/…) on SQLite and
// PostgreSQL: the password and software OATH methods in Graph's shapes (never a secret), the user's own with
// UserAuthenticationMethod.Read / ReadWrite, another user's only for an administrator with the .All scopes, 403s,
// 404 for another tenant's user, 400 for /me app-only, and an audited DELETE.

const PASSWORD = {
  '@odata.type': '#microsoft.graph.passwordAuthenticationMethod',
  id: '28c10230-6103-485e-b985-444c60001490',
  password: null,
  createdDateTime: null,
};
const NOW = 1_800_000_000;

describe.each(DIALECTS)('Graph authentication methods on $name', ({ database }) => {
  let server: TestServer;
  let i: InteractiveScenario;
  let other: InteractiveScenario;
  let daemon: ClientCredentialsScenario;
  const tokens: Record<string, string> = {};

  async function userToken(scenario: InteractiveScenario, userName: string, scope: string, org = false) {
    const redirect = await signInThrough(
      new TestBrowser(),
      authorizeUrl(server.url, scenario.tenantId, scenario.web, {
        scope: `openid ${scope
          .split(' ')
          .map((value) => `${GRAPH}/${value}`)
          .join(' ')}`,
      }),
      { userName, password: scenario.password, consentForOrganization: org },
    );
    const code = new URL(redirect.location ?? 'https://none.example/').searchParams.get('code') ?? '';
    expect(code, `${String(redirect.status)} ${redirect.location ?? redirect.body.slice(0, 2000)}`).not.toBe(
      '',
    );
    const response = await postForm(
      endpointUrl(server.url, scenario.tenantId, 'token'),
      authorizationCodeFields(scenario.web, code),
    );
    const body = (await response.json()) as { access_token: string };
    expect(response.status, JSON.stringify(body)).toBe(200);
    return body.access_token;
  }

  /** Gives a user a software OATH method (row written directly: these routes never read the secret). */
  async function giveMethod(userId: string, tenantId: string): Promise<string> {
    const id = randomUUID();
    await server.directory.store.db
      .insertInto('software_oath_methods')
      .values({
        id,
        tenant_id: tenantId,
        user_id: userId,
        secret_encrypted: 'v1.AAAA.AAAA.AAAA',
        created_at: NOW,
        last_used_at: null,
      })
      .execute();
    return id;
  }

  beforeAll(async () => {
    server = await startTestServer({ database });
    i = await seedInteractiveScenario(server.directory);
    other = await seedInteractiveScenario(server.directory);
    daemon = await seedClientCredentialsScenario(server.directory);
    // UserAuthenticationMethod.Read and .ReadWrite are admin-consent scopes (as in Graph): the administrator
    // consents for the organization first.
    tokens.admin = await userToken(
      i,
      i.admin.userPrincipalName,
      'UserAuthenticationMethod.Read UserAuthenticationMethod.ReadWrite UserAuthenticationMethod.ReadWrite.All',
      true,
    );
    tokens.aliceRead = await userToken(i, i.user.userPrincipalName, 'UserAuthenticationMethod.Read');
    tokens.aliceWrite = await userToken(i, i.user.userPrincipalName, 'UserAuthenticationMethod.ReadWrite');
    tokens.aliceUserRead = await userToken(i, i.user.userPrincipalName, 'User.Read');
    const app = await postForm(endpointUrl(server.url, daemon.tenantId, 'token'), {
      grant_type: 'client_credentials',
      client_id: daemon.daemon.appId,
      client_secret: daemon.daemon.secret,
      scope: `${GRAPH}/.default`,
    });
    tokens.app = ((await app.json()) as { access_token: string }).access_token;
  });
  afterAll(() => server.close());

  it('GET /me/authentication/methods: the password, then the authenticator once there is one', async () => {
    const before = await callApi(server, '/v1.0/me/authentication/methods', tokens.aliceRead);
    expect(before.status).toBe(200);
    expect(before.body).toEqual({
      '@odata.context': `${server.url}/v1.0/$metadata#me/authentication/methods`,
      value: [PASSWORD],
    });
    const id = await giveMethod(i.user.id, i.tenantId);
    const oath = {
      '@odata.type': '#microsoft.graph.softwareOathAuthenticationMethod',
      id,
      secretKey: null,
      createdDateTime: '2027-01-15T08:00:00Z',
    };
    const after = await callApi(server, '/v1.0/me/authentication/methods', tokens.aliceRead);
    expect(after.body.value).toEqual([PASSWORD, oath]);
    const list = await callApi(server, '/v1.0/me/authentication/softwareOathMethods', tokens.aliceRead);
    expect(list.body).toEqual({
      '@odata.context': `${server.url}/v1.0/$metadata#me/authentication/softwareOathMethods`,
      value: [oath],
    });
    const one = await callApi(server, `/v1.0/me/authentication/softwareOathMethods/${id}`, tokens.aliceRead);
    expect(one.body).toEqual({
      '@odata.context': `${server.url}/v1.0/$metadata#me/authentication/softwareOathMethods/$entity`,
      ...oath,
    });
    // Through /users/{own id} as well, with the same scope.
    const own = await callApi(
      server,
      `/v1.0/users/${i.user.id}/authentication/softwareOathMethods`,
      tokens.aliceRead,
    );
    expect(own.body.value).toEqual([oath]);
    expectGraphError(
      await callApi(server, `/v1.0/me/authentication/softwareOathMethods/${randomUUID()}`, tokens.aliceRead),
      404,
      'Request_ResourceNotFound',
    );
  });

  it("403 without the scope, for another user without the administrators' permission, and for deleting with Read", async () => {
    expectGraphError(
      await callApi(server, '/v1.0/me/authentication/methods', tokens.aliceUserRead),
      403,
      'Authorization_RequestDenied',
      'Insufficient privileges to complete the operation.',
    );
    expectGraphError(
      await callApi(server, `/v1.0/users/${i.admin.id}/authentication/methods`, tokens.aliceWrite),
      403,
      'Authorization_RequestDenied',
    );
    const method = await callApi(server, '/v1.0/me/authentication/softwareOathMethods', tokens.aliceRead);
    const id = ((method.body.value as { id: string }[])[0] ?? { id: randomUUID() }).id;
    expectGraphError(
      await callApi(server, `/v1.0/me/authentication/softwareOathMethods/${id}`, tokens.aliceRead, {
        method: 'DELETE',
      }),
      403,
      'Authorization_RequestDenied',
    );
    expectGraphError(
      await callApi(server, '/v1.0/me/authentication/methods', tokens.app),
      400,
      'Request_BadRequest',
    );
    expectGraphError(
      await callApi(server, `/v1.0/users/${i.user.id}/authentication/methods`, tokens.app),
      403,
      'Authorization_RequestDenied',
    );
  });

  it("an administrator reads and deletes a user's authenticator (audited); another tenant's user does not exist", async () => {
    const listed = await callApi(
      server,
      `/v1.0/users/${i.user.userPrincipalName}/authentication/softwareOathMethods`,
      tokens.admin,
    );
    expect(listed.status).toBe(200);
    const id = (listed.body.value as { id: string }[])[0]?.id ?? '';
    expect(listed.body['@odata.context']).toBe(
      `${server.url}/v1.0/$metadata#users('${i.user.id}')/authentication/softwareOathMethods`,
    );
    const foreignId = await giveMethod(other.user.id, other.tenantId);
    for (const path of [
      `/v1.0/users/${other.user.id}/authentication/methods`,
      `/v1.0/users/${other.user.id}/authentication/softwareOathMethods/${foreignId}`,
    ]) {
      expectGraphError(await callApi(server, path, tokens.admin), 404, 'Request_ResourceNotFound');
    }
    expectGraphError(
      await callApi(
        server,
        `/v1.0/users/${other.user.id}/authentication/softwareOathMethods/${foreignId}`,
        tokens.admin,
        {
          method: 'DELETE',
        },
      ),
      404,
      'Request_ResourceNotFound',
    );

    const deleted = await callApi(
      server,
      `/v1.0/users/${i.user.id}/authentication/softwareOathMethods/${id}`,
      tokens.admin,
      { method: 'DELETE' },
    );
    expect(deleted.status).toBe(204);
    const after = await callApi(server, '/v1.0/me/authentication/methods', tokens.aliceRead);
    expect(after.body.value).toEqual([PASSWORD]);
    expectGraphError(
      await callApi(
        server,
        `/v1.0/users/${i.user.id}/authentication/softwareOathMethods/${id}`,
        tokens.admin,
        {
          method: 'DELETE',
        },
      ),
      404,
      'Request_ResourceNotFound',
    );
    const audits = await server.directory.store.db
      .selectFrom('directory_audits')
      .selectAll()
      .where('tenant_id', '=', i.tenantId)
      .where('activity_display_name', '=', 'Admin deleted security info')
      .where('result', '=', 'success')
      .execute();
    expect(audits).toHaveLength(1);
    // The two refused deletes (another tenant's method, the method already gone) are audited as failures.
    const refused = await server.directory.store.db
      .selectFrom('directory_audits')
      .select(['result'])
      .where('tenant_id', '=', i.tenantId)
      .where('activity_display_name', '=', 'Admin deleted security info')
      .where('result', '=', 'failure')
      .execute();
    expect(refused).toHaveLength(2);
    expect(audits[0]).toMatchObject({
      category: 'UserManagement',
      operation_type: 'Delete',
      result: 'success',
    });
    expect(JSON.parse(audits[0]?.initiated_by ?? '{}')).toMatchObject({ user: { id: i.admin.id } });
    expect(JSON.parse(audits[0]?.target_resources ?? '[]')).toMatchObject([
      { id: i.user.id, type: 'User', userPrincipalName: i.user.userPrincipalName },
    ]);
    // The foreign user's method is untouched.
    const foreign = await server.directory.store.db
      .selectFrom('software_oath_methods')
      .select('id')
      .where('user_id', '=', other.user.id)
      .execute();
    expect(foreign).toEqual([{ id: foreignId }]);
  });

  it("the user deletes their own authenticator with ReadWrite (audited as the user's)", async () => {
    const id = await giveMethod(i.user.id, i.tenantId);
    const deleted = await callApi(
      server,
      `/v1.0/me/authentication/softwareOathMethods/${id}`,
      tokens.aliceWrite,
      {
        method: 'DELETE',
      },
    );
    expect(deleted.status).toBe(204);
    const audits = await server.directory.store.db
      .selectFrom('directory_audits')
      .select(['initiated_by'])
      .where('tenant_id', '=', i.tenantId)
      .where('activity_display_name', '=', 'User deleted security info')
      .where('result', '=', 'success')
      .execute();
    expect(audits).toHaveLength(1);
    expect(JSON.parse(audits[0]?.initiated_by ?? '{}')).toMatchObject({ user: { id: i.user.id } });
  });
});
