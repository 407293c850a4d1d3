import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrateToLatest, openDatabase, SignInStore, type DatabaseTarget } from '@tessera/server';
import {
  createPostgresSchema,
  postgresAvailable,
  seedInteractiveScenario,
  signInThrough,
  startInteractiveServer,
  startTestServer,
  TestBrowser,
} from '@tessera/testkit';
import type { InteractiveScenario, TestServer } from '@tessera/testkit';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Revocation reaches access tokens (RFC 6749 §4.1.2, RFC 7009 §2.1): whatever revokes a grant — a replayed code,
// refresh token reuse, revocation of its refresh token — or an access token itself, makes the grant's access tokens
// inactive at introspection and refused at userinfo, on every node within one poll interval. And only access tokens
// are credentials there: an ID token is never an active access token.

const pgAvailable = await postgresAvailable();
const dialects = [
  { name: 'SQLite', database: 'sqlite' as const, available: true },
  { name: 'PostgreSQL', database: 'postgres' as const, available: pgAvailable },
];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Tokens {
  readonly access_token: string;
  readonly refresh_token: string;
  readonly id_token: string;
}

/** The URL a node really listens on (its public URL may be another node's). */
function listeningUrl(server: TestServer): string {
  return `https://localhost:${(server.server.app.server.address() as AddressInfo).port}`;
}

/** Talks to one node (all nodes of a deployment share the public URL, so the issuer). */
function node(server: TestServer, s: () => InteractiveScenario) {
  const url = listeningUrl(server);
  const endpoint = (name: string) => `${url}/${s().tenantId}/oauth2/v2.0/${name}`;
  const post = (name: string, fields: Record<string, string>) =>
    fetch(endpoint(name), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields),
    });
  const web = () => ({ client_id: s().web.appId, client_secret: s().web.secret });
  return {
    endpoint,
    post,
    web,
    /** A fresh code for alice at the web app (directory API scopes, so userinfo accepts its access token). */
    async code(scope = 'openid profile offline_access', upn = s().user.userPrincipalName): Promise<string> {
      const params = new URLSearchParams({
        client_id: s().web.appId,
        response_type: 'code',
        redirect_uri: s().web.redirectUri,
        scope,
        state: 'st',
        nonce: 'nn',
      });
      const back = await signInThrough(new TestBrowser(), `${endpoint('authorize')}?${params.toString()}`, {
        userName: upn,
        password: s().password,
      });
      return new URL(back.location ?? '').searchParams.get('code') ?? '';
    },
    redeem(code: string) {
      return post('token', {
        ...web(),
        grant_type: 'authorization_code',
        code,
        redirect_uri: s().web.redirectUri,
      });
    },
    refresh(token: string) {
      return post('token', { ...web(), grant_type: 'refresh_token', refresh_token: token });
    },
    async introspect(token: string): Promise<Record<string, unknown>> {
      const response = await post('introspect', { ...web(), token });
      expect(response.status).toBe(200);
      return (await response.json()) as Record<string, unknown>;
    },
    async userinfo(token: string) {
      const response = await fetch(`${url}/oidc/userinfo`, {
        headers: { authorization: `Bearer ${token}` },
      });
      const body = (await response.json()) as Record<string, unknown>;
      return {
        status: response.status,
        challenge: response.headers.get('www-authenticate'),
        body,
      };
    },
  };
}
type Node = ReturnType<typeof node>;

async function tokensOf(response: Response): Promise<Tokens> {
  expect(response.status).toBe(200);
  return (await response.json()) as Tokens;
}

/** Exactly the refusal of a userinfo request with a token that is no (longer a) credential. */
function expectUserinfoRefused(answer: Awaited<ReturnType<Node['userinfo']>>): void {
  expect({
    status: answer.status,
    challenge: answer.challenge,
    error: answer.body.error,
    codes: answer.body.error_codes,
    text: String(answer.body.error_description).split('\r\n')[0],
  }).toEqual({
    status: 401,
    challenge: 'Bearer error="invalid_token"',
    error: 'invalid_token',
    codes: [9100016],
    text: `TSS9100016: The access token is missing, malformed, expired or not issued by this server for this endpoint.`,
  });
}

async function expectActive(n: Node, accessToken: string): Promise<void> {
  expect(await n.introspect(accessToken)).toMatchObject({ active: true, token_type: 'access_token' });
  expect((await n.userinfo(accessToken)).status).toBe(200);
}

async function expectRevoked(n: Node, accessToken: string): Promise<void> {
  expect(await n.introspect(accessToken)).toEqual({ active: false });
  expectUserinfoRefused(await n.userinfo(accessToken));
}

/** Each way a grant or an access token gets revoked: the access token obtained before it is then dead. */
const revocations: readonly {
  readonly name: string;
  /** Obtains tokens, checks they work, revokes; returns the access token that must now be inactive. */
  readonly revoke: (issuing: Node, revoking: Node) => Promise<string>;
}[] = [
  {
    name: 'a replayed authorization code (RFC 6749 §4.1.2)',
    async revoke(issuing, revoking) {
      const code = await issuing.code();
      const tokens = await tokensOf(await issuing.redeem(code));
      await expectActive(issuing, tokens.access_token);
      const replay = await revoking.redeem(code);
      expect(replay.status).toBe(400);
      expect(((await replay.json()) as { error_codes: number[] }).error_codes).toEqual([54005]);
      return tokens.access_token;
    },
  },
  {
    name: 'a replayed code whose first redemption had no offline_access (no refresh token row)',
    async revoke(issuing, revoking) {
      const code = await issuing.code('openid profile');
      const tokens = await tokensOf(await issuing.redeem(code));
      // No refresh token, so no family row: the access token is covered through its grant id alone.
      expect(tokens.refresh_token).toBeUndefined();
      await expectActive(issuing, tokens.access_token);
      expect((await revoking.redeem(code)).status).toBe(400);
      return tokens.access_token;
    },
  },
  {
    name: 'revocation of the grant’s refresh token (RFC 7009 §2.1)',
    async revoke(issuing, revoking) {
      const tokens = await tokensOf(await issuing.redeem(await issuing.code()));
      await expectActive(issuing, tokens.access_token);
      const revoked = await revoking.post('revoke', { ...revoking.web(), token: tokens.refresh_token });
      expect(revoked.status).toBe(200);
      return tokens.access_token;
    },
  },
  {
    name: 'revocation of a later refresh token of the same family (tokens of earlier generations die too)',
    async revoke(issuing, revoking) {
      const first = await tokensOf(await issuing.redeem(await issuing.code()));
      const second = await tokensOf(await issuing.refresh(first.refresh_token));
      await expectActive(issuing, first.access_token);
      await expectActive(issuing, second.access_token);
      expect((await revoking.post('revoke', { ...revoking.web(), token: second.refresh_token })).status).toBe(
        200,
      );
      await expectRevoked(revoking, second.access_token);
      return first.access_token;
    },
  },
  {
    name: 'reuse of a rotated refresh token (RFC 9700 §4.14.2)',
    async revoke(issuing, revoking) {
      const first = await tokensOf(await issuing.redeem(await issuing.code()));
      const second = await tokensOf(await issuing.refresh(first.refresh_token));
      await expectActive(issuing, second.access_token);
      const reuse = await revoking.refresh(first.refresh_token);
      expect(((await reuse.json()) as { error_codes: number[] }).error_codes).toEqual([70000]);
      return second.access_token;
    },
  },
  {
    name: 'revocation of the access token itself (by uti)',
    async revoke(issuing, revoking) {
      const tokens = await tokensOf(await issuing.redeem(await issuing.code()));
      await expectActive(issuing, tokens.access_token);
      const revoked = await revoking.post('revoke', { ...revoking.web(), token: tokens.access_token });
      expect([revoked.status, await revoked.text()]).toEqual([200, '']);
      // Only that token: the grant lives on, and a refresh gives a working access token.
      const next = await tokensOf(await revoking.refresh(tokens.refresh_token));
      await expectActive(revoking, next.access_token);
      return tokens.access_token;
    },
  },
];

describe.each(dialects)('revocation reaches access tokens on $name', ({ database, available }) => {
  let server: TestServer;
  let s: InteractiveScenario;
  let n: Node;

  beforeAll(async () => {
    if (!available) return;
    ({ server, scenario: s } = await startInteractiveServer({ database }));
    n = node(server, () => s);
  });
  afterAll(async () => {
    if (available) await server.close();
  });

  it.skipIf(!available).each(revocations)('$name', async ({ revoke }) => {
    const accessToken = await revoke(n, n);
    await expectRevoked(n, accessToken);
  });

  it.skipIf(!available)('leaves the tokens of other grants of the same user and client alone', async () => {
    const victim = await tokensOf(await n.redeem(await n.code()));
    const bystander = await tokensOf(await n.redeem(await n.code()));
    expect((await n.post('revoke', { ...n.web(), token: victim.refresh_token })).status).toBe(200);
    await expectRevoked(n, victim.access_token);
    await expectActive(n, bystander.access_token);
  });

  it.skipIf(!available)(
    'does not let another client revoke a token (200, the token stays active)',
    async () => {
      const tokens = await tokensOf(await n.redeem(await n.code()));
      const { application } = await server.directory.applications.create({
        tenant: s.tenantId,
        displayName: 'Another client',
        redirectUris: { web: ['https://another.example/cb'] },
      });
      const secret = await server.directory.credentials.addPassword({ appId: application.appId });
      for (const token of [tokens.access_token, tokens.refresh_token]) {
        const answer = await n.post('revoke', {
          client_id: application.appId,
          client_secret: secret.secretText,
          token,
        });
        expect(answer.status).toBe(200);
      }
      await expectActive(n, tokens.access_token);
    },
  );

  it.runIf(available)(
    'a multi-tenant client’s tokens are introspected and revoked only at an endpoint that admits their tenant',
    async () => {
      // A multi-tenant web app of the home tenant, also installed in another tenant: it authenticates at both
      // tenants' endpoints, but its home tenant's tokens are foreign at the other's.
      const other = await server.directory.tenants.create({
        displayName: 'Fabrikam',
        domains: [`revocation-other-${database}.example`],
      });
      const { application } = await server.directory.applications.create({
        tenant: s.tenantId,
        displayName: 'Multi-tenant web app',
        signInAudience: 'AzureADMultipleOrgs',
        redirectUris: { web: ['https://multi.example/cb'] },
      });
      const { secretText } = await server.directory.credentials.addPassword({ appId: application.appId });
      await server.directory.servicePrincipals.create(other.id, application.appId);
      await server.server.refresh();
      const client = { client_id: application.appId, client_secret: secretText };
      const at = (segment: string, name: string, fields: Record<string, string>) =>
        fetch(`${listeningUrl(server)}/${segment}/oauth2/v2.0/${name}`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ ...client, ...fields }),
        });
      const issued = await at(s.tenantId, 'token', {
        grant_type: 'client_credentials',
        scope: 'https://graph.microsoft.com/.default',
      });
      const { access_token: token } = (await issued.json()) as { access_token: string };
      expect(decodeJwt(token).tid).toBe(s.tenantId);

      const introspected = await at(other.id, 'introspect', { token });
      expect([introspected.status, await introspected.json()]).toEqual([200, { active: false }]);
      const revoked = await at(other.id, 'revoke', { token });
      expect([revoked.status, await revoked.text()]).toEqual([200, '']);
      // Nothing was revoked: the token is active at its own tenant's endpoint and at `organizations`.
      for (const segment of [s.tenantId, 'organizations']) {
        const answer = await at(segment, 'introspect', { token });
        expect(await answer.json()).toMatchObject({ active: true, tid: s.tenantId });
      }
    },
  );

  it.skipIf(!available)(
    "a disabled user's tokens stop being active (access and refresh) and userinfo refuses them",
    async () => {
      const carol = await server.directory.users.create({
        tenant: s.tenantId,
        userPrincipalName: `carol${database}@${s.domain}`,
        password: s.password,
      });
      const tokens = await tokensOf(
        await n.redeem(await n.code('openid profile offline_access', carol.userPrincipalName)),
      );
      await expectActive(n, tokens.access_token);
      expect(await n.introspect(tokens.refresh_token)).toMatchObject({ active: true });
      await server.directory.users.setAccountEnabled(carol.id, false);
      await server.server.refresh();
      await expectRevoked(n, tokens.access_token);
      expect(await n.introspect(tokens.refresh_token)).toEqual({ active: false });
    },
  );

  /** Tokens we sign that are not access tokens, or not for this purpose, are never active credentials. */
  it.skipIf(!available)(
    'an ID token is never an active access token, at introspection or userinfo',
    async () => {
      const tokens = await tokensOf(await n.redeem(await n.code()));
      expect(decodeJwt(tokens.id_token).aud).toBe(s.web.appId);
      expect(await n.introspect(tokens.id_token)).toEqual({ active: false });
      expectUserinfoRefused(await n.userinfo(tokens.id_token));
    },
  );

  it.skipIf(!available)('an app-only token is no userinfo credential', async () => {
    const response = await n.post('token', {
      ...n.web(),
      grant_type: 'client_credentials',
      scope: 'https://graph.microsoft.com/.default',
    });
    const { access_token: appToken } = (await response.json()) as { access_token: string };
    expect(decodeJwt(appToken).idtyp).toBe('app');
    expectUserinfoRefused(await n.userinfo(appToken));
  });
});

describe.skipIf(!pgAvailable)('two nodes on one PostgreSQL database', () => {
  let a: TestServer;
  let b: TestServer;
  let s: InteractiveScenario;
  let nodeA: Node;
  let nodeB: Node;

  beforeAll(async () => {
    const masterKey = randomBytes(32).toString('base64');
    a = await startTestServer({ database: 'postgres', config: { masterKey } });
    // Node B shares the database, the master key and the public URL (so the issuer) of node A.
    b = await startTestServer({
      databaseUrl: a.databaseUrl,
      config: { masterKey, publicUrl: a.url, directoryPollIntervalMs: 200 },
    });
    s = await seedInteractiveScenario(a.directory);
    await b.server.refresh();
    nodeA = node(a, () => s);
    nodeB = node(b, () => s);
  });
  afterAll(async () => {
    await b.close();
    await a.close();
  });

  it.each(revocations)('$name on node B: node A sees it within one poll interval', async ({ revoke }) => {
    const accessToken = await revoke(nodeA, nodeB);
    await expectRevoked(nodeB, accessToken);
    // Node A learns of it by polling (every 100 ms in tests), not by a database read per request: allow a few
    // intervals on a loaded machine.
    const deadline = Date.now() + 2000;
    while (Date.now() < deadline && (await nodeA.introspect(accessToken)).active !== false) await sleep(50);
    await expectRevoked(nodeA, accessToken);
  });
});

describe.each(dialects)('revocation rows on $name', ({ database, available }) => {
  let store: SignInStore;
  let close: () => Promise<void>;
  beforeAll(async () => {
    if (!available) return;
    let target: DatabaseTarget;
    let drop = () => Promise.resolve();
    if (database === 'postgres') {
      const schema = await createPostgresSchema();
      target = { dialect: 'postgres', url: schema.url };
      drop = () => schema.drop();
    } else {
      const dir = mkdtempSync(join(tmpdir(), 'tessera-revocations-'));
      target = { dialect: 'sqlite', file: join(dir, 'store.db') };
      drop = () => {
        rmSync(dir, { recursive: true, force: true });
        return Promise.resolve();
      };
    }
    const db = openDatabase(target);
    await migrateToLatest(db);
    store = new SignInStore(db);
    close = async () => {
      await db.destroy();
      await drop();
    };
  });
  afterAll(async () => {
    if (available) await close();
  });

  it.skipIf(!available)(
    'parallel writers get distinct, increasing versions; a poll sees each revocation once, in order',
    async () => {
      const now = 1_800_000_000;
      const seen: string[] = [];
      store.revocations.onRevoked((ids) => seen.push(...ids));
      await Promise.all(
        Array.from({ length: 20 }, (_, i) => store.revocations.record([`u:parallel-${i}`], now)),
      );
      // Recording one again changes nothing but the version.
      await store.revocations.record(['u:parallel-0'], now);
      await store.refreshFamilies.revoke('family-without-a-row', now);
      const rows = await store.revocations.listAfter(0, now - 10);
      expect(rows.map((r) => r.id).sort()).toEqual(
        [...Array.from({ length: 20 }, (_, i) => `u:parallel-${i}`), 'g:family-without-a-row'].sort(),
      );
      const versions = rows.map((r) => r.version);
      expect(new Set(versions).size).toBe(versions.length);
      expect([...versions].sort((a, b) => a - b)).toEqual(versions);
      expect(seen).toHaveLength(22);
      // A poll from the last version seen gets nothing more; older revocations are not re-read.
      expect(await store.revocations.listAfter(versions.at(-1) ?? 0, now - 10)).toEqual([]);
      expect(await store.revocations.isRecorded('g:family-without-a-row')).toBe(true);
      expect(await store.revocations.isRecorded('g:another')).toBe(false);
    },
  );

  it.skipIf(!available)('purges revocations older than the retention, keeps the rest', async () => {
    await store.revocations.record(['u:old'], 1_000);
    await store.revocations.record(['u:recent'], 5_000);
    expect(await store.revocations.purge(2_000)).toBe(1);
    expect(await store.revocations.isRecorded('u:old')).toBe(false);
    expect(await store.revocations.isRecorded('u:recent')).toBe(true);
    // The retention window also bounds what a poll reads, purged or not.
    await store.revocations.record(['u:aging'], 3_000);
    const polled = (await store.revocations.listAfter(0, 4_000)).map((r) => r.id);
    expect(polled).toContain('u:recent');
    expect(polled).not.toContain('u:aging');
  });
});
