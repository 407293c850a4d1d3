import {
  endpointUrl,
  postForm,
  postgresAvailable,
  seedClientCredentialsScenario,
  startTestServer,
  type ClientCredentialsScenario,
  type TestServer,
} from '@tessera/testkit';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Registering an application through the management API, as a deployment script does with Microsoft Graph: an
// app-only token with Application.ReadWrite.All creates the application, its client secret and its service
// principal; the new application then gets its own client-credentials token from Tessera, and once an app role of
// an API is granted to it through appRoleAssignedTo, that token carries the role. A client without
// Application.ReadWrite.All is refused with Graph's 403. On SQLite and PostgreSQL.

const GRAPH = 'https://graph.microsoft.com';
const dialects = [
  { name: 'sqlite', database: 'sqlite' as const },
  ...((await postgresAvailable()) ? [{ name: 'postgres', database: 'postgres' as const }] : []),
];

interface Answer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

describe.each(dialects)('registering an application through /v1.0 on $name', ({ database }) => {
  let server: TestServer;
  /** The tenant: an API with app roles Data.Read.All and Data.Write.All, and the deployment daemon. */
  let scenario: ClientCredentialsScenario;
  /** A second daemon of the tenant holding Application.Read.All only. */
  let reader: { appId: string; secret: string };

  async function token(clientId: string, secret: string, scope: string): Promise<Answer> {
    const response = await postForm(endpointUrl(server.url, scenario.tenantId, 'token'), {
      grant_type: 'client_credentials',
      client_id: clientId,
      client_secret: secret,
      scope,
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  async function graphToken(clientId: string, secret: string): Promise<string> {
    const answer = await token(clientId, secret, `${GRAPH}/.default`);
    expect(answer.status).toBe(200);
    return answer.body.access_token as string;
  }

  async function call(path: string, bearer: string, method = 'GET', body?: unknown): Promise<Answer> {
    const response = await fetch(`${server.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${bearer}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return {
      status: response.status,
      body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>),
    };
  }

  beforeAll(async () => {
    server = await startTestServer({ database });
    scenario = await seedClientCredentialsScenario(server.directory);
    for (const role of ['Application.ReadWrite.All', 'AppRoleAssignment.ReadWrite.All']) {
      await server.directory.grants.grantAppRole({
        tenant: scenario.tenantId,
        clientAppId: scenario.daemon.appId,
        resource: GRAPH,
        role,
      });
    }
    const readerApp = await server.directory.applications.create({
      tenant: scenario.tenantId,
      displayName: 'Inventory reader',
    });
    const readerSecret = await server.directory.credentials.addPassword({
      appId: readerApp.application.appId,
    });
    await server.directory.grants.grantAppRole({
      tenant: scenario.tenantId,
      clientAppId: readerApp.application.appId,
      resource: GRAPH,
      role: 'Application.Read.All',
    });
    reader = { appId: readerApp.application.appId, secret: readerSecret.secretText };
    await server.server.refresh();
  });
  afterAll(() => server.close());

  it('Application.ReadWrite.All registers an app that then gets its own client-credentials token, and its granted role', async () => {
    const deployer = await graphToken(scenario.daemon.appId, scenario.daemon.secret);

    const application = await call('/v1.0/applications', deployer, 'POST', {
      displayName: 'Nightly export',
      signInAudience: 'AzureADMyOrg',
    });
    expect(application.status).toBe(201);
    expect(application.body).toMatchObject({
      '@odata.context': `${server.url}/v1.0/$metadata#applications/$entity`,
      displayName: 'Nightly export',
      signInAudience: 'AzureADMyOrg',
      passwordCredentials: [],
      keyCredentials: [],
    });
    const objectId = application.body.id as string;
    const appId = application.body.appId as string;
    expect(appId).toMatch(/^[0-9a-f-]{36}$/);

    const password = await call(`/v1.0/applications/${objectId}/addPassword`, deployer, 'POST', {
      passwordCredential: { displayName: 'deploy pipeline' },
    });
    expect(password.status).toBe(200);
    expect(password.body).toMatchObject({ displayName: 'deploy pipeline', keyId: expect.any(String) });
    const secretText = password.body.secretText as string;
    expect(secretText.length).toBeGreaterThanOrEqual(32);
    expect(password.body.hint).toBe(secretText.slice(0, 3));
    // The secret text is in addPassword's answer only, never in the application.
    const read = await call(`/v1.0/applications/${objectId}`, deployer);
    expect(read.status).toBe(200);
    expect(JSON.stringify(read.body)).not.toContain(secretText);
    expect(read.body.passwordCredentials).toEqual([
      expect.objectContaining({ keyId: password.body.keyId, secretText: null }),
    ]);

    const servicePrincipal = await call('/v1.0/servicePrincipals', deployer, 'POST', { appId });
    expect(servicePrincipal.status).toBe(201);
    expect(servicePrincipal.body).toMatchObject({
      appId,
      displayName: 'Nightly export',
      accountEnabled: true,
    });
    const servicePrincipalId = servicePrincipal.body.id as string;

    // The new application's own token, before any permission: no roles.
    const first = await token(appId, secretText, `${scenario.api.identifierUri}/.default`);
    expect(first.status).toBe(200);
    const firstClaims = decodeJwt(first.body.access_token as string);
    expect(firstClaims).toMatchObject({ azp: appId, oid: servicePrincipalId, tid: scenario.tenantId });
    expect(firstClaims.roles).toBeUndefined();

    // Grant it the API's Data.Write.All through the API's service principal, as Graph's appRoleAssignedTo does.
    const api = await call(`/v1.0/servicePrincipals(appId='${scenario.api.appId}')`, deployer);
    expect(api.status).toBe(200);
    const role = (api.body.appRoles as { id: string; value: string }[]).find(
      (r) => r.value === 'Data.Write.All',
    );
    expect(role).toBeDefined();
    const assignment = await call(
      `/v1.0/servicePrincipals/${api.body.id as string}/appRoleAssignedTo`,
      deployer,
      'POST',
      {
        principalId: servicePrincipalId,
        resourceId: api.body.id,
        appRoleId: role?.id,
      },
    );
    expect(assignment.status).toBe(201);
    expect(assignment.body).toMatchObject({
      principalId: servicePrincipalId,
      principalType: 'ServicePrincipal',
      principalDisplayName: 'Nightly export',
      resourceId: api.body.id,
      appRoleId: role?.id,
    });

    const second = await token(appId, secretText, `${scenario.api.identifierUri}/.default`);
    expect(second.status).toBe(200);
    expect(decodeJwt(second.body.access_token as string).roles).toEqual(['Data.Write.All']);
  });

  it('a client without Application.ReadWrite.All gets 403 Authorization_RequestDenied and creates nothing', async () => {
    const readOnly = await graphToken(reader.appId, reader.secret);
    const before = await call('/v1.0/applications?$select=id', readOnly);
    expect(before.status).toBe(200);
    const refused = await call('/v1.0/applications', readOnly, 'POST', { displayName: 'Should not exist' });
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({
      error: {
        code: 'Authorization_RequestDenied',
        message: 'Insufficient privileges to complete the operation.',
      },
    });
    const target = (before.body.value as { id: string }[])[0]?.id ?? '';
    for (const [path, method, body] of [
      [`/v1.0/applications/${target}/addPassword`, 'POST', { passwordCredential: {} }],
      ['/v1.0/servicePrincipals', 'POST', { appId: scenario.api.appId }],
    ] as const) {
      const answer = await call(path, readOnly, method, body);
      expect({ path, status: answer.status, code: (answer.body.error as { code?: string }).code }).toEqual({
        path,
        status: 403,
        code: 'Authorization_RequestDenied',
      });
    }
    const after = await call('/v1.0/applications?$select=id', readOnly);
    expect(after.body.value).toEqual(before.body.value);
  });
});
