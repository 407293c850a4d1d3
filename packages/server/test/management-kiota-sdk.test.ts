import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AllowedHostsValidator, BaseBearerTokenAuthenticationProvider } from '@microsoft/kiota-abstractions';
import {
  createGraphServiceClient,
  GraphRequestAdapter,
  type GraphServiceClient,
} from '@microsoft/msgraph-sdk';
import '@microsoft/msgraph-sdk-users';
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

// The unmodified Kiota-based Microsoft Graph SDK (@microsoft/msgraph-sdk with @microsoft/msgraph-sdk-users)
// against a real server: its request adapter's base URL pointed at Tessera's /v1.0, Kiota's bearer token
// provider with Tessera's host allowed. It lists users with $select, $top and its next link, and reads /me with
// a signed-in user's delegated token.

const GRAPH = 'https://graph.microsoft.com';

let server: TestServer;
let scenario: ClientCredentialsScenario;
let interactive: InteractiveScenario;
const created: { id: string; displayName: string }[] = [];

/**
 * A Graph client whose requests carry the token `token()` gives, to Tessera's host only: Kiota's bearer provider
 * sends whatever the access token provider returns, so the provider checks the host (as Kiota's Azure Identity
 * provider does with its allowed hosts).
 */
function graphClient(token: () => Promise<string>): GraphServiceClient {
  const allowed = new AllowedHostsValidator(new Set([new URL(server.url).hostname]));
  const adapter = new GraphRequestAdapter(
    new BaseBearerTokenAuthenticationProvider({
      getAuthorizationToken: async (url) => (allowed.isUrlHostValid(url ?? '') ? token() : ''),
      getAllowedHostsValidator: () => allowed,
    }),
  );
  adapter.baseUrl = `${server.url}/v1.0`;
  return createGraphServiceClient(adapter);
}

async function appToken(): Promise<string> {
  const response = await postForm(endpointUrl(server.url, scenario.tenantId, 'token'), {
    grant_type: 'client_credentials',
    client_id: scenario.daemon.appId,
    client_secret: scenario.daemon.secret,
    scope: `${GRAPH}/.default`,
  });
  return ((await response.json()) as { access_token: string }).access_token;
}

async function userToken(): Promise<string> {
  const browser = new TestBrowser();
  const redirect = await signInThrough(
    browser,
    authorizeUrl(server.url, interactive.tenantId, interactive.web, { scope: `openid ${GRAPH}/User.Read` }),
    { userName: interactive.user.userPrincipalName, password: interactive.password },
  );
  const code = new URL(redirect.location ?? 'https://none.example/').searchParams.get('code') ?? '';
  const response = await postForm(
    endpointUrl(server.url, interactive.tenantId, 'token'),
    authorizationCodeFields({ ...interactive.web }, code),
  );
  return ((await response.json()) as { access_token: string }).access_token;
}

beforeAll(async () => {
  server = await startTestServer();
  scenario = await seedClientCredentialsScenario(server.directory);
  interactive = await seedInteractiveScenario(server.directory);
  await server.directory.grants.grantAppRole({
    tenant: scenario.tenantId,
    clientAppId: scenario.daemon.appId,
    resource: GRAPH,
    role: 'User.Read.All',
  });
  for (const name of ['Ann', 'Bob', 'Cy']) {
    const user = await server.directory.users.create({
      tenant: scenario.tenantId,
      userPrincipalName: `${name.toLowerCase()}@${scenario.domain}`,
      password: 'Correct-Horse-9',
      displayName: name,
    });
    created.push({ id: user.id, displayName: user.displayName });
  }
  created.sort((x, y) => (x.id < y.id ? -1 : 1));
  await server.server.refresh();
});
afterAll(() => server.close());

describe('the Kiota-based Microsoft Graph SDK (@microsoft/msgraph-sdk)', () => {
  it('lists users with $select and $top, and follows odataNextLink to the end', async () => {
    const client = graphClient(appToken);
    const first = await client.users.get({ queryParameters: { select: ['id', 'displayName'], top: 2 } });
    expect(first?.value?.map((user) => ({ id: user.id, displayName: user.displayName }))).toEqual(
      created.slice(0, 2),
    );
    expect(first?.odataNextLink).toMatch(/^https:\/\/localhost:\d+\/v1\.0\/users\?/);
    const second = await client.users.withUrl(first?.odataNextLink ?? '').get();
    expect(second?.value?.map((user) => user.id)).toEqual([created[2]?.id]);
    expect(second?.odataNextLink).toBeUndefined();
  });

  it('reads a user by userPrincipalName', async () => {
    const user = await graphClient(appToken).users.byUserId(`bob@${scenario.domain}`).get();
    expect(user).toMatchObject({ displayName: 'Bob', userPrincipalName: `bob@${scenario.domain}` });
  });

  it('reads /me with a signed-in user’s delegated User.Read token', async () => {
    const me = await graphClient(userToken).me.get();
    expect(me).toMatchObject({
      id: interactive.user.id,
      displayName: interactive.user.displayName,
      userPrincipalName: interactive.user.userPrincipalName,
    });
  });

  it('sends no token to a host other than Tessera’s', async () => {
    // Another host (127.0.0.1 is not Tessera's `localhost`), recording what it is sent.
    const seen: (string | undefined)[] = [];
    const other = createServer((request, response) => {
      seen.push(request.headers.authorization);
      response.writeHead(200, { 'content-type': 'application/json' }).end('{"value":[]}');
    });
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = other.address() as AddressInfo;
      let asked = 0;
      const client = graphClient(() => {
        asked += 1;
        return appToken();
      });
      const listed = await client.users.withUrl(`http://127.0.0.1:${port}/v1.0/users`).get();
      expect(listed?.value).toEqual([]);
      expect({ seen, asked }).toEqual({ seen: [undefined], asked: 0 });
    } finally {
      await new Promise((resolve) => other.close(resolve));
    }
  });

  it('a Graph error reaches the caller as the SDK’s ODataError with Graph’s code and status', async () => {
    const error = await graphClient(appToken)
      .users.byUserId(`nobody@${scenario.domain}`)
      .get()
      .then(
        () => undefined,
        (reason: unknown) => reason,
      );
    // Kiota names the body's `error` member `errorEscaped` (`error` would clash with Error's own members).
    expect(error).toMatchObject({
      responseStatusCode: 404,
      errorEscaped: { code: 'Request_ResourceNotFound' },
    });
  });
});
