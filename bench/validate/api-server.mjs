/**
 * The Fastify API under load, run by run.mjs pinned to the server core. Plain HTTP on 127.0.0.1, three routes
 * answering the same small JSON:
 *
 * - `GET /public`: `config.auth: false`, the HTTP cost alone (Fastify, routing, JSON);
 * - `GET /protected`: the `@tessera/resource` plugin, requirement `{ roles: ['Data.Read.All'] }`;
 * - `GET /jose`: also public for the plugin, but an `onRequest` hook that does what a hand-written raw jose check
 *   would (read the header, `jwtVerify` with the public key in hand, `issuer` / `audience` / `algorithms`).
 *
 * Input: the algorithm in argv[2]. Output: one JSON line `{ url, token }` on stdout once listening.
 */
import Fastify from 'fastify';
import { jwtVerify } from 'jose';
import { createTokenValidator } from '@tessera/resource';
import { tesseraAuth } from '@tessera/resource/fastify';
import { AUDIENCE, ISSUER, ROLE, startFixture } from './fixture.mjs';

const alg = process.argv[2] ?? 'RS256';
const fixture = await startFixture(alg);
const validator = createTokenValidator({ jwksUri: fixture.jwksUri, issuer: ISSUER, audience: AUDIENCE });
const app = Fastify({ logger: false });
await app.register(tesseraAuth, { validator, realm: 'bench' });
const body = { ok: true };
app.get('/public', { config: { auth: false } }, () => body);
app.get('/protected', { config: { auth: { roles: [ROLE] } } }, () => body);
app.get(
  '/jose',
  {
    config: { auth: false },
    onRequest: async (request, reply) => {
      const header = request.headers.authorization ?? '';
      try {
        await jwtVerify(header.slice('Bearer '.length), fixture.publicKey, {
          issuer: ISSUER,
          audience: AUDIENCE,
          algorithms: [alg],
        });
      } catch {
        return reply.code(401).send({ error: 'invalid_token' });
      }
    },
  },
  () => body,
);
const url = await app.listen({ host: '127.0.0.1', port: 0 });
console.log(JSON.stringify({ url, token: fixture.token }));
process.on('SIGTERM', () => {
  void app
    .close()
    .then(() => fixture.close())
    .then(() => process.exit(0));
});
