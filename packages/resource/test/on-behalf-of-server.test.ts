import { startInteractiveServer, type InteractiveScenario, type TestServer } from '@tessera/testkit';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenAcquirer } from '../src/index.js';
import {
  seedOnBehalfOf,
  spaAccessToken,
  type OnBehalfOfScenario,
} from '../../server/test/support/on-behalf-of.js';

// The resource library's On-Behalf-Of acquisition against a real Tessera server's On-Behalf-Of grant.
describe('acquireTokenOnBehalfOf against the real grant', () => {
  let server: TestServer;
  let s: InteractiveScenario;
  let obo: OnBehalfOfScenario;

  beforeAll(async () => {
    ({ server, scenario: s } = await startInteractiveServer());
    obo = await seedOnBehalfOf(server, s);
  });
  afterAll(() => server.close());

  it('gets a downstream token for the user (secret and certificate), then serves it from its cache', async () => {
    const incoming = await spaAccessToken(server, s, `${obo.mid.identifierUri}/access_as_user`);
    const scopes = [`${s.api.identifierUri}/Files.Read`];
    for (const credential of [
      { clientSecret: obo.mid.secret },
      {
        clientCertificate: {
          thumbprintSha256: obo.mid.certificate.thumbprintSha256Hex,
          privateKey: obo.mid.certificate.privateKeyPem,
        },
      },
    ]) {
      const acquirer = createTokenAcquirer({
        authority: `${server.url}/${s.tenantId}`,
        clientId: obo.mid.appId,
        ...credential,
      });
      const first = await acquirer.acquireTokenOnBehalfOf(incoming, scopes);
      expect(first.fromCache).toBe(false);
      expect(decodeJwt(first.accessToken)).toMatchObject({
        aud: s.api.appId,
        oid: s.user.id,
        azp: obo.mid.appId,
        scp: 'Files.Read',
      });
      const second = await acquirer.acquireTokenOnBehalfOf(incoming, scopes);
      expect(second).toMatchObject({ accessToken: first.accessToken, fromCache: true });
    }
  });

  it('reports missing consent with the platform error and code', async () => {
    const incoming = await spaAccessToken(server, s, `${obo.mid.identifierUri}/access_as_user`);
    const acquirer = createTokenAcquirer({
      authority: `${server.url}/${s.tenantId}`,
      clientId: obo.mid.appId,
      clientSecret: obo.mid.secret,
    });
    await expect(
      acquirer.acquireTokenOnBehalfOf(incoming, [`${s.api.identifierUri}/Files.Admin`]),
    ).rejects.toMatchObject({ errorCodes: [65001] });
  });
});
