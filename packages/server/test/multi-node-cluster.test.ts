import {
  authorizationCodeFields,
  authorizeUrl,
  cliEnvironment,
  endpointUrl,
  expectedErrorResponse,
  postForm,
  postgresAvailable,
  readErrorResponse,
  redisAvailable,
  runTesseraCli,
  seedClientCredentialsScenario,
  seedInteractiveScenario,
  signClientAssertion,
  JWT_BEARER_ASSERTION_TYPE,
  signInThrough,
  startTestServer,
  testRedisUrl,
  TestBrowser,
  type ClientCredentialsScenario,
  type Cluster,
  type InteractiveScenario,
  type PostgresSchema,
} from '@tessera/testkit';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSeededCluster, type SeededCluster } from './support/seeded-cluster.js';

// Three `tessera serve` processes on one PostgreSQL schema and one Redis, behind a front that sends each request
// to the next node: what one node issues or records, every other node honours or refuses, across processes.
const available = (await postgresAvailable()) && (await redisAvailable());

const MAX_FAILURES = 3;

let running: SeededCluster<{ s: InteractiveScenario; cc: ClientCredentialsScenario }> | undefined;
let schema: PostgresSchema;
let cluster: Cluster;
let s: InteractiveScenario;
let cc: ClientCredentialsScenario;

beforeAll(async () => {
  if (!available) return;
  running = await startSeededCluster(
    {
      nodes: 3,
      redisUrl: testRedisUrl,
      env: {
        TESSERA_SIGN_IN_MAX_FAILURES_PER_ACCOUNT: String(MAX_FAILURES),
        TESSERA_STRICT_ASSERTION_JTI: 'true',
      },
    },
    async (seeder) => ({
      s: await seedInteractiveScenario(seeder.directory),
      cc: await seedClientCredentialsScenario(seeder.directory),
    }),
  );
  ({ schema, cluster } = running);
  ({ s, cc } = running.seeded);
}, 60_000);

afterAll(async () => {
  await running?.close();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The web app's authorization request with `offline_access`, through the front. */
const authorize = () =>
  authorizeUrl(cluster.url, s.tenantId, s.web, { scope: 'openid profile offline_access' });

/** A fresh code for Alice (signed in through the front) and the node whose redirect carried it. */
async function issueCode(): Promise<{ code: string; node: number }> {
  const page = await signInThrough(new TestBrowser(), authorize(), {
    userName: s.user.userPrincipalName,
    password: s.password,
  });
  expect(page.status).toBe(302);
  const code = new URL(page.location ?? '').searchParams.get('code');
  expect(code).toBeTruthy();
  return { code: code!, node: Number(page.headers.get('x-cluster-node')) };
}

/** A token request at `base` (the front or a node) for the scenario's tenant. */
const token = (base: string, fields: Record<string, string>) =>
  postForm(endpointUrl(base, s.tenantId, 'token'), fields);

const refreshFields = (refreshToken: string) => ({
  grant_type: 'refresh_token',
  client_id: s.web.appId,
  client_secret: s.web.secret,
  refresh_token: refreshToken,
});

const CODE_REDEEMED = expectedErrorResponse(
  400,
  'invalid_grant',
  54005,
  'OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.',
);
const GRANT_REVOKED = expectedErrorResponse(
  400,
  'invalid_grant',
  70008,
  'The provided authorization code or refresh token has expired or was revoked. Send a new interactive authorization request for this user and resource.',
);

describe.skipIf(!available)('three tessera serve processes behind a round-robin front', () => {
  it('the front spreads consecutive requests over every node', async () => {
    const served = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const answer = await fetch(`${cluster.url}/${s.tenantId}/v2.0/.well-known/openid-configuration`);
      expect(answer.status).toBe(200);
      expect(((await answer.json()) as { issuer: string }).issuer).toBe(`${cluster.url}/${s.tenantId}/v2.0`);
      served.add(answer.headers.get('x-cluster-node') ?? '');
    }
    expect([...served].sort()).toEqual(['0', '1', '2']);
  });

  it('a code issued on one node is redeemed on another', async () => {
    const { code, node } = await issueCode();
    const other = cluster.nodeUrls[(node + 1) % 3]!;
    const redeemed = await token(other, authorizationCodeFields(s.web, code));
    expect(redeemed.status).toBe(200);
    const tokens = (await redeemed.json()) as {
      access_token: string;
      refresh_token: string;
      id_token: string;
    };
    expect(tokens.refresh_token).toBeTruthy();
    expect(tokens.id_token).toBeTruthy();
  });

  it('20 concurrent redemptions of one code over the nodes: exactly one 200; a replay is 54005 and the winner’s refresh token is refused', async () => {
    const { code } = await issueCode();
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        token(cluster.nodeUrls[i % 3]!, authorizationCodeFields(s.web, code)),
      ),
    );
    const winners = answers.filter((answer) => answer.status === 200);
    expect(winners).toHaveLength(1);
    for (const loser of answers.filter((answer) => answer.status !== 200))
      expect(await readErrorResponse(loser)).toEqual(CODE_REDEEMED);
    const { refresh_token } = (await winners[0]!.json()) as { refresh_token: string };

    expect(await readErrorResponse(await token(cluster.url, authorizationCodeFields(s.web, code)))).toEqual(
      CODE_REDEEMED,
    );
    for (const base of cluster.nodeUrls)
      expect(await readErrorResponse(await token(base, refreshFields(refresh_token)))).toEqual(GRANT_REVOKED);
  });

  it('concurrent refreshes of one token on every node: one rotation wins; the losers’ reuse revokes the family on every node', async () => {
    const { code } = await issueCode();
    const first = (await (await token(cluster.url, authorizationCodeFields(s.web, code))).json()) as {
      refresh_token: string;
    };
    const answers = await Promise.all(
      Array.from({ length: 9 }, (_, i) =>
        token(cluster.nodeUrls[i % 3]!, refreshFields(first.refresh_token)),
      ),
    );
    const winners = answers.filter((answer) => answer.status === 200);
    expect(winners).toHaveLength(1);
    // Each loser is a reuse (70000, which revokes the family) or, once a reuse revoked it, refused as revoked
    // (70008).
    const losers = await Promise.all(
      answers.filter((answer) => answer.status !== 200).map((answer) => readErrorResponse(answer)),
    );
    for (const loser of losers) {
      expect(loser).toMatchObject({ status: 400, error: 'invalid_grant' });
      expect([[70000], [70008]]).toContainEqual(loser.codes);
    }
    expect(losers.some((loser) => (loser.codes as number[])[0] === 70000)).toBe(true);
    const rotated = (await winners[0]!.json()) as { refresh_token: string };
    expect(rotated.refresh_token).not.toBe(first.refresh_token);
    // A loser presented a rotated token (RFC 9700 §4.14.2 cannot tell a race from a theft): the family is revoked,
    // and no node accepts any of its tokens.
    for (const base of cluster.nodeUrls) {
      expect(await readErrorResponse(await token(base, refreshFields(rotated.refresh_token)))).toEqual(
        GRANT_REVOKED,
      );
      expect(await readErrorResponse(await token(base, refreshFields(first.refresh_token)))).toEqual(
        GRANT_REVOKED,
      );
    }
  });

  it('a rotated refresh token works once on another node; the old one is refused there and revokes the family', async () => {
    const { code } = await issueCode();
    const first = (await (
      await token(cluster.nodeUrls[0]!, authorizationCodeFields(s.web, code))
    ).json()) as {
      refresh_token: string;
    };
    const second = await token(cluster.nodeUrls[1]!, refreshFields(first.refresh_token));
    expect(second.status).toBe(200);
    const { refresh_token } = (await second.json()) as { refresh_token: string };
    const third = await token(cluster.nodeUrls[2]!, refreshFields(refresh_token));
    expect(third.status).toBe(200);
    const { refresh_token: latest } = (await third.json()) as { refresh_token: string };
    expect(
      await readErrorResponse(await token(cluster.nodeUrls[0]!, refreshFields(refresh_token))),
    ).toMatchObject({
      status: 400,
      error: 'invalid_grant',
      codes: [70000],
    });
    for (const base of cluster.nodeUrls)
      expect(await readErrorResponse(await token(base, refreshFields(latest)))).toEqual(GRANT_REVOKED);
  });

  it(`sign-in failures spread over the nodes lock the account on every node after ${MAX_FAILURES}`, async () => {
    const domainUser = await (async () => {
      const server = await startTestServer({ databaseUrl: schema.url });
      try {
        return await server.directory.users.create({
          tenant: s.tenantId,
          userPrincipalName: `locked@${s.domain}`,
          password: s.password,
          displayName: 'Lockout target',
        });
      } finally {
        await server.close();
      }
    })();
    await sleep(300);
    const failedOn = new Set<string>();
    for (let i = 0; i < MAX_FAILURES; i++) {
      const browser = new TestBrowser();
      const page = await browser.get(authorize());
      const failed = await browser.submit(cluster.url, page, {
        username: domainUser.userPrincipalName,
        password: `wrong-password-${i}`,
      });
      expect(failed.status).toBe(400);
      expect(failed.body).toContain('Error validating credentials due to invalid username or password.');
      failedOn.add(failed.headers.get('x-cluster-node') ?? '');
    }
    expect(failedOn.size).toBeGreaterThan(1);
    for (const base of cluster.nodeUrls) {
      const browser = new TestBrowser();
      const page = await browser.get(authorizeUrl(base, s.tenantId, s.web));
      const locked = await browser.submit(base, page, {
        username: domainUser.userPrincipalName,
        password: s.password,
      });
      expect(locked.status).toBe(429);
      expect(locked.body).toContain(
        'Your account or IP address is temporarily locked to prevent unauthorized use. Try again later.',
      );
    }
  });

  it('a secret added to the directory is accepted by every node within a second', async () => {
    const server = await startTestServer({ databaseUrl: schema.url });
    let secret: string;
    try {
      secret = (await server.directory.credentials.addPassword({ appId: cc.daemon.appId })).secretText;
    } finally {
      await server.close();
    }
    const deadline = Date.now() + 1000;
    for (const base of cluster.nodeUrls) {
      for (;;) {
        const answer = await postForm(endpointUrl(base, cc.tenantId, 'token'), {
          grant_type: 'client_credentials',
          client_id: cc.daemon.appId,
          client_secret: secret,
          scope: `${cc.api.identifierUri}/.default`,
        });
        await answer.arrayBuffer();
        if (answer.status === 200) break;
        expect(Date.now()).toBeLessThan(deadline);
        await sleep(50);
      }
    }
  });

  it('keys rotate --now on the command line: every node publishes the new key and its tokens verify against every node’s JWKS within a second', async () => {
    const rotated = await runTesseraCli(['keys', 'rotate', '--now', '--json'], {
      env: cliEnvironment({ DATABASE_URL: schema.url, TESSERA_MASTER_KEY: cluster.masterKey }),
    });
    expect(rotated.stderr).toBe('');
    expect(rotated.code).toBe(0);
    const { rotated: keys } = JSON.parse(rotated.stdout) as { rotated: { alg: string; kid: string }[] };
    const newKids = keys.map((key) => key.kid);
    expect(newKids).toHaveLength(2);
    const deadline = Date.now() + 1000;

    const jwksOf = async (base: string) =>
      (await (await fetch(`${base}/${cc.tenantId}/discovery/v2.0/keys`)).json()) as JSONWebKeySet;
    const sets: JSONWebKeySet[] = [];
    for (const base of cluster.nodeUrls) {
      for (;;) {
        const set = await jwksOf(base);
        if (newKids.every((kid) => set.keys.some((key) => key.kid === kid))) {
          sets.push(set);
          break;
        }
        expect(Date.now()).toBeLessThan(deadline);
        await sleep(50);
      }
    }
    for (const base of cluster.nodeUrls) {
      for (;;) {
        const answer = await postForm(endpointUrl(base, cc.tenantId, 'token'), {
          grant_type: 'client_credentials',
          client_id: cc.daemon.appId,
          client_secret: cc.daemon.secret,
          scope: `${cc.api.identifierUri}/.default`,
        });
        expect(answer.status).toBe(200);
        const { access_token } = (await answer.json()) as { access_token: string };
        if (newKids.includes(decodeProtectedHeader(access_token).kid ?? '')) {
          for (const set of sets) await jwtVerify(access_token, createLocalJWKSet(set));
          break;
        }
        expect(Date.now()).toBeLessThan(deadline);
        await sleep(50);
      }
    }
  });

  it('strict single-use jti: one client assertion sent to every node at once is accepted exactly once', async () => {
    const jti = randomUUID();
    const assertion = await signClientAssertion({
      clientId: cc.daemon.appId,
      audience: `${cluster.url}/${cc.tenantId}/v2.0`,
      key: cc.daemon.certificate.privateKey,
      header: { 'x5t#S256': cc.daemon.certificate.x5tS256 },
      claims: { jti },
    });
    const answers = await Promise.all(
      Array.from({ length: 9 }, (_, i) =>
        postForm(endpointUrl(cluster.nodeUrls[i % 3]!, cc.tenantId, 'token'), {
          grant_type: 'client_credentials',
          client_id: cc.daemon.appId,
          client_assertion_type: JWT_BEARER_ASSERTION_TYPE,
          client_assertion: assertion,
          scope: `${cc.api.identifierUri}/.default`,
        }),
      ),
    );
    expect(answers.filter((answer) => answer.status === 200)).toHaveLength(1);
    for (const refused of answers.filter((answer) => answer.status !== 200))
      expect(await readErrorResponse(refused)).toEqual(
        expectedErrorResponse(
          401,
          'invalid_client',
          9100002,
          `Client assertion with 'jti' '${jti}' was already used.`,
        ),
      );
  });

  it('no node exited', () => {
    for (let i = 0; i < 3; i++) expect(cluster.running(i), cluster.output(i)).toBe(true);
  });
});
