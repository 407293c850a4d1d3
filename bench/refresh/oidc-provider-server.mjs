/**
 * oidc-provider (panva, v9) configured for the same refresh exchange as Tessera: a confidential client
 * authenticating with `client_secret_post`, refresh tokens rotated on every use (`rotateRefreshToken: true`; a
 * consumed token presented again revokes its grant, as Tessera revokes the family), and an RFC 8707 resource
 * (`api://bench-api`, the refresh token's granted resource, `useGrantedResource`) whose access token is an RS256
 * JWT (`accessTokenFormat: 'jwt'`). Scope `openid offline_access Files.Read`, so every refresh response also
 * carries an id_token, like Tessera's.
 *
 * Storage: oidc-provider's in-memory adapter semantics on an unbounded `Map` (its default adapter is an LRU of
 * 1,000 entries, which evicts the grants within a second of rotations and fails every refresh). Tessera writes
 * to SQLite on disk, so this favours oidc-provider.
 *
 * Initial refresh tokens are minted through the models (`Grant` + `RefreshToken`, as an authorization code
 * exchange would) and served once by `GET /bench/refresh-tokens?count=N`, a route outside the provider.
 * Configured by the JSON in BENCH_OIDC_CONFIG (see setup.mjs).
 */
import { createServer } from 'node:http';
import { exportJWK, generateKeyPair } from 'jose';
import Provider, { errors } from 'oidc-provider';

const config = JSON.parse(process.env.BENCH_OIDC_CONFIG ?? '{}');
const ACCOUNT_ID = 'bench-user';

/** oidc-provider's memory adapter on a plain unbounded Map: grant membership kept for family revocation. */
const storage = new Map();
class MapAdapter {
  constructor(model) {
    this.model = model;
  }

  key(id) {
    return `${this.model}:${id}`;
  }

  async upsert(id, payload) {
    const key = this.key(id);
    storage.set(key, payload);
    if (payload.grantId !== undefined && this.model !== 'Grant') {
      const membersKey = `grant-members:${payload.grantId}`;
      const members = storage.get(membersKey) ?? new Set();
      members.add(key);
      storage.set(membersKey, members);
    }
  }

  async find(id) {
    return storage.get(this.key(id));
  }

  async findByUid(uid) {
    return storage.get(`sessionUid:${uid}`);
  }

  async findByUserCode() {
    return undefined;
  }

  async consume(id) {
    storage.get(this.key(id)).consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) {
    storage.delete(this.key(id));
  }

  async revokeByGrantId(grantId) {
    const membersKey = `grant-members:${grantId}`;
    for (const key of storage.get(membersKey) ?? []) storage.delete(key);
    storage.delete(membersKey);
  }
}

async function privateJwk(alg, kid) {
  const { privateKey } = await generateKeyPair(alg, { extractable: true });
  return { ...(await exportJWK(privateKey)), alg, kid, use: 'sig' };
}

const provider = new Provider(`http://127.0.0.1:${config.port}`, {
  adapter: MapAdapter,
  clients: [
    {
      client_id: config.clientId,
      client_secret: config.clientSecret,
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: [config.redirectUri],
      token_endpoint_auth_method: 'client_secret_post',
    },
  ],
  jwks: { keys: [await privateJwk('RS256', 'bench-rs256')] },
  scopes: ['openid', 'offline_access'],
  rotateRefreshToken: true,
  findAccount: (_ctx, sub) => ({ accountId: sub, claims: () => ({ sub }) }),
  features: {
    devInteractions: { enabled: false },
    resourceIndicators: {
      enabled: true,
      useGrantedResource: () => true,
      getResourceServerInfo(_ctx, resourceIndicator) {
        if (resourceIndicator !== config.resource) throw new errors.InvalidTarget();
        return {
          scope: config.scope,
          audience: resourceIndicator,
          accessTokenTTL: config.lifetimeSeconds,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
  },
});

/** A grant and a refresh token for it, as the authorization code exchange would have created them. */
async function mintRefreshToken() {
  const client = await provider.Client.find(config.clientId);
  const grant = new provider.Grant({ accountId: ACCOUNT_ID, clientId: config.clientId });
  grant.addOIDCScope('openid offline_access');
  grant.addResourceScope(config.resource, config.scope);
  const grantId = await grant.save();
  const now = Math.floor(Date.now() / 1000);
  const token = new provider.RefreshToken({
    accountId: ACCOUNT_ID,
    client,
    grantId,
    gty: 'authorization_code',
    authTime: now,
    iiat: now,
    resource: config.resource,
    scope: `openid offline_access ${config.scope}`,
  });
  return token.save();
}

const callback = provider.callback();
const server = createServer((request, response) => {
  const url = new URL(request.url ?? '/', 'http://localhost');
  if (url.pathname !== '/bench/refresh-tokens') {
    callback(request, response);
    return;
  }
  const count = Math.min(Number(url.searchParams.get('count')) || 1, 1024);
  Promise.all(Array.from({ length: count }, mintRefreshToken)).then(
    (tokens) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify(tokens));
    },
    (error) => {
      response.writeHead(500);
      response.end(String(error));
    },
  );
});
server.listen(config.port, '127.0.0.1');
process.once('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
});
