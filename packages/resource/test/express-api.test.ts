import type { AddressInfo } from 'node:net';
import express from 'express';
import { describe } from 'vitest';
import { clientIdOf, scopesOf } from '@tessera/resource';
import { createExpressAuth } from '@tessera/resource/express';
import { sampleRoutes } from './support/sample-api.js';
import { REALM, sampleApiContract } from './support/sample-api-contract.js';

// A sample Express API protected by the Express adapter: per-route requirements as middleware arguments.
describe('sample Express API', () => {
  sampleApiContract(async (world) => {
    const auth = createExpressAuth({ validator: world.validator, realm: REALM });
    const routes = sampleRoutes(world);
    const app = express();
    app.get('/api/data', auth(routes['GET /api/data']), (req, res) => {
      res.json({ caller: clientIdOf(req.auth!), roles: req.auth!.roles });
    });
    app.post('/api/data', auth(routes['POST /api/data']), (_req, res) => {
      res.status(201).json({ written: true });
    });
    app.get('/api/me', auth(routes['GET /api/me']), (req, res) => {
      res.json({ caller: clientIdOf(req.auth!), name: req.auth!.name, scopes: scopesOf(req.auth!) });
    });
    for (const path of ['/api/reports', '/api/acl', '/api/transfer']) {
      app.get(path, auth(routes[`GET ${path}`]), (_req, res) => {
        res.json({ ok: true });
      });
    }
    const listener = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => listener.once('listening', resolve));
    return {
      url: `http://127.0.0.1:${(listener.address() as AddressInfo).port}`,
      close: () =>
        new Promise<void>((resolve) =>
          listener.close(() => {
            resolve();
          }),
        ),
    };
  });
});
