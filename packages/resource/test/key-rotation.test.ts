import { keyRetentionSeconds, loadMasterKey, rotateSigningKeys } from '@tessera/server';
import {
  seedClientCredentialsScenario,
  startTestServer,
  type ClientCredentialsScenario,
  type TestServer,
} from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenValidator } from '@tessera/resource';
import { appToken, countRequests, partsOf } from './support/tokens.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('server key rotation seen by a running validator', () => {
  let server: TestServer;
  let scenario: ClientCredentialsScenario;
  let es: ClientCredentialsScenario;

  beforeAll(async () => {
    server = await startTestServer();
    scenario = await seedClientCredentialsScenario(server.directory);
    es = await seedClientCredentialsScenario(server.directory, { tokenAlg: 'ES256' });
  });
  afterAll(() => server.close());

  it('accepts tokens signed with the new key without a restart and without a JWKS fetch per request', async () => {
    const keyFetches = countRequests(server, /^GET \/[^/]+\/discovery\/v2\.0\/keys$/);
    const validator = createTokenValidator({
      authority: `${server.url}/${scenario.tenantId}`,
      audience: [scenario.api.appId, es.api.appId],
      allowedTenants: [scenario.tenantId, es.tenantId],
      issuer: [`${server.url}/${scenario.tenantId}/v2.0`, `${server.url}/${es.tenantId}/v2.0`],
      jwksCooldownMs: 300,
    });
    const oldToken = await appToken(server, scenario);
    const oldEsToken = await appToken(server, es);
    await validator.validate(oldToken);
    await validator.validate(oldEsToken);
    expect(keyFetches.count).toBe(1);

    // Rotate as `tessera keys rotate --now` does: a new current key per algorithm, the old ones stay published.
    const { store, config } = server.server;
    const masterKey = loadMasterKey(config.masterKey, config.dataDir).key;
    const nowSeconds = Math.floor(Date.now() / 1000);
    const rotated = await rotateSigningKeys(
      store,
      masterKey,
      ['RS256', 'ES256'],
      keyRetentionSeconds(config),
      nowSeconds,
    );
    await server.server.refresh();

    const newToken = await appToken(server, scenario);
    const newEsToken = await appToken(server, es);
    expect(partsOf(newToken).header.kid).toBe(rotated.find((key) => key.alg === 'RS256')?.kid);
    expect(partsOf(newEsToken).header.kid).toBe(rotated.find((key) => key.alg === 'ES256')?.kid);
    expect(partsOf(newToken).header.kid).not.toBe(partsOf(oldToken).header.kid);

    await sleep(350); // past the unknown-kid cooldown since the first fetch
    expect(await validator.validate(newToken)).toMatchObject({ azp: scenario.daemon.appId });
    expect(keyFetches.count).toBe(2);
    for (let i = 0; i < 25; i++) {
      await validator.validate(newToken);
      await validator.validate(newEsToken);
      await validator.validate(oldToken);
      await validator.validate(oldEsToken);
    }
    expect(keyFetches.count).toBe(2);
  });
});
