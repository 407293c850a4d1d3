import { createHash } from 'node:crypto';
import {
  AuthenticationError,
  validateImplicitResponse,
  type ImplicitValidationInput,
  type PublicJwk,
} from '@tessera/spa';
import { exportJWK, generateKeyPair, SignJWT, type JWTPayload } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';

// The implicit `id_token token` callback checks (OpenID Connect Core §3.2.2.9–11, RFC 9207), as pure functions
// over WebCrypto: the same code runs in the browser test against the real server.

const issuer = 'https://login.example/tenant-1/v2.0';
const clientId = 'c0ffee00-0000-4000-8000-000000000001';
const now = 1_900_000_000;
const accessToken = 'eyJhbGciOiJSUzI1NiJ9.eyJzY3AiOiJGaWxlcy5SZWFkIn0.sig';
const atHash = createHash('sha256').update(accessToken).digest().subarray(0, 16).toString('base64url');

let keys: PublicJwk[];
let sign: (claims: JWTPayload, options?: { kid?: string; other?: boolean }) => Promise<string>;

beforeAll(async () => {
  const pair = await generateKeyPair('RS256');
  const other = await generateKeyPair('RS256');
  keys = [{ ...(await exportJWK(pair.publicKey)), kid: 'k1', use: 'sig' }];
  sign = (claims, options = {}) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid: options.kid ?? 'k1', typ: 'JWT' })
      .sign(options.other === true ? other.privateKey : pair.privateKey);
});

const goodClaims = (): JWTPayload => ({
  iss: issuer,
  aud: clientId,
  sub: 'user-1',
  iat: now - 10,
  exp: now + 3600,
  nonce: 'n-0S6_WzA2Mj',
  at_hash: atHash,
  name: 'Alice Adams',
});

async function input(
  overrides: { claims?: JWTPayload; fragment?: Record<string, string>; other?: boolean; kid?: string } = {},
  rest: Partial<ImplicitValidationInput> = {},
): Promise<ImplicitValidationInput> {
  const idToken = await sign(overrides.claims ?? goodClaims(), {
    ...(overrides.other === undefined ? {} : { other: overrides.other }),
    ...(overrides.kid === undefined ? {} : { kid: overrides.kid }),
  });
  return {
    fragment: new URLSearchParams({
      id_token: idToken,
      access_token: accessToken,
      token_type: 'Bearer',
      expires_in: '3599',
      scope: 'api://files/Files.Read openid profile',
      state: 'st-1',
      iss: issuer,
      ...overrides.fragment,
    }),
    stored: { nonce: 'n-0S6_WzA2Mj', createdSeconds: now - 5, data: { returnUrl: '/orders' } },
    issuer,
    clientId,
    keys,
    nowSeconds: now,
    ...rest,
  };
}

async function refusal(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AuthenticationError);
  const { code, message } = error as AuthenticationError;
  return { code, message };
}

describe('implicit id_token token callback', () => {
  it('accepts a valid response: tokens, expiry, the profile without nonce and at_hash', async () => {
    const tokens = await validateImplicitResponse(await input());
    expect(tokens).toMatchObject({
      accessToken,
      tokenType: 'Bearer',
      scope: 'api://files/Files.Read openid profile',
      expiresAt: now + 3599,
      profile: { iss: issuer, aud: clientId, sub: 'user-1', name: 'Alice Adams' },
    });
    expect(tokens.profile).not.toHaveProperty('nonce');
    expect(tokens.profile).not.toHaveProperty('at_hash');
  });

  it.each<[string, () => Promise<ImplicitValidationInput>, string, RegExp]>([
    [
      'no stored state (tampered or replayed state)',
      () => input({}, { stored: null }),
      'state_mismatch',
      /no request/,
    ],
    [
      'wrong nonce',
      () => input({ claims: { ...goodClaims(), nonce: 'attacker' } }),
      'invalid_id_token',
      /nonce/,
    ],
    ['no nonce', () => input({ claims: { ...goodClaims(), nonce: undefined } }), 'invalid_id_token', /nonce/],
    [
      'wrong iss parameter (RFC 9207)',
      () => input({ fragment: { iss: 'https://evil.example/v2.0' } }),
      'issuer_mismatch',
      /evil/,
    ],
    [
      'wrong iss claim',
      () => input({ claims: { ...goodClaims(), iss: 'https://evil.example/v2.0' } }),
      'issuer_mismatch',
      /issuer/,
    ],
    [
      'other audience',
      () => input({ claims: { ...goodClaims(), aud: 'other-app' } }),
      'invalid_id_token',
      /aud/,
    ],
    [
      'several audiences without azp',
      () => input({ claims: { ...goodClaims(), aud: [clientId, 'x'] } }),
      'invalid_id_token',
      /azp/,
    ],
    ['expired', () => input({ claims: { ...goodClaims(), exp: now - 301 } }), 'invalid_id_token', /expired/],
    [
      'issued in the future',
      () => input({ claims: { ...goodClaims(), iat: now + 400 } }),
      'invalid_id_token',
      /future/,
    ],
    ['signed by another key', () => input({ other: true }), 'invalid_id_token', /signature/],
    ['unknown kid', () => input({ kid: 'k9' }), 'invalid_id_token', /signature/],
    [
      'substituted access token (at_hash)',
      () => input({ fragment: { access_token: 'stolen.token.x' } }),
      'invalid_id_token',
      /at_hash/,
    ],
    [
      'no at_hash',
      () => input({ claims: { ...goodClaims(), at_hash: undefined } }),
      'invalid_id_token',
      /at_hash/,
    ],
    ['no id_token', () => input({ fragment: { id_token: '' } }), 'invalid_id_token', /compact JWS/],
  ])('refuses %s', async (_name, make, code, message) => {
    const result = await refusal(validateImplicitResponse(await make()));
    expect(result.code).toBe(code);
    expect(result.message).toMatch(message);
  });

  it('refuses alg none and an HMAC token made with the public key as secret', async () => {
    const good = await input();
    const [, payload] = (good.fragment.get('id_token') ?? '').split('.');
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${payload}.`;
    expect(
      await refusal(
        validateImplicitResponse({
          ...good,
          fragment: new URLSearchParams({ ...Object.fromEntries(good.fragment), id_token: none }),
        }),
      ),
    ).toEqual({
      code: 'invalid_id_token',
      message: "The ID token's algorithm none is not accepted.",
    });
    const hs = await new SignJWT(goodClaims())
      .setProtectedHeader({ alg: 'HS256', kid: 'k1' })
      .sign(new TextEncoder().encode(JSON.stringify(keys[0])));
    expect(
      (
        await refusal(
          validateImplicitResponse({
            ...good,
            fragment: new URLSearchParams({ ...Object.fromEntries(good.fragment), id_token: hs }),
          }),
        )
      ).message,
    ).toBe("The ID token's algorithm HS256 is not accepted.");
  });

  it('an error response carries the readable message and the trace id', async () => {
    const description =
      'TSS65004: User declined to consent to access the app.\r\nTrace ID: 0d1f2e3c-aaaa-4bbb-8ccc-000000000001\r\nCorrelation ID: x\r\nTimestamp: 2026-12-02 06:00:00Z';
    const error = await validateImplicitResponse({
      ...(await input()),
      fragment: new URLSearchParams({
        error: 'access_denied',
        error_description: description,
        state: 'st-1',
        iss: issuer,
      }),
    }).catch((e: unknown) => e as AuthenticationError);
    expect(error).toMatchObject({
      code: 'authorization_error',
      error: 'access_denied',
      message: 'TSS65004: User declined to consent to access the app.',
      traceId: '0d1f2e3c-aaaa-4bbb-8ccc-000000000001',
    });
  });
});
