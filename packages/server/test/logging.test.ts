import { createPrivateKey, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  REDACTED_LOG_PATHS,
  createTesseraServer,
  decryptWithMasterKey,
  loadConfig,
  type TesseraServer,
} from '@tessera/server';
import {
  createClientCertificate,
  JWT_BEARER_ASSERTION_TYPE,
  seedClientCredentialsScenario,
  signClientAssertion,
  type ClientCredentialsScenario,
} from '@tessera/testkit';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Signing keys, secrets and assertions are never logged: a server logging at `trace` (the most verbose level),
// configured as createLogger configures it, answers good and bad token requests; every captured line is searched.

interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

interface Exchange {
  readonly name: string;
  readonly status: number;
  readonly body: Record<string, unknown>;
}

const lines: string[] = [];
const logger = pino(
  { level: 'trace', redact: { paths: REDACTED_LOG_PATHS, censor: '[redacted]' } },
  { write: (line: string) => void lines.push(line) },
);

describe('logging never leaks credentials', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-logging-'));
  const masterKey = randomBytes(32);
  let server: TesseraServer;
  let base: string;
  let scenario: ClientCredentialsScenario;
  let tokenUrl: string;
  const exchanges: Exchange[] = [];
  /** Every value that must never appear in a log line. */
  const secrets: { what: string; value: string }[] = [];

  function remember(what: string, value: string) {
    expect(value.length).toBeGreaterThanOrEqual(16);
    secrets.push({ what, value });
  }

  async function post(
    name: string,
    params: Record<string, string>,
    headers: Record<string, string> = {},
    rawBody?: string,
  ): Promise<Exchange> {
    const response = await fetch(tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: rawBody ?? new URLSearchParams(params),
    });
    const exchange = {
      name,
      status: response.status,
      body: (await response.json()) as Record<string, unknown>,
    };
    exchanges.push(exchange);
    return exchange;
  }

  const basic = (id: string, secret: string) =>
    `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

  beforeAll(async () => {
    const config = loadConfig(
      {},
      {
        dataDir,
        port: 0,
        tls: 'off',
        logLevel: 'trace',
        masterKey: masterKey.toString('base64'),
        strictAssertionJtiReplay: true,
      },
    );
    server = await createTesseraServer(config, { logger });
    base = await server.listen();
    scenario = await seedClientCredentialsScenario(server.directory);
    tokenUrl = `${base}/${scenario.tenantId}/oauth2/v2.0/token`;

    remember('the master key (base64)', masterKey.toString('base64'));
    remember('the master key (base64url)', masterKey.toString('base64url'));
    remember('the client secret', scenario.daemon.secret);
    remember('the client private key PEM', scenario.daemon.certificate.privateKeyPem);
    for (const row of await server.store.db.selectFrom('signing_keys').selectAll().execute()) {
      const pkcs8 = decryptWithMasterKey(masterKey, row.private_key_encrypted, row.kid);
      const pem = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' })
        .export({ format: 'pem', type: 'pkcs8' })
        .toString();
      remember(`signing key ${row.kid} (PKCS#8 base64)`, pkcs8.toString('base64'));
      remember(`signing key ${row.kid} (PKCS#8 base64url)`, pkcs8.toString('base64url'));
      remember(`signing key ${row.kid} (PEM)`, pem);
      remember(`signing key ${row.kid} (sealed)`, row.private_key_encrypted);
    }
    const scope = `${scenario.api.identifierUri}/.default`;
    const clientId = scenario.daemon.appId;
    const secret = scenario.daemon.secret;
    const assertion = (audience = tokenUrl, key = scenario.daemon.certificate.privateKey) =>
      signClientAssertion({
        clientId,
        audience,
        key,
        header: { 'x5t#S256': scenario.daemon.certificate.x5tS256 },
      });

    const good = await assertion();
    const tampered = await assertion();
    const tamperedAssertion = `${tampered.slice(0, -6)}${tampered.endsWith('AAAAAA') ? 'BBBBBB' : 'AAAAAA'}`;
    const wrongAudience = await assertion(`${base}/common/oauth2/v2.0/token/x`);
    const stranger = await createClientCertificate();
    const wrongKey = await assertion(tokenUrl, stranger.privateKey);
    const wrongSecret = `${secret.slice(0, 20)}${randomBytes(16).toString('base64url')}`;
    for (const [what, jwt] of [
      ['the client assertion', good],
      ['the tampered assertion', tamperedAssertion],
      ['the wrong-audience assertion', wrongAudience],
      ['the assertion signed by an unknown key', wrongKey],
    ] as const) {
      remember(what, jwt);
      remember(`${what} (signature)`, jwt.split('.')[2]!);
    }
    remember('the wrong secret', wrongSecret);
    remember('the stranger private key PEM', stranger.privateKeyPem);

    const cc = { grant_type: 'client_credentials', scope };
    await post('secret in the body', { ...cc, client_id: clientId, client_secret: secret });
    await post('secret by HTTP Basic', cc, { authorization: basic(clientId, secret) });
    await post('client assertion', {
      ...cc,
      client_id: clientId,
      client_assertion_type: JWT_BEARER_ASSERTION_TYPE,
      client_assertion: good,
    });
    await post('replayed client assertion', {
      ...cc,
      client_id: clientId,
      client_assertion_type: JWT_BEARER_ASSERTION_TYPE,
      client_assertion: good,
    });
    await post('wrong secret in the body', { ...cc, client_id: clientId, client_secret: wrongSecret });
    await post('wrong secret by HTTP Basic', cc, { authorization: basic(clientId, wrongSecret) });
    await post('tampered assertion', {
      ...cc,
      client_id: clientId,
      client_assertion_type: JWT_BEARER_ASSERTION_TYPE,
      client_assertion: tamperedAssertion,
    });
    await post('assertion for another audience', {
      ...cc,
      client_id: clientId,
      client_assertion_type: JWT_BEARER_ASSERTION_TYPE,
      client_assertion: wrongAudience,
    });
    await post('assertion signed by an unregistered key', {
      ...cc,
      client_id: clientId,
      client_assertion_type: JWT_BEARER_ASSERTION_TYPE,
      client_assertion: wrongKey,
    });
    await post('secret and assertion together', {
      ...cc,
      client_id: clientId,
      client_secret: secret,
      client_assertion_type: JWT_BEARER_ASSERTION_TYPE,
      client_assertion: good,
    });
    await post('secret with an unknown scope', {
      ...cc,
      client_id: clientId,
      client_secret: secret,
      scope: 'api://nothing/.default',
    });
    await post(
      'secret sent as JSON',
      {},
      { 'content-type': 'application/json' },
      JSON.stringify({ ...cc, client_id: clientId, client_secret: secret }),
    );
    await post(
      'secret in unparsable JSON',
      {},
      { 'content-type': 'application/json' },
      `{"client_secret":"${secret}"`,
    );
    await post(
      'secret repeated in the body',
      {},
      {},
      `client_secret=${secret}&client_secret=${secret}&client_id=${clientId}&grant_type=client_credentials`,
    );
    for (const exchange of exchanges) {
      if (typeof exchange.body.access_token === 'string') {
        remember(`the access token of "${exchange.name}"`, exchange.body.access_token);
        remember(
          `the access token signature of "${exchange.name}"`,
          exchange.body.access_token.split('.')[2]!,
        );
      }
    }
  });
  afterAll(async () => {
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('answered each request as expected', () => {
    expect(exchanges.map((e) => [e.name, e.status, e.body.error_codes ?? e.body.token_type])).toEqual([
      ['secret in the body', 200, 'Bearer'],
      ['secret by HTTP Basic', 200, 'Bearer'],
      ['client assertion', 200, 'Bearer'],
      ['replayed client assertion', 401, [9100002]],
      ['wrong secret in the body', 401, [7000215]],
      ['wrong secret by HTTP Basic', 401, [7000215]],
      ['tampered assertion', 401, [700027]],
      ['assertion for another audience', 401, [50012]],
      ['assertion signed by an unregistered key', 401, [700027]],
      ['secret and assertion together', 401, [9100005]],
      ['secret with an unknown scope', 400, [500011]],
      ['secret sent as JSON', 415, [9100007]],
      ['secret in unparsable JSON', 400, [9100009]],
      ['secret repeated in the body', 400, [9100004]],
    ]);
  });

  it('logged at trace level, and logged every failing request at info with its error code and trace id', () => {
    const parsed = lines.map((line) => JSON.parse(line) as LogLine);
    expect(parsed.some((line) => line.level === 10 || line.level === 20 || line.level === 30)).toBe(true);
    const failures = exchanges.filter((e) => e.status >= 400);
    expect(failures).toHaveLength(11);
    for (const failure of failures) {
      const traceId = failure.body.trace_id;
      expect(traceId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      const logged = parsed.filter((line) => line.traceId === traceId);
      expect(logged.map((line) => [line.level, line.code])).toEqual([
        [30, (failure.body.error_codes as number[])[0]],
      ]);
    }
  });

  it('names each failure in its log line by the catalogue name (e.g. InvalidClientSecretProvided)', () => {
    // errorCatalogue documents `name` as the "Microsoft-style name, for logs and docs"; today every line says
    // only "IdentityError" (http/errors.ts logs identityError.name, the class name).
    const parsed = lines.map((line) => JSON.parse(line) as LogLine);
    const failures = exchanges.filter((e) => e.status >= 400);
    expect(
      failures.map((failure) => parsed.find((line) => line.traceId === failure.body.trace_id)?.msg),
    ).toEqual([
      'InvalidClientAssertionReplayed',
      'InvalidClientSecretProvided',
      'InvalidClientSecretProvided',
      'InvalidClientAssertionSignature',
      'AuthenticationFailed',
      'InvalidClientAssertionSignature',
      'InvalidClientAuthenticationMethods',
      'InvalidResourceServicePrincipalNotFound',
      'UnsupportedContentType',
      'MalformedRequest',
      'RepeatedParameter',
    ]);
  });

  it('never logged a secret, assertion, access token, master key or private key', () => {
    expect(secrets.length).toBeGreaterThanOrEqual(25);
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) {
      expect(line).not.toMatch(/PRIVATE KEY/);
      for (const { what, value } of secrets) {
        // Search the whole value and, for PEM and long encodings, each 32-character piece of it.
        const body = value.replace(/-----[A-Z ]+-----|\s/g, '');
        const pieces = [value, ...(body.match(/.{32}/g) ?? [])];
        for (const piece of pieces) {
          if (line.includes(piece)) throw new Error(`A log line contains ${what}: ${line}`);
        }
      }
    }
  });
});
