import { randomUUID } from 'node:crypto';
import { defineHub, type HubCallerContext } from '@tessera/hub';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startHub, type RunningHub } from './support/hub.js';
import { startIdentity, type IdentityFixture } from './support/identity.js';
import { negotiate } from './support/raw.js';

// RFC 9449 §7.2: a DPoP-bound access token (`cnf.jkt`) is not a bearer token. No SignalR transport can carry a
// proof, so the hub refuses a bound token wherever it accepts bearer tokens: the `Authorization` header of
// negotiate and the `access_token` query parameter of a WebSocket upgrade. A thief who copied a bound token out of
// a page gets nothing from the hub either.

const hub = defineHub({ methods: { whoAmI: (context: HubCallerContext) => context.userIdentifier } });

let identity: IdentityFixture;
let running: RunningHub;

/** A client-credentials token of daemon A bound to a fresh DPoP key: `cnf.jkt` set, `token_type: DPoP`. */
async function boundToken(): Promise<string> {
  const url = `${identity.server.url}/${identity.scenario.tenantId}/oauth2/v2.0/token`;
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const proof = await new SignJWT({ jti: randomUUID(), htm: 'POST', htu: url })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: await exportJWK(publicKey) })
    .setIssuedAt()
    .sign(privateKey);
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', dpop: proof },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: identity.alice.appId,
      client_secret: identity.alice.secret,
      scope: `${identity.scenario.api.identifierUri}/.default`,
    }),
  });
  const body = (await response.json()) as { access_token?: string; token_type?: string };
  expect({ status: response.status, tokenType: body.token_type }).toEqual({ status: 200, tokenType: 'DPoP' });
  return body.access_token ?? '';
}

beforeAll(async () => {
  identity = await startIdentity();
  running = await startHub({
    path: '/hubs/bound',
    hub,
    authentication: { validator: identity.validator() },
  });
});

afterAll(async () => {
  await running.close();
  await identity.close();
});

describe('DPoP-bound access tokens at the hub', () => {
  it('negotiate refuses a bound token sent as a bearer token with 401; a bearer token of the same app passes', async () => {
    const refused = await negotiate(running.url, { token: await boundToken() });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toMatch(/^Bearer /);
    const accepted = await negotiate(running.url, { token: await identity.token(identity.alice) });
    expect(accepted.status).toBe(200);
  });

  it('a WebSocket upgrade refuses a bound token in access_token', async () => {
    const token = await boundToken();
    const status = await new Promise<number>((resolve, reject) => {
      const socket = new WebSocket(
        `${running.url.replace(/^http/, 'ws')}?access_token=${encodeURIComponent(token)}`,
      );
      socket.on('unexpected-response', (_request, response) => {
        resolve(response.statusCode ?? 0);
      });
      socket.on('open', () => {
        socket.close();
        resolve(101);
      });
      socket.on('error', reject);
    });
    expect(status).toBe(401);
  });
});
