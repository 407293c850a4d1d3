import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REDACTED_LOG_PATHS, createTesseraServer, loadConfig, type TesseraServer } from '@tessera/server';
import { seedClientCredentialsScenario, type ClientCredentialsScenario } from '@tessera/testkit';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// A server logging at `trace`, with the logger createLogger builds, answers requests that carry every kind of
// credential in every place one travels (form fields, Authorization, DPoP, Cookie, query): no line holds any of
// them, every request line names the correlation id the client sent, and probes and scrapes log nothing.

const lines: string[] = [];
const logger = pino(
  { level: 'trace', redact: { paths: REDACTED_LOG_PATHS, censor: '[redacted]' } },
  { write: (line: string) => void lines.push(line) },
);

/** A value shaped like what it stands for, unique, and long enough never to occur by chance. */
function secret(label: string): string {
  return `${label}-${randomBytes(18).toString('base64url')}`;
}

/** A JWT-shaped value (assertions, DPoP proofs) whose every part is unique. */
function jwtLike(): string {
  return [randomBytes(24), randomBytes(48), randomBytes(64)]
    .map((part) => part.toString('base64url'))
    .join('.');
}

describe('request logs at trace level', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-operations-logging-'));
  let server: TesseraServer;
  let base: string;
  let scenario: ClientCredentialsScenario;
  const secrets: string[] = [];
  const correlationIds: string[] = [];

  async function send(
    path: string,
    init: { method?: string; headers?: Record<string, string>; form?: Record<string, string> },
  ) {
    const correlationId = randomUUID();
    correlationIds.push(correlationId);
    const response = await fetch(`${base}${path}`, {
      method: init.method ?? (init.form === undefined ? 'GET' : 'POST'),
      headers: {
        'client-request-id': correlationId,
        ...(init.form === undefined ? {} : { 'content-type': 'application/x-www-form-urlencoded' }),
        ...init.headers,
      },
      ...(init.form === undefined ? {} : { body: new URLSearchParams(init.form) }),
    });
    expect(response.headers.get('client-request-id') ?? correlationId).toBe(correlationId);
    await response.arrayBuffer();
    return response;
  }

  function kept(value: string): string {
    secrets.push(value);
    return value;
  }

  beforeAll(async () => {
    const config = loadConfig(
      {},
      { dataDir, port: 0, tls: 'off', logLevel: 'trace', masterKey: randomBytes(32).toString('base64') },
    );
    server = await createTesseraServer(config, { logger });
    base = await server.listen();
    scenario = await seedClientCredentialsScenario(server.directory);
  });
  afterAll(async () => {
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('logs no credential, and names the correlation id on every request line', async () => {
    const token = `/${scenario.tenantId}/oauth2/v2.0/token`;
    const clientId = scenario.daemon.appId;
    const scope = `${scenario.api.identifierUri}/.default`;
    lines.length = 0;
    await send(token, {
      form: {
        grant_type: 'client_credentials',
        client_id: clientId,
        client_secret: kept(secret('secret')),
        scope,
      },
    });
    await send(token, {
      headers: {
        authorization: `Basic ${kept(Buffer.from(`${clientId}:${secret('basic')}`).toString('base64'))}`,
      },
      form: { grant_type: 'client_credentials', scope },
    });
    await send(token, {
      form: {
        grant_type: 'password',
        client_id: clientId,
        username: 'alice@example.test',
        password: kept(secret('pw')),
        scope,
      },
    });
    await send(token, {
      form: {
        grant_type: 'authorization_code',
        client_id: clientId,
        code: kept(secret('code')),
        code_verifier: kept(secret('verifier')),
        redirect_uri: 'https://app.example/callback',
      },
    });
    await send(token, {
      form: { grant_type: 'refresh_token', client_id: clientId, refresh_token: kept(secret('refresh')) },
    });
    await send(token, {
      form: {
        grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
        client_id: clientId,
        client_secret: kept(secret('obo-secret')),
        assertion: kept(jwtLike()),
        requested_token_use: 'on_behalf_of',
        scope,
      },
    });
    await send(token, {
      form: {
        grant_type: 'client_credentials',
        client_id: clientId,
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: kept(jwtLike()),
        scope,
      },
    });
    await send(token, {
      headers: { dpop: kept(jwtLike()), cookie: `esctx=${kept(secret('cookie'))}` },
      form: {
        grant_type: 'client_credentials',
        client_id: clientId,
        client_secret: kept(secret('dpop-secret')),
        scope,
      },
    });
    await send('/oidc/userinfo', { headers: { authorization: `Bearer ${kept(jwtLike())}` } });
    await send('/v1.0/users', { headers: { authorization: `Bearer ${kept(jwtLike())}` } });
    await send(
      `/${scenario.tenantId}/oauth2/v2.0/authorize?client_id=${clientId}&response_type=code&code_challenge=${kept(secret('challenge'))}`,
      {
        headers: { cookie: `tessera_session=${kept(secret('session'))}` },
      },
    );

    expect(lines.length).toBeGreaterThan(0);
    const text = lines.join('');
    for (const value of secrets) expect(text).not.toContain(value);
    // Every line about a request names the id the client sent.
    const requestLines = lines
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((line) => line.traceId !== undefined);
    expect(requestLines.length).toBeGreaterThanOrEqual(8);
    for (const line of requestLines)
      expect(correlationIds, JSON.stringify(line)).toContain(line.correlationId);
  });

  it('logs nothing for probes and scrapes', async () => {
    lines.length = 0;
    for (const path of ['/healthz', '/readyz', '/metrics']) {
      expect((await fetch(`${base}${path}`)).status).toBe(200);
    }
    expect(lines).toEqual([]);
  });
});
