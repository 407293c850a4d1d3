import { Agent } from 'node:https';
import type { ErrorCode, OAuthErrorName } from '@tessera/protocol';
import { rawHttpsRequest, startInteractiveServer } from '@tessera/testkit';
import type { InteractiveScenario, RawAnswer, TestServer } from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Client input that once answered 500 or Fastify's own body: a loopback redirect URI with a five-digit port under
// form_post, malformed percent-encoding, over-long tenant segments, oversized headers. Each answers its exact
// catalogue error with a 4xx (docs/errors.md); a long but valid domain is routed like any other.

let server: TestServer;
let s: InteractiveScenario;
const agent = new Agent({ keepAlive: false, rejectUnauthorized: false });

beforeAll(async () => {
  ({ server, scenario: s } = await startInteractiveServer());
});
afterAll(() => server.close());

/** A raw request: the path is sent exactly as given, never normalised (and without Host when `setHost` is false). */
function send(
  method: string,
  path: string,
  headers: Record<string, string> = {},
  setHost = true,
): Promise<RawAnswer> {
  return rawHttpsRequest({ port: server.port, method, path, agent, headers, setHost });
}

const longTenant = 'a'.repeat(300);
const longUnknownDomain = `${'d'.repeat(63)}.${'e'.repeat(63)}.${'f'.repeat(63)}.unknown.test`;

/** [case, method, path (built after the fixtures exist), status, error, code, description]. */
const cases: readonly (readonly [
  string,
  string,
  () => string,
  number,
  OAuthErrorName,
  ErrorCode,
  () => string,
])[] = [
  [
    'a malformed percent-encoding in the tenant segment (FST_ERR_BAD_URL)',
    'GET',
    () => '/%zz/v2.0/.well-known/openid-configuration',
    400,
    'invalid_request',
    9100009,
    () => 'The request is malformed: the URL is not validly percent-encoded.',
  ],
  [
    'a lone % at the token endpoint',
    'POST',
    () => '/%/oauth2/v2.0/token',
    400,
    'invalid_request',
    9100009,
    () => 'The request is malformed: the URL is not validly percent-encoded.',
  ],
  [
    'a tenant segment of 300 characters (no 414)',
    'GET',
    () => `/${longTenant}/v2.0/.well-known/openid-configuration`,
    400,
    'invalid_request',
    900023,
    () =>
      `Specified tenant identifier '${'a'.repeat(64)}…' is neither a valid DirectoryName nor a valid external domain.`,
  ],
  [
    'a valid but unknown domain of 208 characters (routed, not 414)',
    'GET',
    () => `/${longUnknownDomain}/v2.0/.well-known/openid-configuration`,
    400,
    'invalid_tenant',
    90002,
    () =>
      `Tenant '${longUnknownDomain}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`,
  ],
  [
    'a 101-character non-domain tenant at the token endpoint',
    'POST',
    () => `/${'b'.repeat(101)}/oauth2/v2.0/token`,
    415,
    'invalid_request',
    9100007,
    () => "The request body must be 'application/x-www-form-urlencoded'.",
  ],
];

describe('Fastify and Node refusals answer in the catalogue body', () => {
  it.each(cases)('%s', async (_case, method, path, status, error, code, description) => {
    const answer = await send(method, path());
    expect(answer.contentType).toMatch(/^application\/json/);
    const body = JSON.parse(answer.body) as Record<string, unknown>;
    expect({
      status: answer.status,
      error: body.error,
      codes: body.error_codes,
      text: String(body.error_description).split('\r\n')[0],
    }).toEqual({
      status,
      error,
      codes: [code],
      text: `TSS${code}: ${description()}`,
    });
  });

  it('answers request headers over the limit with 431 and 9100021, then closes', async () => {
    const answer = await send('GET', `/${s.tenantId}/discovery/v2.0/keys`, { 'x-big': 'x'.repeat(20_000) });
    const body = JSON.parse(answer.body) as Record<string, unknown>;
    expect({ status: answer.status, error: body.error, codes: body.error_codes }).toEqual({
      status: 431,
      error: 'invalid_request',
      codes: [9100021],
    });
    expect(String(body.error_description).split('\r\n')[0]).toBe(
      `TSS9100021: The request line or headers are too large.`,
    );
  });

  it.each([
    ['GET', () => '/oidc/userinfo'],
    ['POST', () => `/${s.tenantId}/oauth2/v2.0/token`],
    ['GET', () => `/${s.tenantId}/discovery/v2.0/keys`],
  ])(
    'answers an HTTP/1.1 %s %s without Host with 400 and 9100009, not Node’s empty 400',
    async (method, path) => {
      const answer = await send(method, path(), {}, false);
      expect(answer.contentType).toMatch(/^application\/json/);
      const body = JSON.parse(answer.body) as Record<string, unknown>;
      expect({
        status: answer.status,
        codes: body.error_codes,
        text: String(body.error_description).split('\r\n')[0],
      }).toEqual({
        status: 400,
        codes: [9100009],
        text: 'TSS9100009: The request is malformed: an HTTP/1.1 request must carry a Host header.',
      });
    },
  );

  it('serves discovery for a tenant named by a 249-character verified domain', async () => {
    const label = (c: string) => c.repeat(60);
    const domain = `${label('g')}.${label('h')}.${label('i')}.${label('j')}.test`;
    const tenant = await server.directory.tenants.create({ displayName: 'Long', domains: [domain] });
    await server.server.refresh();
    const answer = await send('GET', `/${domain}/v2.0/.well-known/openid-configuration`);
    expect(answer.status).toBe(200);
    expect((JSON.parse(answer.body) as { issuer: string }).issuer).toBe(`${server.url}/${tenant.id}/v2.0`);
  });
});

describe('authorization requests that once answered 500', () => {
  it.each([
    ['query', 'query'],
    ['form_post', 'form_post'],
    ['fragment', 'fragment'],
  ])(
    'a loopback redirect URI on port 99999 with response_mode=%s: the error page with 50011',
    async (_case, mode) => {
      const redirectUri = 'http://127.0.0.1:99999/callback';
      const params = new URLSearchParams({
        client_id: s.native.appId,
        response_type: 'code',
        redirect_uri: redirectUri,
        response_mode: mode,
        scope: 'openid',
        code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
        code_challenge_method: 'S256',
      });
      const answer = await send('GET', `/${s.tenantId}/oauth2/v2.0/authorize?${params.toString()}`);
      expect(answer.status).toBe(400);
      expect(answer.contentType).toBe('text/html; charset=utf-8');
      expect(answer.body).toContain('Error code: TSS50011');
      expect(answer.body).toContain(
        `The redirect URI &#39;${redirectUri}&#39; specified in the request does not match the redirect URIs configured for the application &#39;${s.native.appId}&#39;. Make sure the redirect URI sent in the request matches one added to your application.`,
      );
    },
  );

  it('still accepts any valid loopback port for a native app', async () => {
    const params = new URLSearchParams({
      client_id: s.native.appId,
      response_type: 'code',
      redirect_uri: 'http://127.0.0.1:65535/callback',
      response_mode: 'form_post',
      scope: 'openid',
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      code_challenge_method: 'S256',
    });
    const answer = await send('GET', `/${s.tenantId}/oauth2/v2.0/authorize?${params.toString()}`);
    expect(answer.status).toBe(200);
    expect(answer.body).toContain('name="password"');
  });
});
