import { ConfidentialClientApplication, type Configuration } from '@azure/msal-node';
import {
  seedClientCredentialsScenario,
  startTestServer,
  type ClientCredentialsScenario,
  type TestServer,
} from '@tessera/testkit';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Unmodified @azure/msal-node against a real server over HTTPS (trusting the test CA via NODE_EXTRA_CA_CERTS).
describe('client credentials with @azure/msal-node', () => {
  let server: TestServer;
  let scenario: ClientCredentialsScenario;
  const requests: string[] = [];

  beforeAll(async () => {
    server = await startTestServer();
    scenario = await seedClientCredentialsScenario(server.directory);
    server.server.app.server.on('request', (request: { method?: string; url?: string }) => {
      requests.push(`${request.method ?? ''} ${request.url?.split('?')[0] ?? ''}`);
    });
  });
  afterAll(() => server.close());

  function msal(tenant: string, credential: Partial<Configuration['auth']>): ConfidentialClientApplication {
    return new ConfidentialClientApplication({
      auth: {
        clientId: scenario.daemon.appId,
        authority: `${server.url}/${tenant}`,
        knownAuthorities: [new URL(server.url).host],
        ...credential,
      },
    });
  }

  async function verify(accessToken: string) {
    const jwks = createRemoteJWKSet(new URL(`${server.url}/${scenario.tenantId}/discovery/v2.0/keys`));
    return jwtVerify(accessToken, jwks, {
      issuer: `${server.url}/${scenario.tenantId}/v2.0`,
      audience: scenario.api.appId,
      typ: 'at+jwt',
      algorithms: ['RS256'],
    });
  }

  const cases = [
    [
      'client secret, tenant GUID',
      () => scenario.tenantId,
      () => ({ clientSecret: scenario.daemon.secret }),
      '1',
    ],
    [
      'client secret, tenant domain',
      () => scenario.domain,
      () => ({ clientSecret: scenario.daemon.secret }),
      '1',
    ],
    [
      'certificate by thumbprintSha256 (PS256, x5t#S256)',
      () => scenario.tenantId,
      () => ({
        clientCertificate: {
          thumbprintSha256: scenario.daemon.certificate.thumbprintSha256Hex,
          privateKey: scenario.daemon.certificate.privateKeyPem,
        },
      }),
      '2',
    ],
    [
      'certificate by SHA-1 thumbprint (RS256, x5t), tenant domain',
      () => scenario.domain,
      () => ({
        clientCertificate: {
          thumbprint: scenario.daemon.certificate.thumbprintHex,
          privateKey: scenario.daemon.certificate.privateKeyPem,
        },
      }),
      '2',
    ],
  ] as const;

  it.each(cases)(
    'gets a token with %s, and the second call is served from the cache',
    async (_name, tenant, credential, acr) => {
      const app = msal(tenant(), credential());
      const scopes = [`${scenario.api.identifierUri}/.default`];
      requests.length = 0;
      const first = await app.acquireTokenByClientCredential({ scopes });
      expect(first?.fromCache).toBe(false);
      const second = await app.acquireTokenByClientCredential({ scopes });
      expect(second?.fromCache).toBe(true);
      expect(second?.accessToken).toBe(first?.accessToken);
      expect(requests.filter((r) => r.startsWith('POST')).length).toBe(1);

      const { payload, protectedHeader } = await verify(first?.accessToken ?? '');
      expect(protectedHeader).toMatchObject({ alg: 'RS256', typ: 'at+jwt' });
      expect(protectedHeader.kid).toBeTypeOf('string');
      expect(protectedHeader.x5t).toBe(protectedHeader.kid);
      expect(payload).toMatchObject({
        aud: scenario.api.appId,
        azp: scenario.daemon.appId,
        azpacr: acr,
        idtyp: 'app',
        oid: scenario.daemon.servicePrincipalId,
        sub: scenario.daemon.servicePrincipalId,
        tid: scenario.tenantId,
        ver: '2.0',
        roles: [...scenario.grantedRoles],
      });
      expect(payload.exp! - payload.iat!).toBe(3599);
      expect(payload.uti).toMatch(/^[A-Za-z0-9_-]{22}$/);
    },
  );

  it('issues a unique uti per token', async () => {
    const utis = new Set<unknown>();
    for (let i = 0; i < 3; i++) {
      const result = await msal(scenario.tenantId, {
        clientSecret: scenario.daemon.secret,
      }).acquireTokenByClientCredential({
        scopes: [`${scenario.api.identifierUri}/.default`],
      });
      utis.add(decodeJwt(result?.accessToken ?? '').uti);
    }
    expect(utis.size).toBe(3);
  });

  it('reports a server error through MSAL with the platform error code', async () => {
    const app = msal(scenario.tenantId, { clientSecret: 'wrong-secret' });
    await expect(
      app.acquireTokenByClientCredential({ scopes: [`${scenario.api.identifierUri}/.default`] }),
    ).rejects.toMatchObject({
      errorCode: 'invalid_client',
      errorNo: 7000215,
    });
  });
});
