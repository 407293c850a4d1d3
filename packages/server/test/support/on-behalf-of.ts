import { GrantType } from '@tessera/protocol';
import {
  authorizeUrl,
  createClientCertificate,
  postForm,
  signInThrough,
  TestBrowser,
  type ClientCertificate,
  type InteractiveScenario,
  seedInteractiveScenario,
  startTestServer,
  type TestServer,
} from '@tessera/testkit';
import { vi } from 'vitest';

/** A confidential middle-tier API of the On-Behalf-Of scenario. */
export interface MiddleTier {
  readonly appId: string;
  readonly servicePrincipalId: string;
  readonly identifierUri: string;
  readonly secret: string;
}

/**
 * The On-Behalf-Of scenario on top of the interactive one: the SPA calls `mid` (scope `access_as_user`, v2
 * tokens, a secret and a certificate), which calls the Files API (`Files.Read` consented by Alice for `mid`;
 * `Files.Admin` not consented) and declares `Files.Read` as its static permission.
 */
export interface OnBehalfOfScenario {
  readonly mid: MiddleTier & { readonly certificate: ClientCertificate };
  readonly filesServicePrincipalId: string;
}

/** Seeds {@link OnBehalfOfScenario} in the scenario's tenant. */
export async function seedOnBehalfOf(
  server: TestServer,
  s: InteractiveScenario,
): Promise<OnBehalfOfScenario> {
  const d = server.directory;
  const identifierUri = `api://${s.domain}/mid`;
  const created = await d.applications.create({
    tenant: s.tenantId,
    displayName: 'Middle Tier API',
    identifierUris: [identifierUri],
    scopes: ['access_as_user'],
    requestedAccessTokenVersion: 2,
    requiredScopes: [{ resource: s.api.appId, scopes: ['Files.Read'] }],
  });
  const appId = created.application.appId;
  const secret = await d.credentials.addPassword({ appId });
  const certificate = await createClientCertificate();
  await d.credentials.addCertificate({ appId, certificatePem: certificate.certificatePem });
  const files = await d.servicePrincipals.get(s.tenantId, { appId: s.api.appId });
  await d.grants.createPermissionGrant({
    tenant: s.tenantId,
    clientId: created.servicePrincipal.id,
    resourceId: files.id,
    consentType: 'Principal',
    principalId: s.user.id,
    scope: 'Files.Read',
  });
  return {
    mid: {
      appId,
      servicePrincipalId: created.servicePrincipal.id,
      identifierUri,
      secret: secret.secretText,
      certificate,
    },
    filesServicePrincipalId: files.id,
  };
}

/**
 * A user access token from the implicit flow of the SPA (Alice unless `userName` says otherwise, consenting
 * when asked) for `scope`.
 */
export async function spaAccessToken(
  server: TestServer,
  s: InteractiveScenario,
  scope: string,
  userName: string = s.user.userPrincipalName,
): Promise<string> {
  const page = await signInThrough(
    new TestBrowser(),
    authorizeUrl(server.url, s.tenantId, s.spa, { response_type: 'token', scope, nonce: undefined }),
    { userName, password: s.password },
  );
  const location = page.location ?? '';
  const fragment = new URLSearchParams(location.slice(location.indexOf('#') + 1));
  const token = fragment.get('access_token');
  if (token === null) throw new Error(`no access token: ${page.status} ${location.slice(0, 300)}`);
  return token;
}

/** The On-Behalf-Of token request of `client` with a secret (`client_secret_post`); `undefined` removes a field. */
export function oboFields(
  client: { readonly appId: string; readonly secret: string },
  assertion: string,
  scope: string,
  overrides: Readonly<Record<string, string | undefined>> = {},
): Record<string, string> {
  const fields: Record<string, string | undefined> = {
    grant_type: GrantType.jwtBearer,
    client_id: client.appId,
    client_secret: client.secret,
    assertion,
    scope,
    requested_token_use: 'on_behalf_of',
    ...overrides,
  };
  const defined: Record<string, string> = {};
  for (const [name, value] of Object.entries(fields)) if (value !== undefined) defined[name] = value;
  return defined;
}

/** POSTs a token request to the tenant's token endpoint; the status and the JSON body. */
export async function postToken(
  server: TestServer,
  tenant: string,
  fields: Readonly<Record<string, string>>,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await postForm(`${server.url}/${tenant}/oauth2/v2.0/token`, fields);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** A server on `database` with the interactive scenario and {@link OnBehalfOfScenario} seeded in its tenant. */
export async function startOnBehalfOfServer(database: 'sqlite' | 'postgres'): Promise<{
  readonly server: TestServer;
  readonly s: InteractiveScenario;
  readonly obo: OnBehalfOfScenario;
}> {
  const server = await startTestServer({ database });
  const s = await seedInteractiveScenario(server.directory);
  return { server, s, obo: await seedOnBehalfOf(server, s) };
}

/**
 * Runs `act` with `Date` moved `aheadMs` milliseconds into the future (tokens issued before look expired), then
 * puts the real clock back.
 */
export async function withClockAhead<T>(aheadMs: number, act: () => Promise<T>): Promise<T> {
  vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + aheadMs });
  try {
    return await act();
  } finally {
    vi.useRealTimers();
  }
}
