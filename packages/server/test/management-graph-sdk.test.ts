import { X509Certificate } from 'node:crypto';
import { Client, GraphError, PageIterator, type PageCollection } from '@microsoft/microsoft-graph-client';
import {
  createClientCertificate,
  endpointUrl,
  JWT_BEARER_ASSERTION_TYPE,
  postForm,
  seedClientCredentialsScenario,
  signClientAssertion,
  startTestServer,
  type ClientCredentialsScenario,
  type TestServer,
} from '@tessera/testkit';
import { decodeJwt, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The unmodified Microsoft Graph JavaScript SDK against a real server: an auth provider that supplies Tessera
// client-credentials tokens, its base URL pointed at Tessera. It registers an application with a password and
// certificates, creates its service principal and grants it an app role (after which the new application's own
// certificate-authenticated token carries the role); it lists users with $filter, $select, $top and
// PageIterator paging; Graph errors surface as the SDK's GraphError.

const GRAPH = 'https://graph.microsoft.com';

let server: TestServer;
let scenario: ClientCredentialsScenario;
let client: Client;
const created: { id: string; displayName: string }[] = [];

/** A certificate's DER in base64, as Graph's `keyCredential.key` carries it. */
function keyOf(certificatePem: string): string {
  return new X509Certificate(certificatePem).raw.toString('base64');
}

beforeAll(async () => {
  server = await startTestServer();
  scenario = await seedClientCredentialsScenario(server.directory);
  for (const role of ['User.Read.All', 'Application.ReadWrite.All', 'AppRoleAssignment.ReadWrite.All']) {
    await server.directory.grants.grantAppRole({
      tenant: scenario.tenantId,
      clientAppId: scenario.daemon.appId,
      resource: GRAPH,
      role,
    });
  }
  for (const name of ['Ann', 'Bob', 'Cy', 'Dee', 'Eve', 'Fay', 'Gus']) {
    const user = await server.directory.users.create({
      tenant: scenario.tenantId,
      userPrincipalName: `${name.toLowerCase()}@${scenario.domain}`,
      password: 'Correct-Horse-9',
      displayName: name === 'Bob' || name === 'Gus' ? name : `Team ${name}`,
    });
    created.push({ id: user.id, displayName: user.displayName });
  }
  created.sort((x, y) => (x.id < y.id ? -1 : 1));
  await server.server.refresh();
  client = Client.initWithMiddleware({
    authProvider: {
      async getAccessToken() {
        const response = await postForm(endpointUrl(server.url, scenario.tenantId, 'token'), {
          grant_type: 'client_credentials',
          client_id: scenario.daemon.appId,
          client_secret: scenario.daemon.secret,
          scope: `${GRAPH}/.default`,
        });
        return ((await response.json()) as { access_token: string }).access_token;
      },
    },
    baseUrl: server.url,
    customHosts: new Set([new URL(server.url).hostname]),
  });
});
afterAll(() => server.close());

describe('the Microsoft Graph JavaScript SDK', () => {
  it('registers an application with a password and certificates, creates its service principal and grants it an app role', async () => {
    const application = (await client.api('/applications').post({
      displayName: 'Registered with the SDK',
      signInAudience: 'AzureADMyOrg',
    })) as { id: string; appId: string; displayName: string };
    expect(application).toMatchObject({ displayName: 'Registered with the SDK' });

    const password = (await client
      .api(`/applications/${application.id}/addPassword`)
      .post({ passwordCredential: { displayName: 'sdk secret' } })) as { secretText: string; keyId: string };
    expect(password.secretText.length).toBeGreaterThanOrEqual(32);

    // Graph's rule for certificates: the first through PATCH of keyCredentials, the next through addKey with a
    // proof of possession signed by the key of a current one (aud 00000002-…, iss the application's object id).
    const first = await createClientCertificate();
    await client.api(`/applications/${application.id}`).patch({
      keyCredentials: [{ type: 'AsymmetricX509Cert', usage: 'Verify', key: keyOf(first.certificatePem) }],
    });
    const second = await createClientCertificate();
    const now = Math.floor(Date.now() / 1000);
    const proof = await new SignJWT({ aud: '00000002-0000-0000-c000-000000000000', iss: application.id })
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT', x5t: first.x5t })
      .setNotBefore(now)
      .setExpirationTime(now + 600)
      .sign(first.privateKey);
    const key = (await client.api(`/applications/${application.id}/addKey`).post({
      keyCredential: { type: 'AsymmetricX509Cert', usage: 'Verify', key: keyOf(second.certificatePem) },
      passwordCredential: null,
      proof,
    })) as { keyId: string; type: string; usage: string };
    expect(key).toMatchObject({ type: 'AsymmetricX509Cert', usage: 'Verify' });
    const registered = (await client
      .api(`/applications/${application.id}`)
      .select(['keyCredentials', 'passwordCredentials'])
      .get()) as { keyCredentials: unknown[]; passwordCredentials: { keyId: string }[] };
    expect(registered.keyCredentials).toHaveLength(2);
    expect(registered.passwordCredentials.map((p) => p.keyId)).toEqual([password.keyId]);

    const servicePrincipal = (await client.api('/servicePrincipals').post({ appId: application.appId })) as {
      id: string;
      appId: string;
    };
    expect(servicePrincipal.appId).toBe(application.appId);

    const api = (await client.api(`/servicePrincipals(appId='${scenario.api.appId}')`).get()) as {
      id: string;
      appRoles: { id: string; value: string }[];
    };
    const role = api.appRoles.find((r) => r.value === 'Data.Write.All');
    const assignment = (await client.api(`/servicePrincipals/${api.id}/appRoleAssignedTo`).post({
      principalId: servicePrincipal.id,
      resourceId: api.id,
      appRoleId: role?.id,
    })) as { principalId: string; appRoleId: string };
    expect(assignment).toMatchObject({ principalId: servicePrincipal.id, appRoleId: role?.id });

    // The new application authenticates with its second certificate and holds the granted role.
    const tokenUrl = endpointUrl(server.url, scenario.tenantId, 'token');
    const response = await postForm(tokenUrl, {
      grant_type: 'client_credentials',
      client_id: application.appId,
      client_assertion_type: JWT_BEARER_ASSERTION_TYPE,
      client_assertion: await signClientAssertion({
        clientId: application.appId,
        audience: tokenUrl,
        key: second.privateKey,
        header: { 'x5t#S256': second.x5tS256 },
      }),
      scope: `${scenario.api.identifierUri}/.default`,
    });
    expect(response.status).toBe(200);
    const claims = decodeJwt(((await response.json()) as { access_token: string }).access_token);
    expect(claims).toMatchObject({
      azp: application.appId,
      oid: servicePrincipal.id,
      roles: ['Data.Write.All'],
    });
  });

  it('lists users with $filter, $select and $top, paging with PageIterator', async () => {
    const first = (await client
      .api('/users')
      .filter("startswith(displayName,'Team')")
      .select(['id', 'displayName'])
      .top(2)
      .get()) as PageCollection;
    expect(first.value).toHaveLength(2);
    expect(first['@odata.nextLink']).toBeDefined();
    const seen: unknown[] = [];
    const iterator = new PageIterator(client, first, (user) => {
      seen.push(user);
      return true;
    });
    await iterator.iterate();
    expect(seen).toEqual(
      created
        .filter((user) => user.displayName.startsWith('Team'))
        .map((user) => ({ id: user.id, displayName: user.displayName })),
    );
  });

  it('reads a user by UPN', async () => {
    const user = (await client
      .api(`/users/bob@${scenario.domain}`)
      .select('displayName,userPrincipalName')
      .get()) as unknown;
    expect(user).toEqual({
      '@odata.context': `${server.url}/v1.0/$metadata#users(displayName,userPrincipalName)/$entity`,
      displayName: 'Bob',
      userPrincipalName: `bob@${scenario.domain}`,
    });
  });

  it('Graph errors reach the caller as GraphError with Graph’s code', async () => {
    const error = await client
      .api('/users/nobody@nowhere.test')
      .get()
      .then(
        () => undefined,
        (reason: unknown) => reason,
      );
    expect(error).toBeInstanceOf(GraphError);
    expect(error).toMatchObject({ statusCode: 404, code: 'Request_ResourceNotFound' });
    const unsupported = await client
      .api('/users')
      .filter("displayName gt 'x'")
      .get()
      .then(
        () => undefined,
        (reason: unknown) => reason,
      );
    expect(unsupported).toMatchObject({ statusCode: 400, code: 'Request_UnsupportedQuery' });
  });
});
