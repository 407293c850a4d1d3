import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { clientIdOf, createTokenValidator, scopesOf } from '@tessera/resource';
import { tesseraAuth } from '@tessera/resource/fastify';
import { sampleRoutes } from './support/sample-api.js';
import { REALM, sampleApiContract } from './support/sample-api-contract.js';
import { compact } from './support/tokens.js';

// A sample Fastify API protected by the plugin: route-level requirements in `config.auth`, every route protected
// unless it opts out with `config: { auth: false }`.
describe('sample Fastify API', () => {
  sampleApiContract(async (world) => {
    const routes = sampleRoutes(world);
    const app = Fastify();
    await app.register(tesseraAuth, { validator: world.validator, realm: REALM });
    app.get('/api/data', { config: { auth: routes['GET /api/data'] } }, (request) => ({
      caller: clientIdOf(request.auth!),
      roles: request.auth!.roles,
    }));
    app.post('/api/data', { config: { auth: routes['POST /api/data'] } }, async (_request, reply) =>
      reply.code(201).send({ written: true }),
    );
    app.get('/api/me', { config: { auth: routes['GET /api/me'] } }, (request) => ({
      caller: clientIdOf(request.auth!),
      name: request.auth!.name,
      scopes: scopesOf(request.auth!),
    }));
    for (const path of ['/api/reports', '/api/acl', '/api/transfer']) {
      app.get(path, { config: { auth: routes[`GET ${path}`] } }, () => ({ ok: true }));
    }
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    return { url, close: () => app.close() };
  });
});

describe('Fastify plugin defaults', () => {
  const validator = createTokenValidator({
    jwksUri: 'http://127.0.0.1:9/keys',
    issuer: 'https://idp.example/0b7c2a4e-9d1f-4e2b-8a6c-3f5e7d9b1a2c/v2.0',
    audience: 'api://x',
  });

  it('protects every route by default, public routes opt out, unmatched routes are challenged too', async () => {
    const app = Fastify();
    await app.register(tesseraAuth, { validator });
    app.get('/health', { config: { auth: false } }, (request) => ({ ok: true, auth: request.auth }));
    app.get('/private', () => ({ secret: true }));
    expect((await app.inject('/health')).json()).toEqual({ ok: true, auth: null });
    for (const url of ['/private', '/no-such-route']) {
      const response = await app.inject(url);
      expect(response.statusCode).toBe(401);
      expect(response.headers['www-authenticate']).toBe('Bearer realm=""');
      expect(response.headers['cache-control']).toBe('no-store');
    }
    await app.close();
  });

  it('authenticates CORS preflights like every other request (CORS is @fastify/cors business)', async () => {
    const app = Fastify();
    await app.register(tesseraAuth, { validator });
    let runs = 0;
    app.options('/private', (_request, reply) => {
      runs += 1;
      return reply.code(204).header('access-control-allow-origin', '*').send();
    });
    const preflight = await app.inject({
      method: 'OPTIONS',
      url: '/private',
      headers: { origin: 'https://spa.example', 'access-control-request-method': 'GET' },
    });
    expect(preflight.statusCode).toBe(401);
    expect(preflight.headers['www-authenticate']).toBe('Bearer realm=""');
    expect((await app.inject({ method: 'OPTIONS', url: '/private' })).statusCode).toBe(401);
    expect(runs).toBe(0);
    await app.close();
  });

  it('refuses an invalid route requirement when the route is declared', async () => {
    const app = Fastify();
    await app.register(tesseraAuth, { validator });
    expect(() => app.get('/x', { config: { auth: { scopes: ['has space'] } } }, () => 'x')).toThrow(
      TypeError,
    );
    await app.close();
  });

  it('a failure to reach the keys is a 503 without a challenge, and no detail leaks', async () => {
    const app = Fastify();
    await app.register(tesseraAuth, { validator });
    app.get('/private', () => ({ secret: true }));
    const token = compact({ alg: 'RS256', typ: 'at+jwt', kid: 'k1' }, { iss: 'x' }, 'c2ln');
    const response = await app.inject({ url: '/private', headers: { authorization: `Bearer ${token}` } });
    expect(response.statusCode).toBe(503);
    expect(response.headers['www-authenticate']).toBeUndefined();
    expect(response.json()).toEqual({
      error: 'temporarily_unavailable',
      error_description: 'The token signing keys are unavailable. Try again later.',
    });
    await app.close();
  });
});
