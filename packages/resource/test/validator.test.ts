import {
  seedClientCredentialsScenario,
  startTestServer,
  type ClientCredentialsScenario,
  type TestServer,
} from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BearerTokenError,
  createTokenValidator,
  type AsymmetricAlgorithm,
  type TokenValidatorOptions,
} from '@tessera/resource';
import { appToken, compact, countRequests, partsOf } from './support/tokens.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The code of the BearerTokenError a promise rejects with (and that it is one). */
async function refusal(promise: Promise<unknown>): Promise<string> {
  const error: unknown = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(BearerTokenError);
  return (error as BearerTokenError).code;
}

describe('createTokenValidator against a real server', () => {
  let server: TestServer;
  let v2: ClientCredentialsScenario;
  let v1: ClientCredentialsScenario;
  let es: ClientCredentialsScenario;
  let keyFetches: { readonly count: number };
  let discoveryFetches: { readonly count: number };

  beforeAll(async () => {
    server = await startTestServer();
    v2 = await seedClientCredentialsScenario(server.directory);
    v1 = await seedClientCredentialsScenario(server.directory, { tokenVersion: 1 });
    es = await seedClientCredentialsScenario(server.directory, { tokenAlg: 'ES256' });
    keyFetches = countRequests(server, /^GET \/[^/]+\/discovery\/v2\.0\/keys$/);
    discoveryFetches = countRequests(server, /^GET \/[^/]+\/v2\.0\/\.well-known\/openid-configuration$/);
  });
  afterAll(() => server.close());

  const audienceOf = (scenario: ClientCredentialsScenario) => [
    scenario.api.appId,
    scenario.api.identifierUri,
  ];

  it('accepts a v2.0 client credentials token with the right claims (authority = tenant GUID)', async () => {
    const validator = createTokenValidator({
      authority: `${server.url}/${v2.tenantId}`,
      audience: audienceOf(v2),
    });
    const claims = await validator.validate(await appToken(server, v2));
    expect(claims).toMatchObject({
      iss: `${server.url}/${v2.tenantId}/v2.0`,
      aud: v2.api.appId,
      azp: v2.daemon.appId,
      azpacr: '1',
      idtyp: 'app',
      oid: v2.daemon.servicePrincipalId,
      sub: v2.daemon.servicePrincipalId,
      tid: v2.tenantId,
      ver: '2.0',
      roles: ['Data.Read.All'],
    });
    expect(claims.appid).toBeUndefined();
    expect(claims.exp - claims.iat).toBe(3599);
  });

  it('accepts v1.0 tokens: issuer derived from discovery, aud = the App ID URI or the appId requested', async () => {
    const validator = createTokenValidator({
      authority: `${server.url}/${v1.domain}`,
      audience: audienceOf(v1),
    });
    const byUri = await validator.validate(await appToken(server, v1));
    expect(byUri).toMatchObject({
      iss: `${server.url}/${v1.tenantId}/`,
      idp: `${server.url}/${v1.tenantId}/`,
      aud: v1.api.identifierUri,
      appid: v1.daemon.appId,
      appidacr: '1',
      idtyp: 'app',
      tid: v1.tenantId,
      ver: '1.0',
      roles: ['Data.Read.All'],
    });
    const byAppId = await validator.validate(
      await appToken(server, v1, { scope: `${v1.api.appId}/.default` }),
    );
    expect(byAppId.aud).toBe(v1.api.appId);
  });

  it('accepts ES256 tokens, and refuses them when the allow-list is RS256 only', async () => {
    const options = { authority: `${server.url}/${es.tenantId}`, audience: audienceOf(es) };
    const token = await appToken(server, es);
    expect(partsOf(token).header.alg).toBe('ES256');
    expect(await createTokenValidator(options).validate(token)).toMatchObject({ azp: es.daemon.appId });
    expect(await refusal(createTokenValidator({ ...options, algorithms: ['RS256'] }).validate(token))).toBe(
      'algorithm_not_allowed',
    );
  });

  it('tokenVersions restricts the accepted versions', async () => {
    const validator = createTokenValidator({
      authority: `${server.url}/${v1.tenantId}`,
      audience: audienceOf(v1),
      tokenVersions: ['2.0'],
    });
    expect(await refusal(validator.validate(await appToken(server, v1)))).toBe('claim_invalid');
  });

  it('multi-tenant: organizations authority with an async isTenantAllowed callback', async () => {
    const asked: string[] = [];
    const validator = createTokenValidator({
      authority: `${server.url}/organizations`,
      audience: [...audienceOf(v2), ...audienceOf(v1)],
      isTenantAllowed: async (tid) => {
        asked.push(tid);
        await sleep(1);
        return tid === v2.tenantId;
      },
    });
    expect(await validator.validate(await appToken(server, v2))).toMatchObject({ tid: v2.tenantId });
    expect(await refusal(validator.validate(await appToken(server, v1)))).toBe('tenant_not_allowed');
    expect(asked).toEqual([v2.tenantId, v1.tenantId]);

    const throwing = createTokenValidator({
      authority: `${server.url}/organizations`,
      audience: audienceOf(v2),
      isTenantAllowed: () => {
        throw new Error('database down');
      },
    });
    expect(await refusal(throwing.validate(await appToken(server, v2)))).toBe('validation_failed');
  });

  it('caches discovery and the JWKS: many validations, one fetch each', async () => {
    const validator = createTokenValidator({
      authority: `${server.url}/${v2.tenantId}`,
      audience: audienceOf(v2),
    });
    const token = await appToken(server, v2);
    const keysBefore = keyFetches.count;
    const discoveryBefore = discoveryFetches.count;
    await Promise.all(Array.from({ length: 20 }, () => validator.validate(token)));
    for (let i = 0; i < 30; i++) await validator.validate(token);
    expect(keyFetches.count - keysBefore).toBe(1);
    expect(discoveryFetches.count - discoveryBefore).toBe(1);
  });

  it('unknown kid: exactly one JWKS refresh then refusal; none again within the cooldown', async () => {
    const validator = createTokenValidator({
      authority: `${server.url}/${v2.tenantId}`,
      audience: audienceOf(v2),
      jwksCooldownMs: 300,
    });
    const token = await appToken(server, v2);
    const { header, payload, signature } = partsOf(token);
    const unknown = compact({ ...header, kid: 'unknown-kid' }, payload, signature);
    await validator.validate(token);
    const before = keyFetches.count;

    await sleep(350);
    expect(await refusal(validator.validate(unknown))).toBe('key_not_found');
    expect(keyFetches.count - before).toBe(1);
    for (let i = 0; i < 10; i++) expect(await refusal(validator.validate(unknown))).toBe('key_not_found');
    expect(keyFetches.count - before).toBe(1);
    await validator.validate(token);
    expect(keyFetches.count - before).toBe(1);
  });

  it('an unreachable authority is metadata_unavailable (503), retried only after the cooldown', async () => {
    const validator = createTokenValidator({
      authority: 'https://localhost:1/tenant',
      audience: 'api://x',
      jwksCooldownMs: 200,
      httpTimeoutMs: 1000,
    });
    const token = compact({ alg: 'RS256', typ: 'at+jwt', kid: 'k1' }, {}, 'c2ln');
    const error = await validator.validate(token).catch((caught: unknown) => caught);
    expect(error).toMatchObject({
      code: 'metadata_unavailable',
      status: 503,
      error: 'temporarily_unavailable',
    });
    expect(error).toMatchObject({
      detail: 'discovery https://localhost:1/tenant/v2.0/.well-known/openid-configuration failed',
    });
    expect(await validator.validate(token).catch((caught: unknown) => caught)).toMatchObject({
      code: 'metadata_unavailable',
      detail: 'discovery cooling down',
    });
    await sleep(250);
    expect(await validator.validate(token).catch((caught: unknown) => caught)).toMatchObject({
      code: 'metadata_unavailable',
      detail: 'discovery https://localhost:1/tenant/v2.0/.well-known/openid-configuration failed',
    });
  });

  it.each<[string, Partial<TokenValidatorOptions>]>([
    ['no way to find keys', { authority: undefined, issuer: 'https://x/' }],
    ['no issuer with jwksUri', { authority: undefined, jwksUri: 'https://x/keys' }],
    ['an empty audience', { audience: [] }],
    ['plain http off loopback', { authority: 'http://idp.example/tenant' }],
    ['HS256', { algorithms: ['HS256' as AsymmetricAlgorithm] }],
    ['none', { algorithms: ['none' as AsymmetricAlgorithm] }],
    ['common without a tenant policy', { authority: 'https://idp.example/common' }],
    ['a {tenantid} issuer without a tenant policy', { issuer: 'https://idp.example/{tenantid}/v2.0' }],
    ['a negative skew', { clockSkewSeconds: -1 }],
  ])('refuses a configuration with %s', (_name, override) => {
    const options = { authority: 'https://idp.example/tenant', audience: 'api://x', ...override };
    expect(() => createTokenValidator(options as TokenValidatorOptions)).toThrow(TypeError);
  });

  it("accepts 'all' tenants when written down", () => {
    expect(() =>
      createTokenValidator({
        authority: 'https://idp.example/common',
        audience: 'api://x',
        allowedTenants: 'all',
      }),
    ).not.toThrow();
  });
});
