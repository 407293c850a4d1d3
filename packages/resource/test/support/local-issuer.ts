import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';

/** A signing key of the local issuer. */
export interface LocalKey {
  readonly kid: string;
  readonly alg: 'RS256' | 'ES256';
  readonly privateKey: CryptoKey;
  readonly publicJwk: JWK;
}

/**
 * A tiny, real JWKS endpoint for tests that need tokens with a valid signature but claims the server would never
 * issue (delegated `scp` tokens, wrong `typ`, id_tokens, tid ≠ iss tenant…). It serves its own keys and, when
 * `upstream` is set, the upstream JWKS's keys too (fetched on every request), so one validator can accept both
 * real server tokens and locally minted ones. It counts the JWKS requests it answers.
 */
export interface LocalIssuer {
  readonly jwksUri: string;
  readonly rsa: LocalKey;
  readonly ec: LocalKey;
  /** JWKS requests answered so far. */
  readonly fetches: number;
  /** Keys published besides the upstream ones; replace to rotate. */
  published: LocalKey[];
  /** Signs `payload` with `key` (default RSA); `header` fields override the defaults (`alg`, `kid`, `typ`). */
  sign(payload: JWTPayload, header?: Record<string, unknown>, key?: LocalKey): Promise<string>;
  close(): Promise<void>;
}

/** Generates an RS256 or ES256 key with a `kid`. */
export async function createLocalKey(alg: 'RS256' | 'ES256', kid: string): Promise<LocalKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { kid, alg, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

/** Starts a local JWKS server on 127.0.0.1 (plain HTTP, loopback). */
export async function startLocalIssuer(options: { upstream?: string } = {}): Promise<LocalIssuer> {
  const rsa = await createLocalKey('RS256', 'local-rsa');
  const ec = await createLocalKey('ES256', 'local-ec');
  let fetches = 0;
  const state = { published: [rsa, ec] };
  const server: Server = createServer((request, response) => {
    void (async () => {
      if (request.url !== '/keys') {
        response.writeHead(404).end();
        return;
      }
      fetches += 1;
      const upstreamKeys =
        options.upstream === undefined
          ? []
          : ((await (await fetch(options.upstream)).json()) as { keys: JWK[] }).keys;
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(
        JSON.stringify({ keys: [...upstreamKeys, ...state.published.map((key) => key.publicJwk)] }),
      );
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    jwksUri: `http://127.0.0.1:${port}/keys`,
    rsa,
    ec,
    get fetches() {
      return fetches;
    },
    get published() {
      return state.published;
    },
    set published(keys: LocalKey[]) {
      state.published = keys;
    },
    sign(payload, header = {}, key = rsa) {
      return new SignJWT(payload)
        .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt', ...header })
        .sign(key.privateKey);
    },
    close: () =>
      new Promise<void>((resolve, reject) =>
        server.close((error) => {
          if (error) reject(error);
          else resolve();
        }),
      ),
  };
}
