import { readFileSync } from 'node:fs';
import type { Server } from 'node:https';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import {
  seedClientCredentialsScenario,
  startTestServer,
  type ClientCredentialsScenario,
  type TestServer,
} from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTokenAcquirer,
  createTokenValidator,
  OboTokenCache,
  TokenAcquisitionError,
  type TokenValidator,
} from '@tessera/resource';
import { countRequests } from './support/tokens.js';

describe('createTokenAcquirer against a real server', () => {
  let server: TestServer;
  let scenario: ClientCredentialsScenario;
  let validator: TokenValidator;
  let tokenRequests: { readonly count: number };
  let scope: string;

  beforeAll(async () => {
    server = await startTestServer();
    scenario = await seedClientCredentialsScenario(server.directory);
    validator = createTokenValidator({
      authority: `${server.url}/${scenario.tenantId}`,
      audience: [scenario.api.appId, scenario.api.identifierUri],
    });
    tokenRequests = countRequests(server, /^POST \/[^/]+\/oauth2\/v2\.0\/token$/);
    scope = `${scenario.api.identifierUri}/.default`;
  });
  afterAll(() => server.close());

  it('acquireTokenForApp: a token the validator accepts; the second call is served from the cache', async () => {
    const acquirer = createTokenAcquirer({
      authority: `${server.url}/${scenario.tenantId}`,
      clientId: scenario.daemon.appId,
      clientSecret: scenario.daemon.secret,
    });
    const before = tokenRequests.count;
    const first = await acquirer.acquireTokenForApp([scope]);
    expect(first.fromCache).toBe(false);
    expect(first.expiresOn.getTime()).toBeGreaterThan(Date.now() + 3500_000);
    expect(await validator.validate(first.accessToken)).toMatchObject({
      azp: scenario.daemon.appId,
      azpacr: '1',
      roles: ['Data.Read.All'],
      idtyp: 'app',
    });
    const second = await acquirer.acquireTokenForApp([scope]);
    expect(second).toMatchObject({ fromCache: true, accessToken: first.accessToken });
    expect(tokenRequests.count - before).toBe(1);
  });

  it('acquireTokenForApp with a certificate credential (private_key_jwt)', async () => {
    const acquirer = createTokenAcquirer({
      authority: `${server.url}/${scenario.domain}`,
      clientId: scenario.daemon.appId,
      clientCertificate: {
        thumbprintSha256: scenario.daemon.certificate.thumbprintSha256Hex,
        privateKey: scenario.daemon.certificate.privateKeyPem,
      },
    });
    const token = await acquirer.acquireTokenForApp([scope]);
    expect(await validator.validate(token.accessToken)).toMatchObject({ azpacr: '2' });
  });

  it("surfaces the authority's error with its numeric code", async () => {
    const acquirer = createTokenAcquirer({
      authority: `${server.url}/${scenario.tenantId}`,
      clientId: scenario.daemon.appId,
      clientSecret: 'not-the-secret',
    });
    const error = await acquirer.acquireTokenForApp([scope]).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TokenAcquisitionError);
    expect(error).toMatchObject({ error: 'invalid_client', errorCodes: [7000215] });
  });

  it('refuses a configuration without exactly one credential', () => {
    const base = { authority: `${server.url}/${scenario.tenantId}`, clientId: scenario.daemon.appId };
    expect(() => createTokenAcquirer(base)).toThrow(TypeError);
    expect(() =>
      createTokenAcquirer({
        ...base,
        clientSecret: 's',
        clientCertificate: { thumbprintSha256: 'ab', privateKey: 'k' },
      }),
    ).toThrow(TypeError);
  });
});

describe('OboTokenCache', () => {
  let nowMs = 1_700_000_000_000;
  const token = (expiresInSeconds: number, accessToken = 'downstream') => ({
    accessToken,
    expiresOn: new Date(nowMs + expiresInSeconds * 1000),
    scopes: ['api://b/.default'],
  });

  it('keys by sha256 of the incoming token and the sorted distinct scopes, never the token itself', () => {
    const key = OboTokenCache.keyOf('eyJ.incoming.token', ['b', 'a', 'b']);
    // sha256('eyJ.incoming.token'), computed independently with sha256sum.
    expect(key).toBe('1abcfe8ecb9f4967f3cc3218b38b86b9120a23cdfb79ec3824f295998e9ea99e a b');
    expect(key).not.toContain('incoming');
    expect(OboTokenCache.keyOf('eyJ.incoming.token', ['a', 'b'])).toBe(key);
    expect(OboTokenCache.keyOf('eyJ.other.token', ['a', 'b'])).not.toBe(key);
    expect(OboTokenCache.keyOf('eyJ.incoming.token', ['a'])).not.toBe(key);
  });

  it('serves a token until refreshBeforeExpirySeconds before it expires', () => {
    const cache = new OboTokenCache({ refreshBeforeExpirySeconds: 300, now: () => nowMs });
    cache.set('k', token(3600));
    expect(cache.get('k')?.accessToken).toBe('downstream');
    nowMs += (3600 - 301) * 1000;
    expect(cache.get('k')?.accessToken).toBe('downstream');
    nowMs += 1000;
    expect(cache.get('k')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('is bounded: the least recently used entry goes first', () => {
    const cache = new OboTokenCache({ maxEntries: 2, now: () => nowMs });
    cache.set('a', token(3600, 'A'));
    cache.set('b', token(3600, 'B'));
    expect(cache.get('a')?.accessToken).toBe('A');
    cache.set('c', token(3600, 'C'));
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')?.accessToken).toBe('A');
    expect(cache.get('c')?.accessToken).toBe('C');
    expect(cache.size).toBe(2);
  });
});

// The acquirer's own caching (concurrent sharing, keys) is exercised against a stand-in authority
// over HTTPS (the shared test certificate): discovery plus a token endpoint that answers the jwt-bearer grant
// with a fresh token each time, so every network call is visible. Unmodified MSAL talks to it.
describe('acquireTokenOnBehalfOf caching (stand-in authority)', () => {
  let authority: Server;
  let base: string;
  const grants: Record<string, string>[] = [];

  beforeAll(async () => {
    const tlsDir = process.env.TESSERA_TEST_TLS_DIR ?? '';
    authority = createHttpsServer(
      { cert: readFileSync(join(tlsDir, 'server.pem')), key: readFileSync(join(tlsDir, 'server-key.pem')) },
      (request, response) => {
        let body = '';
        request.on('data', (chunk: Buffer) => (body += chunk.toString()));
        request.on('end', () => {
          response.setHeader('content-type', 'application/json');
          if (request.url?.endsWith('/v2.0/.well-known/openid-configuration')) {
            response.end(
              JSON.stringify({
                issuer: `${base}/tenant/v2.0`,
                authorization_endpoint: `${base}/tenant/oauth2/v2.0/authorize`,
                token_endpoint: `${base}/tenant/oauth2/v2.0/token`,
                jwks_uri: `${base}/tenant/discovery/v2.0/keys`,
                end_session_endpoint: `${base}/tenant/oauth2/v2.0/logout`,
              }),
            );
            return;
          }
          const params = Object.fromEntries(new URLSearchParams(body));
          grants.push(params);
          setTimeout(() => {
            response.end(
              JSON.stringify({
                token_type: 'Bearer',
                expires_in: 3599,
                ext_expires_in: 3599,
                scope: params.scope,
                access_token: `downstream-${grants.length}`,
              }),
            );
          }, 20);
        });
      },
    );
    await new Promise<void>((resolve) => authority.listen(0, '127.0.0.1', resolve));
    base = `https://localhost:${(authority.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((resolve) => authority.close(resolve)));

  it('caches by incoming token + scopes, shares concurrent requests, and sends the OBO grant MSAL builds', async () => {
    const acquirer = createTokenAcquirer({
      authority: `${base}/tenant`,
      clientId: 'middle-tier',
      clientSecret: 's',
    });
    const scopes = ['api://downstream/.default'];
    const [first, concurrent] = await Promise.all([
      acquirer.acquireTokenOnBehalfOf('incoming-token-1', scopes),
      acquirer.acquireTokenOnBehalfOf('incoming-token-1', scopes),
    ]);
    expect(first).toMatchObject({ accessToken: 'downstream-1', fromCache: false });
    expect(concurrent.accessToken).toBe('downstream-1');
    expect(grants).toHaveLength(1);
    expect(grants[0]).toMatchObject({
      grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
      requested_token_use: 'on_behalf_of',
      assertion: 'incoming-token-1',
      client_id: 'middle-tier',
    });

    expect(await acquirer.acquireTokenOnBehalfOf('incoming-token-1', scopes)).toMatchObject({
      accessToken: 'downstream-1',
      fromCache: true,
    });
    expect(grants).toHaveLength(1);
    expect((await acquirer.acquireTokenOnBehalfOf('incoming-token-2', scopes)).accessToken).toBe(
      'downstream-2',
    );
    expect(
      (await acquirer.acquireTokenOnBehalfOf('incoming-token-1', ['api://other/.default'])).accessToken,
    ).toBe('downstream-3');
    expect(grants).toHaveLength(3);
  });
});
