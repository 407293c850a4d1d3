import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import {
  createPostgresSchema,
  endpointUrl,
  postForm,
  postgresAvailable,
  startTestServer,
  testPostgresUrl,
  TcpRelay,
  type PostgresSchema,
  type TestServer,
} from '@tessera/testkit';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/config.js';
import { createTesseraServer } from '../src/server.js';
import { callApi, expectGraphError, graphAppToken, seedDirectoryClient } from './support/management-api.js';

// PostgreSQL faults: an idle connection the server terminates must not crash the process; while the database
// cannot be reached requests answer 503 with Retry-After (RFC 6749 §4.1.2.1 `temporarily_unavailable`, Graph's
// `serviceNotAvailable`) and recover without a restart; start-up waits for the database instead of crash-looping.
const available = await postgresAvailable();

const postgresTarget = () => {
  const url = new URL(testPostgresUrl);
  return { host: url.hostname, port: Number(url.port === '' ? 5432 : url.port) };
};

/** Polls `check` every 100 ms until it holds or `timeoutMs` passes. */
async function eventually(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe.skipIf(!available)('PostgreSQL terminates the idle connections of a running node', () => {
  let schema: PostgresSchema;
  let server: TestServer;
  const applicationName = `tessera_faults_${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    schema = await createPostgresSchema();
    const url = new URL(schema.url);
    // Tags this node's connections, so the test terminates them and no other suite's.
    url.searchParams.set('application_name', applicationName);
    server = await startTestServer({ databaseUrl: url.toString() });
  });
  afterAll(async () => {
    await server.close();
    await schema.drop();
  });

  it('the process survives (the pool logs and drops them) and the next request succeeds', async () => {
    const tenant = await server.directory.tenants.create({ displayName: 'Faults', domains: ['faults.test'] });
    const client = await seedDirectoryClient(server, tenant.id, 'pool daemon', ['User.Read.All']);
    const { token } = await graphAppToken(server, tenant.id, client);
    expect((await callApi(server, '/v1.0/users', token)).status).toBe(200);

    const admin = new pg.Client({ connectionString: testPostgresUrl });
    await admin.connect();
    try {
      const terminated = await admin.query<{ pid: number }>(
        `select pg_terminate_backend(pid) as terminated, pid from pg_stat_activity
          where datname = current_database() and pid <> pg_backend_pid() and application_name = $1`,
        [applicationName],
      );
      expect(terminated.rows.length).toBeGreaterThan(0);
    } finally {
      await admin.end();
    }
    // An unhandled pool 'error' event would have failed this run as an uncaught exception by now.
    await new Promise((resolve) => setTimeout(resolve, 300));
    await eventually(async () => (await callApi(server, '/v1.0/users', token)).status === 200);
    expect((await callApi(server, '/v1.0/users', token)).status).toBe(200);
  });
});

describe.skipIf(!available)('PostgreSQL unreachable under a running node', () => {
  let schema: PostgresSchema;
  let relay: TcpRelay;
  let server: TestServer;

  beforeAll(async () => {
    schema = await createPostgresSchema();
    relay = new TcpRelay(postgresTarget());
    await relay.open();
    server = await startTestServer({
      databaseUrl: relay.urlOf(schema.url),
      config: { databaseConnectionTimeoutMs: 1000 },
    });
  });
  afterAll(async () => {
    await server.close();
    await relay.cut();
    await schema.drop();
  });

  it('answers 503 with Retry-After and temporarily_unavailable / serviceNotAvailable while down, 200 after, no restart', async () => {
    const tenant = await server.directory.tenants.create({ displayName: 'Outage', domains: ['outage.test'] });
    const reader = await seedDirectoryClient(server, tenant.id, 'outage reader', ['User.Read.All']);
    const { token } = await graphAppToken(server, tenant.id, reader);
    // Registered but never used: its first token request has to read the database.
    const daemon = await seedDirectoryClient(server, tenant.id, 'outage daemon', ['User.Read.All']);
    const tokenRequest = () =>
      postForm(endpointUrl(server.url, tenant.id, 'token'), {
        grant_type: 'client_credentials',
        client_id: daemon.appId,
        client_secret: daemon.secret,
        scope: 'https://graph.microsoft.com/.default',
      });

    await relay.cut();

    const refused = await tokenRequest();
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('5');
    expect(refused.headers.get('cache-control')).toBe('no-store');
    const body = (await refused.json()) as Record<string, unknown>;
    expect(body.error).toBe('temporarily_unavailable');
    expect(body.error_codes).toEqual([90033]);
    expect(String(body.error_description).split('\r\n')[0]).toBe(
      'TSS90033: A transient error has occurred. Try again.',
    );
    expect(JSON.stringify(body)).not.toMatch(/ECONNREFUSED|at .*\.js|Connection terminated/);

    const graph = await callApi(server, '/v1.0/users', token);
    expectGraphError(
      graph,
      503,
      'serviceNotAvailable',
      'The service is temporarily unavailable. Retry the request after the time in the Retry-After header.',
    );
    expect(graph.headers.get('retry-after')).toBe('5');

    await relay.open();
    await eventually(async () => (await tokenRequest()).status === 200);
    expect((await tokenRequest()).status).toBe(200);
    expect((await callApi(server, '/v1.0/users', token)).status).toBe(200);
  });
});

describe.skipIf(!available)('start-up while PostgreSQL is unreachable', () => {
  let schema: PostgresSchema;
  let relay: TcpRelay;
  const dataDirs: string[] = [];

  beforeAll(async () => {
    schema = await createPostgresSchema();
    relay = new TcpRelay(postgresTarget());
    await relay.open();
    await relay.cut();
  });
  afterAll(async () => {
    await relay.cut();
    await schema.drop();
    for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
  });

  function configFor(databaseStartupRetrySeconds: number) {
    const dataDir = mkdtempSync(join(tmpdir(), 'tessera-faults-'));
    dataDirs.push(dataDir);
    return loadConfig(
      {},
      {
        dataDir,
        port: 0,
        tls: 'off',
        databaseUrl: relay.urlOf(schema.url),
        masterKey: randomBytes(32).toString('base64'),
        databaseConnectionTimeoutMs: 1000,
        databaseStartupRetrySeconds,
      },
    );
  }

  /** A logger whose JSON lines the test reads. */
  function capturedLogger() {
    const lines: { msg?: string; attempt?: number }[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(JSON.parse(chunk.toString('utf8')) as { msg?: string; attempt?: number });
        done();
      },
    });
    return { lines, logger: pino({ level: 'warn' }, stream) };
  }

  it('retries with backoff, logging each attempt, and starts once the database answers', async () => {
    const { lines, logger } = capturedLogger();
    const starting = createTesseraServer(configFor(30), { logger });
    setTimeout(() => void relay.open(), 1500);
    const server = await starting;
    try {
      const attempts = lines.filter(
        (line) => line.msg === 'the database cannot be reached; retrying to connect and migrate',
      );
      expect(attempts.length).toBeGreaterThanOrEqual(2);
      expect(attempts.map((line) => line.attempt)).toEqual(attempts.map((_, i) => i + 1));
      const url = await server.listen();
      const discovery = await fetch(`${url}/common/v2.0/.well-known/openid-configuration`);
      expect(discovery.status).toBe(200);
    } finally {
      await server.close();
      await relay.cut();
    }
  });

  it('with databaseStartupRetrySeconds 0 it fails at once with the connection error', async () => {
    const { lines, logger } = capturedLogger();
    const startedMs = Date.now();
    await expect(createTesseraServer(configFor(0), { logger })).rejects.toThrow();
    expect(Date.now() - startedMs).toBeLessThan(5000);
    expect(lines.filter((line) => line.msg?.startsWith('the database cannot be reached') === true)).toEqual(
      [],
    );
  });

  it('does not retry an error that is not an outage (a database that does not exist)', async () => {
    await relay.open();
    const config = configFor(30);
    const url = new URL(config.databaseUrl ?? '');
    url.pathname = `/missing_${randomUUID().slice(0, 8)}`;
    const startedMs = Date.now();
    await expect(createTesseraServer({ ...config, databaseUrl: url.toString() })).rejects.toThrow(
      /does not exist/,
    );
    expect(Date.now() - startedMs).toBeLessThan(5000);
    await relay.cut();
  });
});
