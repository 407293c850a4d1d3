/**
 * The "raw limit" token server: the least work a Node.js process can do to answer the same client credentials
 * request as Tessera, with `node:http` and `node:crypto` only. It parses the urlencoded form, checks the client
 * secret against a stored SHA-256 hash with `timingSafeEqual`, and signs the same header and claim set as
 * Tessera (same claim names and value sizes) with `crypto.sign` (RS256, or ES256 with an IEEE-P1363 signature).
 * The JSON response and headers match Tessera's. No routing, validation or logging beyond that.
 *
 * `crypto.sign` runs with a callback (on the libuv threadpool) unless `signMode` is `sync`: measured on one
 * pinned core, the callback form gives more tokens/s than the synchronous call (see docs/benchmarks.md), so it is
 * the practical limit.
 *
 * Configured by the JSON in BENCH_RAW_CONFIG (see `rawConfig` in servers.mjs); `GET /keys` serves the JWKS so the
 * benchmark can verify a token before measuring.
 */
import { createHash, generateKeyPairSync, randomBytes, randomUUID, sign, timingSafeEqual } from 'node:crypto';
import { Buffer } from 'node:buffer';
import { createServer } from 'node:http';
import { URLSearchParams } from 'node:url';
import { promisify } from 'node:util';

const config = JSON.parse(process.env.BENCH_RAW_CONFIG ?? '{}');
const MAX_BODY_BYTES = 64 * 1024;
const secretHash = Buffer.from(config.secretSha256, 'hex');
const issuer = `http://localhost:${config.port}/${config.tenantId}/v2.0`;
const signAsync = promisify(sign);
/** `crypto.sign`, on the threadpool (default) or on the main thread. */
const signData =
  config.signMode === 'sync'
    ? (data, key) => Promise.resolve(sign('sha256', data, key))
    : (data, key) => signAsync('sha256', data, key);

/** A signing key with its pre-encoded JWS header, as Tessera's (`typ`, `alg`, `kid`, `x5t`). */
function signingKey(alg) {
  const { privateKey, publicKey } =
    alg === 'RS256'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  // Tessera's kid and x5t are a base64url SHA-1 thumbprint (27 characters); use one of the same size.
  const kid = createHash('sha1')
    .update(publicKey.export({ type: 'spki', format: 'der' }))
    .digest('base64url');
  const header = Buffer.from(JSON.stringify({ typ: 'at+jwt', alg, kid, x5t: kid })).toString('base64url');
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid, alg, use: 'sig' };
  const signOptions = alg === 'RS256' ? privateKey : { key: privateKey, dsaEncoding: 'ieee-p1363' };
  return { header, jwk, signOptions };
}

const keys = { RS256: signingKey('RS256'), ES256: signingKey('ES256') };
/** `scope` value → resource: `{ appId, alg }`. */
const resources = new Map(
  Object.entries(config.resources).map(([identifier, resource]) => [`${identifier}/.default`, resource]),
);
const jwksBody = JSON.stringify({ keys: Object.values(keys).map((k) => k.jwk) });

async function accessToken(resource) {
  const now = Math.floor(Date.now() / 1000);
  const claims = {
    aud: resource.appId,
    iss: issuer,
    iat: now,
    nbf: now,
    exp: now + config.lifetimeSeconds,
    azp: config.clientId,
    azpacr: '1',
    idtyp: 'app',
    oid: config.clientServicePrincipalId,
    roles: config.roles,
    sub: config.clientServicePrincipalId,
    tid: config.tenantId,
    uti: randomBytes(16).toString('base64url'),
    ver: '2.0',
  };
  const key = keys[resource.alg];
  const input = `${key.header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  const signature = await signData(Buffer.from(input), key.signOptions);
  return `${input}.${signature.toString('base64url')}`;
}

function secretMatches(secret) {
  const presented = createHash('sha256').update(secret, 'utf8').digest();
  return timingSafeEqual(presented, secretHash);
}

function send(response, status, body) {
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    pragma: 'no-cache',
    'client-request-id': randomUUID(),
    'x-content-type-options': 'nosniff',
  });
  response.end(body);
}

async function handleToken(response, body) {
  const form = new URLSearchParams(body);
  if (form.get('grant_type') !== 'client_credentials') {
    send(response, 400, '{"error":"unsupported_grant_type"}');
    return;
  }
  if (form.get('client_id') !== config.clientId || !secretMatches(form.get('client_secret') ?? '')) {
    send(response, 401, '{"error":"invalid_client"}');
    return;
  }
  const resource = resources.get(form.get('scope') ?? '');
  if (resource === undefined) {
    send(response, 400, '{"error":"invalid_scope"}');
    return;
  }
  const token = await accessToken(resource);
  send(
    response,
    200,
    `{"token_type":"Bearer","expires_in":${config.lifetimeSeconds},"ext_expires_in":${config.lifetimeSeconds},"access_token":"${token}"}`,
  );
}

const tokenPath = `/${config.tenantDomain}/oauth2/v2.0/token`;

const server = createServer((request, response) => {
  if (request.method === 'GET' && request.url === '/keys') {
    send(response, 200, jwksBody);
    return;
  }
  const isForm = /^application\/x-www-form-urlencoded\b/i.test(request.headers['content-type'] ?? '');
  if (request.method !== 'POST' || request.url !== tokenPath || !isForm) {
    send(response, 404, '{"error":"not_found"}');
    return;
  }
  const chunks = [];
  let size = 0;
  request.on('data', (chunk) => {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) request.destroy();
    else chunks.push(chunk);
  });
  request.on('end', () => {
    void handleToken(response, Buffer.concat(chunks).toString('utf8'));
  });
});

server.listen(config.port, '127.0.0.1');
process.once('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
});
