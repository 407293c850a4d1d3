import { randomUUID } from 'node:crypto';
import {
  authorizationCodeFields,
  authorizeUrl,
  createPkcePair,
  endpointUrl,
  expectedErrorResponse,
  postForm,
  readErrorResponse,
  signInThrough,
  startInteractiveServer,
  TestBrowser,
  type InteractiveScenario,
  type TestServer,
} from '@tessera/testkit';
import {
  calculateJwkThumbprint,
  decodeJwt,
  exportJWK,
  generateKeyPair,
  SignJWT,
  type CryptoKey,
  type JWK,
} from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DpopNonces } from '../src/dpop/nonce.js';
import { normalizeHtu } from '../src/dpop/proof.js';

// RFC 9449 at the token endpoint of a real server (SQLite): proofs checked, tokens and public clients' refresh
// token families bound to the key, and every refusal asserted exactly.
let server: TestServer;
let s: InteractiveScenario;
let tokenUrl: string;

/** A DPoP key pair: the private key signs, the public JWK goes in the header. */
interface ProofKey {
  readonly privateKey: CryptoKey;
  readonly jwk: JWK;
  readonly jkt: string;
  readonly alg: string;
}

async function proofKey(alg = 'ES256'): Promise<ProofKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(publicKey);
  return { privateKey, jwk, jkt: await calculateJwkThumbprint(jwk, 'sha256'), alg };
}

/** A proof for the token endpoint: `overrides` replace claims (`undefined` removes one), `header` header fields. */
function proof(
  key: ProofKey,
  overrides: Record<string, unknown> = {},
  header: Record<string, unknown> = {},
): Promise<string> {
  const merged: Record<string, unknown> = {
    jti: randomUUID(),
    htm: 'POST',
    htu: tokenUrl,
    iat: Math.floor(Date.now() / 1000),
    ...overrides,
  };
  const claims = Object.fromEntries(Object.entries(merged).filter(([, value]) => value !== undefined));
  return new SignJWT(claims)
    .setProtectedHeader({ alg: key.alg, typ: 'dpop+jwt', jwk: key.jwk, ...header })
    .sign(key.privateKey);
}

const alice = () => ({ userName: s.user.userPrincipalName, password: s.password });

/** Signs in through the native (public) client and returns its code and PKCE verifier. */
async function nativeCode(extra: Record<string, string> = {}): Promise<{ code: string; verifier: string }> {
  const { verifier, challenge } = createPkcePair();
  const back = await signInThrough(
    new TestBrowser(),
    authorizeUrl(server.url, s.tenantId, s.native, {
      scope: 'openid offline_access',
      code_challenge: challenge,
      code_challenge_method: 'S256',
      ...extra,
    }),
    alice(),
  );
  const code = new URL(back.location ?? 'x:').searchParams.get('code');
  if (code === null) throw new Error(`no code: ${back.status} ${back.body.slice(0, 200)}`);
  return { code, verifier };
}

async function redeemNative(
  code: string,
  verifier: string,
  headers: Record<string, string> = {},
): Promise<Response> {
  return postForm(tokenUrl, authorizationCodeFields(s.native, code, { code_verifier: verifier }), headers);
}

function refresh(refreshToken: string, headers: Record<string, string> = {}, clientId = s.native.appId) {
  return postForm(
    tokenUrl,
    { grant_type: 'refresh_token', client_id: clientId, refresh_token: refreshToken },
    headers,
  );
}

function clientCredentials(headers: Record<string, string> = {}): Promise<Response> {
  return postForm(
    tokenUrl,
    {
      grant_type: 'client_credentials',
      client_id: s.web.appId,
      client_secret: s.web.secret,
      scope: `${s.api.identifierUri}/.default`,
    },
    headers,
  );
}

const invalidProof = (reason: string) =>
  expectedErrorResponse(400, 'invalid_dpop_proof', 9100300, `The DPoP proof is not valid: ${reason}`);

beforeAll(async () => {
  ({ server, scenario: s } = await startInteractiveServer());
  tokenUrl = endpointUrl(server.url, s.tenantId, 'token');
});
afterAll(() => server.close());

describe('DPoP at the token endpoint (RFC 9449 §5)', () => {
  it('discovery advertises dpop_signing_alg_values_supported (§5.1)', async () => {
    const metadata = (await (
      await fetch(`${server.url}/${s.tenantId}/v2.0/.well-known/openid-configuration`)
    ).json()) as Record<string, unknown>;
    expect(metadata.dpop_signing_alg_values_supported).toEqual([
      'ES256',
      'ES384',
      'ES512',
      'RS256',
      'PS256',
      'EdDSA',
      'Ed25519',
    ]);
  });

  it('a public client redeems a code with a proof: DPoP access token with cnf.jkt, bound refresh token', async () => {
    const key = await proofKey();
    const { code, verifier } = await nativeCode();
    const response = await redeemNative(code, verifier, { dpop: await proof(key) });
    expect(response.status).toBe(200);
    const body = (await response.json()) as Record<string, string>;
    expect(body.token_type).toBe('DPoP');
    expect(decodeJwt(body.access_token ?? '').cnf).toEqual({ jkt: key.jkt });
    const refreshToken = body.refresh_token ?? '';

    // A stolen refresh token without the key: refused, and neither consumed nor revoking the family.
    expect(await readErrorResponse(await refresh(refreshToken))).toEqual(
      expectedErrorResponse(
        400,
        'invalid_grant',
        9100304,
        'The refresh token is bound to a DPoP key: the request must carry a DPoP proof signed with that key.',
      ),
    );
    const thief = await proofKey();
    expect(await readErrorResponse(await refresh(refreshToken, { dpop: await proof(thief) }))).toEqual(
      expectedErrorResponse(
        400,
        'invalid_grant',
        9100305,
        'The refresh token is bound to another DPoP key than the one that signed the proof.',
      ),
    );

    const refreshed = await refresh(refreshToken, { dpop: await proof(key) });
    expect(refreshed.status).toBe(200);
    const next = (await refreshed.json()) as Record<string, string>;
    expect(next.token_type).toBe('DPoP');
    expect(decodeJwt(next.access_token ?? '').cnf).toEqual({ jkt: key.jkt });

    // The rotated token presented by a thief without the key still revokes nothing ...
    expect((await readErrorResponse(await refresh(refreshToken))).codes).toEqual([9100304]);
    expect((await refresh(next.refresh_token ?? '', { dpop: await proof(key) })).status).toBe(200);
  });

  it('a rotated bound refresh token presented with the right key is reuse: the family is revoked', async () => {
    const key = await proofKey();
    const { code, verifier } = await nativeCode();
    const first = (await (await redeemNative(code, verifier, { dpop: await proof(key) })).json()) as Record<
      string,
      string
    >;
    const second = (await (
      await refresh(first.refresh_token ?? '', { dpop: await proof(key) })
    ).json()) as Record<string, string>;
    const reuse = await readErrorResponse(
      await refresh(first.refresh_token ?? '', { dpop: await proof(key) }),
    );
    expect(reuse.codes).toEqual([70000]);
    expect(
      (await readErrorResponse(await refresh(second.refresh_token ?? '', { dpop: await proof(key) }))).codes,
    ).toEqual([70008]);
  });

  it('a code requested with dpop_jkt (§10) is redeemed only with a proof by that key', async () => {
    const key = await proofKey();
    const unproved = await nativeCode({ dpop_jkt: key.jkt });
    expect(await readErrorResponse(await redeemNative(unproved.code, unproved.verifier))).toEqual(
      expectedErrorResponse(
        400,
        'invalid_grant',
        9100304,
        'The authorization code is bound to a DPoP key: the request must carry a DPoP proof signed with that key.',
      ),
    );
    const other = await nativeCode({ dpop_jkt: key.jkt });
    const thief = await proofKey();
    expect(
      await readErrorResponse(await redeemNative(other.code, other.verifier, { dpop: await proof(thief) })),
    ).toEqual(
      expectedErrorResponse(
        400,
        'invalid_grant',
        9100305,
        'The authorization code is bound to another DPoP key than the one that signed the proof.',
      ),
    );
    const bound = await nativeCode({ dpop_jkt: key.jkt });
    const redeemed = await redeemNative(bound.code, bound.verifier, { dpop: await proof(key) });
    expect(redeemed.status).toBe(200);
    expect(((await redeemed.json()) as Record<string, string>).token_type).toBe('DPoP');
  });

  it('a spa redemption with a proof binds the family; the browser origin alone does not refresh it', async () => {
    const key = await proofKey();
    const { verifier, challenge } = createPkcePair();
    const back = await signInThrough(
      new TestBrowser(),
      authorizeUrl(server.url, s.tenantId, s.spa, {
        scope: 'openid offline_access',
        code_challenge: challenge,
        code_challenge_method: 'S256',
      }),
      alice(),
    );
    const code = new URL(back.location ?? 'x:').searchParams.get('code') ?? '';
    const origin = { origin: s.spa.origin };
    const redeemed = await postForm(
      tokenUrl,
      authorizationCodeFields(s.spa, code, { code_verifier: verifier }),
      { ...origin, dpop: await proof(key) },
    );
    expect(redeemed.status).toBe(200);
    expect(redeemed.headers.get('access-control-expose-headers')).toBe(
      'client-request-id, www-authenticate, dpop-nonce',
    );
    const body = (await redeemed.json()) as Record<string, string>;
    expect(body.token_type).toBe('DPoP');
    const spaRefresh = (headers: Record<string, string>) =>
      refresh(body.refresh_token ?? '', { ...origin, ...headers }, s.spa.appId);
    expect((await readErrorResponse(await spaRefresh({}))).codes).toEqual([9100304]);
    const refreshed = await spaRefresh({ dpop: await proof(key) });
    expect(refreshed.status).toBe(200);
    expect(((await refreshed.json()) as Record<string, string>).token_type).toBe('DPoP');
  });

  it('a public client without a proof gets bearer tokens and an unbound refresh token', async () => {
    const { code, verifier } = await nativeCode();
    const body = (await (await redeemNative(code, verifier)).json()) as Record<string, string>;
    expect(body.token_type).toBe('Bearer');
    expect(decodeJwt(body.access_token ?? '').cnf).toBeUndefined();
    const refreshed = await refresh(body.refresh_token ?? '');
    expect(refreshed.status).toBe(200);
  });

  it("a confidential client's refresh token is not bound (§5): refreshed without a proof, as Bearer", async () => {
    const key = await proofKey();
    const back = await signInThrough(
      new TestBrowser(),
      authorizeUrl(server.url, s.tenantId, s.web, { scope: 'openid offline_access' }),
      alice(),
    );
    const code = new URL(back.location ?? 'x:').searchParams.get('code') ?? '';
    const redeemed = await postForm(
      tokenUrl,
      authorizationCodeFields({ ...s.web, secret: s.web.secret }, code),
      {
        dpop: await proof(key),
      },
    );
    const body = (await redeemed.json()) as Record<string, string>;
    expect(body.token_type).toBe('DPoP');
    expect(decodeJwt(body.access_token ?? '').cnf).toEqual({ jkt: key.jkt });
    const refreshed = await postForm(tokenUrl, {
      grant_type: 'refresh_token',
      client_id: s.web.appId,
      client_secret: s.web.secret,
      refresh_token: body.refresh_token ?? '',
    });
    expect(refreshed.status).toBe(200);
    expect(((await refreshed.json()) as Record<string, string>).token_type).toBe('Bearer');
  });

  it('client credentials with a proof: a DPoP access token', async () => {
    const key = await proofKey('RS256');
    const response = await clientCredentials({ dpop: await proof(key) });
    expect(response.status).toBe(200);
    const body = (await response.json()) as Record<string, string>;
    expect(body.token_type).toBe('DPoP');
    expect(decodeJwt(body.access_token ?? '').cnf).toEqual({ jkt: key.jkt });
  });

  it('htu is compared after RFC 3986 normalisation; its query and fragment are ignored (§4.3)', async () => {
    const key = await proofKey('EdDSA');
    const url = new URL(tokenUrl);
    const htu = `HTTPS://${url.host.toUpperCase()}${url.pathname.replace('token', '%74oken')}?a=1#f`;
    expect((await clientCredentials({ dpop: await proof(key, { htu }) })).status).toBe(200);
    expect(normalizeHtu('https://example.com:443/a/./b/%7e%2f')).toBe('https://example.com/a/b/~%2F');
  });

  it('a replayed proof (same jti) is refused', async () => {
    const key = await proofKey();
    const once = await proof(key);
    expect((await clientCredentials({ dpop: once })).status).toBe(200);
    expect(await readErrorResponse(await clientCredentials({ dpop: once }))).toEqual(
      expectedErrorResponse(
        400,
        'invalid_dpop_proof',
        9100301,
        'The DPoP proof was already used (its jti was seen before). Sign a new proof, with a new jti, for every request.',
      ),
    );
  });

  const now = () => Math.floor(Date.now() / 1000);
  const unsigned = (header: object, claims: object) =>
    `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.`;
  const refusals: [string, (key: ProofKey) => Promise<string> | string, string | (() => string)][] = [
    ['wrong htm', (key) => proof(key, { htm: 'GET' }), "'htm' 'GET' is not the request's method POST."],
    [
      'wrong htu',
      (key) => proof(key, { htu: `${server.url}/common/oauth2/v2.0/token` }),
      () => `'htu' is not the URL of this endpoint, ${tokenUrl}.`,
    ],
    ['iat too old', (key) => proof(key, { iat: now() - 301 }), "'iat' is more than 300 seconds in the past."],
    [
      'iat in the future',
      (key) => proof(key, { iat: now() + 301 }),
      "'iat' is more than 300 seconds in the future.",
    ],
    ['typ JWT', (key) => proof(key, {}, { typ: 'JWT' }), "its header 'typ' must be 'dpop+jwt'."],
    [
      'alg none',
      (key) =>
        unsigned(
          { alg: 'none', typ: 'dpop+jwt', jwk: key.jwk },
          { jti: 'x', htm: 'POST', htu: tokenUrl, iat: now() },
        ),
      'it is not a signed JWT in compact serialization.',
    ],
    [
      'alg HS256',
      async (key) =>
        new SignJWT({ jti: randomUUID(), htm: 'POST', htu: tokenUrl, iat: now() })
          .setProtectedHeader({ alg: 'HS256', typ: 'dpop+jwt', jwk: key.jwk })
          .sign(new Uint8Array(32)),
      "its 'alg' 'HS256' is not one of ES256, ES384, ES512, RS256, PS256, EdDSA, Ed25519.",
    ],
    [
      'private key in jwk',
      async (key) => proof(key, {}, { jwk: await exportJWK(key.privateKey) }),
      "its 'jwk' contains private or symmetric key material.",
    ],
    [
      'signed by another key than its jwk',
      async (key) => proof(key, {}, { jwk: (await proofKey()).jwk }),
      "its signature does not verify with its 'jwk'.",
    ],
    ['no jti', (key) => proof(key, { jti: undefined }), "'jti' must be a string of 1 to 256 characters."],
    ['no iat', (key) => proof(key, { iat: undefined }), "it has no numeric 'iat' claim."],
    ['not a JWT', () => 'not-a-jwt', 'it is not a signed JWT in compact serialization.'],
    [
      'two DPoP headers',
      async (key) => `${await proof(key)}, ${await proof(key)}`,
      'the request carries more than one DPoP header.',
    ],
  ];
  it.each(refusals)('refuses a proof with %s: invalid_dpop_proof 9100300', async (_name, make, reason) => {
    const key = await proofKey();
    expect(await readErrorResponse(await clientCredentials({ dpop: await make(key) }))).toEqual(
      invalidProof(typeof reason === 'string' ? reason : reason()),
    );
  });

  it('two DPoP header lines are refused, as Node reads them', async () => {
    const key = await proofKey();
    const headers = new Headers({ 'content-type': 'application/x-www-form-urlencoded' });
    headers.append('DPoP', await proof(key));
    headers.append('DPoP', await proof(key));
    const response = await fetch(tokenUrl, {
      method: 'POST',
      headers,
      body: new URLSearchParams({ grant_type: 'client_credentials' }),
    });
    expect(await readErrorResponse(response)).toEqual(
      invalidProof('the request carries more than one DPoP header.'),
    );
  });

  it('an application that requires DPoP (dpopBoundAccessTokens) is refused without a proof', async () => {
    const directory = server.directory;
    await directory.applications.update(s.web.appId, () => ({ dpopBoundAccessTokens: true }));
    try {
      await expect
        .poll(async () => (await readErrorResponse(await clientCredentials())).codes)
        .toEqual([9100303]);
      expect(await readErrorResponse(await clientCredentials())).toEqual(
        expectedErrorResponse(
          400,
          'invalid_request',
          9100303,
          `The application '${s.web.appId}' requires DPoP: every token request must carry a DPoP proof header (RFC 9449).`,
        ),
      );
      const key = await proofKey();
      expect((await clientCredentials({ dpop: await proof(key) })).status).toBe(200);
    } finally {
      await directory.applications.update(s.web.appId, () => ({ dpopBoundAccessTokens: false }));
    }
  });
});

describe('DPoP server nonces (RFC 9449 §8)', () => {
  let nonceServer: TestServer;
  let n: InteractiveScenario;
  let url: string;
  beforeAll(async () => {
    ({ server: nonceServer, scenario: n } = await startInteractiveServer({
      config: { dpopNonceRequired: true },
    }));
    url = endpointUrl(nonceServer.url, n.tenantId, 'token');
  });
  afterAll(() => nonceServer.close());

  const request = (dpop: string) =>
    postForm(
      url,
      {
        grant_type: 'client_credentials',
        client_id: n.web.appId,
        client_secret: n.web.secret,
        scope: `${n.api.identifierUri}/.default`,
      },
      { dpop },
    );
  const sign = (key: ProofKey, claims: Record<string, unknown>) =>
    new SignJWT({ jti: randomUUID(), htm: 'POST', htu: url, iat: Math.floor(Date.now() / 1000), ...claims })
      .setProtectedHeader({ alg: key.alg, typ: 'dpop+jwt', jwk: key.jwk })
      .sign(key.privateKey);

  it('a proof without a nonce gets use_dpop_nonce and a DPoP-Nonce; with it, tokens and a fresh nonce', async () => {
    const key = await proofKey();
    const first = await request(await sign(key, {}));
    const nonce = first.headers.get('dpop-nonce');
    expect(nonce).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(await readErrorResponse(first)).toEqual(
      expectedErrorResponse(
        400,
        'use_dpop_nonce',
        9100302,
        'The authorization server requires a nonce in the DPoP proof: sign a new proof with the nonce of the DPoP-Nonce response header. The proof carries no nonce.',
      ),
    );
    const second = await request(await sign(key, { nonce }));
    expect(second.status).toBe(200);
    expect(second.headers.get('dpop-nonce')).toMatch(/^[A-Za-z0-9_-]{32}$/);
  });

  it('a stale or forged nonce is refused with use_dpop_nonce', async () => {
    const key = await proofKey();
    const forged = new DpopNonces(Buffer.alloc(32, 1), 300).issue(Math.floor(Date.now() / 1000));
    expect(await readErrorResponse(await request(await sign(key, { nonce: forged })))).toEqual(
      expectedErrorResponse(
        400,
        'use_dpop_nonce',
        9100302,
        'The authorization server requires a nonce in the DPoP proof: sign a new proof with the nonce of the DPoP-Nonce response header. The nonce of the proof is stale or was not issued by this server.',
      ),
    );
  });

  it('nonces are valid in their slot and the next one only', () => {
    const nonces = new DpopNonces(Buffer.alloc(32, 7), 300);
    const issued = nonces.issue(1_000_000);
    const slotStart = Math.floor(1_000_000 / 300) * 300;
    expect(nonces.isCurrent(issued, slotStart)).toBe(true);
    expect(nonces.isCurrent(issued, slotStart + 599)).toBe(true);
    expect(nonces.isCurrent(issued, slotStart + 600)).toBe(false);
    expect(nonces.isCurrent(issued, slotStart - 1)).toBe(false);
    expect(nonces.isCurrent('x', slotStart)).toBe(false);
  });
});
