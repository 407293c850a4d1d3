import {
  authorizationCodeFields,
  authorizeUrl,
  createPkcePair,
  endpointUrl,
  postForm,
  postgresAvailable,
  signInThrough,
  startTestServer,
  TestBrowser,
  type TestServer,
} from '@tessera/testkit';
import { verify as argon2Verify } from '@node-rs/argon2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ADMIN_CLIENT_REDIRECT_URI,
  bootstrapEmptyDirectory,
  bootstrapInstructions,
  type BootstrapResult,
} from '../src/seed/bootstrap.js';

// The first administrator of a fresh install, on SQLite and PostgreSQL: bootstrap on an empty directory creates a
// tenant, a Global Administrator with a generated password (stored only as an argon2id hash) and a public
// administration client; the administrator signs in through it with PKCE on a loopback redirect, gets a delegated
// token for https://graph.microsoft.com and manages the tenant through /v1.0. A second bootstrap creates nothing.

const GRAPH = 'https://graph.microsoft.com';
const dialects = [
  { name: 'sqlite', database: 'sqlite' as const },
  ...((await postgresAvailable()) ? [{ name: 'postgres', database: 'postgres' as const }] : []),
];

describe.each(dialects)('bootstrap on $name', ({ database }) => {
  let server: TestServer;
  let result: BootstrapResult;

  beforeAll(async () => {
    server = await startTestServer({ database });
    const created = await bootstrapEmptyDirectory(server.directory, {
      displayName: 'Fabrikam',
      domains: ['fabrikam.example'],
    });
    expect(created).toBeDefined();
    result = created as BootstrapResult;
    await server.server.refresh();
  });
  afterAll(() => server.close());

  /** The administrator's delegated token for Graph, through the administration client (code + PKCE, loopback). */
  async function adminToken(scope: string): Promise<string> {
    const pkce = createPkcePair();
    const client = { appId: result.adminClient.appId, redirectUri: `${ADMIN_CLIENT_REDIRECT_URI}:53682` };
    const redirect = await signInThrough(
      new TestBrowser(),
      authorizeUrl(server.url, result.tenant.id, client, {
        scope: `openid offline_access ${scope}`,
        code_challenge: pkce.challenge,
        code_challenge_method: 'S256',
      }),
      { userName: result.administrator.userPrincipalName, password: result.administrator.password },
    );
    expect(redirect.location?.startsWith(`${client.redirectUri}/?`) ?? redirect.location).toBe(true);
    const code = new URL(redirect.location ?? 'https://none.example/').searchParams.get('code') ?? '';
    const response = await postForm(
      endpointUrl(server.url, result.tenant.id, 'token'),
      authorizationCodeFields(client, code, { code_verifier: pkce.verifier }),
    );
    expect(response.status).toBe(200);
    return ((await response.json()) as { access_token: string }).access_token;
  }

  async function call(path: string, token: string, body?: unknown) {
    const response = await fetch(`${server.url}${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  it('creates the tenant and a Global Administrator whose generated password is stored only as a hash', async () => {
    expect(result.tenant).toMatchObject({ displayName: 'Fabrikam', domains: ['fabrikam.example'] });
    expect(result.administrator.userPrincipalName).toBe('admin@fabrikam.example');
    expect(result.administrator.password).toMatch(/^[A-Za-z0-9_-]{24}$/);
    const stored = await server.directory.store.users.findById(result.administrator.id);
    expect(stored?.directoryRoles).toEqual(['Global Administrator']);
    expect(stored?.passwordHash.startsWith('$argon2id$')).toBe(true);
    expect(stored?.passwordHash.includes(result.administrator.password)).toBe(false);
    expect(await argon2Verify(stored?.passwordHash ?? '', result.administrator.password)).toBe(true);
    const text = bootstrapInstructions(result, server.url);
    expect(text).toContain(
      `Password (shown only now, not stored in clear): ${result.administrator.password}`,
    );
    expect(text).toContain(result.adminClient.appId);
  });

  it('the administrator gets a delegated Graph token through the administration client and manages the tenant', async () => {
    const token = await adminToken(`${GRAPH}/User.ReadWrite.All`);
    const me = await call('/v1.0/me', token);
    expect(me).toMatchObject({
      status: 200,
      body: { id: result.administrator.id, userPrincipalName: 'admin@fabrikam.example' },
    });
    const created = await call('/v1.0/users', token, {
      accountEnabled: true,
      displayName: 'First Colleague',
      mailNickname: 'colleague',
      userPrincipalName: 'colleague@fabrikam.example',
      passwordProfile: { password: 'Correct-Horse-9', forceChangePasswordNextSignIn: false },
    });
    expect(created).toMatchObject({ status: 201, body: { userPrincipalName: 'colleague@fabrikam.example' } });
    const apps = await call('/v1.0/applications', await adminToken(`${GRAPH}/Application.ReadWrite.All`));
    expect(apps.status).toBe(200);
  });

  it('the administration client is consented for the administrator only: another user gets no token silently', async () => {
    await server.directory.users.create({
      tenant: result.tenant.id,
      userPrincipalName: 'plain@fabrikam.example',
      password: 'Correct-Horse-9',
    });
    const pkce = createPkcePair();
    const client = { appId: result.adminClient.appId, redirectUri: `${ADMIN_CLIENT_REDIRECT_URI}:53682` };
    const page = await signInThrough(
      new TestBrowser(),
      authorizeUrl(server.url, result.tenant.id, client, {
        scope: `openid ${GRAPH}/Directory.ReadWrite.All`,
        code_challenge: pkce.challenge,
        code_challenge_method: 'S256',
      }),
      { userName: 'plain@fabrikam.example', password: 'Correct-Horse-9' },
    );
    expect(new URL(page.location ?? 'https://none.example/').searchParams.get('code')).toBeNull();
  });

  it('a second bootstrap on the same directory creates nothing', async () => {
    const before = await server.directory.store.tenants.listIds();
    expect(
      await bootstrapEmptyDirectory(server.directory, {
        displayName: 'Fabrikam',
        domains: ['fabrikam.example'],
      }),
    ).toBeUndefined();
    expect(await server.directory.store.tenants.listIds()).toEqual(before);
  });
});
