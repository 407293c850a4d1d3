/**
 * oidc-provider (panva, v9) configured for the same exchange as Tessera: the client credentials grant, a
 * confidential client authenticating with `client_secret_post`, and RFC 8707 resource indicators so that the
 * access token is a JWT (`accessTokenFormat: 'jwt'`, `typ: at+jwt`) for a resource with one scope. Two resources
 * mirror Tessera's two APIs: `api://bench-api` signs with RS256, `api://bench-api-es` with ES256 (keys generated
 * here with jose: RSA 2048 and P-256, like Tessera's).
 *
 * Plain HTTP on 127.0.0.1, default in-memory adapter, no logging (oidc-provider logs nothing unless DEBUG is set
 * and no event listeners are attached). Configured by the JSON in BENCH_OIDC_CONFIG (see servers.mjs).
 */
import { createServer } from 'node:http';
import { exportJWK, generateKeyPair } from 'jose';
import Provider, { errors } from 'oidc-provider';

const config = JSON.parse(process.env.BENCH_OIDC_CONFIG ?? '{}');

async function privateJwk(alg, kid) {
  const { privateKey } = await generateKeyPair(alg, { extractable: true });
  return { ...(await exportJWK(privateKey)), alg, kid, use: 'sig' };
}

/** Resource indicator → resource server information (RFC 8707; `getResourceServerInfo`). */
const resourceServers = new Map(
  Object.entries(config.resources).map(([identifier, { alg }]) => [
    identifier,
    {
      scope: config.scope,
      audience: identifier,
      accessTokenTTL: config.lifetimeSeconds,
      accessTokenFormat: 'jwt',
      jwt: { sign: { alg } },
    },
  ]),
);

const provider = new Provider(`http://127.0.0.1:${config.port}`, {
  clients: [
    {
      client_id: config.clientId,
      client_secret: config.clientSecret,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_post',
    },
  ],
  jwks: { keys: [await privateJwk('RS256', 'bench-rs256'), await privateJwk('ES256', 'bench-es256')] },
  features: {
    clientCredentials: { enabled: true },
    devInteractions: { enabled: false },
    resourceIndicators: {
      enabled: true,
      getResourceServerInfo(_ctx, resourceIndicator) {
        const info = resourceServers.get(resourceIndicator);
        if (info === undefined) throw new errors.InvalidTarget();
        return info;
      },
    },
  },
});

const server = createServer(provider.callback());
server.listen(config.port, '127.0.0.1');
process.once('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
});
