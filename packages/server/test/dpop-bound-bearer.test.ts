import { randomUUID } from 'node:crypto';
import { seedClientCredentialsScenario, startTestServer, type TestServer } from '@tessera/testkit';
import { decodeJwt, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  callApi,
  expectGraphError,
  GRAPH,
  seedDirectoryClient,
  type SeededClient,
} from './support/management-api.js';

// RFC 9449 §7.2: a DPoP-bound access token (`cnf.jkt`) is not a bearer token. The server's own protected resources
// take bearer tokens only, so a bound token copied out of a client is refused there with `Authorization: Bearer`:
// the management API (`/v1.0`) answers 401 InvalidAuthenticationToken; the same client's bearer token passes.

let server: TestServer;
let tenantId: string;
let reader: SeededClient;

/** A client-credentials token for Microsoft Graph, bound to a fresh DPoP key when `bound`. */
async function graphToken(bound: boolean): Promise<string> {
  const url = `${server.url}/${tenantId}/oauth2/v2.0/token`;
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  if (bound) {
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    headers.dpop = await new SignJWT({ jti: randomUUID(), htm: 'POST', htu: url })
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: await exportJWK(publicKey) })
      .setIssuedAt()
      .sign(privateKey);
  }
  const response = await fetch(url, {
    method: 'POST',
    headers,
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: reader.appId,
      client_secret: reader.secret,
      scope: `${GRAPH}/.default`,
    }),
  });
  const body = (await response.json()) as { access_token: string; token_type: string };
  expect({ status: response.status, tokenType: body.token_type }).toEqual({
    status: 200,
    tokenType: bound ? 'DPoP' : 'Bearer',
  });
  return body.access_token;
}

beforeAll(async () => {
  server = await startTestServer();
  tenantId = (await seedClientCredentialsScenario(server.directory)).tenantId;
  reader = await seedDirectoryClient(server, tenantId, 'Directory reader', ['User.Read.All']);
});

afterAll(async () => {
  await server.close();
});

describe('DPoP-bound tokens at the management API', () => {
  it('a bound token sent as a bearer token is refused with 401 InvalidAuthenticationToken', async () => {
    const token = await graphToken(true);
    expect(decodeJwt(token).cnf).toMatchObject({ jkt: expect.any(String) });
    const answer = await callApi(server, '/v1.0/users', token);
    expectGraphError(
      answer,
      401,
      'InvalidAuthenticationToken',
      'The access token is bound to a DPoP key (cnf): it cannot be used as a bearer token.',
    );
    expect(answer.headers.get('www-authenticate')).toMatch(/^Bearer /);
  });

  it('the same client’s bearer token passes', async () => {
    expect((await callApi(server, '/v1.0/users', await graphToken(false))).status).toBe(200);
  });
});
