import { randomUUID } from 'node:crypto';
import {
  JWT_BEARER_ASSERTION_TYPE,
  postgresAvailable,
  readErrorResponse,
  seedClientCredentialsScenario,
  signClientAssertion,
  startTestServer,
  type ClientCredentialsScenario,
  type TestServer,
} from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Single-use client assertion `jti` (RFC 7523 §3 item 7). Off by default because MSAL reuses one assertion
// until it expires (docs/configuration.md); `strictAssertionJtiReplay` turns it on, on SQLite and on PostgreSQL alike.

/** Locally false skips the PostgreSQL runs with a warning; under CI an unreachable server throws (intended). */
const pgAvailable = await postgresAvailable();

interface Fixture {
  server: TestServer;
  scenario: ClientCredentialsScenario;
}

async function startFixture(options: Parameters<typeof startTestServer>[0]): Promise<Fixture> {
  const server = await startTestServer(options);
  const scenario = await seedClientCredentialsScenario(server.directory);
  return { server, scenario };
}

function tokenEndpoint(fixture: Fixture, segment = fixture.scenario.tenantId): string {
  return `${fixture.server.url}/${segment}/oauth2/v2.0/token`;
}

/** An assertion of the scenario's daemon as MSAL builds it; `jti` fresh unless given. */
function assertionOf(fixture: Fixture, jti: string = randomUUID()): Promise<string> {
  const { daemon, tenantId } = fixture.scenario;
  return signClientAssertion({
    clientId: daemon.appId,
    // The issuer is accepted under every name of the tenant, so one assertion fits both the GUID and the domain.
    audience: `${fixture.server.url}/${tenantId}/v2.0`,
    key: daemon.certificate.privateKey,
    header: { 'x5t#S256': daemon.certificate.x5tS256 },
    claims: { jti },
  });
}

function redeem(fixture: Fixture, assertion: string, segment?: string): Promise<Response> {
  return fetch(tokenEndpoint(fixture, segment), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      client_id: fixture.scenario.daemon.appId,
      client_assertion_type: JWT_BEARER_ASSERTION_TYPE,
      client_assertion: assertion,
      scope: `${fixture.scenario.api.identifierUri}/.default`,
      grant_type: 'client_credentials',
    }).toString(),
  });
}

async function expectIssued(response: Response): Promise<void> {
  const body = (await response.json()) as Record<string, unknown>;
  expect({ status: response.status, token_type: body.token_type, error: body.error }).toEqual({
    status: 200,
    token_type: 'Bearer',
    error: undefined,
  });
  expect(body.access_token).toEqual(expect.any(String));
}

/** Asserts the exact 9100002 refusal. */
async function expectReplayRefused(response: Response, jti: string): Promise<void> {
  expect(response.status).toBe(401);
  expect(response.headers.get('cache-control')).toBe('no-store');
  const body = (await response.json()) as Record<string, unknown>;
  expect(body).toEqual({
    error: 'invalid_client',
    error_description:
      `TSS9100002: Client assertion with 'jti' '${jti}' was already used.\r\n` +
      `Trace ID: ${String(body.trace_id)}\r\nCorrelation ID: ${String(body.correlation_id)}\r\n` +
      `Timestamp: ${String(body.timestamp)}`,
    error_codes: [9100002],
    timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/),
    trace_id: expect.any(String),
    correlation_id: expect.any(String),
  });
}

describe('client assertion jti, default configuration (reuse allowed, as MSAL needs)', () => {
  let fixture: Fixture;
  beforeAll(async () => {
    fixture = await startFixture({});
  });
  afterAll(() => fixture.server.close());

  it('accepts the same assertion twice, and concurrently', async () => {
    const assertion = await assertionOf(fixture);
    await expectIssued(await redeem(fixture, assertion));
    await expectIssued(await redeem(fixture, assertion));
    const responses = await Promise.all(Array.from({ length: 5 }, () => redeem(fixture, assertion)));
    for (const response of responses) await expectIssued(response);
  });
});

describe.each([
  ['SQLite', 'sqlite', true],
  ['PostgreSQL', 'postgres', pgAvailable],
] as const)('strict single-use jti on %s', (_name, database, available) => {
  let fixture: Fixture;
  beforeAll(async () => {
    if (available) fixture = await startFixture({ database, config: { strictAssertionJtiReplay: true } });
  });
  afterAll(async () => {
    if (available) await fixture.server.close();
  });

  it.skipIf(!available)('refuses the second use with 9100002; a fresh jti works', async () => {
    const jti = randomUUID();
    const assertion = await assertionOf(fixture, jti);
    await expectIssued(await redeem(fixture, assertion));
    await expectReplayRefused(await redeem(fixture, assertion), jti);
    await expectReplayRefused(await redeem(fixture, assertion), jti);
    await expectIssued(await redeem(fixture, await assertionOf(fixture)));
  });

  it.skipIf(!available)('refuses a replay under another name of the same tenant', async () => {
    const jti = randomUUID();
    const assertion = await assertionOf(fixture, jti);
    await expectIssued(await redeem(fixture, assertion, fixture.scenario.tenantId));
    await expectReplayRefused(await redeem(fixture, assertion, fixture.scenario.domain), jti);
  });

  it.skipIf(!available)('refuses a new assertion that reuses a spent jti', async () => {
    const jti = randomUUID();
    await expectIssued(await redeem(fixture, await assertionOf(fixture, jti)));
    await expectReplayRefused(await redeem(fixture, await assertionOf(fixture, jti)), jti);
  });

  it.skipIf(!available)('keeps jtis per client: another app may use the same jti value', async () => {
    const other = await seedClientCredentialsScenario(fixture.server.directory);
    const otherFixture: Fixture = { server: fixture.server, scenario: other };
    const jti = randomUUID();
    await expectIssued(await redeem(fixture, await assertionOf(fixture, jti)));
    await expectIssued(await redeem(otherFixture, await assertionOf(otherFixture, jti)));
  });

  it.skipIf(!available)('does not spend a jti on an assertion that fails verification', async () => {
    const jti = randomUUID();
    const forged = await signClientAssertion({
      clientId: fixture.scenario.daemon.appId,
      audience: 'https://elsewhere.example/token',
      key: fixture.scenario.daemon.certificate.privateKey,
      header: { 'x5t#S256': fixture.scenario.daemon.certificate.x5tS256 },
      claims: { jti },
    });
    expect((await redeem(fixture, forged)).status).toBe(401);
    await expectIssued(await redeem(fixture, await assertionOf(fixture, jti)));
  });

  it.skipIf(!available).each([
    ['a NUL character', 'a\u0000b', "'jti' must not contain a NUL character."],
    ['only a NUL character', '\u0000', "'jti' must not contain a NUL character."],
  ])('refuses a jti holding %s with 9100003, never a database error', async (_case, jti, reason) => {
    const response = await redeem(fixture, await assertionOf(fixture, jti));
    expect(await readErrorResponse(response)).toEqual({
      status: 401,
      error: 'invalid_client',
      codes: [9100003],
      text: `TSS9100003: Client assertion is missing a required claim or has an invalid one: ${reason}`,
    });
  });

  it.skipIf(!available)('issues exactly one token when the same assertion races 10 times', async () => {
    const jti = randomUUID();
    const assertion = await assertionOf(fixture, jti);
    const responses = await Promise.all(Array.from({ length: 10 }, () => redeem(fixture, assertion)));
    const statuses = responses.map((response) => response.status).sort();
    expect(statuses).toEqual([200, ...Array<number>(9).fill(401)]);
    for (const response of responses) {
      if (response.status === 200) await expectIssued(response);
      else await expectReplayRefused(response, jti);
    }
  });
});
