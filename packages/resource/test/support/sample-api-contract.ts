import { afterAll, beforeAll, expect, it } from 'vitest';
import { SPA_CLIENT_ID, startSampleWorld, type SampleWorld } from './sample-api.js';
import { expectedClaimsChallenge, partsOf } from './tokens.js';

export const REALM = 'contoso-api';
const FORBIDDEN = 'The access token does not grant the permission this operation requires.';

/** A running sample API. */
export interface RunningApi {
  readonly url: string;
  close(): Promise<void>;
}

/**
 * The behaviour both sample APIs (Express, Fastify) must show, over real HTTP: app roles with real server tokens,
 * delegated scopes with locally minted user tokens, either-or, ACL and step-up, with exact statuses and challenges.
 */
export function sampleApiContract(start: (world: SampleWorld) => Promise<RunningApi>): void {
  let world: SampleWorld;
  let api: RunningApi;
  let daemonToken: string;

  beforeAll(async () => {
    world = await startSampleWorld();
    api = await start(world);
    daemonToken = await world.appToken();
  });
  afterAll(async () => {
    await api.close();
    await world.close();
  });

  async function call(route: string, token?: string) {
    const [method = 'GET', path = '/'] = route.split(' ');
    const response = await fetch(`${api.url}${path}`, {
      method,
      headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
    });
    return {
      status: response.status,
      challenge: response.headers.get('www-authenticate'),
      body: (await response.json()) as Record<string, unknown>,
    };
  }

  const forbidden = (scope: string) => ({
    status: 403,
    challenge: `Bearer realm="${REALM}", error="insufficient_scope", error_description="${FORBIDDEN}", scope="${scope}"`,
    body: { error: 'insufficient_scope', error_description: FORBIDDEN },
  });

  it('an app role: the daemon granted Data.Read.All reads, but may not write', async () => {
    expect(await call('GET /api/data', daemonToken)).toEqual({
      status: 200,
      challenge: null,
      body: { caller: world.scenario.daemon.appId, roles: ['Data.Read.All'] },
    });
    expect(await call('POST /api/data', daemonToken)).toEqual(forbidden('Data.Write.All'));
  });

  it('a delegated scope: a user token with User.Read gets in, an app token does not', async () => {
    const user = await world.userToken();
    expect(await call('GET /api/me', user)).toEqual({
      status: 200,
      challenge: null,
      body: { caller: SPA_CLIENT_ID, name: 'Ada Lovelace', scopes: ['User.Read', 'Reports.Read'] },
    });
    expect(await call('GET /api/me', await world.userToken({ scp: 'Files.Read' }))).toEqual(
      forbidden('User.Read'),
    );
    expect(await call('GET /api/me', daemonToken)).toEqual(forbidden('User.Read'));
    // A user token carrying the right *role* is still not a scope.
    const roleOnly = await world.userToken({ scp: 'Files.Read', roles: ['Data.Read.All'] });
    expect(await call('GET /api/data', roleOnly)).toEqual(forbidden('Data.Read.All'));
  });

  it('either-or: users with Reports.Read or apps with Data.Read.All', async () => {
    expect((await call('GET /api/reports', await world.userToken())).status).toBe(200);
    expect((await call('GET /api/reports', daemonToken)).status).toBe(200);
    expect(await call('GET /api/reports', await world.userToken({ scp: 'User.Read' }))).toEqual(
      forbidden('Reports.Read Data.Read.All'),
    );
  });

  it('ACL: the listed appId + issuer pair gets in, another application does not', async () => {
    expect((await call('GET /api/acl', daemonToken)).status).toBe(200);
    const otherApp = await world.local.sign({
      ...partsOf(daemonToken).payload,
      azp: '0f0f0f0f-1111-2222-3333-444444444444',
    });
    const description = 'The calling application is not allowed to use this operation.';
    expect(await call('GET /api/acl', otherApp)).toEqual({
      status: 403,
      challenge: `Bearer realm="${REALM}", error="insufficient_scope", error_description="${description}"`,
      body: { error: 'insufficient_scope', error_description: description },
    });
  });

  it('step-up: a token without the c1 authentication context gets a claims challenge', async () => {
    const description = 'The access token does not meet the authentication requirements of this operation.';
    expect(await call('GET /api/transfer', await world.userToken())).toEqual({
      status: 401,
      challenge:
        `Bearer realm="${REALM}", error="insufficient_claims", error_description="${description}", ` +
        `claims="${expectedClaimsChallenge('c1')}"`,
      body: { error: 'insufficient_claims', error_description: description },
    });
    expect((await call('GET /api/transfer', await world.userToken({ acrs: ['c1'] }))).status).toBe(200);
  });

  it('no token, and an expired one', async () => {
    expect(await call('GET /api/data')).toEqual({
      status: 401,
      challenge: `Bearer realm="${REALM}"`,
      body: { error: 'unauthorized', error_description: 'The request has no bearer access token.' },
    });
    const past = Math.floor(Date.now() / 1000) - 7200;
    const expired = await world.userToken({ iat: past, nbf: past, exp: past + 3600 });
    expect(await call('GET /api/me', expired)).toEqual({
      status: 401,
      challenge: `Bearer realm="${REALM}", error="invalid_token", error_description="The access token has expired."`,
      body: { error: 'invalid_token', error_description: 'The access token has expired.' },
    });
  });
}
