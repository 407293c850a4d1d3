import {
  authorizeUrl,
  cliEnvironment,
  endpointUrl,
  expectedErrorResponse,
  postForm,
  postgresAvailable,
  readErrorResponse,
  redisAvailable,
  runTesseraCli,
  seedInteractiveScenario,
  testRedisUrl,
  TestBrowser,
  type BrowserResponse,
  type Cluster,
  type InteractiveScenario,
  type PostgresSchema,
} from '@tessera/testkit';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { randomUUID } from 'node:crypto';
import { generate } from 'otplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GRAPH, seedScenarioWith } from './support/management-api.js';
import { startSeededCluster, type SeededCluster } from './support/seeded-cluster.js';

// Replay checks held in the shared store, across processes: two `tessera serve` processes on one PostgreSQL schema
// and one Redis, behind the round-robin front. A TOTP code used through one node is refused through the other
// (9100090), a DPoP proof's `jti` accepted by one node is a replay at the other (RFC 9449 §11.1, 9100301), and a
// client secret added through `/v1.0` on one node authenticates on every node within a second.
const available = (await postgresAvailable()) && (await redisAvailable());

/** A Redis database of this suite's own, so no key of another suite is ever read or written. */
const redisUrl = (() => {
  const url = new URL(testRedisUrl);
  url.pathname = '/11';
  return url.toString();
})();

let running: SeededCluster<{ s: InteractiveScenario; admin: DirectoryAdmin }> | undefined;
let schema: PostgresSchema;
let cluster: Cluster;
let s: InteractiveScenario;
/** A daemon holding `Application.ReadWrite.All` on the directory API. */
let admin: DirectoryAdmin;

interface DirectoryAdmin {
  readonly tenantId: string;
  readonly appId: string;
  readonly secret: string;
}

beforeAll(async () => {
  if (!available) return;
  running = await startSeededCluster({ nodes: 2, redisUrl }, async (seeder) => {
    const scenario = await seedInteractiveScenario(seeder.directory);
    await seeder.directory.conditionalAccessPolicies.create(scenario.tenantId, {
      displayName: 'MFA for the Files API',
      state: 'enabled',
      conditions: {
        users: { includeUsers: ['All'] },
        applications: { includeApplications: [scenario.api.appId] },
      },
      grantControls: { operator: 'OR', builtInControls: ['mfa'] },
    });
    const directoryAdmin = await seedScenarioWith(seeder, ['Application.ReadWrite.All']);
    return { s: scenario, admin: { tenantId: directoryAdmin.tenantId, ...directoryAdmin.daemon } };
  });
  ({ schema, cluster } = running);
  ({ s, admin } = running.seeded);
}, 60_000);

afterAll(async () => {
  await running?.close();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A token request at `base` (a node's own URL) for `tenantId`. */
const token = (base: string, tenantId: string, fields: Record<string, string>, dpop?: string) =>
  postForm(endpointUrl(base, tenantId, 'token'), fields, dpop === undefined ? {} : { dpop });

describe.skipIf(!available)('replay checks across two tessera serve processes', () => {
  it('a TOTP code used through one node is refused as a replay through the other; the next step’s code works', async () => {
    const upn = `totp-${randomUUID().slice(0, 8)}@${s.domain}`;
    const env = cliEnvironment({ DATABASE_URL: schema.url, TESSERA_MASTER_KEY: cluster.masterKey });
    const created = await runTesseraCli(
      ['user', 'create', '--tenant', s.domain, '--upn', upn, '--password', s.password, '--json'],
      { env },
    );
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    const enrolled = await runTesseraCli(
      ['user', 'mfa', 'enrol', '--tenant', s.domain, '--upn', upn, '--json'],
      { env },
    );
    expect(enrolled.code).toBe(0);
    const { secret } = JSON.parse(enrolled.stdout) as { secret: string };
    await sleep(300);

    // Password, then the code page, each browser on one node's own URL; the Origin is the public URL's.
    const origin = { origin: new URL(cluster.url).origin };
    const codePage = async (
      base: string,
    ): Promise<{ browser: TestBrowser; url: string; page: BrowserResponse }> => {
      const browser = new TestBrowser();
      const url = authorizeUrl(base, s.tenantId, s.web, {
        scope: `openid profile ${s.api.identifierUri}/Files.Read`,
      });
      const signIn = await browser.get(url);
      expect(signIn.status).toBe(200);
      const page = await browser.submit(url, signIn, { username: upn, password: s.password });
      expect(page.status).toBe(200);
      expect(page.body).toContain('Enter your verification code');
      return { browser, url, page };
    };
    /** Accepts consent when asked; expects the redirect to the app with a code. */
    const finish = async (browser: TestBrowser, url: string, page: BrowserResponse) => {
      const done = page.body.includes('value="consent"')
        ? await browser.submit(url, page, { action: 'consent' })
        : page;
      expect(done.status, done.body).toBe(302);
      expect(new URL(done.location ?? 'x:').searchParams.get('code')).toBeTruthy();
    };

    const first = await codePage(cluster.nodeUrls[0]!);
    const code = await generate({ secret, epoch: Math.floor(Date.now() / 1000) });
    await finish(
      first.browser,
      first.url,
      await first.browser.submit(first.url, first.page, { otc: code }, undefined, origin),
    );

    const second = await codePage(cluster.nodeUrls[1]!);
    const replayed = await second.browser.submit(second.url, second.page, { otc: code }, undefined, origin);
    expect(replayed.status).toBe(400);
    expect(replayed.body).toContain(
      'This verification code was already used. Wait for the next code in your authenticator app and enter that one.',
    );
    // The next time step's code is inside the window.
    const next = await generate({ secret, epoch: Math.floor(Date.now() / 1000) + 30 });
    await finish(
      second.browser,
      second.url,
      await second.browser.submit(second.url, replayed, { otc: next }, undefined, origin),
    );
  });

  it('one DPoP proof sent to the token endpoint of both nodes: the second is refused as a replay (9100301)', async () => {
    const pair = await generateKeyPair('ES256');
    const jwk = await exportJWK(pair.publicKey);
    const jti = randomUUID();
    // The proof is for the public URL (every node's `publicUrl`), whichever node receives it.
    const proof = await new SignJWT({
      jti,
      htm: 'POST',
      htu: endpointUrl(cluster.url, admin.tenantId, 'token'),
      iat: Math.floor(Date.now() / 1000),
    })
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk })
      .sign(pair.privateKey);
    const fields = {
      grant_type: 'client_credentials',
      client_id: admin.appId,
      client_secret: admin.secret,
      scope: `${GRAPH}/.default`,
    };

    const accepted = await token(cluster.nodeUrls[0]!, admin.tenantId, fields, proof);
    expect(accepted.status).toBe(200);
    const body = (await accepted.json()) as { token_type: string; access_token: string };
    expect(body.token_type).toBe('DPoP');
    const cnf = JSON.parse(Buffer.from(body.access_token.split('.')[1] ?? '', 'base64url').toString()) as {
      cnf?: { jkt?: string };
    };
    expect(cnf.cnf?.jkt).toBe(await calculateJwkThumbprint(jwk, 'sha256'));

    const replayed = await token(cluster.nodeUrls[1]!, admin.tenantId, fields, proof);
    expect(await readErrorResponse(replayed)).toEqual(
      expectedErrorResponse(
        400,
        'invalid_dpop_proof',
        9100301,
        'The DPoP proof was already used (its jti was seen before). Sign a new proof, with a new jti, for every request.',
      ),
    );
  });

  it('an application and its secret written through /v1.0 on one node authenticate on every node within a second', async () => {
    const adminToken = await (async () => {
      const answer = await token(cluster.nodeUrls[0]!, admin.tenantId, {
        grant_type: 'client_credentials',
        client_id: admin.appId,
        client_secret: admin.secret,
        scope: `${GRAPH}/.default`,
      });
      expect(answer.status).toBe(200);
      return ((await answer.json()) as { access_token: string }).access_token;
    })();
    const graph = async (path: string, body: unknown) => {
      const answer = await fetch(`${cluster.nodeUrls[0]!}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return { status: answer.status, body: (await answer.json()) as Record<string, unknown> };
    };

    const created = await graph('/v1.0/applications', { displayName: 'Written on node 0' });
    expect(created.status).toBe(201);
    const appId = created.body.appId as string;
    expect((await graph('/v1.0/servicePrincipals', { appId })).status).toBe(201);
    const added = await graph(`/v1.0/applications/${created.body.id as string}/addPassword`, {
      passwordCredential: { displayName: 'cluster' },
    });
    expect(added.status).toBe(200);
    const secret = added.body.secretText as string;

    const deadline = Date.now() + 1000;
    for (const base of cluster.nodeUrls) {
      for (;;) {
        const answer = await token(base, admin.tenantId, {
          grant_type: 'client_credentials',
          client_id: appId,
          client_secret: secret,
          scope: `${GRAPH}/.default`,
        });
        const text = await answer.text();
        if (answer.status === 200) break;
        expect(Date.now(), text).toBeLessThan(deadline);
        await sleep(50);
      }
    }
  });

  it('no node exited', () => {
    for (let i = 0; i < 2; i++) expect(cluster.running(i), cluster.output(i)).toBe(true);
  });
});
