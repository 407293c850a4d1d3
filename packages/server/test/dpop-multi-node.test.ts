import { randomUUID } from 'node:crypto';
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
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// DPoP on two nodes sharing one PostgreSQL schema (RFC 9449 §11.1): a proof accepted by node A is a replay at node
// B; a refresh token family bound at A rotates at B only with the key; nonces issued by one node are accepted by
// the other (stateless, from the shared master key).
const postgresUp = await postgresAvailable();

describe.runIf(postgresUp)('DPoP across nodes on PostgreSQL', () => {
  let a: TestServer;
  let b: TestServer;
  let s: InteractiveScenario;
  const tokenUrl = (server: TestServer) => endpointUrl(server.url, s.tenantId, 'token');
  let key: { privateKey: CryptoKey; jwk: JWK; jkt: string };

  beforeAll(async () => {
    a = await startTestServer({ database: 'postgres', config: { dpopNonceRequired: true } });
    b = await startTestServer({
      databaseUrl: a.databaseUrl,
      config: { dpopNonceRequired: true },
    });
    s = await seedInteractiveScenario(a.directory);
    const pair = await generateKeyPair('ES256');
    const jwk = await exportJWK(pair.publicKey);
    key = { privateKey: pair.privateKey, jwk, jkt: await calculateJwkThumbprint(jwk, 'sha256') };
  });
  afterAll(async () => {
    await b.close();
    await a.close();
  });

  const proof = (htu: string, nonce: string | null, jti: string = randomUUID()) =>
    new SignJWT({
      jti,
      htm: 'POST',
      htu,
      iat: Math.floor(Date.now() / 1000),
      ...(nonce === null ? {} : { nonce }),
    })
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: key.jwk })
      .sign(key.privateKey);

  it('a code redeemed with a proof at A, its nonce from B, and the proof replayed at B', async () => {
    // B's nonce for a proof sent to A: one master key, no shared state.
    const first = await postForm(
      tokenUrl(b),
      { grant_type: 'client_credentials' },
      {
        dpop: await proof(tokenUrl(b), null),
      },
    );
    const nonce = first.headers.get('dpop-nonce');
    expect(nonce).not.toBeNull();

    const { verifier, challenge } = createPkcePair();
    const back = await signInThrough(
      new TestBrowser(),
      authorizeUrl(a.url, s.tenantId, s.native, {
        scope: 'openid offline_access',
        code_challenge: challenge,
        code_challenge_method: 'S256',
      }),
      { userName: s.user.userPrincipalName, password: s.password },
    );
    const code = new URL(back.location ?? 'x:').searchParams.get('code') ?? '';
    const jti = randomUUID();
    const redeemed = await postForm(
      tokenUrl(a),
      authorizationCodeFields(s.native, code, { code_verifier: verifier }),
      { dpop: await proof(tokenUrl(a), nonce, jti) },
    );
    expect(redeemed.status).toBe(200);
    const body = (await redeemed.json()) as { token_type: string; refresh_token: string };
    expect(body.token_type).toBe('DPoP');
    const nextNonce = redeemed.headers.get('dpop-nonce');

    // The same jti at B (a proof for B's URL with A's jti and key): B has seen it through the database.
    const replay = await postForm(
      tokenUrl(b),
      { grant_type: 'refresh_token', client_id: s.native.appId, refresh_token: body.refresh_token },
      { dpop: await proof(tokenUrl(b), nextNonce, jti) },
    );
    expect((await readErrorResponse(replay)).codes).toEqual([9100301]);

    // The bound family rotates at B with the key, not without it.
    const refresh = (dpop?: string) =>
      postForm(
        tokenUrl(b),
        { grant_type: 'refresh_token', client_id: s.native.appId, refresh_token: body.refresh_token },
        dpop === undefined ? {} : { dpop },
      );
    expect((await readErrorResponse(await refresh())).codes).toEqual([9100304]);
    const rotated = await refresh(await proof(tokenUrl(b), nextNonce));
    expect(rotated.status).toBe(200);
    expect(((await rotated.json()) as { token_type: string }).token_type).toBe('DPoP');
  });
});
