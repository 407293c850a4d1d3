import { createHmac, createPublicKey, randomUUID } from 'node:crypto';
import type { ErrorCode, OAuthErrorName } from '@tessera/protocol';
import {
  createClientCertificate,
  JWT_BEARER_ASSERTION_TYPE,
  seedClientCredentialsScenario,
  signClientAssertion,
  startTestServer,
} from '@tessera/testkit';
import type { ClientCertificate, ClientCredentialsScenario, TestServer } from '@tessera/testkit';
import { CompactSign } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Every refusal of POST /{tenant}/oauth2/v2.0/token against a real server over HTTPS, asserting the exact wire
// body (RFC 6749 §5.2, docs/errors.md): status, `error`, `error_codes`, the full `error_description` and its
// Trace ID / Correlation ID / Timestamp lines, `Cache-Control: no-store` and the `client-request-id` echo.

const FOREIGN_AUDIENCE = "The 'aud' claim must be this tenant's token endpoint or issuer.";
const NOT_ONE_AUDIENCE = "The 'aud' claim must be a single value: this tenant's token endpoint or issuer.";
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ERROR_BODY_KEYS = [
  'correlation_id',
  'error',
  'error_codes',
  'error_description',
  'timestamp',
  'trace_id',
];

/** A raw HTTP request to the server; defaults: POST, tenant A's token endpoint, form content type. */
interface RawRequest {
  readonly method?: 'GET' | 'POST' | 'PUT';
  readonly path?: string;
  /** `null` sends no Content-Type. */
  readonly contentType?: string | null;
  readonly body?: string | URLSearchParams;
  readonly authorization?: string;
}

/** What a case sends and the description text expected between `TSS{code}: ` and the Trace ID line. */
interface Attempt {
  readonly request: RawRequest;
  readonly description: string | RegExp;
}

interface Refusal {
  readonly name: string;
  readonly status: number;
  readonly error: OAuthErrorName;
  readonly code: ErrorCode;
  /** Built after the fixtures exist. */
  readonly attempt: () => Attempt | Promise<Attempt>;
}

let server: TestServer;
/** Tenant A: where every request goes unless a case says otherwise. */
let a: ClientCredentialsScenario;
/** Tenant B: another tenant with its own API and daemon. */
let b: ClientCredentialsScenario;
let expiredSecret: string;
/** A certificate registered nowhere. */
let stranger: ClientCertificate;
/** A certificate registered on tenant A's daemon whose validity ended yesterday. */
let expiredCertificate: ClientCertificate;

const now = () => Math.floor(Date.now() / 1000);
const tokenPath = (tenant: string) => `/${tenant}/oauth2/v2.0/token`;
const tokenEndpointOf = (tenant: string) => `${server.url}${tokenPath(tenant)}`;
const apiScope = () => `${a.api.identifierUri}/.default`;
/** The catalogue text of a code with its parameters filled, as the server must send it. */
const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const escapeRegExp = (value: string) => value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A form built from `base` with `overrides` applied; an `undefined` override removes the parameter. */
function form(
  base: Record<string, string>,
  overrides: Record<string, string | undefined> = {},
): URLSearchParams {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries({ ...base, ...overrides })) {
    if (value !== undefined) params.append(name, value);
  }
  return params;
}

/** Tenant A's daemon asking for tenant A's API with its client secret (client_secret_post). */
function secretForm(overrides: Record<string, string | undefined> = {}): URLSearchParams {
  return form(
    {
      client_id: a.daemon.appId,
      client_secret: a.daemon.secret,
      scope: apiScope(),
      grant_type: 'client_credentials',
    },
    overrides,
  );
}

/** Tenant A's daemon asking for tenant A's API with a client assertion. */
function assertionForm(
  assertion: string,
  overrides: Record<string, string | undefined> = {},
): URLSearchParams {
  return form(
    {
      client_id: a.daemon.appId,
      client_assertion_type: JWT_BEARER_ASSERTION_TYPE,
      client_assertion: assertion,
      scope: apiScope(),
      grant_type: 'client_credentials',
    },
    overrides,
  );
}

/** A client assertion of tenant A's daemon, signed by its registered certificate (PS256, `x5t#S256`). */
function assertionOfA(
  options: {
    claims?: Record<string, unknown>;
    key?: ClientCertificate;
    header?: Record<string, unknown>;
  } = {},
): Promise<string> {
  const key = options.key ?? a.daemon.certificate;
  return signClientAssertion({
    clientId: a.daemon.appId,
    audience: tokenEndpointOf(a.tenantId),
    key: key.privateKey,
    header: options.header ?? { 'x5t#S256': key.x5tS256 },
    ...(options.claims === undefined ? {} : { claims: options.claims }),
  });
}

/** Default assertion claims of tenant A's daemon, for hand-built (unsigned, HMAC) tokens. */
function claimsOfA(): Record<string, unknown> {
  const t = now();
  return {
    aud: tokenEndpointOf(a.tenantId),
    iss: a.daemon.appId,
    sub: a.daemon.appId,
    jti: randomUUID(),
    nbf: t,
    iat: t,
    exp: t + 600,
  };
}

/** A self-signed RSA certificate that expired yesterday. */
const createExpiredCertificate = (): Promise<ClientCertificate> =>
  createClientCertificate('RS256', { subject: `CN=expired ${randomUUID()}`, validDays: -1 });

function basic(clientId: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

/** `reason` of a 700024 refusal: the server's clock is only known to the second, so it is matched loosely. */
function timeRange(prefix: string, validFrom: number, exp: number): RegExp {
  const reason = `${prefix}Current time: NOW, assertion valid from ${validFrom}, expiry time of assertion ${exp}.`;
  return new RegExp(
    `^${escapeRegExp(`Client assertion is not within its valid time range. ${reason}`).replace('NOW', '\\d+')}$`,
  );
}

const refusals: Refusal[] = [
  // --- scope -------------------------------------------------------------------------------------------------
  {
    name: 'two scopes',
    status: 400,
    error: 'invalid_scope',
    code: 70011,
    attempt: () => {
      const scope = `${apiScope()} https://graph.microsoft.com/.default`;
      return {
        request: { body: secretForm({ scope }) },
        description: `The provided value for the input parameter 'scope' is not valid. The scope ${scope} is not valid.`,
      };
    },
  },
  {
    name: 'openid next to a /.default scope',
    status: 400,
    error: 'invalid_scope',
    code: 70011,
    attempt: () => {
      const scope = `openid ${apiScope()}`;
      return {
        request: { body: secretForm({ scope }) },
        description: `The provided value for the input parameter 'scope' is not valid. The scope ${scope} is not valid.`,
      };
    },
  },
  {
    name: 'a tab-separated scope (RFC 6749 §3.3 allows no tab in a scope-token)',
    status: 400,
    error: 'invalid_scope',
    code: 70011,
    attempt: () => {
      const scope = `${apiScope()}\thttps://graph.microsoft.com/.default`;
      return {
        request: { body: secretForm({ scope }) },
        description: `The provided value for the input parameter 'scope' is not valid. The scope ${scope} is not valid.`,
      };
    },
  },
  {
    name: 'a delegated scope without /.default',
    status: 400,
    error: 'invalid_scope',
    code: 1002012,
    attempt: () => {
      const scope = `${a.api.identifierUri}/Data.Read`;
      return {
        request: { body: secretForm({ scope }) },
        description: `The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
      };
    },
  },
  {
    name: 'a bare /.default',
    status: 400,
    error: 'invalid_scope',
    code: 1002012,
    attempt: () => ({
      request: { body: secretForm({ scope: '/.default' }) },
      description:
        'The provided value for scope /.default is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).',
    }),
  },
  {
    name: 'an unknown resource URI',
    status: 400,
    error: 'invalid_resource',
    code: 500011,
    attempt: () => ({
      request: { body: secretForm({ scope: 'api://nothing.example/api/.default' }) },
      description: `The resource principal named api://nothing.example/api was not found in the tenant named ${a.tenantId}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.`,
    }),
  },
  {
    name: "another tenant's API (App ID URI), which has no service principal here",
    status: 400,
    error: 'invalid_resource',
    code: 500011,
    attempt: () => ({
      request: { body: secretForm({ scope: `${b.api.identifierUri}/.default` }) },
      description: `The resource principal named ${b.api.identifierUri} was not found in the tenant named ${a.tenantId}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.`,
    }),
  },
  {
    name: "another tenant's API (appId), which has no service principal here",
    status: 400,
    error: 'invalid_resource',
    code: 500011,
    attempt: () => ({
      request: { body: secretForm({ scope: `${b.api.appId}/.default` }) },
      description: `The resource principal named ${b.api.appId} was not found in the tenant named ${a.tenantId}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.`,
    }),
  },
  // --- client secret -----------------------------------------------------------------------------------------
  {
    name: 'a wrong client secret',
    status: 401,
    error: 'invalid_client',
    code: 7000215,
    attempt: () => ({
      request: { body: secretForm({ client_secret: 'not-the-secret' }) },
      description: `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${a.daemon.appId}'.`,
    }),
  },
  {
    name: "another app's client secret",
    status: 401,
    error: 'invalid_client',
    code: 7000215,
    attempt: () => ({
      request: { body: secretForm({ client_secret: b.daemon.secret }) },
      description: `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${a.daemon.appId}'.`,
    }),
  },
  {
    name: 'a wrong client secret in HTTP Basic',
    status: 401,
    error: 'invalid_client',
    code: 7000215,
    attempt: () => ({
      request: {
        authorization: basic(a.daemon.appId, 'not-the-secret'),
        body: secretForm({ client_id: undefined, client_secret: undefined }),
      },
      description: `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${a.daemon.appId}'.`,
    }),
  },
  {
    name: 'an expired client secret',
    status: 401,
    error: 'invalid_client',
    code: 7000222,
    attempt: () => ({
      request: { body: secretForm({ client_secret: expiredSecret }) },
      description: `The provided client secret keys for app '${a.daemon.appId}' are expired. Create new keys for your app.`,
    }),
  },
  // --- client identity and tenant ----------------------------------------------------------------------------
  {
    name: 'an unknown client_id',
    status: 400,
    error: 'unauthorized_client',
    code: 700016,
    attempt: () => {
      const clientId = randomUUID();
      return {
        request: { body: secretForm({ client_id: clientId }) },
        description: `Application with identifier '${clientId}' was not found in the directory '${a.tenantId}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.`,
      };
    },
  },
  {
    name: 'a client_id that is not a GUID, at common',
    status: 400,
    error: 'unauthorized_client',
    code: 700016,
    attempt: () => ({
      request: { path: tokenPath('common'), body: secretForm({ client_id: 'daemon' }) },
      description:
        "Application with identifier 'daemon' was not found in the directory 'common'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.",
    }),
  },
  {
    name: 'a client app of another tenant (secret)',
    status: 400,
    error: 'unauthorized_client',
    code: 700016,
    attempt: () => ({
      request: { body: secretForm({ client_id: b.daemon.appId, client_secret: b.daemon.secret }) },
      description: `Application with identifier '${b.daemon.appId}' was not found in the directory '${a.tenantId}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.`,
    }),
  },
  {
    name: "a client app of another tenant, addressed by this tenant's domain",
    status: 400,
    error: 'unauthorized_client',
    code: 700016,
    attempt: () => ({
      request: {
        path: tokenPath(a.domain),
        body: secretForm({ client_id: b.daemon.appId, client_secret: b.daemon.secret }),
      },
      description: `Application with identifier '${b.daemon.appId}' was not found in the directory '${a.tenantId}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.`,
    }),
  },
  {
    name: 'an organisation app at consumers',
    status: 400,
    error: 'unauthorized_client',
    code: 700016,
    attempt: () => ({
      request: { path: tokenPath('consumers'), body: secretForm() },
      description: `Application with identifier '${a.daemon.appId}' was not found in the directory 'consumers'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.`,
    }),
  },
  {
    name: 'an unknown tenant GUID',
    status: 400,
    error: 'invalid_tenant',
    code: 90002,
    attempt: () => {
      const tenant = randomUUID();
      return {
        request: { path: tokenPath(tenant), body: secretForm() },
        description: `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`,
      };
    },
  },
  {
    name: 'an unknown tenant domain',
    status: 400,
    error: 'invalid_tenant',
    code: 90002,
    attempt: () => ({
      request: { path: tokenPath('nosuch.test'), body: secretForm() },
      description:
        "Tenant 'nosuch.test' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.",
    }),
  },
  {
    name: 'a malformed tenant segment',
    status: 400,
    error: 'invalid_request',
    code: 900023,
    attempt: () => ({
      request: { path: tokenPath('bad_tenant!'), body: secretForm() },
      description:
        "Specified tenant identifier 'bad_tenant!' is neither a valid DirectoryName nor a valid external domain.",
    }),
  },
  // --- client assertion: signature -----------------------------------------------------------------------------
  {
    name: 'an assertion signed by an unregistered key',
    status: 401,
    error: 'invalid_client',
    code: 700027,
    attempt: async () => ({
      request: { body: assertionForm(await assertionOfA({ key: stranger })) },
      description: 'Client assertion failed signature validation. The key was not found.',
    }),
  },
  {
    name: 'an assertion naming the registered certificate (x5t#S256) but signed by another key',
    status: 401,
    error: 'invalid_client',
    code: 700027,
    attempt: async () => ({
      request: {
        body: assertionForm(
          await assertionOfA({ key: stranger, header: { 'x5t#S256': a.daemon.certificate.x5tS256 } }),
        ),
      },
      description: 'Client assertion failed signature validation. The signature is invalid.',
    }),
  },
  {
    name: 'an assertion naming the registered certificate (x5t, RS256) but signed by another key',
    status: 401,
    error: 'invalid_client',
    code: 700027,
    attempt: async () => ({
      request: {
        body: assertionForm(
          await signClientAssertion({
            clientId: a.daemon.appId,
            audience: tokenEndpointOf(a.tenantId),
            key: stranger.privateKey,
            alg: 'RS256',
            header: { x5t: a.daemon.certificate.x5t },
          }),
        ),
      },
      description: 'Client assertion failed signature validation. The signature is invalid.',
    }),
  },
  {
    name: 'an unsigned assertion (alg none) naming the registered certificate',
    status: 401,
    error: 'invalid_client',
    code: 700027,
    attempt: () => {
      const header = { alg: 'none', typ: 'JWT', 'x5t#S256': a.daemon.certificate.x5tS256 };
      return {
        request: { body: assertionForm(`${b64url(header)}.${b64url(claimsOfA())}.`) },
        description:
          "Client assertion failed signature validation. The algorithm 'none' is not allowed for this key.",
      };
    },
  },
  {
    name: "an HS256 assertion keyed with the certificate's public key (algorithm confusion)",
    status: 401,
    error: 'invalid_client',
    code: 700027,
    attempt: () => {
      const header = { alg: 'HS256', typ: 'JWT', 'x5t#S256': a.daemon.certificate.x5tS256 };
      const signingInput = `${b64url(header)}.${b64url(claimsOfA())}`;
      const publicKeyPem = createPublicKey(a.daemon.certificate.certificatePem)
        .export({ type: 'spki', format: 'pem' })
        .toString();
      const mac = createHmac('sha256', publicKeyPem).update(signingInput).digest('base64url');
      return {
        request: { body: assertionForm(`${signingInput}.${mac}`) },
        description:
          "Client assertion failed signature validation. The algorithm 'HS256' is not allowed for this key.",
      };
    },
  },
  {
    name: 'an assertion signed with RS384 by the registered key',
    status: 401,
    error: 'invalid_client',
    code: 700027,
    attempt: async () => ({
      request: {
        body: assertionForm(
          await signClientAssertion({
            clientId: a.daemon.appId,
            audience: tokenEndpointOf(a.tenantId),
            key: a.daemon.certificate.privateKey,
            alg: 'RS384',
            header: { 'x5t#S256': a.daemon.certificate.x5tS256 },
          }),
        ),
      },
      description:
        "Client assertion failed signature validation. The algorithm 'RS384' is not allowed for this key.",
    }),
  },
  {
    name: 'an assertion signed by a registered but expired certificate',
    status: 401,
    error: 'invalid_client',
    code: 700027,
    attempt: async () => ({
      request: { body: assertionForm(await assertionOfA({ key: expiredCertificate })) },
      description:
        'Client assertion failed signature validation. The certificate used to sign the assertion is not valid at this time.',
    }),
  },
  {
    name: 'a validly signed assertion whose payload is not JSON',
    status: 400,
    error: 'invalid_request',
    code: 50027,
    attempt: async () => {
      const jws = await new CompactSign(new TextEncoder().encode('not json'))
        .setProtectedHeader({ alg: 'PS256', 'x5t#S256': a.daemon.certificate.x5tS256 })
        .sign(a.daemon.certificate.privateKey);
      return {
        request: { body: assertionForm(jws) },
        description: 'Invalid JWT token. The client assertion payload is not JSON.',
      };
    },
  },
  {
    name: 'a validly signed assertion whose payload is a JSON array',
    status: 400,
    error: 'invalid_request',
    code: 50027,
    attempt: async () => {
      const jws = await new CompactSign(new TextEncoder().encode(JSON.stringify([claimsOfA()])))
        .setProtectedHeader({ alg: 'PS256', 'x5t#S256': a.daemon.certificate.x5tS256 })
        .sign(a.daemon.certificate.privateKey);
      return {
        request: { body: assertionForm(jws) },
        description: 'Invalid JWT token. The client assertion payload is not a JSON object.',
      };
    },
  },
  // --- client assertion: time range --------------------------------------------------------------------------
  {
    name: 'an assertion expired beyond the clock skew',
    status: 401,
    error: 'invalid_client',
    code: 700024,
    attempt: async () => {
      const t = now();
      const claims = { nbf: t - 700, iat: t - 700, exp: t - 120 };
      return {
        request: { body: assertionForm(await assertionOfA({ claims })) },
        description: timeRange('', claims.nbf, claims.exp),
      };
    },
  },
  {
    name: 'an assertion whose nbf is in the future beyond the clock skew',
    status: 401,
    error: 'invalid_client',
    code: 700024,
    attempt: async () => {
      const t = now();
      const claims = { nbf: t + 300, iat: t + 300, exp: t + 600 };
      return {
        request: { body: assertionForm(await assertionOfA({ claims })) },
        description: timeRange('', claims.nbf, claims.exp),
      };
    },
  },
  {
    name: 'an assertion living longer than 600 s (exp = now + 3600)',
    status: 401,
    error: 'invalid_client',
    code: 700024,
    attempt: async () => {
      const t = now();
      const claims = { nbf: t, iat: t, exp: t + 3600 };
      return {
        request: { body: assertionForm(await assertionOfA({ claims })) },
        description: timeRange(
          "The assertion must carry 'nbf' or 'iat' and live at most 600 seconds. ",
          claims.nbf,
          claims.exp,
        ),
      };
    },
  },
  // --- client assertion: claims ------------------------------------------------------------------------------
  {
    name: 'an assertion whose iss is not the client_id',
    status: 401,
    error: 'invalid_client',
    code: 700021,
    attempt: async () => ({
      request: { body: assertionForm(await assertionOfA({ claims: { iss: b.daemon.appId } })) },
      description: "Client assertion application identifier doesn't match 'client_id' parameter.",
    }),
  },
  {
    name: 'an assertion whose sub is not the client_id',
    status: 401,
    error: 'invalid_client',
    code: 700021,
    attempt: async () => ({
      request: { body: assertionForm(await assertionOfA({ claims: { sub: b.daemon.appId } })) },
      description: "Client assertion application identifier doesn't match 'client_id' parameter.",
    }),
  },
  {
    name: "an assertion whose aud is another tenant's token endpoint",
    status: 401,
    error: 'invalid_client',
    code: 50012,
    attempt: async () => ({
      request: { body: assertionForm(await assertionOfA({ claims: { aud: tokenEndpointOf(b.tenantId) } })) },
      description: `Client assertion audience claim does not match Realm issuer. ${FOREIGN_AUDIENCE}`,
    }),
  },
  {
    name: "an assertion whose aud is another tenant's issuer",
    status: 401,
    error: 'invalid_client',
    code: 50012,
    attempt: async () => ({
      request: {
        body: assertionForm(await assertionOfA({ claims: { aud: `${server.url}/${b.tenantId}/v2.0` } })),
      },
      description: `Client assertion audience claim does not match Realm issuer. ${FOREIGN_AUDIENCE}`,
    }),
  },
  {
    name: 'an assertion whose aud is some other URL',
    status: 401,
    error: 'invalid_client',
    code: 50012,
    attempt: async () => ({
      request: {
        body: assertionForm(
          await assertionOfA({ claims: { aud: 'https://login.example.com/oauth2/token' } }),
        ),
      },
      description: `Client assertion audience claim does not match Realm issuer. ${FOREIGN_AUDIENCE}`,
    }),
  },
  {
    name: `an assertion whose aud is our token endpoint and another server's (audience injection)`,
    status: 401,
    error: 'invalid_client',
    code: 50012,
    attempt: async () => ({
      request: {
        body: assertionForm(
          await assertionOfA({
            claims: { aud: [tokenEndpointOf(a.tenantId), 'https://other-as.example/token'] },
          }),
        ),
      },
      description: `Client assertion audience claim does not match Realm issuer. ${NOT_ONE_AUDIENCE}`,
    }),
  },
  {
    name: `an assertion whose aud is another server's then our token endpoint`,
    status: 401,
    error: 'invalid_client',
    code: 50012,
    attempt: async () => ({
      request: {
        body: assertionForm(
          await assertionOfA({
            claims: { aud: ['https://other-as.example/token', tokenEndpointOf(a.tenantId)] },
          }),
        ),
      },
      description: `Client assertion audience claim does not match Realm issuer. ${NOT_ONE_AUDIENCE}`,
    }),
  },
  {
    name: `an assertion whose aud is our token endpoint and our issuer together`,
    status: 401,
    error: 'invalid_client',
    code: 50012,
    attempt: async () => ({
      request: {
        body: assertionForm(
          await assertionOfA({
            claims: { aud: [tokenEndpointOf(a.tenantId), `${server.url}/${a.tenantId}/v2.0`] },
          }),
        ),
      },
      description: `Client assertion audience claim does not match Realm issuer. ${NOT_ONE_AUDIENCE}`,
    }),
  },
  {
    name: `an assertion whose aud is our token endpoint twice`,
    status: 401,
    error: 'invalid_client',
    code: 50012,
    attempt: async () => ({
      request: {
        body: assertionForm(
          await assertionOfA({ claims: { aud: [tokenEndpointOf(a.tenantId), tokenEndpointOf(a.tenantId)] } }),
        ),
      },
      description: `Client assertion audience claim does not match Realm issuer. ${NOT_ONE_AUDIENCE}`,
    }),
  },
  {
    name: `an assertion whose aud is an empty array`,
    status: 401,
    error: 'invalid_client',
    code: 50012,
    attempt: async () => ({
      request: { body: assertionForm(await assertionOfA({ claims: { aud: [] } })) },
      description: `Client assertion audience claim does not match Realm issuer. ${NOT_ONE_AUDIENCE}`,
    }),
  },
  {
    name: `an assertion whose aud is missing`,
    status: 401,
    error: 'invalid_client',
    code: 50012,
    attempt: async () => ({
      request: { body: assertionForm(await assertionOfA({ claims: { aud: undefined } })) },
      description: `Client assertion audience claim does not match Realm issuer. ${NOT_ONE_AUDIENCE}`,
    }),
  },
  {
    name: `an assertion whose aud is a number`,
    status: 401,
    error: 'invalid_client',
    code: 50012,
    attempt: async () => ({
      request: { body: assertionForm(await assertionOfA({ claims: { aud: 42 } })) },
      description: `Client assertion audience claim does not match Realm issuer. ${NOT_ONE_AUDIENCE}`,
    }),
  },
  {
    name: `an assertion whose aud is an object`,
    status: 401,
    error: 'invalid_client',
    code: 50012,
    attempt: async () => ({
      request: {
        body: assertionForm(await assertionOfA({ claims: { aud: { aud: tokenEndpointOf(a.tenantId) } } })),
      },
      description: `Client assertion audience claim does not match Realm issuer. ${NOT_ONE_AUDIENCE}`,
    }),
  },
  {
    name: `an assertion whose aud is an array holding a non-string`,
    status: 401,
    error: 'invalid_client',
    code: 50012,
    attempt: async () => ({
      request: { body: assertionForm(await assertionOfA({ claims: { aud: [42] } })) },
      description: `Client assertion audience claim does not match Realm issuer. ${NOT_ONE_AUDIENCE}`,
    }),
  },
  {
    name: `an assertion whose aud is our token endpoint with a query`,
    status: 401,
    error: 'invalid_client',
    code: 50012,
    attempt: async () => ({
      request: {
        body: assertionForm(await assertionOfA({ claims: { aud: `${tokenEndpointOf(a.tenantId)}?x=1` } })),
      },
      description: `Client assertion audience claim does not match Realm issuer. ${FOREIGN_AUDIENCE}`,
    }),
  },
  {
    name: `an assertion whose aud is our authorization endpoint`,
    status: 401,
    error: 'invalid_client',
    code: 50012,
    attempt: async () => ({
      request: {
        body: assertionForm(
          await assertionOfA({ claims: { aud: `${server.url}/${a.tenantId}/oauth2/v2.0/authorize` } }),
        ),
      },
      description: `Client assertion audience claim does not match Realm issuer. ${FOREIGN_AUDIENCE}`,
    }),
  },
  {
    name: `an assertion whose aud is a one-element array of another tenant's issuer`,
    status: 401,
    error: 'invalid_client',
    code: 50012,
    attempt: async () => ({
      request: {
        body: assertionForm(await assertionOfA({ claims: { aud: [`${server.url}/${b.tenantId}/v2.0`] } })),
      },
      description: `Client assertion audience claim does not match Realm issuer. ${FOREIGN_AUDIENCE}`,
    }),
  },
  {
    name: 'an assertion without jti',
    status: 401,
    error: 'invalid_client',
    code: 9100003,
    attempt: async () => ({
      request: { body: assertionForm(await assertionOfA({ claims: { jti: undefined } })) },
      description:
        "Client assertion is missing a required claim or has an invalid one: 'jti' is required and must be a string of at most 256 characters.",
    }),
  },
  {
    name: 'an assertion without exp',
    status: 401,
    error: 'invalid_client',
    code: 9100003,
    attempt: async () => ({
      request: { body: assertionForm(await assertionOfA({ claims: { exp: undefined } })) },
      description:
        "Client assertion is missing a required claim or has an invalid one: 'exp' is required and must be a NumericDate.",
    }),
  },
  {
    name: 'an assertion whose exp is a string',
    status: 401,
    error: 'invalid_client',
    code: 9100003,
    attempt: async () => ({
      request: { body: assertionForm(await assertionOfA({ claims: { exp: String(now() + 600) } })) },
      description:
        "Client assertion is missing a required claim or has an invalid one: 'exp' is required and must be a NumericDate.",
    }),
  },
  {
    name: 'an assertion whose jti is longer than 256 characters',
    status: 401,
    error: 'invalid_client',
    code: 9100003,
    attempt: async () => ({
      request: { body: assertionForm(await assertionOfA({ claims: { jti: 'j'.repeat(257) } })) },
      description:
        "Client assertion is missing a required claim or has an invalid one: 'jti' is required and must be a string of at most 256 characters.",
    }),
  },
  {
    name: "a malformed assertion ('abc')",
    status: 400,
    error: 'invalid_request',
    code: 50027,
    attempt: () => ({
      request: { body: assertionForm('abc') },
      description: 'Invalid JWT token. The client assertion is not a well-formed JWS.',
    }),
  },
  {
    name: 'an oversized assertion (> 16 KB), validly signed',
    status: 400,
    error: 'invalid_request',
    code: 50027,
    attempt: async () => {
      const assertion = await assertionOfA({ claims: { padding: 'x'.repeat(16 * 1024) } });
      expect(assertion.length).toBeGreaterThan(16 * 1024);
      return {
        request: { body: assertionForm(assertion) },
        description: 'Invalid JWT token. The client assertion is too large.',
      };
    },
  },
  {
    name: 'a wrong client_assertion_type',
    status: 400,
    error: 'invalid_request',
    code: 9100006,
    attempt: async () => ({
      request: {
        body: assertionForm(await assertionOfA(), {
          client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:saml2-bearer',
        }),
      },
      description:
        "The 'client_assertion_type' must be 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'.",
    }),
  },
  {
    name: 'no client_assertion_type',
    status: 400,
    error: 'invalid_request',
    code: 9100006,
    attempt: async () => ({
      request: { body: assertionForm(await assertionOfA(), { client_assertion_type: undefined }) },
      description:
        "The 'client_assertion_type' must be 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'.",
    }),
  },
  // --- request shape -----------------------------------------------------------------------------------------
  {
    name: 'no grant_type',
    status: 400,
    error: 'invalid_request',
    code: 900144,
    attempt: () => ({
      request: { body: secretForm({ grant_type: undefined }) },
      description: "The request body must contain the following parameter: 'grant_type'.",
    }),
  },
  {
    name: 'an empty grant_type',
    status: 400,
    error: 'invalid_request',
    code: 900144,
    attempt: () => ({
      request: { body: secretForm({ grant_type: '' }) },
      description: "The request body must contain the following parameter: 'grant_type'.",
    }),
  },
  {
    name: 'no client_id',
    status: 400,
    error: 'invalid_request',
    code: 900144,
    attempt: () => ({
      request: { body: secretForm({ client_id: undefined }) },
      description: "The request body must contain the following parameter: 'client_id'.",
    }),
  },
  {
    name: 'no scope',
    status: 400,
    error: 'invalid_request',
    code: 900144,
    attempt: () => ({
      request: { body: secretForm({ scope: undefined }) },
      description: "The request body must contain the following parameter: 'scope'.",
    }),
  },
  {
    name: 'grant_type=password',
    status: 400,
    error: 'unsupported_grant_type',
    code: 70003,
    attempt: () => ({
      request: { body: secretForm({ grant_type: 'password' }) },
      description: "The app requested an unsupported grant type 'password'.",
    }),
  },
  {
    name: 'no credential at all',
    status: 401,
    error: 'invalid_client',
    code: 7000218,
    attempt: () => ({
      request: { body: secretForm({ client_secret: undefined }) },
      description:
        "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
    }),
  },
  {
    name: 'HTTP Basic plus client_secret in the body',
    status: 401,
    error: 'invalid_client',
    code: 9100005,
    attempt: () => ({
      request: { authorization: basic(a.daemon.appId, a.daemon.secret), body: secretForm() },
      description:
        'The client must authenticate with exactly one method (HTTP Basic, client_secret or client_assertion) and one consistent client_id.',
    }),
  },
  {
    name: 'a Basic user name that differs from the body client_id',
    status: 401,
    error: 'invalid_client',
    code: 9100005,
    attempt: () => ({
      request: {
        authorization: basic(a.daemon.appId, a.daemon.secret),
        body: secretForm({ client_id: b.daemon.appId, client_secret: undefined }),
      },
      description:
        'The client must authenticate with exactly one method (HTTP Basic, client_secret or client_assertion) and one consistent client_id.',
    }),
  },
  {
    name: 'a malformed Basic header (no colon)',
    status: 401,
    error: 'invalid_client',
    code: 9100005,
    attempt: () => ({
      request: {
        authorization: `Basic ${Buffer.from(a.daemon.appId).toString('base64')}`,
        body: secretForm({ client_id: undefined, client_secret: undefined }),
      },
      description:
        'The client must authenticate with exactly one method (HTTP Basic, client_secret or client_assertion) and one consistent client_id.',
    }),
  },
  {
    name: 'client_secret plus client_assertion',
    status: 401,
    error: 'invalid_client',
    code: 9100005,
    attempt: async () => ({
      request: { body: assertionForm(await assertionOfA(), { client_secret: a.daemon.secret }) },
      description:
        'The client must authenticate with exactly one method (HTTP Basic, client_secret or client_assertion) and one consistent client_id.',
    }),
  },
  {
    name: 'a repeated scope parameter',
    status: 400,
    error: 'invalid_request',
    code: 9100004,
    attempt: () => ({
      request: { body: `${secretForm().toString()}&scope=${encodeURIComponent(apiScope())}` },
      description: "The request must not contain the parameter 'scope' more than once.",
    }),
  },
  {
    name: 'a repeated client_id parameter',
    status: 400,
    error: 'invalid_request',
    code: 9100004,
    attempt: () => ({
      request: { body: `client_id=${b.daemon.appId}&${secretForm().toString()}` },
      description: "The request must not contain the parameter 'client_id' more than once.",
    }),
  },
  {
    name: 'a JSON body',
    status: 415,
    error: 'invalid_request',
    code: 9100007,
    attempt: () => ({
      request: {
        contentType: 'application/json',
        body: JSON.stringify(Object.fromEntries(secretForm())),
      },
      description: "The request body must be 'application/x-www-form-urlencoded'.",
    }),
  },
  {
    name: 'a text/plain body',
    status: 415,
    error: 'invalid_request',
    code: 9100007,
    attempt: () => ({
      request: { contentType: 'text/plain', body: secretForm().toString() },
      description: "The request body must be 'application/x-www-form-urlencoded'.",
    }),
  },
  {
    name: 'a multipart body',
    status: 415,
    error: 'invalid_request',
    code: 9100007,
    attempt: () => ({
      request: {
        contentType: 'multipart/form-data; boundary=x',
        body: '--x\r\nContent-Disposition: form-data; name="grant_type"\r\n\r\nclient_credentials\r\n--x--\r\n',
      },
      description: "The request body must be 'application/x-www-form-urlencoded'.",
    }),
  },
  {
    name: 'a body over 64 KB',
    status: 413,
    error: 'invalid_request',
    code: 9100008,
    attempt: () => ({
      request: { body: secretForm({ padding: 'x'.repeat(65 * 1024) }) },
      description: 'The request body is too large.',
    }),
  },
  {
    name: 'GET on the token endpoint',
    status: 405,
    error: 'invalid_request',
    code: 900561,
    attempt: () => ({
      request: { method: 'GET', contentType: null },
      description: 'The endpoint only accepts POST requests. Received a GET request.',
    }),
  },
  {
    name: 'PUT on the token endpoint',
    status: 405,
    error: 'invalid_request',
    code: 900561,
    attempt: () => ({
      request: { method: 'PUT', body: secretForm() },
      description: 'The endpoint only accepts POST requests. Received a PUT request.',
    }),
  },
  {
    name: 'an unknown path under the tenant',
    status: 404,
    error: 'invalid_request',
    code: 9100010,
    attempt: () => {
      const path = `/${a.tenantId}/oauth2/v2.0/tokens`;
      return {
        request: { path, body: secretForm() },
        description: `There is no endpoint at POST ${path}.`,
      };
    },
  },
  {
    name: 'an unknown path at the root',
    status: 404,
    error: 'invalid_request',
    code: 9100010,
    attempt: () => ({
      request: { method: 'GET', path: '/nothing/here?x=1', contentType: null },
      description: 'There is no endpoint at GET /nothing/here.',
    }),
  },
];

async function send(request: RawRequest, headers: Record<string, string>): Promise<Response> {
  const all: Record<string, string> = { ...headers };
  if (request.contentType !== null) {
    all['content-type'] = request.contentType ?? 'application/x-www-form-urlencoded';
  }
  if (request.authorization !== undefined) all.authorization = request.authorization;
  const method = request.method ?? 'POST';
  return fetch(`${server.url}${request.path ?? tokenPath(a.tenantId)}`, {
    method,
    headers: all,
    ...(method === 'GET' ? {} : { body: request.body?.toString() ?? '' }),
  });
}

interface ErrorBodyShape {
  error: string;
  error_description: string;
  error_codes: number[];
  timestamp: string;
  trace_id: string;
  correlation_id: string;
}

/** Checks the parts of an error response every refusal shares, and returns its body. */
async function expectErrorResponse(
  response: Response,
  expected: { status: number; error: string; code: number; correlationId: string },
): Promise<{ body: ErrorBodyShape; descriptionText: string }> {
  expect(response.status).toBe(expected.status);
  expect(response.headers.get('content-type')).toMatch(/^application\/json\b/);
  expect(response.headers.get('cache-control')).toBe('no-store');
  expect(response.headers.get('client-request-id')).toBe(expected.correlationId);
  const body = (await response.json()) as ErrorBodyShape;
  // Exactly the documented keys: no stack, detail, cause or message.
  expect(Object.keys(body).sort()).toEqual(ERROR_BODY_KEYS);
  expect(body).toMatchObject({
    error: expected.error,
    error_codes: [expected.code],
    correlation_id: expected.correlationId,
  });
  expect(body.trace_id).toMatch(GUID);
  expect(body.timestamp).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/);
  const at = Date.parse(body.timestamp.replace(' ', 'T'));
  expect(Math.abs(at - Date.now())).toBeLessThan(60_000);

  const prefix = `TSS${expected.code}: `;
  const suffix =
    `\r\nTrace ID: ${body.trace_id}\r\nCorrelation ID: ${body.correlation_id}` +
    `\r\nTimestamp: ${body.timestamp}`;
  expect(body.error_description.startsWith(prefix)).toBe(true);
  expect(body.error_description.endsWith(suffix)).toBe(true);
  const descriptionText = body.error_description.slice(prefix.length, -suffix.length);
  expect(descriptionText).not.toMatch(/\r|\n|\bat \S+ \(|node_modules|\.[jt]s:\d|Error:/);
  return { body, descriptionText };
}

describe('token endpoint refusals', () => {
  beforeAll(async () => {
    server = await startTestServer();
    a = await seedClientCredentialsScenario(server.directory);
    b = await seedClientCredentialsScenario(server.directory);
    expiredSecret = (
      await server.directory.credentials.addPassword({ appId: a.daemon.appId, lifetimeSeconds: -10 })
    ).secretText;
    stranger = await createClientCertificate();
    expiredCertificate = await createExpiredCertificate();
    await server.directory.credentials.addCertificate({
      appId: a.daemon.appId,
      certificatePem: expiredCertificate.certificatePem,
    });
    await server.server.refresh();
  });
  afterAll(() => server.close());

  it.each(refusals)('$code $error ($status): $name', async (refusal) => {
    const { request, description } = await refusal.attempt();
    const correlationId = randomUUID();
    const response = await send(request, { 'client-request-id': correlationId });
    const { descriptionText } = await expectErrorResponse(response, { ...refusal, correlationId });
    if (typeof description === 'string') expect(descriptionText).toBe(description);
    else expect(descriptionText).toMatch(description);

    // RFC 6749 §5.2: invalid_client is 401, with a Basic challenge when the client tried HTTP Basic.
    if (refusal.error === 'invalid_client') expect(response.status).toBe(401);
    const triedBasic = request.authorization?.startsWith('Basic ') === true;
    if (response.status === 401 && triedBasic) {
      expect(response.headers.get('www-authenticate')).toMatch(/^Basic realm="[^"]+"/);
    } else {
      expect(response.headers.get('www-authenticate')).toBeNull();
    }
  });

  it('echoes a client-request-id sent as a query parameter (as MSAL sends it)', async () => {
    const correlationId = randomUUID();
    const response = await fetch(`${server.url}${tokenPath(a.tenantId)}?client-request-id=${correlationId}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: secretForm({ client_secret: 'wrong' }).toString(),
    });
    await expectErrorResponse(response, {
      status: 401,
      error: 'invalid_client',
      code: 7000215,
      correlationId,
    });
  });

  it.each([
    ['absent', undefined],
    ['not a plausible id', 'bad id; <script>'],
    ['longer than 64 characters', 'a'.repeat(65)],
  ])('uses the trace id as correlation id when client-request-id is %s', async (_name, value) => {
    const response = await fetch(`${server.url}${tokenPath(a.tenantId)}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        ...(value === undefined ? {} : { 'client-request-id': value }),
      },
      body: secretForm({ client_secret: 'wrong' }).toString(),
    });
    const traceId = response.headers.get('client-request-id') ?? '';
    expect(traceId).toMatch(GUID);
    const { body } = await expectErrorResponse(response, {
      status: 401,
      error: 'invalid_client',
      code: 7000215,
      correlationId: traceId,
    });
    expect(body.trace_id).toBe(traceId);
  });

  it('gives every request its own trace id', async () => {
    const traceIds = new Set<string>();
    for (let i = 0; i < 3; i++) {
      const response = await send({ body: secretForm({ client_secret: 'wrong' }) }, {});
      traceIds.add(((await response.json()) as ErrorBodyShape).trace_id);
    }
    expect(traceIds.size).toBe(3);
  });

  // RFC 9110 §15.5.6: "The origin server MUST generate an Allow header field in a 405 response".
  it('names the allowed method in an Allow header on 405', async () => {
    const response = await send({ method: 'GET', contentType: null }, {});
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('POST');
  });
});
