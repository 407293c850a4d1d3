import { X509Certificate, createHash, createPrivateKey, createPublicKey, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ConfigError,
  KeyRing,
  createTesseraServer,
  decryptWithMasterKey,
  keyRetentionSeconds,
  loadConfig,
  loadMasterKey,
  rotateSigningKeys,
  type TesseraConfig,
  type TesseraServer,
} from '@tessera/server';
import { seedClientCredentialsScenario, type ClientCredentialsScenario } from '@tessera/testkit';
import { createLocalJWKSet, decodeProtectedHeader, errors as joseErrors, jwtVerify, type JWK } from 'jose';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Token signing keys at rest (encrypted under the master key), as published (JWKS), and across rotation.

interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

function capturingLogger() {
  const lines: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
  return { logger, lines, parsed: () => lines.map((line) => JSON.parse(line) as LogLine) };
}

type PublishedKey = JWK & { kid: string; x5t: string; x5c: string[]; issuer: string };

const nowSeconds = () => Math.floor(Date.now() / 1000);

function configFor(dataDir: string, env: Record<string, string> = {}): TesseraConfig {
  return loadConfig(env, {
    dataDir,
    port: 0,
    tls: 'off',
    logLevel: 'info',
    // No background reloads: keys change only through server.refresh(), so "loaded once" is observable.
    directoryPollIntervalMs: 60_000,
  });
}

describe('signing keys', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-keys-'));
  const log = capturingLogger();
  let server: TesseraServer;
  let base: string;
  let scenario: ClientCredentialsScenario;
  let masterKey: Buffer;

  beforeAll(async () => {
    server = await createTesseraServer(configFor(dataDir), { logger: log.logger });
    base = await server.listen();
    scenario = await seedClientCredentialsScenario(server.directory);
    masterKey = loadMasterKey(undefined, dataDir).key;
  });
  afterAll(async () => {
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function jwks(): Promise<PublishedKey[]> {
    const response = await fetch(`${base}/${scenario.tenantId}/discovery/v2.0/keys`);
    expect(response.status).toBe(200);
    return ((await response.json()) as { keys: PublishedKey[] }).keys;
  }

  async function accessToken(): Promise<string> {
    const response = await fetch(`${base}/${scenario.tenantId}/oauth2/v2.0/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: scenario.daemon.appId,
        client_secret: scenario.daemon.secret,
        scope: `${scenario.api.identifierUri}/.default`,
      }),
    });
    expect(response.status).toBe(200);
    return ((await response.json()) as { access_token: string }).access_token;
  }

  async function verifyAgainstJwks(token: string) {
    return jwtVerify(token, createLocalJWKSet({ keys: await jwks() }), {
      issuer: `${base}/${scenario.tenantId}/v2.0`,
      audience: scenario.api.appId,
    });
  }

  async function storedKeys() {
    return server.store.db.selectFrom('signing_keys').selectAll().orderBy('created_at').execute();
  }

  it('generates <data>/master.key with mode 0600 and warns loudly that it did', () => {
    const file = join(dataDir, 'master.key');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8')).toMatch(/^[A-Za-z0-9_-]{43}\n$/);
    expect(Buffer.from(readFileSync(file, 'utf8').trim(), 'base64url')).toHaveLength(32);
    const warnings = log.parsed().filter((line) => line.level === 40);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.msg).toBe(
      `\n!!! No TESSERA_MASTER_KEY set: generated a master key at ${file}.\n` +
        '!!! It encrypts the token signing keys. Back it up, keep it secret, and set TESSERA_MASTER_KEY in production.\n',
    );
    expect(log.parsed().find((line) => line.msg === 'generated token signing keys')).toMatchObject({
      level: 30,
      algorithms: ['RS256', 'ES256'],
    });
  });

  it('stores private keys only encrypted: no PKCS#8 in clear in the column or the database files', async () => {
    const rows = await storedKeys();
    expect(rows.map((row) => [row.alg, row.retired_at])).toEqual([
      ['RS256', null],
      ['ES256', null],
    ]);
    for (const row of rows) {
      const sealed = row.private_key_encrypted;
      expect(sealed).not.toMatch(/PRIVATE KEY/);
      // v1.{12-byte iv}.{16-byte tag}.{ciphertext}, base64url.
      expect(sealed).toMatch(/^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]+$/);
      for (const part of [sealed, ...sealed.split('.')]) {
        for (const encoding of ['base64url', 'base64'] as const) {
          expect(() =>
            createPrivateKey({ key: Buffer.from(part, encoding), format: 'der', type: 'pkcs8' }),
          ).toThrow();
        }
        expect(() => createPrivateKey(part)).toThrow();
      }
      // Positive control: the master key does recover the private key of the published certificate.
      const pkcs8 = decryptWithMasterKey(masterKey, sealed, row.kid);
      const privateKey = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
      const certKey = new X509Certificate(row.certificate_pem).publicKey;
      expect(createPublicKey(privateKey).export({ format: 'jwk' })).toEqual(
        certKey.export({ format: 'jwk' }),
      );
      expect(sealed).not.toContain(pkcs8.toString('base64url').slice(0, 40));
      expect(sealed).not.toContain(pkcs8.toString('base64').slice(0, 40));
      const ciphertext = Buffer.from(sealed.split('.')[3]!, 'base64url');
      expect(ciphertext.length).toBe(pkcs8.length);
      expect(ciphertext.equals(pkcs8)).toBe(false);
      // The private scalar / exponent appears nowhere on disk, raw or encoded.
      const d = Buffer.from(privateKey.export({ format: 'jwk' }).d!, 'base64url');
      // RSA d is minimal big-endian (rarely shorter than the 256-byte modulus); an EC scalar is always 32 bytes.
      if (row.alg === 'RS256') expect(d.length).toBeGreaterThan(240);
      else expect(d.length).toBe(32);
      for (const file of ['tessera.db', 'tessera.db-wal']) {
        const path = join(dataDir, file);
        if (!existsSync(path)) continue;
        const bytes = readFileSync(path);
        for (const needle of [d, Buffer.from(d.toString('base64')), Buffer.from(d.toString('base64url'))]) {
          expect(bytes.indexOf(needle)).toBe(-1);
        }
      }
    }
  });

  it.each([
    ['another master key', () => randomBytes(32), (s: string) => s, (kid: string) => kid],
    ['the right key but another kid', (k: Buffer) => k, (s: string) => s, (kid: string) => `${kid}x`],
    [
      'the right key but altered ciphertext',
      (k: Buffer) => k,
      (s: string) => `${s.slice(0, -2)}${s.endsWith('AA') ? 'BB' : 'AA'}`,
      (kid: string) => kid,
    ],
  ])('refuses to decrypt with %s, with a clear error', async (_name, key, seal, aad) => {
    const [row] = await storedKeys();
    expect(() =>
      decryptWithMasterKey(key(masterKey), seal(row!.private_key_encrypted), aad(row!.kid)),
    ).toThrow(
      new ConfigError(
        'Cannot decrypt a signing key: the master key does not match the one it was encrypted with.',
      ),
    );
  });

  it('refuses an unknown sealed format', () => {
    expect(() => decryptWithMasterKey(masterKey, 'v2.a.b.c', 'kid')).toThrow(
      new ConfigError('Unrecognised encrypted key format.'),
    );
  });

  it.each([
    [
      'another 32-byte master key',
      randomBytes(32).toString('base64'),
      'Cannot decrypt a signing key: the master key does not match the one it was encrypted with.',
    ],
    [
      'a 16-byte master key',
      randomBytes(16).toString('base64'),
      'The master key in TESSERA_MASTER_KEY must be 32 bytes, base64-encoded (got 16).',
    ],
  ])('a server on the same data directory with %s fails to start, clearly', async (_name, key, message) => {
    const other = capturingLogger();
    await expect(
      createTesseraServer(configFor(dataDir, { TESSERA_MASTER_KEY: key }), { logger: other.logger }),
    ).rejects.toThrow(new ConfigError(message));
  });

  it('restarts on the same data directory with the stored or the configured master key, without a warning', async () => {
    const kids = (await storedKeys()).map((row) => row.kid);
    const envs: Record<string, string>[] = [
      {},
      { TESSERA_MASTER_KEY: readFileSync(join(dataDir, 'master.key'), 'utf8').trim() },
    ];
    for (const env of envs) {
      const other = capturingLogger();
      const restarted = await createTesseraServer(configFor(dataDir, env), { logger: other.logger });
      await restarted.close();
      expect(other.parsed().filter((line) => line.level >= 40)).toEqual([]);
      expect((await storedKeys()).map((row) => row.kid)).toEqual(kids);
    }
  });

  it('publishes JWKS keys with kid = x5t = SHA-1 of x5c[0], whose certificate holds the JWK', async () => {
    const keys = await jwks();
    expect(keys.map((k) => [k.alg, k.kty, k.use])).toEqual([
      ['RS256', 'RSA', 'sig'],
      ['ES256', 'EC', 'sig'],
    ]);
    for (const key of keys) {
      expect(key.x5c).toHaveLength(1);
      const der = Buffer.from(key.x5c[0]!, 'base64');
      expect(der.toString('base64')).toBe(key.x5c[0]);
      const thumbprint = createHash('sha1').update(der).digest('base64url');
      expect([key.kid, key.x5t]).toEqual([thumbprint, thumbprint]);
      const cert = new X509Certificate(der);
      expect(cert.subject).toBe(`CN=Tessera token signing ${key.alg!}`);
      const certJwk = cert.publicKey.export({ format: 'jwk' });
      if (key.kty === 'RSA') {
        expect(Object.keys(key).sort()).toEqual([
          'alg',
          'e',
          'issuer',
          'kid',
          'kty',
          'n',
          'use',
          'x5c',
          'x5t',
        ]);
        expect({ kty: key.kty, n: key.n, e: key.e }).toEqual(certJwk);
        expect(Buffer.from(key.n!, 'base64url')).toHaveLength(256);
      } else {
        expect(Object.keys(key).sort()).toEqual([
          'alg',
          'crv',
          'issuer',
          'kid',
          'kty',
          'use',
          'x',
          'x5c',
          'x5t',
          'y',
        ]);
        expect({ kty: key.kty, crv: key.crv, x: key.x, y: key.y }).toEqual(certJwk);
        expect(key.crv).toBe('P-256');
      }
      expect(key.issuer).toBe(`${base}/${scenario.tenantId}/v2.0`);
    }
    const token = await accessToken();
    const header = decodeProtectedHeader(token);
    expect([header.kid, header.x5t]).toEqual([keys[0]!.kid, keys[0]!.kid]);
    await verifyAgainstJwks(token);
  });

  describe('rotation', () => {
    let retention: number;
    let rotatedAt: number;
    let oldKid: string;
    let esKid: string;
    let newKid: string;
    let oldToken: string;

    it('keeps the old key published and signs new tokens with the new kid', async () => {
      retention = keyRetentionSeconds(server.config);
      expect(retention).toBe(3599 + 60 + 300);
      oldToken = await accessToken();
      oldKid = decodeProtectedHeader(oldToken).kid!;
      esKid = (await jwks()).find((k) => k.alg === 'ES256')!.kid;

      rotatedAt = nowSeconds();
      const rotated = await rotateSigningKeys(server.store, masterKey, ['RS256'], retention, rotatedAt);
      expect(rotated).toHaveLength(1);
      expect(rotated[0]!.alg).toBe('RS256');
      newKid = rotated[0]!.kid;
      expect(newKid).not.toBe(oldKid);
      // Keys are loaded once: until the server refreshes it keeps signing with the old key.
      expect(decodeProtectedHeader(await accessToken()).kid).toBe(oldKid);

      await server.refresh();
      const kids = (await jwks()).map((k) => k.kid);
      expect([...kids].sort()).toEqual([newKid, oldKid, esKid].sort());
      const newToken = await accessToken();
      expect(decodeProtectedHeader(newToken)).toMatchObject({ alg: 'RS256', kid: newKid, x5t: newKid });
      expect((await verifyAgainstJwks(newToken)).protectedHeader.kid).toBe(newKid);
      expect((await verifyAgainstJwks(oldToken)).protectedHeader.kid).toBe(oldKid);
      const retired = (await storedKeys()).find((row) => row.kid === oldKid);
      expect(retired?.retired_at).toBe(rotatedAt);
    });

    it('stops publishing a retired key once the retention period has passed', async () => {
      const justBefore = await KeyRing.load(server.store, masterKey, retention, rotatedAt + retention - 1);
      expect(justBefore.publishedKeys.map((k) => k.kid).sort()).toEqual([newKid, oldKid, esKid].sort());
      const atExpiry = await KeyRing.load(server.store, masterKey, retention, rotatedAt + retention);
      expect(atExpiry.publishedKeys.map((k) => k.kid).sort()).toEqual([newKid, esKid].sort());
      expect(atExpiry.signingKey('RS256').kid).toBe(newKid);

      // The next rotation after the retention period deletes the expired key; the server stops publishing it.
      const later = rotatedAt + retention + 1;
      const [next] = await rotateSigningKeys(server.store, masterKey, ['RS256'], retention, later);
      expect((await storedKeys()).map((row) => row.kid).sort()).toEqual([next!.kid, newKid, esKid].sort());
      await server.refresh();
      expect((await jwks()).map((k) => k.kid).sort()).toEqual([next!.kid, newKid, esKid].sort());
      await expect(verifyAgainstJwks(oldToken)).rejects.toBeInstanceOf(joseErrors.JWKSNoMatchingKey);
    });

    it('publishes a next key at once but signs with it only from its activation time', async () => {
      // Simulated clock past every key rotated above (the previous test rotated at rotatedAt + retention + 1).
      const t0 = rotatedAt + 2 * retention;
      const ring0 = await KeyRing.load(server.store, masterKey, retention, t0);
      const currentKid = ring0.signingKey('RS256', t0).kid;
      // The same key object every time: the JWS header cache (tokens/jws.ts) is keyed by its identity.
      expect(ring0.signingKey('RS256', t0)).toBe(ring0.signingKey('RS256', t0));
      const [next] = await rotateSigningKeys(server.store, masterKey, ['RS256'], retention, t0, 600);
      expect(next).toMatchObject({ alg: 'RS256', activatesAt: t0 + 600 });
      const rows = await storedKeys();
      expect(rows.find((row) => row.kid === next!.kid)).toMatchObject({
        activates_at: t0 + 600,
        retired_at: null,
      });
      expect(rows.find((row) => row.kid === currentKid)?.retired_at).toBe(t0 + 600);

      const ring = await KeyRing.load(server.store, masterKey, retention, t0);
      expect(ring.publishedKeys.map((k) => k.kid)).toEqual(
        expect.arrayContaining([next!.kid, currentKid, esKid]),
      );
      expect(ring.signingKey('RS256', t0).kid).toBe(currentKid);
      expect(ring.signingKey('RS256', t0 + 599).kid).toBe(currentKid);
      // The same loaded ring switches at the activation time, without a reload.
      expect(ring.signingKey('RS256', t0 + 600).kid).toBe(next!.kid);
      expect(ring.signingKey('ES256', t0 + 600).kid).toBe(esKid);
      // Retired at the activation time, the previous key stays published for the retention period after it.
      const later = await KeyRing.load(server.store, masterKey, retention, t0 + 600 + retention - 1);
      expect(later.publishedKeys.map((k) => k.kid)).toContain(currentKid);
      expect(later.signingKey('RS256', t0 + 600 + retention - 1).kid).toBe(next!.kid);

      // The running server publishes the next key (its clock is before t0) without signing with it.
      await server.refresh();
      expect((await jwks()).map((k) => k.kid)).toContain(next!.kid);
      expect(decodeProtectedHeader(await accessToken()).kid).not.toBe(next!.kid);

      // An immediate rotation (keys rotate --now) supersedes the pending next key too.
      const [now] = await rotateSigningKeys(server.store, masterKey, ['RS256'], retention, t0 + 1);
      expect(now!.activatesAt).toBe(t0 + 1);
      const afterNow = await KeyRing.load(server.store, masterKey, retention, t0 + 1);
      expect(afterNow.signingKey('RS256', t0 + 1).kid).toBe(now!.kid);
      expect(afterNow.signingKey('RS256', t0 + 700).kid).toBe(now!.kid);
      expect((await storedKeys()).find((row) => row.kid === next!.kid)?.retired_at).toBe(t0 + 1);
    });

    it('rotates every algorithm in one write: a failure on the second stores neither key', async () => {
      // A node reloading its ring between two writes would publish the new RS256 key beside the old ES256
      // one; one transaction means it sees the whole rotation or none of it.
      const before = (await storedKeys()).map((row) => [row.kid, row.retired_at]);
      const insert = server.store.signingKeys.insert.bind(server.store.signingKeys);
      let calls = 0;
      server.store.signingKeys.insert = async (trx, key) => {
        if (++calls === 2) throw new Error('the disk is full');
        await insert(trx, key);
      };
      try {
        await expect(
          rotateSigningKeys(server.store, masterKey, ['RS256', 'ES256'], retention, nowSeconds()),
        ).rejects.toThrow('the disk is full');
      } finally {
        server.store.signingKeys.insert = insert;
      }
      expect(calls).toBe(2);
      expect((await storedKeys()).map((row) => [row.kid, row.retired_at])).toEqual(before);
    });
  });
});
