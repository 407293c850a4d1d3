import { X509Certificate, createHash, createPublicKey, randomUUID, type JsonWebKey } from 'node:crypto';
import type { ServicePrincipal } from '@tessera/server';
import {
  createClientCertificate,
  JWT_BEARER_ASSERTION_TYPE,
  seedClientCredentialsScenario,
  signClientAssertion,
  startTestServer,
} from '@tessera/testkit';
import type { ClientCertificate, ClientCredentialsScenario, TestServer } from '@tessera/testkit';
import {
  SignJWT,
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  jwtVerify,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

// Seed 003 (client credentials, v2.0) as raw HTTP against a real server over HTTPS: the seed's requests with the
// host replaced, the token response and the access token's claims, client authentication methods, token versions,
// signing algorithms, tenant isolation, discovery and the JWKS.

const GRAPH = 'https://graph.microsoft.com';
const FORM = 'application/x-www-form-urlencoded';

const V1_CLAIMS = [
  'aud',
  'iss',
  'iat',
  'nbf',
  'exp',
  'idp',
  'appid',
  'appidacr',
  'idtyp',
  'oid',
  'sub',
  'tid',
];
const V2_CLAIMS = [
  'aud',
  'iss',
  'iat',
  'nbf',
  'exp',
  'azp',
  'azpacr',
  'idtyp',
  'oid',
  'sub',
  'tid',
  'jti',
  'client_id',
];

let server: TestServer;
/** Tenant A: an API with v2 tokens (RS256) and a daemon granted `Data.Read.All`. */
let a: ClientCredentialsScenario;
/** Tenant B: the same, in another tenant. */
let b: ClientCredentialsScenario;
/** An API with v1 tokens. */
let v1: ClientCredentialsScenario;
/** An API whose tokens are ES256. */
let es: ClientCredentialsScenario;
/** A tenant whose daemon asks for the built-in directory API; its grants change during the tests. */
let g: ClientCredentialsScenario;

const jwksByTenant = new Map<string, JWTVerifyGetKey>();
const now = () => Math.floor(Date.now() / 1000);
const tokenEndpointOf = (tenant: string) => `${server.url}/${tenant}/oauth2/v2.0/token`;

function post(path: string, body: string | URLSearchParams, headers: Record<string, string> = {}) {
  return fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': FORM, ...headers },
    body: body.toString(),
  });
}

/** Asserts a successful token response (RFC 6749 §5.1) and returns the access token. */
async function expectToken(response: Response): Promise<string> {
  const body = (await response.json()) as Record<string, unknown>;
  expect({ status: response.status, body }).toEqual({
    status: 200,
    body: {
      token_type: 'Bearer',
      expires_in: 3599,
      ext_expires_in: 3599,
      access_token: expect.stringMatching(/^[\w-]+\.[\w-]+\.[\w-]+$/),
    },
  });
  expect(response.headers.get('content-type')).toMatch(/^application\/json\b/);
  expect(response.headers.get('cache-control')).toBe('no-store');
  return body.access_token as string;
}

/** Asserts an error response's status, `error` and code; the exact bodies are in token-endpoint-errors.test.ts. */
async function expectError(response: Response, status: number, error: string, code: number): Promise<void> {
  const body = (await response.json()) as Record<string, unknown>;
  expect({ status: response.status, error: body.error, error_codes: body.error_codes }).toEqual({
    status,
    error,
    error_codes: [code],
  });
  expect(body.error_description).toMatch(new RegExp(`^TSS${code}: `));
}

interface Expected {
  readonly tenantId: string;
  readonly version: 1 | 2;
  readonly audience: string;
  readonly alg?: 'RS256' | 'ES256';
}

/**
 * Verifies an access token as a resource server would: signature against the tenant's published JWKS, issuer,
 * audience, `typ` and algorithm. Returns the payload and header.
 */
async function verifyToken(token: string, expected: Expected) {
  let jwks = jwksByTenant.get(expected.tenantId);
  if (jwks === undefined) {
    jwks = createRemoteJWKSet(new URL(`${server.url}/${expected.tenantId}/discovery/v2.0/keys`));
    jwksByTenant.set(expected.tenantId, jwks);
  }
  const issuer =
    expected.version === 2
      ? `${server.url}/${expected.tenantId}/v2.0`
      : `${server.url}/${expected.tenantId}/`;
  const result = await jwtVerify(token, jwks, {
    issuer,
    audience: expected.audience,
    typ: expected.version === 2 ? 'at+jwt' : 'JWT',
    algorithms: [expected.alg ?? 'RS256'],
  });
  expect(Object.keys(result.protectedHeader).sort()).toEqual(['alg', 'kid', 'typ', 'x5t']);
  return result;
}

/** Checks the app-only claims of a token for `client` with the given `appidacr`/`azpacr` and roles. */
function expectAppClaims(
  payload: JWTPayload,
  expected: Expected & {
    readonly clientAppId: string;
    readonly servicePrincipalId: string;
    readonly clientAuthenticationLevel: '1' | '2';
    readonly roles: readonly string[];
  },
): void {
  const v2 = expected.version === 2;
  const issuer = v2 ? `${server.url}/${expected.tenantId}/v2.0` : `${server.url}/${expected.tenantId}/`;
  const t = now();
  expect(payload).toStrictEqual({
    aud: expected.audience,
    iss: issuer,
    iat: expect.any(Number),
    nbf: payload.iat,
    exp: (payload.iat ?? 0) + 3599,
    ...(v2
      ? { azp: expected.clientAppId, azpacr: expected.clientAuthenticationLevel }
      : { idp: issuer, appid: expected.clientAppId, appidacr: expected.clientAuthenticationLevel }),
    idtyp: 'app',
    oid: expected.servicePrincipalId,
    ...(expected.roles.length > 0 ? { roles: [...expected.roles] } : {}),
    sub: expected.servicePrincipalId,
    tid: expected.tenantId,
    uti: expect.stringMatching(/^[\w-]{22}$/),
    ver: v2 ? '2.0' : '1.0',
    // RFC 9068 §2.2, for `typ: at+jwt`.
    ...(v2 ? { jti: payload.uti, client_id: expected.clientAppId } : {}),
  });
  expect(Object.keys(payload).sort()).toEqual(
    [...(v2 ? V2_CLAIMS : V1_CLAIMS), ...(expected.roles.length > 0 ? ['roles'] : []), 'uti', 'ver'].sort(),
  );
  expect(Math.abs((payload.iat ?? 0) - t)).toBeLessThanOrEqual(5);
}

function secretForm(
  scenario: ClientCredentialsScenario,
  scope = `${scenario.api.identifierUri}/.default`,
): URLSearchParams {
  return new URLSearchParams({
    client_id: scenario.daemon.appId,
    scope,
    client_secret: scenario.daemon.secret,
    grant_type: 'client_credentials',
  });
}

function assertionForm(clientId: string, assertion: string, scope: string): URLSearchParams {
  return new URLSearchParams({
    client_id: clientId,
    client_assertion_type: JWT_BEARER_ASSERTION_TYPE,
    client_assertion: assertion,
    scope,
    grant_type: 'client_credentials',
  });
}

/** A client assertion as MSAL builds it for `thumbprintSha256` (PS256, `x5t#S256`). */
function assertion(clientId: string, certificate: ClientCertificate, audience: string | string[]) {
  return signClientAssertion({
    clientId,
    audience,
    key: certificate.privateKey,
    header: { 'x5t#S256': certificate.x5tS256 },
  });
}

describe('client credentials over raw HTTP (RFC 6749 §4.4)', () => {
  beforeAll(async () => {
    server = await startTestServer();
    a = await seedClientCredentialsScenario(server.directory);
    b = await seedClientCredentialsScenario(server.directory);
    v1 = await seedClientCredentialsScenario(server.directory, { tokenVersion: 1 });
    es = await seedClientCredentialsScenario(server.directory, { tokenAlg: 'ES256' });
    g = await seedClientCredentialsScenario(server.directory);
    await server.server.refresh();
  });
  afterAll(() => server.close());

  describe('the seed requests, host replaced', () => {
    it('shared secret at /common: the body exactly as in the seed gives a v1 token for the directory API; roles follow grants', async () => {
      const body =
        `client_id=${g.daemon.appId}&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default` +
        `&client_secret=${g.daemon.secret}&grant_type=client_credentials`;
      const expected = {
        tenantId: g.tenantId,
        version: 1,
        audience: GRAPH,
        clientAppId: g.daemon.appId,
        servicePrincipalId: g.daemon.servicePrincipalId,
        clientAuthenticationLevel: '1',
      } as const;
      const first = await verifyToken(
        await expectToken(await post('/common/oauth2/v2.0/token', body)),
        expected,
      );
      expectAppClaims(first.payload, { ...expected, roles: [] });

      await server.directory.grants.grantAppRole({
        tenant: g.tenantId,
        clientAppId: g.daemon.appId,
        resource: GRAPH,
        role: 'User.Read.All',
      });
      // No refresh(): the server's directory watcher must notice the write by itself.
      await vi.waitFor(
        async () => {
          const token = await expectToken(await post('/common/oauth2/v2.0/token', body));
          expect(decodeJwt(token).roles).toEqual(['User.Read.All']);
        },
        { timeout: 3000, interval: 50 },
      );
      const next = await expectToken(await post('/common/oauth2/v2.0/token', body));
      expectAppClaims((await verifyToken(next, expected)).payload, { ...expected, roles: ['User.Read.All'] });
    });

    it('certificate at /common: an RS256 assertion with x5t, the body in the seed order', async () => {
      const t = now();
      const clientAssertion = await new SignJWT({
        aud: tokenEndpointOf('common'),
        iss: a.daemon.appId,
        sub: a.daemon.appId,
        jti: randomUUID(),
        nbf: t,
        exp: t + 600,
      })
        .setProtectedHeader({ alg: 'RS256', x5t: a.daemon.certificate.x5t })
        .sign(a.daemon.certificate.privateKey);
      expect(clientAssertion.startsWith('eyJhbGciOiJSUzI1NiIsIng1dCI6I')).toBe(true);
      const body =
        `scope=https%3A%2F%2Fgraph.microsoft.com%2F.default&client_id=${a.daemon.appId}` +
        `&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer` +
        `&client_assertion=${clientAssertion}&grant_type=client_credentials`;
      const expected = {
        tenantId: a.tenantId,
        version: 1,
        audience: GRAPH,
        clientAppId: a.daemon.appId,
        servicePrincipalId: a.daemon.servicePrincipalId,
        clientAuthenticationLevel: '2',
        roles: [],
      } as const;
      const token = await expectToken(await post('/common/oauth2/v2.0/token', body));
      expectAppClaims((await verifyToken(token, expected)).payload, expected);
    });

    it.each([
      ['common', () => 'common'],
      ['organizations', () => 'organizations'],
      ['the tenant GUID', () => a.tenantId],
      ['a verified domain', () => a.domain],
    ])('a secret request at %s resolves to the home tenant', async (_name, tenantOf) => {
      const tenant = tenantOf();
      const token = await expectToken(await post(`/${tenant}/oauth2/v2.0/token`, secretForm(a)));
      const expected = { tenantId: a.tenantId, version: 2, audience: a.api.appId } as const;
      expectAppClaims((await verifyToken(token, expected)).payload, {
        ...expected,
        clientAppId: a.daemon.appId,
        servicePrincipalId: a.daemon.servicePrincipalId,
        clientAuthenticationLevel: '1',
        roles: a.grantedRoles,
      });
    });

    it('answers with the client-request-id and no-store on success', async () => {
      const id = randomUUID();
      const response = await post(`/${a.tenantId}/oauth2/v2.0/token`, secretForm(a), {
        'client-request-id': id,
      });
      await expectToken(response);
      expect(response.headers.get('client-request-id')).toBe(id);
      expect(response.headers.get('pragma')).toBe('no-cache');
    });
  });

  describe('client authentication', () => {
    const encodings = [
      ['as-is (base64url secrets need no escaping)', (value: string) => encodeURIComponent(value)],
      [
        'every character percent-encoded',
        (value: string) =>
          [...Buffer.from(value)]
            .map((byte) => `%${byte.toString(16).toUpperCase().padStart(2, '0')}`)
            .join(''),
      ],
    ] as const;

    it.each(encodings)(
      'client_secret_basic, id and secret form-urlencoded %s (RFC 6749 §2.3.1)',
      async (_n, enc) => {
        const credentials = Buffer.from(`${enc(a.daemon.appId)}:${enc(a.daemon.secret)}`).toString('base64');
        for (const withClientId of [false, true]) {
          const form = new URLSearchParams({
            scope: `${a.api.identifierUri}/.default`,
            grant_type: 'client_credentials',
          });
          if (withClientId) form.set('client_id', a.daemon.appId);
          const response = await post(`/${a.tenantId}/oauth2/v2.0/token`, form, {
            authorization: `Basic ${credentials}`,
          });
          const token = await expectToken(response);
          expect(decodeJwt(token)).toMatchObject({ azp: a.daemon.appId, azpacr: '1', tid: a.tenantId });
        }
      },
    );

    it('private_key_jwt with x5t#S256 (PS256), as MSAL sends it', async () => {
      const clientAssertion = await assertion(
        a.daemon.appId,
        a.daemon.certificate,
        tokenEndpointOf(a.tenantId),
      );
      const token = await expectToken(
        await post(
          `/${a.tenantId}/oauth2/v2.0/token`,
          assertionForm(a.daemon.appId, clientAssertion, `${a.api.identifierUri}/.default`),
        ),
      );
      const expected = { tenantId: a.tenantId, version: 2, audience: a.api.appId } as const;
      expectAppClaims((await verifyToken(token, expected)).payload, {
        ...expected,
        clientAppId: a.daemon.appId,
        servicePrincipalId: a.daemon.servicePrincipalId,
        clientAuthenticationLevel: '2',
        roles: a.grantedRoles,
      });
    });

    it('private_key_jwt with an EC certificate (ES256)', async () => {
      const certificate = await createClientCertificate('ES256');
      await server.directory.credentials.addCertificate({
        appId: b.daemon.appId,
        certificatePem: certificate.certificatePem,
      });
      await server.server.refresh();
      const clientAssertion = await signClientAssertion({
        clientId: b.daemon.appId,
        audience: tokenEndpointOf(b.tenantId),
        key: certificate.privateKey,
        alg: 'ES256',
        header: { 'x5t#S256': certificate.x5tS256 },
      });
      const token = await expectToken(
        await post(
          `/${b.tenantId}/oauth2/v2.0/token`,
          assertionForm(b.daemon.appId, clientAssertion, `${b.api.identifierUri}/.default`),
        ),
      );
      expect(decodeJwt(token)).toMatchObject({ azp: b.daemon.appId, azpacr: '2', tid: b.tenantId });
    });

    const audiences: readonly (readonly [string, string, () => string | string[]])[] = [
      ['the token endpoint under the tenant GUID', '$tenantId', () => tokenEndpointOf(a.tenantId)],
      ['the token endpoint under a verified domain', '$tenantId', () => tokenEndpointOf(a.domain)],
      [
        'the token endpoint in upper case',
        '$tenantId',
        () => tokenEndpointOf(a.domain.toUpperCase()).replace('https://localhost', 'HTTPS://LOCALHOST'),
      ],
      ["the tenant's issuer", '$domain', () => `${server.url}/${a.tenantId}/v2.0`],
      ['the request segment (organizations)', 'organizations', () => tokenEndpointOf('organizations')],
      ['the request segment (domain)', '$domain', () => tokenEndpointOf(a.domain)],
      // draft-ietf-oauth-rfc7523bis: one value only; an array must hold exactly one (see the refusal table).
      ['an array holding exactly one valid value', '$tenantId', () => [tokenEndpointOf(a.tenantId)]],
    ];

    it.each(audiences)('accepts an assertion whose aud is %s', async (_name, segment, audience) => {
      const tenant = segment === '$tenantId' ? a.tenantId : segment === '$domain' ? a.domain : segment;
      const clientAssertion = await assertion(a.daemon.appId, a.daemon.certificate, audience());
      const token = await expectToken(
        await post(
          `/${tenant}/oauth2/v2.0/token`,
          assertionForm(a.daemon.appId, clientAssertion, `${a.api.identifierUri}/.default`),
        ),
      );
      expect(decodeJwt(token)).toMatchObject({ azpacr: '2', tid: a.tenantId });
    });

    it('serves a tenant named by a long verified domain (over 100 characters), in the path and as assertion aud', async () => {
      // 4 labels of 60 characters + ".test": 249 characters, a valid DNS name (RFC 1035: at most 253).
      const label = () => randomUUID().replaceAll('-', '').padEnd(60, 'x');
      const domain = `${label()}.${label()}.${label()}.${label()}.test`;
      const long = await seedClientCredentialsScenario(server.directory, { domain });
      await server.server.refresh();
      const clientAssertion = await assertion(
        long.daemon.appId,
        long.daemon.certificate,
        tokenEndpointOf(domain),
      );
      const token = await expectToken(
        await post(
          `/${domain}/oauth2/v2.0/token`,
          assertionForm(long.daemon.appId, clientAssertion, `${long.api.identifierUri}/.default`),
        ),
      );
      expect(decodeJwt(token)).toMatchObject({ tid: long.tenantId });
    });

    it.each([
      ['expired 30 s ago', (t: number) => ({ nbf: t - 500, iat: t - 500, exp: t - 30 })],
      ['valid from 30 s in the future', (t: number) => ({ nbf: t + 30, iat: t + 30, exp: t + 600 })],
      ['without nbf, timed by iat', (t: number) => ({ nbf: undefined, iat: t, exp: t + 600 })],
    ])('accepts an assertion within the 60 s clock skew: %s', async (_name, times) => {
      const clientAssertion = await signClientAssertion({
        clientId: a.daemon.appId,
        audience: tokenEndpointOf(a.tenantId),
        key: a.daemon.certificate.privateKey,
        header: { 'x5t#S256': a.daemon.certificate.x5tS256 },
        claims: times(now()),
      });
      await expectToken(
        await post(
          `/${a.tenantId}/oauth2/v2.0/token`,
          assertionForm(a.daemon.appId, clientAssertion, `${a.api.identifierUri}/.default`),
        ),
      );
    });

    // App ids are GUIDs, which Entra ID compares case-insensitively; clients configured by hand often send them
    // upper-case, and MSAL then uses the configured id as the assertion's iss and sub as well.
    it.each([
      ['a client secret', () => ({ client_secret: a.daemon.secret })],
      [
        'an assertion whose iss and sub equal the client_id as sent',
        async () => ({
          client_assertion_type: JWT_BEARER_ASSERTION_TYPE,
          client_assertion: await signClientAssertion({
            clientId: a.daemon.appId.toUpperCase(),
            audience: tokenEndpointOf(a.tenantId),
            key: a.daemon.certificate.privateKey,
            header: { 'x5t#S256': a.daemon.certificate.x5tS256 },
          }),
        }),
      ],
    ])('accepts an upper-case client_id with %s', async (_name, credential) => {
      const form = new URLSearchParams({
        client_id: a.daemon.appId.toUpperCase(),
        ...(await credential()),
        scope: `${a.api.identifierUri}/.default`,
        grant_type: 'client_credentials',
      });
      const token = await expectToken(await post(`/${a.tenantId}/oauth2/v2.0/token`, form));
      expect(decodeJwt(token)).toMatchObject({ azp: a.daemon.appId, tid: a.tenantId });
    });

    it('ignores unknown parameters (everything MSAL adds), with a charset on the content type', async () => {
      const id = randomUUID();
      const form = secretForm(a);
      for (const [name, value] of Object.entries({
        'client-request-id': id,
        'x-client-SKU': 'msal.js.node',
        'x-client-VER': '3.8.0',
        'x-client-OS': 'linux',
        'x-client-CPU': 'x64',
        'x-ms-lib-capability': 'retry-after, h429',
        'x-client-current-telemetry': '5|771,2,,,|,',
        'x-client-last-telemetry': '5|0|||0,0',
        'x-app-name': 'daemon',
        claims: JSON.stringify({ access_token: { xms_cc: { values: ['CP1'] } } }),
      })) {
        form.set(name, value);
      }
      const response = await post(`/${a.tenantId}/oauth2/v2.0/token?client-request-id=${id}`, form, {
        'content-type': `${FORM};charset=utf-8`,
      });
      const token = await expectToken(response);
      expect(response.headers.get('client-request-id')).toBe(id);
      expect(decodeJwt(token)).toMatchObject({ azp: a.daemon.appId, roles: ['Data.Read.All'] });
      expect(decodeJwt(token)).not.toHaveProperty('xms_cc');
    });
  });

  describe('token version and algorithm follow the resource', () => {
    const cases = [
      ['v2, asked by App ID URI', () => a, 2, (s: ClientCredentialsScenario) => s.api.identifierUri],
      ['v2, asked by appId', () => a, 2, (s: ClientCredentialsScenario) => s.api.appId],
      ['v1, asked by App ID URI', () => v1, 1, (s: ClientCredentialsScenario) => s.api.identifierUri],
      ['v1, asked by appId', () => v1, 1, (s: ClientCredentialsScenario) => s.api.appId],
    ] as const;

    it.each(cases)('%s', async (_name, scenarioOf, version, identifierOf) => {
      const scenario = scenarioOf();
      const identifier = identifierOf(scenario);
      const token = await expectToken(
        await post(`/${scenario.tenantId}/oauth2/v2.0/token`, secretForm(scenario, `${identifier}/.default`)),
      );
      // v2: aud is the resource's appId; v1: aud is the identifier the client asked for.
      const expected = {
        tenantId: scenario.tenantId,
        version,
        audience: version === 2 ? scenario.api.appId : identifier,
      } as const;
      const { payload } = await verifyToken(token, expected);
      expectAppClaims(payload, {
        ...expected,
        clientAppId: scenario.daemon.appId,
        servicePrincipalId: scenario.daemon.servicePrincipalId,
        clientAuthenticationLevel: '1',
        roles: scenario.grantedRoles,
      });
    });

    it('signs with ES256 when the resource asks for it, verifiable by the JWKS', async () => {
      const token = await expectToken(await post(`/${es.tenantId}/oauth2/v2.0/token`, secretForm(es)));
      const expected = { tenantId: es.tenantId, version: 2, audience: es.api.appId, alg: 'ES256' } as const;
      const { protectedHeader, payload } = await verifyToken(token, expected);
      expect(protectedHeader.alg).toBe('ES256');
      expectAppClaims(payload, {
        ...expected,
        clientAppId: es.daemon.appId,
        servicePrincipalId: es.daemon.servicePrincipalId,
        clientAuthenticationLevel: '1',
        roles: es.grantedRoles,
      });
      const jwks = (await (await fetch(`${server.url}/${es.tenantId}/discovery/v2.0/keys`)).json()) as {
        keys: JsonWebKey[];
      };
      expect(jwks.keys.find((key) => key.kid === protectedHeader.kid)).toMatchObject({
        kty: 'EC',
        crv: 'P-256',
        alg: 'ES256',
        x5t: protectedHeader.x5t,
      });
    });

    it('gives every token a unique uti', async () => {
      const tokens = await Promise.all(
        Array.from({ length: 8 }, () =>
          post(`/${a.tenantId}/oauth2/v2.0/token`, secretForm(a)).then(expectToken),
        ),
      );
      expect(new Set(tokens.map((token) => decodeJwt(token).uti)).size).toBe(8);
    });
  });

  describe('tenant isolation', () => {
    it("a token requested at a tenant carries only that tenant's tid and issuer", async () => {
      for (const [own, other] of [
        [a, b],
        [b, a],
      ] as const) {
        for (const segment of [own.tenantId, own.domain, 'common']) {
          const token = await expectToken(await post(`/${segment}/oauth2/v2.0/token`, secretForm(own)));
          const payload = decodeJwt(token);
          expect(payload).toMatchObject({ tid: own.tenantId, iss: `${server.url}/${own.tenantId}/v2.0` });
          expect(JSON.stringify(payload)).not.toContain(other.tenantId);
          await expect(
            verifyToken(token, { tenantId: other.tenantId, version: 2, audience: own.api.appId }),
          ).rejects.toThrow();
        }
      }
    });

    it("an app of tenant A gets no token at tenant B's endpoint (700016), by GUID or domain", async () => {
      for (const segment of [b.tenantId, b.domain]) {
        await expectError(
          await post(`/${segment}/oauth2/v2.0/token`, secretForm(a, `${GRAPH}/.default`)),
          400,
          'unauthorized_client',
          700016,
        );
      }
    });

    it("an assertion for tenant A's endpoint is refused at tenant B: 700016 before the assertion is read", async () => {
      // The client is looked up in the tenant of the request first; tenant A's daemon has no service principal in
      // tenant B, so the request fails as "app not in this directory" whatever the assertion says.
      const clientAssertion = await assertion(
        a.daemon.appId,
        a.daemon.certificate,
        tokenEndpointOf(a.tenantId),
      );
      await expectError(
        await post(
          `/${b.tenantId}/oauth2/v2.0/token`,
          assertionForm(a.daemon.appId, clientAssertion, `${GRAPH}/.default`),
        ),
        400,
        'unauthorized_client',
        700016,
      );
    });

    describe('a multi-tenant app of tenant A with a service principal in tenant B', () => {
      let appId: string;
      let certificate: ClientCertificate;
      let servicePrincipalInB: ServicePrincipal;

      beforeAll(async () => {
        const created = await server.directory.applications.create({
          tenant: a.tenantId,
          displayName: 'Multi-tenant daemon',
          signInAudience: 'AzureADMultipleOrgs',
        });
        appId = created.application.appId;
        certificate = await createClientCertificate();
        await server.directory.credentials.addCertificate({
          appId,
          certificatePem: certificate.certificatePem,
        });
        // What admin consent in tenant B will do: instantiate the app there.
        servicePrincipalInB = {
          id: randomUUID(),
          appId,
          tenantId: b.tenantId,
          displayName: 'Multi-tenant daemon',
          appOwnerOrganizationId: a.tenantId,
          accountEnabled: true,
        };
        const store = server.server.store;
        await store.write((trx) => store.servicePrincipals.insert(trx, servicePrincipalInB, now()));
        await server.server.refresh();
      });

      it.each([
        ["tenant A's token endpoint", () => tokenEndpointOf(a.tenantId)],
        ["tenant A's domain token endpoint", () => tokenEndpointOf(a.domain)],
        ["tenant A's issuer", () => `${server.url}/${a.tenantId}/v2.0`],
      ])('refuses at tenant B an assertion whose aud is %s (50012)', async (_name, audience) => {
        const clientAssertion = await assertion(appId, certificate, audience());
        await expectError(
          await post(
            `/${b.tenantId}/oauth2/v2.0/token`,
            assertionForm(appId, clientAssertion, `${GRAPH}/.default`),
          ),
          401,
          'invalid_client',
          50012,
        );
      });

      it("gets a tenant B token with an assertion for tenant B's endpoint", async () => {
        const clientAssertion = await assertion(appId, certificate, tokenEndpointOf(b.domain));
        const token = await expectToken(
          await post(
            `/${b.tenantId}/oauth2/v2.0/token`,
            assertionForm(appId, clientAssertion, `${GRAPH}/.default`),
          ),
        );
        const expected = { tenantId: b.tenantId, version: 1, audience: GRAPH } as const;
        expectAppClaims((await verifyToken(token, expected)).payload, {
          ...expected,
          clientAppId: appId,
          servicePrincipalId: servicePrincipalInB.id,
          clientAuthenticationLevel: '2',
          roles: [],
        });
      });
    });
  });

  describe('discovery', () => {
    const segments = [
      ['the tenant GUID', () => a.tenantId, () => a.tenantId, () => a.tenantId],
      ['a verified domain', () => a.domain, () => a.tenantId, () => a.tenantId],
      ['common', () => 'common', () => '{tenantid}', () => 'common'],
      ['organizations', () => 'organizations', () => '{tenantid}', () => 'organizations'],
    ] as const;

    it.each(segments)(
      'serves OpenID configuration for %s',
      async (_name, segment, issuerTenant, endpointTenant) => {
        const response = await fetch(`${server.url}/${segment()}/v2.0/.well-known/openid-configuration`);
        expect(response.status).toBe(200);
        const metadata = (await response.json()) as Record<string, unknown>;
        expect(metadata).toMatchObject({
          issuer: `${server.url}/${issuerTenant()}/v2.0`,
          authorization_endpoint: `${server.url}/${endpointTenant()}/oauth2/v2.0/authorize`,
          token_endpoint: tokenEndpointOf(endpointTenant()),
          jwks_uri: `${server.url}/${endpointTenant()}/discovery/v2.0/keys`,
        });
        expect(metadata.token_endpoint_auth_methods_supported).toEqual(
          expect.arrayContaining(['client_secret_post', 'client_secret_basic', 'private_key_jwt']),
        );
        expect(metadata.grant_types_supported).toEqual(expect.arrayContaining(['client_credentials']));

        // The advertised token endpoint serves the seed's request.
        const token = await expectToken(
          await post(new URL(metadata.token_endpoint as string).pathname, secretForm(a)),
        );
        expect(decodeJwt(token).tid).toBe(a.tenantId);
      },
    );

    it.each([
      ['the tenant GUID', () => a.tenantId, () => a.tenantId],
      ['a verified domain', () => a.domain, () => a.tenantId],
      ['common', () => 'common', () => '{tenantid}'],
    ])('publishes the signing keys for %s', async (_name, segment, issuerTenant) => {
      const response = await fetch(`${server.url}/${segment()}/discovery/v2.0/keys`);
      expect(response.status).toBe(200);
      const { keys } = (await response.json()) as { keys: (JsonWebKey & Record<string, unknown>)[] };
      expect(keys.map((key) => key.alg)).toEqual(expect.arrayContaining(['RS256', 'ES256']));
      for (const key of keys) {
        expect(key).toMatchObject({
          kid: expect.any(String),
          x5t: expect.any(String),
          x5c: [expect.any(String)],
          use: 'sig',
          issuer: `${server.url}/${issuerTenant()}/v2.0`,
        });
        for (const secret of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) expect(key).not.toHaveProperty(secret);
        if (key.alg === 'RS256') {
          expect(key).toMatchObject({ kty: 'RSA', n: expect.any(String), e: 'AQAB' });
        } else {
          expect(key).toMatchObject({
            alg: 'ES256',
            kty: 'EC',
            crv: 'P-256',
            x: expect.any(String),
            y: expect.any(String),
          });
        }
        // x5t is the SHA-1 thumbprint of x5c[0], whose public key is the JWK itself.
        const der = Buffer.from((key.x5c as string[])[0] ?? '', 'base64');
        expect(key.x5t).toBe(createHash('sha1').update(der).digest('base64url'));
        const certificateKey = new X509Certificate(der).publicKey.export({ format: 'der', type: 'spki' });
        const jwk = { ...key, issuer: undefined };
        const jwkKey = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' }).export({
          format: 'der',
          type: 'spki',
        });
        expect(jwkKey.equals(certificateKey)).toBe(true);
      }
    });

    it('names in every token header a published kid and its x5t', async () => {
      const token = await expectToken(await post(`/${a.tenantId}/oauth2/v2.0/token`, secretForm(a)));
      const header = decodeProtectedHeader(token);
      const { keys } = (await (await fetch(`${server.url}/${a.tenantId}/discovery/v2.0/keys`)).json()) as {
        keys: JsonWebKey[];
      };
      expect(keys.find((key) => key.kid === header.kid)).toMatchObject({ x5t: header.x5t, alg: 'RS256' });
    });
  });
});
