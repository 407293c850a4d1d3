import {
  createHmac,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  sign,
  type KeyObject,
} from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DirectoryStore,
  KeyRing,
  ensureSigningKeys,
  migrateToLatest,
  openDatabase,
  rotateSigningKeys,
} from '@tessera/server';
import { createLocalJWKSet, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ActiveSigningKey, SigningAlgorithm } from '../src/keys/key-ring.js';
import { signJwt } from '../src/tokens/jws.js';
import {
  verifyOwnAccessToken,
  verifyOwnToken,
  type OwnTokenVerification,
} from '../src/tokens/verify-own-token.js';

// The signature check of this server's own tokens (node:crypto, not jose): what the server signs verifies, as do
// the same claims signed by jose with its key; every other spelling, header, algorithm or key is refused, each with
// the reason the On-Behalf-Of grant answers by. Keys are a real key ring (generated, stored, loaded, rotated).

const BASE = 'https://login.example';
const TID = '11111111-1111-1111-1111-111111111111';
const SKEW_SECONDS = 300;
const RETENTION_SECONDS = 3600;
const nowSeconds = () => Math.floor(Date.now() / 1000);

const b64 = (value: Buffer | string) => Buffer.from(value).toString('base64url');
const json = (value: unknown) => b64(JSON.stringify(value));

let dir: string;
let db: ReturnType<typeof openDatabase>;
let store: DirectoryStore;
let masterKey: Buffer;
let ring: KeyRing;
const keyOf = (alg: SigningAlgorithm): ActiveSigningKey => ring.signingKey(alg);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tessera-own-signature-'));
  db = openDatabase({ dialect: 'sqlite', file: join(dir, 'store.db') });
  await migrateToLatest(db);
  store = new DirectoryStore(db);
  masterKey = randomBytes(32);
  await ensureSigningKeys(store, masterKey, nowSeconds());
  ring = await KeyRing.load(store, masterKey, RETENTION_SECONDS, nowSeconds());
});

afterAll(async () => {
  await db.destroy();
  rmSync(dir, { recursive: true, force: true });
});

let counter = 0;

/** A v2 access token's claims as the server issues them (a new `uti` each), with `changes` applied. */
function claims(changes: Record<string, unknown> = {}): JWTPayload {
  const now = nowSeconds();
  counter += 1;
  const result: Record<string, unknown> = {
    aud: 'api://mid',
    iss: `${BASE}/${TID}/v2.0`,
    iat: now,
    nbf: now,
    exp: now + 3600,
    idtyp: 'user',
    name: 'Alice',
    oid: '33333333-3333-3333-3333-333333333333',
    tid: TID,
    uti: `uti-${counter}`,
    ver: '2.0',
  };
  for (const [name, value] of Object.entries(changes)) {
    if (value === undefined) Reflect.deleteProperty(result, name);
    else result[name] = value;
  }
  return result;
}

/** The header the server signs with `key`. */
const headerOf = (key: ActiveSigningKey, typ = 'at+jwt') => ({
  typ,
  alg: key.alg,
  kid: key.kid,
  x5t: key.x5t,
});

/** A compact JWS of `header` and `payload` signed with `privateKey` by node:crypto (ES: R‖S unless `der`). */
function signRaw(
  header: object,
  payload: unknown,
  privateKey: KeyObject,
  options: { ec?: boolean; der?: boolean; padding?: number } = {},
): string {
  const input = `${json(header)}.${json(payload)}`;
  const key =
    options.ec === true
      ? { key: privateKey, dsaEncoding: options.der === true ? ('der' as const) : ('ieee-p1363' as const) }
      : options.padding === undefined
        ? privateKey
        : { key: privateKey, padding: options.padding, saltLength: 32 };
  return `${input}.${b64(sign('sha256', Buffer.from(input), key))}`;
}

const verify = (token: string, keyRing: Pick<KeyRing, 'publishedKeys'> = ring) =>
  verifyOwnAccessToken(keyRing, BASE, token, SKEW_SECONDS);

const reasonOf = (result: OwnTokenVerification) => (result.ok ? true : result.reason);

/** `token` with its `index`th part replaced by `part`. */
function withPart(token: string, index: number, part: string): string {
  const parts = token.split('.');
  parts[index] = part;
  return parts.join('.');
}

/** `segment` decoded, one byte at `at` (from the end when negative) XORed with 1, encoded again. */
function flipByte(segment: string, at: number): string {
  const bytes = Buffer.from(segment, 'base64url');
  const index = at < 0 ? bytes.length + at : at;
  bytes[index] = bytes[index]! ^ 1;
  return b64(bytes);
}

describe.each(['RS256', 'ES256'] as const)('own %s tokens', (alg) => {
  const issue = (changes?: Record<string, unknown>, typ = 'at+jwt') =>
    signJwt(keyOf(alg), typ, claims(changes));

  it('a token the server issued verifies, with its claims; jose agrees', async () => {
    const token = await issue();
    const result = await verify(token);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const byJose = await jwtVerify(
      token,
      createLocalJWKSet({ keys: ring.publishedKeys.map((k) => ({ ...k })) }),
    );
    expect(result.claims).toEqual(byJose.payload);
  });

  it('the same claims signed by jose with the server’s key verify (the cross-check)', async () => {
    const key = keyOf(alg);
    const token = await new SignJWT(claims()).setProtectedHeader(headerOf(key)).sign(key.privateKey);
    expect(reasonOf(await verify(token))).toBe(true);
    // Without the x5t the server always signs with, the header is not one of the server's.
    const plain = await new SignJWT(claims())
      .setProtectedHeader({ alg, typ: 'at+jwt', kid: key.kid })
      .sign(key.privateKey);
    expect(reasonOf(await verify(plain))).toBe('bad_signature');
  });

  it('an ID token (typ JWT) verifies where any token will do, and is refused as an access token', async () => {
    const token = await issue({ idtyp: undefined, uti: undefined }, 'JWT');
    expect(reasonOf(await verifyOwnToken(ring, BASE, token, SKEW_SECONDS))).toBe(true);
    expect(reasonOf(await verify(token))).toBe('not_access_token');
  });

  it('a flipped payload byte is refused: bad_signature', async () => {
    const token = await issue();
    const payload = Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8');
    // One byte of a claim value, so that the payload is still JSON with the same tid.
    const at = payload.indexOf('Alice') + 1;
    const flipped = Buffer.from(payload);
    flipped[at] = flipped[at]! ^ 1;
    expect(reasonOf(await verify(withPart(token, 1, b64(flipped))))).toBe('bad_signature');
  });

  it('a flipped signature byte is refused: bad_signature', async () => {
    const token = await issue();
    for (const at of [0, 17, -1]) {
      expect(reasonOf(await verify(withPart(token, 2, flipByte(token.split('.')[2]!, at))))).toBe(
        'bad_signature',
      );
    }
  });

  it('a swapped header is refused: bad_signature', async () => {
    const token = await issue();
    const other = alg === 'RS256' ? 'ES256' : 'RS256';
    // The other algorithm's key and header over this token's payload and signature.
    expect(reasonOf(await verify(withPart(token, 0, json(headerOf(keyOf(other))))))).toBe('bad_signature');
    // The same key, another typ: the header is signed too.
    expect(reasonOf(await verify(withPart(token, 0, json(headerOf(keyOf(alg), 'JWT')))))).toBe(
      'bad_signature',
    );
  });

  it('a header member the server never signs is refused: bad_signature', async () => {
    const key = keyOf(alg);
    const extras: Record<string, unknown>[] = [
      { crit: ['exp'], exp: nowSeconds() + 60 },
      { crit: ['b64'], b64: true },
      { jku: 'https://attacker.example/keys' },
      { jwk: { kty: 'oct', k: 'AAAA' } },
      { x5u: 'https://attacker.example/cert' },
      { cty: 'JWT' },
    ];
    for (const extra of extras) {
      const token = signRaw({ ...headerOf(key), ...extra }, claims(), key.privateKey, {
        ec: alg === 'ES256',
      });
      expect([Object.keys(extra)[0], reasonOf(await verify(token))]).toEqual([
        Object.keys(extra)[0],
        'bad_signature',
      ]);
    }
  });

  it('a header whose x5t is not the key’s, or whose members are not strings, is refused: bad_signature', async () => {
    const key = keyOf(alg);
    const ec = { ec: alg === 'ES256' };
    const wrongX5t = signRaw({ ...headerOf(key), x5t: b64(randomBytes(20)) }, claims(), key.privateKey, ec);
    expect(reasonOf(await verify(wrongX5t))).toBe('bad_signature');
    const numericTyp = signRaw({ ...headerOf(key), typ: 1 }, claims(), key.privateKey, ec);
    expect(reasonOf(await verify(numericTyp))).toBe('bad_signature');
    const noKid = signRaw({ typ: 'at+jwt', alg }, claims(), key.privateKey, ec);
    expect(reasonOf(await verify(noKid))).toBe('bad_signature');
    // A typ this server never signs with (it signs at+jwt access tokens and JWT ID and v1 access tokens).
    for (const typ of ['dpop+jwt', 'jwt', 'application/at+jwt']) {
      const token = signRaw({ ...headerOf(key), typ }, claims(), key.privateKey, ec);
      expect([typ, reasonOf(await verify(token))]).toEqual([typ, 'bad_signature']);
    }
  });

  it('an unknown kid is refused: bad_signature', async () => {
    const key = keyOf(alg);
    const token = signRaw({ ...headerOf(key), kid: 'not-a-kid' }, claims(), key.privateKey, {
      ec: alg === 'ES256',
    });
    expect(reasonOf(await verify(token))).toBe('bad_signature');
  });

  it('a token signed by another key with the server’s kid is refused: bad_signature', async () => {
    const other =
      alg === 'RS256'
        ? generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey
        : generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const token = signRaw(headerOf(keyOf(alg)), claims(), other, { ec: alg === 'ES256' });
    expect(reasonOf(await verify(token))).toBe('bad_signature');
  });

  it('a payload that is not a JSON object, signed with the server’s key, is refused: malformed', async () => {
    const key = keyOf(alg);
    for (const payload of [[claims()], 'text', 42, null]) {
      const token = signRaw(headerOf(key), payload, key.privateKey, { ec: alg === 'ES256' });
      expect(reasonOf(await verify(token))).toBe('malformed');
    }
    const input = `${json(headerOf(key))}.${b64('{"tid":')}`;
    const cut = `${input}.${b64(sign('sha256', Buffer.from(input), alg === 'ES256' ? { key: key.privateKey, dsaEncoding: 'ieee-p1363' } : key.privateKey))}`;
    expect(reasonOf(await verify(cut))).toBe('malformed');
  });

  it('padded or otherwise non-canonical base64url is refused: malformed', async () => {
    const token = await issue();
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const spellings = [
      `${header}=.${payload}.${signature}`,
      `${header}.${payload}==.${signature}`,
      `${header}.${payload}.${signature}=`,
      `${header}.${payload}.${signature}==`,
      // Standard base64 instead of base64url.
      `${header}.${payload}.${Buffer.from(signature, 'base64url').toString('base64').replace(/=+$/, '')}`,
      `${header}.${payload}.${signature.slice(0, -1)}+`,
      `${header}.${payload}.${signature.slice(0, 10)} ${signature.slice(10)}`,
    ];
    // The same bytes spelled with non-zero unused bits in the last character (decoders that drop them accept it).
    const sextets = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = sextets.indexOf(signature.at(-1)!);
    if (signature.length % 4 !== 0)
      spellings.push(`${header}.${payload}.${signature.slice(0, -1)}${sextets[last + 1]}`);
    else spellings.push(`${header}.${payload}.${signature}A`);
    for (const spelling of spellings)
      expect([spelling, reasonOf(await verify(spelling))]).toEqual([spelling, 'malformed']);
    expect(reasonOf(await verify(token))).toBe(true);
  });

  it('four parts, two parts or an empty part are refused: malformed', async () => {
    const token = await issue();
    const [header, payload, signature] = token.split('.') as [string, string, string];
    for (const spelling of [
      `${token}.${signature}`,
      `${header}.${payload}`,
      `${header}..${signature}`,
      `.${payload}.${signature}`,
    ]) {
      expect(reasonOf(await verify(spelling))).toBe('malformed');
    }
    expect(reasonOf(await verify(`${header}.${payload}.`))).toBe('bad_signature');
  });
});

describe('claims of a token whose signature verified, checked as jose checks them', () => {
  const cases: { name: string; changes: Record<string, unknown>; expected: ReturnType<typeof reasonOf> }[] = [
    { name: 'no iss', changes: { iss: undefined }, expected: 'wrong_issuer' },
    { name: 'the v1 issuer', changes: { iss: `${BASE}/${TID}/` }, expected: true },
    {
      name: 'another base’s issuer',
      changes: { iss: `https://other.example/${TID}/v2.0` },
      expected: 'wrong_issuer',
    },
    { name: 'iss not a string', changes: { iss: 1 }, expected: 'wrong_issuer' },
    { name: 'tid not a string', changes: { tid: 1 }, expected: 'malformed' },
    { name: 'iat a string', changes: { iat: '1' }, expected: 'malformed' },
    { name: 'nbf a string', changes: { nbf: '1' }, expected: 'not_yet_valid' },
    { name: 'exp a string', changes: { exp: '1' }, expected: 'malformed' },
    {
      name: 'no exp, no nbf, no iat',
      changes: { exp: undefined, nbf: undefined, iat: undefined },
      expected: true,
    },
    {
      name: 'expired beyond the skew',
      changes: { exp: nowSeconds() - SKEW_SECONDS - 1 },
      expected: 'expired',
    },
    { name: 'expired within the skew', changes: { exp: nowSeconds() - SKEW_SECONDS + 30 }, expected: true },
    {
      name: 'nbf beyond the skew',
      changes: { nbf: nowSeconds() + SKEW_SECONDS + 60 },
      expected: 'not_yet_valid',
    },
  ];
  it.each(cases)('$name', async ({ changes, expected }) => {
    const token = await signJwt(keyOf('ES256'), 'at+jwt', claims(changes));
    expect(reasonOf(await verify(token))).toBe(expected);
  });
});

describe('algorithms the server does not sign with', () => {
  it('alg none is refused: bad_signature', async () => {
    const key = keyOf('RS256');
    const token = `${json({ ...headerOf(key), alg: 'none' })}.${json(claims())}.`;
    expect(reasonOf(await verify(token))).toBe('bad_signature');
  });

  it('HS256 keyed with the public key (PEM, DER or JWK modulus) is refused: bad_signature', async () => {
    const key = keyOf('RS256');
    const publicKey = createPublicKey(key.privateKey);
    const published = ring.publishedKeys.find((k) => k.kid === key.kid)!;
    const secrets = [
      Buffer.from(publicKey.export({ format: 'pem', type: 'spki' })),
      publicKey.export({ format: 'der', type: 'spki' }),
      Buffer.from(published.n!, 'base64url'),
    ];
    for (const secret of secrets) {
      const input = `${json({ ...headerOf(key), alg: 'HS256' })}.${json(claims())}`;
      const token = `${input}.${b64(createHmac('sha256', secret).update(input).digest())}`;
      expect(reasonOf(await verify(token))).toBe('bad_signature');
    }
  });

  it('PS256 signed with the server’s RSA key is refused: bad_signature', async () => {
    const key = keyOf('RS256');
    const token = signRaw({ ...headerOf(key), alg: 'PS256' }, claims(), key.privateKey, { padding: 6 });
    expect(reasonOf(await verify(token))).toBe('bad_signature');
  });

  it('RS256 named on the ES256 key, and ES256 on the RSA key, are refused: bad_signature', async () => {
    const rsa = keyOf('RS256');
    const ec = keyOf('ES256');
    const esOnRsaKid = signRaw({ ...headerOf(rsa), alg: 'ES256' }, claims(), ec.privateKey, { ec: true });
    expect(reasonOf(await verify(esOnRsaKid))).toBe('bad_signature');
    const rsOnEcKid = signRaw({ ...headerOf(ec), alg: 'RS256' }, claims(), rsa.privateKey);
    expect(reasonOf(await verify(rsOnEcKid))).toBe('bad_signature');
  });

  it('an ES256 signature in DER instead of R‖S is refused: bad_signature', async () => {
    const key = keyOf('ES256');
    const token = signRaw(headerOf(key), claims(), key.privateKey, { ec: true, der: true });
    expect(reasonOf(await verify(token))).toBe('bad_signature');
  });
});

describe('key rotation', () => {
  it('a retired key verifies while published, and stops verifying once it is no longer published', async () => {
    const rotatedAt = nowSeconds();
    const old = keyOf('RS256');
    // A fresh token of the old key (the verified-token cache holds none of it).
    const token = await signJwt(old, 'at+jwt', claims());
    await rotateSigningKeys(store, masterKey, ['RS256'], RETENTION_SECONDS, rotatedAt);
    const rotated = await KeyRing.load(store, masterKey, RETENTION_SECONDS, rotatedAt);
    expect(rotated.signingKey('RS256').kid).not.toBe(old.kid);
    expect(rotated.publishedKeys.some((k) => k.kid === old.kid)).toBe(true);
    expect(reasonOf(await verify(token, rotated))).toBe(true);
    const fresh = await signJwt(rotated.signingKey('RS256'), 'at+jwt', claims());
    expect(reasonOf(await verify(fresh, rotated))).toBe(true);
    // Past the retention the old key is no longer published: the key ring of that time refuses its tokens.
    const later = await KeyRing.load(store, masterKey, RETENTION_SECONDS, rotatedAt + RETENTION_SECONDS + 1);
    expect(later.publishedKeys.some((k) => k.kid === old.kid)).toBe(false);
    expect(reasonOf(await verify(await signJwt(old, 'at+jwt', claims()), later))).toBe('bad_signature');
    expect(reasonOf(await verify(token, later))).toBe('bad_signature');
    expect(reasonOf(await verify(fresh, later))).toBe(true);
  });
});
