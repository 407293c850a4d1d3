import {
  authorizationCodeFields,
  authorizeUrl,
  endpointUrl,
  postForm,
  postgresAvailable,
  seedClientCredentialsScenario,
  signInThrough,
  TestBrowser,
  type ClientCredentialsScenario,
  type InteractiveScenario,
  type TestServer,
} from '@tessera/testkit';
import { expect } from 'vitest';

/** The databases a suite runs on: SQLite, and PostgreSQL when one answers. */
export const DIALECTS: readonly { readonly name: string; readonly database: 'sqlite' | 'postgres' }[] = [
  { name: 'sqlite', database: 'sqlite' },
  ...((await postgresAvailable()) ? [{ name: 'postgres', database: 'postgres' as const }] : []),
];

/** Microsoft Graph's resource identifier: the built-in directory API of every tenant. */
export const GRAPH = 'https://graph.microsoft.com';

/** One answer of the management API: status, headers and the JSON body (`{}` for an empty one). */
export interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Record<string, unknown>;
}

/** Calls the management API of `server` with a bearer token and, when given, a JSON body. */
export async function callApi(
  server: TestServer,
  path: string,
  token: string | undefined,
  init: { method?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const response = await fetch(`${server.url}${path}`, {
    method: init.method ?? 'GET',
    headers: {
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...init.headers,
    },
    ...(init.body === undefined
      ? {}
      : { body: typeof init.body === 'string' ? init.body : JSON.stringify(init.body) }),
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>),
  };
}

/** Asserts Graph's error body: the status, `error.code` and, when given, the exact message. */
export function expectGraphError(answer: Answer, status: number, code: string, message?: string): void {
  expect({
    status: answer.status,
    code: (answer.body.error as { code?: unknown } | undefined)?.code,
  }).toEqual({
    status,
    code,
  });
  if (message !== undefined) {
    expect((answer.body.error as { message?: unknown }).message).toBe(message);
  }
  expect(answer.headers.get('cache-control')).toBe('no-store');
}

/** A client-credentials access token of a client for Microsoft Graph (`{GRAPH}/.default`), with its `roles`. */
export async function graphAppToken(
  server: TestServer,
  tenantId: string,
  client: { readonly appId: string; readonly secret: string },
): Promise<{ readonly token: string; readonly roles: readonly string[] }> {
  const response = await postForm(endpointUrl(server.url, tenantId, 'token'), {
    grant_type: 'client_credentials',
    client_id: client.appId,
    client_secret: client.secret,
    scope: `${GRAPH}/.default`,
  });
  expect(response.status).toBe(200);
  const token = ((await response.json()) as { access_token: string }).access_token;
  const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as {
    roles?: string[];
  };
  return { token, roles: [...(payload.roles ?? [])].sort() };
}

/** A confidential client registered in a tenant, with a client secret. */
export interface SeededClient {
  readonly appId: string;
  readonly secret: string;
  readonly servicePrincipalId: string;
}

/**
 * Registers a client in a tenant (its service principal there), adds a client secret and grants it `roles`,
 * application permissions of the built-in directory API (`Application.ReadWrite.All`, …).
 */
export async function seedDirectoryClient(
  server: TestServer,
  tenantId: string,
  displayName: string,
  roles: readonly string[] = [],
): Promise<SeededClient> {
  const created = await server.directory.applications.create({ tenant: tenantId, displayName });
  const password = await server.directory.credentials.addPassword({ appId: created.application.appId });
  for (const role of roles) {
    await server.directory.grants.grantAppRole({
      tenant: tenantId,
      clientAppId: created.application.appId,
      resource: GRAPH,
      role,
    });
  }
  return {
    appId: created.application.appId,
    secret: password.secretText,
    servicePrincipalId: created.servicePrincipal.id,
  };
}

/**
 * A delegated access token of a user of the interactive scenario, signed in to its web app for `scope` (with
 * `openid`), consenting when asked (for the organization with `forOrganization`).
 */
export async function delegatedToken(
  server: TestServer,
  scenario: InteractiveScenario,
  userName: string,
  scope: string,
  forOrganization = false,
): Promise<string> {
  const redirect = await signInThrough(
    new TestBrowser(),
    authorizeUrl(server.url, scenario.tenantId, scenario.web, { scope: `openid ${scope}` }),
    { userName, password: scenario.password, consentForOrganization: forOrganization },
  );
  const code = new URL(redirect.location ?? 'https://none.example/').searchParams.get('code');
  expect(code).not.toBeNull();
  const response = await postForm(
    endpointUrl(server.url, scenario.tenantId, 'token'),
    authorizationCodeFields({ ...scenario.web }, code ?? ''),
  );
  expect(response.status).toBe(200);
  return ((await response.json()) as { access_token: string }).access_token;
}

/**
 * Seeds the client credentials scenario (a tenant, an API, a daemon) with the daemon granted `roles`,
 * application permissions of the built-in directory API.
 */
export async function seedScenarioWith(
  server: TestServer,
  roles: readonly string[],
): Promise<ClientCredentialsScenario> {
  const scenario = await seedClientCredentialsScenario(server.directory);
  for (const role of roles) {
    await server.directory.grants.grantAppRole({
      tenant: scenario.tenantId,
      clientAppId: scenario.daemon.appId,
      resource: GRAPH,
      role,
    });
  }
  return scenario;
}
