import {
  authorizationCodeFields,
  authorizeUrl,
  createPkcePair,
  endpointUrl,
  postForm,
  postgresAvailable,
  readErrorResponse,
  seedInteractiveScenario,
  signInThrough,
  startTestServer,
  TestBrowser,
  type InteractiveScenario,
  type TestServer,
} from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Racing redemptions of one code on three nodes sharing one PostgreSQL schema (one pool each). The code is marked
// used in one transaction with the refresh token family it creates, so exactly one redemption wins and a replay
// after it always finds and revokes the winner's family (RFC 6749 §4.1.2) — no window between the two writes.
const postgresUp = await postgresAvailable();

const ROUNDS = 20;
const RACERS = 20;

describe.runIf(postgresUp)('racing code redemptions on three PostgreSQL nodes', () => {
  let nodes: TestServer[];
  let s: InteractiveScenario;

  beforeAll(async () => {
    const first = await startTestServer({ database: 'postgres' });
    nodes = [
      first,
      await startTestServer({ databaseUrl: first.databaseUrl }),
      await startTestServer({ databaseUrl: first.databaseUrl }),
    ];
    s = await seedInteractiveScenario(first.directory);
  });
  afterAll(async () => {
    for (const node of [...nodes].reverse()) await node.close();
  });

  const tokenUrl = (node: TestServer) => endpointUrl(node.url, s.tenantId, 'token');
  const node = (i: number): TestServer => nodes[i % nodes.length] ?? (nodes[0] as TestServer);

  it(`${ROUNDS} rounds of ${RACERS} racers: one 200, then a replay answers 54005 and the winner's refresh token is refused`, async () => {
    const browser = new TestBrowser();
    for (let round = 0; round < ROUNDS; round++) {
      const { verifier, challenge } = createPkcePair();
      const back = await signInThrough(
        browser,
        authorizeUrl(node(round).url, s.tenantId, s.native, {
          scope: 'openid offline_access',
          code_challenge: challenge,
          code_challenge_method: 'S256',
        }),
        { userName: s.user.userPrincipalName, password: s.password },
      );
      const code = new URL(back.location ?? 'x:').searchParams.get('code') ?? '';
      expect(code).not.toBe('');
      const fields = authorizationCodeFields(s.native, code, { code_verifier: verifier });

      const answers = await Promise.all(
        Array.from({ length: RACERS }, (_, i) => postForm(tokenUrl(node(round + i)), fields)),
      );
      const winners = answers.filter((answer) => answer.status === 200);
      expect(winners, `round ${round}`).toHaveLength(1);
      const losers = await Promise.all(
        answers.filter((answer) => answer.status !== 200).map((answer) => readErrorResponse(answer)),
      );
      for (const loser of losers) expect(loser.codes).toEqual([54005]);
      const { refresh_token: refreshToken } = (await winners[0]?.json()) as { refresh_token: string };

      const replay = await postForm(tokenUrl(node(round + 1)), fields);
      expect((await readErrorResponse(replay)).codes).toEqual([54005]);
      const refreshed = await postForm(tokenUrl(node(round + 2)), {
        grant_type: 'refresh_token',
        client_id: s.native.appId,
        refresh_token: refreshToken,
      });
      expect(refreshed.status, `round ${round}`).toBe(400);
      expect((await readErrorResponse(refreshed)).error).toBe('invalid_grant');
    }
  }, 60_000);
});
