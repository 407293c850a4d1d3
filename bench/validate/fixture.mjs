/**
 * Shared bench fixture: a local signing key (RS256 or ES256), a real JWKS endpoint on 127.0.0.1 serving it, and an
 * app-only v2.0 access token with the claim set Tessera issues (client credentials, one app role), valid 1 h.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';

export const TENANT_ID = '8eaef023-2b34-4da1-9baa-8bc8c9d6a490';
export const ISSUER = `https://login.tessera.test/${TENANT_ID}/v2.0`;
export const AUDIENCE = '6731de76-14a6-49ae-97bc-6eba6914391e';
export const CLIENT_ID = '535fb089-9ff3-47b6-9bfb-4f1264799865';
export const ROLE = 'Data.Read.All';

/**
 * @param {'RS256' | 'ES256'} alg
 * @returns {Promise<{ alg: string, token: string, publicKey: CryptoKey, jwksUri: string, close: () => Promise<void> }>}
 */
export async function startFixture(alg) {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const kid = `bench-${alg.toLowerCase()}`;
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  const server = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'public, max-age=300' });
    response.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const now = Math.floor(Date.now() / 1000);
  const servicePrincipalId = randomUUID();
  const token = await new SignJWT({
    aud: AUDIENCE,
    iss: ISSUER,
    iat: now,
    nbf: now,
    exp: now + 3599,
    azp: CLIENT_ID,
    azpacr: '1',
    idtyp: 'app',
    oid: servicePrincipalId,
    roles: [ROLE],
    sub: servicePrincipalId,
    tid: TENANT_ID,
    uti: 'AAAAAAAAAAAAAAAAAAAAAA',
    ver: '2.0',
  })
    .setProtectedHeader({ typ: 'at+jwt', alg, kid, x5t: kid })
    .sign(privateKey);
  return {
    alg,
    token,
    publicKey,
    jwksUri: `http://127.0.0.1:${server.address().port}/keys`,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}
