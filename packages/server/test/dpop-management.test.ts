import { startTestServer, type ClientCredentialsScenario, type TestServer } from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callApi, expectGraphError, graphAppToken, seedScenarioWith } from './support/management-api.js';

// The management API's Tessera-specific application property tesseraDpopBoundAccessTokens (RFC 9449 §5.2's
// dpop_bound_access_tokens): returned by default, set by POST and PATCH, type-checked, and what the token
// endpoint enforces.
let server: TestServer;
let a: ClientCredentialsScenario;
let token: string;

beforeAll(async () => {
  server = await startTestServer();
  a = await seedScenarioWith(server, ['Application.ReadWrite.All']);
  await server.server.refresh();
  token = (await graphAppToken(server, a.tenantId, a.daemon)).token;
});
afterAll(() => server.close());

describe('tesseraDpopBoundAccessTokens', () => {
  it('is false by default, set by POST and PATCH, and refused when not a boolean', async () => {
    const plain = await callApi(server, '/v1.0/applications', token, {
      method: 'POST',
      body: { displayName: 'Plain' },
    });
    expect(plain.status).toBe(201);
    expect(plain.body.tesseraDpopBoundAccessTokens).toBe(false);

    const created = await callApi(server, '/v1.0/applications', token, {
      method: 'POST',
      body: { displayName: 'Bound', tesseraDpopBoundAccessTokens: true },
    });
    expect(created.body.tesseraDpopBoundAccessTokens).toBe(true);
    const id = String(created.body.id);
    expect((await callApi(server, `/v1.0/applications/${id}`, token)).body.tesseraDpopBoundAccessTokens).toBe(
      true,
    );

    const patched = await callApi(server, `/v1.0/applications/${id}`, token, {
      method: 'PATCH',
      body: { tesseraDpopBoundAccessTokens: false },
    });
    expect(patched.status).toBe(204);
    expect((await callApi(server, `/v1.0/applications/${id}`, token)).body.tesseraDpopBoundAccessTokens).toBe(
      false,
    );

    const wrong = await callApi(server, `/v1.0/applications/${id}`, token, {
      method: 'PATCH',
      body: { tesseraDpopBoundAccessTokens: 'yes' },
    });
    expectGraphError(
      wrong,
      400,
      'Request_BadRequest',
      "Cannot convert the value of property 'tesseraDpopBoundAccessTokens' to the expected type 'Edm.Boolean'.",
    );
  });

  it('PATCH true makes the token endpoint refuse the app without a DPoP proof', async () => {
    const app = await server.directory.applications.get(a.tenantId, { appId: a.daemon.appId });
    const patched = await callApi(server, `/v1.0/applications/${app.id}`, token, {
      method: 'PATCH',
      body: { tesseraDpopBoundAccessTokens: true },
    });
    expect(patched.status).toBe(204);
    await expect
      .poll(async () => {
        const response = await fetch(`${server.url}/${a.tenantId}/oauth2/v2.0/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({
            grant_type: 'client_credentials',
            client_id: a.daemon.appId,
            client_secret: a.daemon.secret,
            scope: `${a.api.identifierUri}/.default`,
          }),
        });
        return ((await response.json()) as { error_codes?: number[] }).error_codes;
      })
      .toEqual([9100303]);
  });
});
