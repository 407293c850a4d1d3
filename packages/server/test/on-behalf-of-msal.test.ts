import {
  ConfidentialClientApplication,
  InteractionRequiredAuthError,
  type Configuration,
} from '@azure/msal-node';
import { startInteractiveServer, type InteractiveScenario, type TestServer } from '@tessera/testkit';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedOnBehalfOf, spaAccessToken, type OnBehalfOfScenario } from './support/on-behalf-of.js';

// Unmodified @azure/msal-node's acquireTokenOnBehalfOf against a real server over HTTPS (the test CA trusted via
// NODE_EXTRA_CA_CERTS), as a middle-tier API calls it.
describe('On-Behalf-Of with @azure/msal-node', () => {
  let server: TestServer;
  let s: InteractiveScenario;
  let obo: OnBehalfOfScenario;
  const posts: string[] = [];

  beforeAll(async () => {
    ({ server, scenario: s } = await startInteractiveServer());
    obo = await seedOnBehalfOf(server, s);
    server.server.app.server.on('request', (request: { method?: string; url?: string }) => {
      if (request.method === 'POST') posts.push(request.url?.split('?')[0] ?? '');
    });
  });
  afterAll(() => server.close());

  function msal(credential: Partial<Configuration['auth']>): ConfidentialClientApplication {
    return new ConfidentialClientApplication({
      auth: {
        clientId: obo.mid.appId,
        authority: `${server.url}/${s.tenantId}`,
        knownAuthorities: [new URL(server.url).host],
        ...credential,
      },
    });
  }

  const credentials = [
    ['a client secret', () => ({ clientSecret: obo.mid.secret }), '1'],
    [
      'a certificate',
      () => ({
        clientCertificate: {
          thumbprintSha256: obo.mid.certificate.thumbprintSha256Hex,
          privateKey: obo.mid.certificate.privateKeyPem,
        },
      }),
      '2',
    ],
  ] as const;

  it.each(credentials)(
    'with %s: a token for the downstream API with the user and the granted scp; the second call from the cache',
    async (_name, credential, acr) => {
      const app = msal(credential());
      const incoming = await spaAccessToken(server, s, `${obo.mid.identifierUri}/access_as_user`);
      const scopes = [`${s.api.identifierUri}/Files.Read`];
      posts.length = 0;
      const first = await app.acquireTokenOnBehalfOf({ oboAssertion: incoming, scopes });
      expect(first?.fromCache).toBe(false);
      const second = await app.acquireTokenOnBehalfOf({ oboAssertion: incoming, scopes });
      expect(second?.fromCache).toBe(true);
      expect(second?.accessToken).toBe(first?.accessToken);
      expect(posts.filter((path) => path.endsWith('/token'))).toHaveLength(1);

      const jwks = createRemoteJWKSet(new URL(`${server.url}/${s.tenantId}/discovery/v2.0/keys`));
      const { payload } = await jwtVerify(first?.accessToken ?? '', jwks, {
        issuer: `${server.url}/${s.tenantId}/v2.0`,
        audience: s.api.appId,
        typ: 'at+jwt',
      });
      expect(payload).toMatchObject({
        oid: s.user.id,
        tid: s.tenantId,
        azp: obo.mid.appId,
        azpacr: acr,
        scp: 'Files.Read',
        idtyp: 'user',
      });
      expect(first?.scopes.map((scope) => scope.toLowerCase())).toContain(
        `${s.api.identifierUri}/Files.Read`.toLowerCase(),
      );
    },
  );

  it('missing consent surfaces as InteractionRequiredAuthError with consent_required', async () => {
    const app = msal({ clientSecret: obo.mid.secret });
    const incoming = await spaAccessToken(server, s, `${obo.mid.identifierUri}/access_as_user`);
    const failure = await app
      .acquireTokenOnBehalfOf({ oboAssertion: incoming, scopes: [`${s.api.identifierUri}/Files.Admin`] })
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(failure).toBeInstanceOf(InteractionRequiredAuthError);
    expect(failure).toMatchObject({
      errorCode: 'invalid_grant',
      subError: 'consent_required',
      errorNo: 65001,
    });
  });
});
