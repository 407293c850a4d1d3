import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, type DatabaseTarget } from '@tessera/server';
import {
  authorizationCodeFields,
  authorizeUrl,
  cliEnvironment,
  createPkcePair,
  createPostgresSchema,
  endpointUrl,
  freePort,
  postForm,
  postgresAvailable,
  seedInteractiveScenario,
  signInThrough,
  startTestServer,
  TESSERA_CLI,
  TEST_MASTER_KEY,
  TestBrowser,
  type InteractiveScenario,
  type PostgresSchema,
  type TestServer,
} from '@tessera/testkit';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GRAPH, seedDirectoryClient, type SeededClient } from './support/management-api.js';

// `tessera serve` killed with SIGKILL in the middle of a burst of writes, then started again on the same store
// (SQLite in WAL mode on the same data directory; PostgreSQL on the same schema). The burst mixes code redemptions
// with offline_access and refresh rotations, Graph `POST /v1.0/users` and, for each user created,
// `POST /v1.0/oauth2PermissionGrants` (a Principal consent). After the restart every write whose response was
// received is there and intact: each refresh token last returned (and not rotated by a request cut off by the
// kill) still works once, each user and grant reads back as created, and no code is used without its refresh
// token family (one transaction). SQLite also passes PRAGMA integrity_check.

const WORKERS = 4;
const GRAPH_WORKERS = 2;
const BURST_MS = 10_000;
const KILL_AFTER_FAMILIES = 8;
const KILL_AFTER_USERS = 4;

const postgres = await postgresAvailable();

async function serve(
  dataDir: string,
  env: Readonly<Record<string, string>>,
): Promise<{ child: ChildProcess; base: string }> {
  const port = await freePort();
  const child = spawn(process.execPath, [TESSERA_CLI, 'serve', '--data', dataDir, '--port', String(port)], {
    env: cliEnvironment({ TESSERA_TLS: 'off', TESSERA_LOG_LEVEL: 'warn', ...env }),
    stdio: 'ignore',
  });
  const base = `http://localhost:${port}`;
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error('tessera serve exited');
    const ok = await fetch(`${base}/common/v2.0/.well-known/openid-configuration`)
      .then((response) => response.ok)
      .catch(() => false);
    if (ok) return { child, base };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('tessera serve did not answer');
}

/** A Graph call against `base` with a bearer token: the status and the JSON body (`{}` for an empty one). */
async function graphCall(
  base: string,
  path: string,
  token: string,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${base}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

/** A client-credentials access token of `client` for Microsoft Graph from the node at `base`. */
async function graphToken(base: string, tenantId: string, client: SeededClient): Promise<string> {
  const response = await postForm(endpointUrl(base, tenantId, 'token'), {
    grant_type: 'client_credentials',
    client_id: client.appId,
    client_secret: client.secret,
    scope: `${GRAPH}/.default`,
  });
  expect(response.status).toBe(200);
  return ((await response.json()) as { access_token: string }).access_token;
}

/** The body of a Graph entity without its OData annotations. */
const withoutAnnotations = (body: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(body).filter(([name]) => !name.startsWith('@odata.')));

/** Where a case keeps its store: the seeding server, the `tessera serve` environment, the store for checks. */
interface Store {
  readonly dataDir: string;
  readonly seed: () => Promise<TestServer>;
  readonly env: Readonly<Record<string, string>>;
  readonly target: DatabaseTarget;
}

/** The running node of a case, killed when the case ends however it ends. */
const running = new Set<ChildProcess>();
afterAll(() => {
  for (const child of running) child.kill('SIGKILL');
});

/**
 * Seeds `store`, serves it, kills the node with SIGKILL mid-burst, serves it again and checks every write whose
 * response was received; then `checkStore`, when given, on the store at rest.
 */
async function burstKillRestart(
  store: Store,
  checkStore?: (db: ReturnType<typeof openDatabase>) => Promise<void>,
) {
  const seeding = await store.seed();
  const s: InteractiveScenario = await seedInteractiveScenario(seeding.directory);
  const admin = await seedDirectoryClient(seeding, s.tenantId, 'Burst Admin', [
    'User.ReadWrite.All',
    'DelegatedPermissionGrant.ReadWrite.All',
  ]);
  const spOf = async (appId: string) =>
    (await seeding.directory.servicePrincipals.get(s.tenantId, { appId })).id;
  const webSp = await spOf(s.web.appId);
  const apiSp = await spOf(s.api.appId);
  await seeding.close();

  const first = await serve(store.dataDir, store.env);
  running.add(first.child);
  const tokenUrl = (base: string) => endpointUrl(base, s.tenantId, 'token');
  const firstGraph = await graphToken(first.base, s.tenantId, admin);
  /** The latest refresh token received per family, and the families with a request cut off by the kill. */
  const latest = new Map<number, string>();
  const inFlight = new Set<number>();
  /** The users and grants created, as their creation answered. */
  const users: Record<string, unknown>[] = [];
  const grants: Record<string, unknown>[] = [];
  let families = 0;
  let created = 0;
  let killed = false;
  const stopped = () => killed;

  const tokenWorker = async () => {
    const browser = new TestBrowser();
    while (!stopped()) {
      const { verifier, challenge } = createPkcePair();
      const back = await signInThrough(
        browser,
        authorizeUrl(first.base, s.tenantId, s.native, {
          scope: 'openid offline_access',
          code_challenge: challenge,
          code_challenge_method: 'S256',
        }),
        { userName: s.user.userPrincipalName, password: s.password },
      );
      const code = new URL(back.location ?? 'x:').searchParams.get('code') ?? '';
      const family = families++;
      inFlight.add(family);
      const redeemed = await postForm(
        tokenUrl(first.base),
        authorizationCodeFields(s.native, code, { code_verifier: verifier }),
      );
      if (redeemed.status !== 200) throw new Error(`redemption answered ${redeemed.status}`);
      let token = ((await redeemed.json()) as { refresh_token: string }).refresh_token;
      latest.set(family, token);
      inFlight.delete(family);
      for (let i = 0; i < 2 && !stopped(); i++) {
        inFlight.add(family);
        const rotated = await postForm(tokenUrl(first.base), {
          grant_type: 'refresh_token',
          client_id: s.native.appId,
          refresh_token: token,
        });
        if (rotated.status !== 200) throw new Error(`refresh answered ${rotated.status}`);
        token = ((await rotated.json()) as { refresh_token: string }).refresh_token;
        latest.set(family, token);
        inFlight.delete(family);
      }
    }
  };
  const graphWorker = async () => {
    while (!stopped()) {
      const n = created++;
      const user = await graphCall(first.base, '/v1.0/users', firstGraph, {
        accountEnabled: true,
        displayName: `Burst Person ${n}`,
        mailNickname: `burst${n}`,
        userPrincipalName: `burst${n}@${s.domain}`,
        passwordProfile: { forceChangePasswordNextSignIn: false, password: s.password },
      });
      if (user.status !== 201) throw new Error(`user creation answered ${user.status}`);
      users.push(user.body);
      const grant = await graphCall(first.base, '/v1.0/oauth2PermissionGrants', firstGraph, {
        clientId: webSp,
        consentType: 'Principal',
        principalId: user.body.id,
        resourceId: apiSp,
        scope: 'Files.Read',
      });
      if (grant.status !== 201) throw new Error(`grant creation answered ${grant.status}`);
      grants.push(grant.body);
    }
  };
  const failures: unknown[] = [];
  const keep = (work: Promise<void>) =>
    work.catch((error: unknown) => {
      if (!killed) failures.push(error);
    });
  const workers = [
    ...Array.from({ length: WORKERS }, () => keep(tokenWorker())),
    ...Array.from({ length: GRAPH_WORKERS }, () => keep(graphWorker())),
  ];
  // Mid-burst: once some writes of each kind have answered (the first sign-ins take a while on a loaded machine),
  // or at the latest after the burst's bound.
  const burstEnds = Date.now() + BURST_MS;
  while ((latest.size < KILL_AFTER_FAMILIES || users.length < KILL_AFTER_USERS) && Date.now() < burstEnds) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  killed = true;
  first.child.kill('SIGKILL');
  await once(first.child, 'exit');
  running.delete(first.child);
  await Promise.all(workers);
  expect(failures).toEqual([]);
  expect(latest.size).toBeGreaterThan(0);
  expect(users.length).toBeGreaterThan(0);
  expect(grants.length).toBeGreaterThan(0);

  const second = await serve(store.dataDir, store.env);
  running.add(second.child);
  let checked = 0;
  for (const [family, token] of latest) {
    if (inFlight.has(family)) continue;
    checked++;
    const refreshed = await postForm(tokenUrl(second.base), {
      grant_type: 'refresh_token',
      client_id: s.native.appId,
      refresh_token: token,
    });
    expect(refreshed.status, `family ${family}`).toBe(200);
  }
  expect(checked).toBeGreaterThan(0);
  const secondGraph = await graphToken(second.base, s.tenantId, admin);
  for (const user of users) {
    const read = await graphCall(second.base, `/v1.0/users/${String(user.id)}`, secondGraph);
    expect(read.status, `user ${String(user.userPrincipalName)}`).toBe(200);
    expect(withoutAnnotations(read.body)).toEqual(withoutAnnotations(user));
  }
  // The password set at creation signs the first created user in.
  const back = await signInThrough(
    new TestBrowser(),
    authorizeUrl(second.base, s.tenantId, s.native, {
      scope: 'openid',
      code_challenge: createPkcePair().challenge,
      code_challenge_method: 'S256',
    }),
    { userName: String(users[0]?.userPrincipalName), password: s.password },
  );
  expect(new URL(back.location ?? 'x:').searchParams.get('code')).not.toBeNull();
  for (const grant of grants) {
    const read = await graphCall(
      second.base,
      `/v1.0/oauth2PermissionGrants/${String(grant.id)}`,
      secondGraph,
    );
    expect(read.status, `grant ${String(grant.id)}`).toBe(200);
    expect(withoutAnnotations(read.body)).toEqual(withoutAnnotations(grant));
  }
  second.child.kill('SIGKILL');
  await once(second.child, 'exit');
  running.delete(second.child);

  const db = openDatabase(store.target);
  try {
    const orphans = await sql<{ n: number | string }>`
      select count(*) as n from authorization_codes c
      where c.redeemed_at is not null
        and not exists (select 1 from refresh_tokens r where r.family_id = c.family_id)`.execute(db);
    expect(Number(orphans.rows[0]?.n)).toBe(0);
    await checkStore?.(db);
  } finally {
    await db.destroy();
  }
}

describe('SIGKILL mid-burst (SQLite, WAL)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-sigkill-'));
  afterAll(() => {
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('loses no answered write (refresh tokens, users, grants), passes integrity_check, leaves no code without its family', async () => {
    await burstKillRestart(
      {
        dataDir,
        seed: () => startTestServer({ dataDir }),
        env: {},
        target: { dialect: 'sqlite', file: join(dataDir, 'tessera.db') },
      },
      async (db) => {
        const mode = await sql<{ journal_mode: string }>`pragma journal_mode`.execute(db);
        expect(mode.rows).toEqual([{ journal_mode: 'wal' }]);
        const integrity = await sql<{ integrity_check: string }>`pragma integrity_check`.execute(db);
        expect(integrity.rows).toEqual([{ integrity_check: 'ok' }]);
      },
    );
  }, 30_000);
});

describe.skipIf(!postgres)('SIGKILL mid-burst (PostgreSQL)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-sigkill-pg-'));
  let schema: PostgresSchema | undefined;
  beforeAll(async () => {
    schema = await createPostgresSchema();
  });
  afterAll(async () => {
    rmSync(dataDir, { recursive: true, force: true });
    await schema?.drop();
  });

  it('loses no answered write (refresh tokens, users, grants), leaves no code without its family', async () => {
    const url = schema?.url ?? '';
    await burstKillRestart({
      dataDir,
      seed: () => startTestServer({ databaseUrl: url }),
      env: { DATABASE_URL: url, TESSERA_MASTER_KEY: TEST_MASTER_KEY },
      target: { dialect: 'postgres', url },
    });
  }, 30_000);
});
