import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DirectoryError } from '@tessera/server';
import {
  authorizationCodeFields,
  runTesseraCli,
  signInThrough,
  startInteractiveServer,
  startTestServer,
  TestBrowser,
} from '@tessera/testkit';
import type { InteractiveScenario, TestServer } from '@tessera/testkit';
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import * as oauth from 'oauth4webapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Claims of issued access tokens: RFC 9068 §2.2 for `typ: at+jwt` tokens (checked by an unmodified oauth4webapi
// resource server), and `roles` in user tokens from app roles assigned to the user, as Entra issues them.

let server: TestServer;
let s: InteractiveScenario;
/** An API exposing a delegated scope and app roles for users, apps, or both. */
const orders = { appId: '', identifierUri: '' };

beforeAll(async () => {
  ({ server, scenario: s } = await startInteractiveServer());
  orders.identifierUri = `api://${s.domain}/orders`;
  const { application } = await server.directory.applications.create({
    tenant: s.tenantId,
    displayName: 'Orders API',
    identifierUris: [orders.identifierUri],
    scopes: ['Orders.Read'],
    userRoles: ['Orders.Approver', 'Orders.Both', 'Orders.Auditor', 'Orders.Retired'],
    appRoles: ['Orders.Sync', 'Orders.Both'],
    requestedAccessTokenVersion: 2,
  });
  orders.appId = application.appId;
  const assign = (upn: string, role: string, resource = orders.identifierUri) =>
    server.directory.grants.assignAppRoleToUser({
      tenant: s.tenantId,
      userPrincipalName: upn,
      resource,
      role,
    });
  await assign(s.user.userPrincipalName, 'Orders.Approver');
  await assign(s.user.userPrincipalName, 'Orders.Both');
  await assign(s.user.userPrincipalName, 'Orders.Retired');
  await assign(s.admin.userPrincipalName, 'Orders.Auditor');
  // An application permission of the client is the client's, never the signed-in user's role.
  await server.directory.grants.grantAppRole({
    tenant: s.tenantId,
    clientAppId: s.web.appId,
    resource: orders.appId,
    role: 'Orders.Sync',
  });
  // A user role on another resource stays on that resource.
  await server.directory.applications.update(s.api.appId, (current) => ({
    appRoles: [
      ...current.appRoles,
      {
        id: '6b0d8a5e-4f7c-4f41-9a0e-0c1f7e0b5a11',
        value: 'Files.Owner',
        displayName: 'Files owner',
        description: 'Owns files',
        allowedMemberTypes: ['User'],
        isEnabled: true,
      },
    ],
  }));
  await assign(s.user.userPrincipalName, 'Files.Owner', s.api.identifierUri);
  // A role disabled after it was assigned is no longer issued.
  await server.directory.applications.update(orders.appId, (current) => ({
    appRoles: current.appRoles.map((r) => (r.value === 'Orders.Retired' ? { ...r, isEnabled: false } : r)),
  }));
  await server.server.refresh();
});
afterAll(() => server.close());

const endpoint = (name: string) => `${server.url}/${s.tenantId}/oauth2/v2.0/${name}`;
const post = (name: string, fields: Record<string, string>) =>
  fetch(endpoint(name), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields),
  });
const web = () => ({ client_id: s.web.appId, client_secret: s.web.secret });

/** Signs `upn` in to the web app for `scope` and redeems the code. */
async function userTokens(
  scope: string,
  upn = s.user.userPrincipalName,
): Promise<{ access_token: string; refresh_token: string }> {
  const params = new URLSearchParams({
    client_id: s.web.appId,
    response_type: 'code',
    redirect_uri: s.web.redirectUri,
    scope,
  });
  const back = await signInThrough(new TestBrowser(), `${endpoint('authorize')}?${params.toString()}`, {
    userName: upn,
    password: s.password,
  });
  const code = new URL(back.location ?? '').searchParams.get('code') ?? '';
  const response = await post('token', authorizationCodeFields(s.web, code));
  expect(response.status).toBe(200);
  return (await response.json()) as { access_token: string; refresh_token: string };
}

/** The token verified with jose against the published JWKS (signature, issuer, audience). */
async function verified(token: string, audience: string) {
  const jwks = createRemoteJWKSet(new URL(`${server.url}/${s.tenantId}/discovery/v2.0/keys`));
  const { payload } = await jwtVerify(token, jwks, {
    issuer: `${server.url}/${s.tenantId}/v2.0`,
    audience,
  });
  return payload;
}

describe('RFC 9068 §2.2: v2 access tokens (typ at+jwt) carry jti and client_id', () => {
  const as = (): oauth.AuthorizationServer => ({
    issuer: `${server.url}/${s.tenantId}/v2.0`,
    jwks_uri: `${server.url}/${s.tenantId}/discovery/v2.0/keys`,
  });
  const validate = (token: string, audience: string) =>
    oauth.validateJwtAccessToken(
      as(),
      new Request('https://api.example/orders', { headers: { authorization: `Bearer ${token}` } }),
      audience,
      { signingAlgorithms: ['RS256', 'ES256'] },
    );

  const kinds: readonly { name: string; token: () => Promise<string>; client: () => string }[] = [
    {
      name: 'a delegated token (authorization code)',
      token: async () => (await userTokens(`${orders.identifierUri}/Orders.Read`)).access_token,
      client: () => s.web.appId,
    },
    {
      name: 'a delegated token (refresh)',
      token: async () => {
        const first = await userTokens(`${orders.identifierUri}/Orders.Read offline_access`);
        const response = await post('token', {
          ...web(),
          grant_type: 'refresh_token',
          refresh_token: first.refresh_token,
        });
        return ((await response.json()) as { access_token: string }).access_token;
      },
      client: () => s.web.appId,
    },
    {
      name: 'an app-only token (client credentials)',
      token: async () => {
        const response = await post('token', {
          ...web(),
          grant_type: 'client_credentials',
          scope: `${orders.identifierUri}/.default`,
        });
        return ((await response.json()) as { access_token: string }).access_token;
      },
      client: () => s.web.appId,
    },
  ];

  it.each(kinds)('$name passes oauth4webapi validateJwtAccessToken', async ({ token, client }) => {
    const accessToken = await token();
    expect(decodeProtectedHeader(accessToken).typ).toBe('at+jwt');
    const claims = await validate(accessToken, orders.appId);
    expect(claims.client_id).toBe(client());
    expect(claims.jti).toBe(claims.uti);
    expect(claims.client_id).toBe(claims.azp);
    const jose = await verified(accessToken, orders.appId);
    expect(jose).toMatchObject({ jti: claims.uti, client_id: client(), azp: client() });
  });

  it('every token has its own jti', async () => {
    const tokens = await Promise.all([kinds[2]?.token(), kinds[2]?.token()]);
    const ids = tokens.map((t) => decodeJwt(t ?? '').jti);
    expect(new Set(ids).size).toBe(2);
  });
});

describe('roles in user tokens: app roles of the resource assigned to the user', () => {
  /** Each class of app role and assignment, and whether alice's Orders token carries it. */
  const cases: readonly { role: string; why: string; issued: boolean }[] = [
    { role: 'Orders.Approver', why: 'a User role assigned to her', issued: true },
    { role: 'Orders.Both', why: 'a User-and-Application role assigned to her', issued: true },
    { role: 'Orders.Sync', why: 'an application permission granted to the client', issued: false },
    { role: 'Orders.Auditor', why: 'a User role assigned to another user', issued: false },
    { role: 'Orders.Retired', why: 'a role disabled after it was assigned to her', issued: false },
    { role: 'Files.Owner', why: 'her role on another resource', issued: false },
  ];

  it('carries exactly the enabled User roles assigned to her on this resource', async () => {
    const { access_token: token } = await userTokens(`${orders.identifierUri}/Orders.Read`);
    const claims = await verified(token, orders.appId);
    expect(claims.roles).toEqual(cases.filter((c) => c.issued).map((c) => c.role));
    expect(claims).toMatchObject({ idtyp: 'user', oid: s.user.id, scp: 'Orders.Read' });
  });

  it.each(cases)('$role ($why): issued $issued', async ({ role, issued }) => {
    const { access_token: token } = await userTokens(`${orders.identifierUri}/Orders.Read`);
    expect(((decodeJwt(token).roles as string[] | undefined) ?? []).includes(role)).toBe(issued);
  });

  it('another user gets their own roles', async () => {
    const { access_token: token } = await userTokens(
      `${orders.identifierUri}/Orders.Read`,
      s.admin.userPrincipalName,
    );
    expect(decodeJwt(token).roles).toEqual(['Orders.Auditor']);
  });

  it('no roles claim at all when none is assigned on the resource (v1 directory API token)', async () => {
    const { access_token: token } = await userTokens('openid profile');
    const claims = decodeJwt(token);
    expect(claims.aud).toBe('https://graph.microsoft.com');
    expect('roles' in claims).toBe(false);
  });

  it('keeps them on refresh, and on implicit-flow tokens', async () => {
    const first = await userTokens(`${orders.identifierUri}/Orders.Read offline_access`);
    const refreshed = (await (
      await post('token', { ...web(), grant_type: 'refresh_token', refresh_token: first.refresh_token })
    ).json()) as { access_token: string };
    expect(decodeJwt(refreshed.access_token).roles).toEqual(['Orders.Approver', 'Orders.Both']);

    const params = new URLSearchParams({
      client_id: s.spa.appId,
      response_type: 'token',
      redirect_uri: s.spa.redirectUri,
      scope: `${orders.identifierUri}/Orders.Read`,
      nonce: 'n1',
    });
    const back = await signInThrough(new TestBrowser(), `${endpoint('authorize')}?${params.toString()}`, {
      userName: s.user.userPrincipalName,
      password: s.password,
    });
    const fragment = new URLSearchParams(new URL(back.location ?? '').hash.slice(1));
    const implicit = fragment.get('access_token') ?? '';
    expect(decodeJwt(implicit).roles).toEqual(['Orders.Approver', 'Orders.Both']);
  });

  it.each([
    [
      'an application-only role',
      { role: 'Orders.Sync' },
      new DirectoryError('invalid', "The app role 'Orders.Sync' cannot be assigned to users."),
    ],
    [
      'an unknown role',
      { role: 'Orders.Nope' },
      new DirectoryError('not_found', "The resource 'Orders API' has no app role 'Orders.Nope'."),
    ],
    [
      'an unknown user',
      { userPrincipalName: 'ghost@nowhere.test' },
      new DirectoryError('not_found', "User 'ghost@nowhere.test' not found in tenant '{tenant}'."),
    ],
  ])('refuses to assign %s to a user', async (_name, change, expected) => {
    const attempt = server.directory.grants.assignAppRoleToUser({
      tenant: s.tenantId,
      userPrincipalName: s.user.userPrincipalName,
      resource: orders.identifierUri,
      role: 'Orders.Approver',
      ...change,
    });
    await expect(attempt).rejects.toThrow(
      new DirectoryError(expected.code, expected.message.replace('{tenant}', s.tenantId)),
    );
    await expect(attempt.catch((e: unknown) => (e as DirectoryError).code)).resolves.toBe(expected.code);
  });

  it('assigning the same role twice answers the existing assignment', async () => {
    const input = {
      tenant: s.tenantId,
      userPrincipalName: s.user.userPrincipalName,
      resource: orders.appId,
      role: 'Orders.Approver',
    };
    const first = await server.directory.grants.assignAppRoleToUser(input);
    expect(await server.directory.grants.assignAppRoleToUser(input)).toEqual(first);
    expect(first).toMatchObject({ principalId: s.user.id, principalType: 'User' });
  });
});

describe('tessera app create --user-role, app grant --user', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-roles-'));
  const run = (...args: string[]) => runTesseraCli([...args, '--data', dataDir, '--json']);
  const ok = async <T = Record<string, unknown>>(...args: string[]): Promise<T> => {
    const result = await run(...args);
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
    return JSON.parse(result.stdout) as T;
  };
  afterAll(() => {
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('assigns a user role from the command line; a real token carries it', async () => {
    const domain = 'roles-cli.test';
    const tenant = await ok<{ id: string }>('tenant', 'create', '--name', 'Roles', '--domain', domain);
    const api = await ok<{ appId: string; appRoles: { value: string; allowedMemberTypes: string[] }[] }>(
      'app',
      'create',
      '--tenant',
      domain,
      '--name',
      'Ledger API',
      '--identifier-uri',
      `api://${domain}/ledger`,
      '--scope',
      'Ledger.Read',
      '--user-role',
      'Ledger.Approver',
      '--user-role',
      'Ledger.Both',
      '--app-role',
      'Ledger.Both',
      '--app-role',
      'Ledger.Sync',
      '--token-version',
      '2',
    );
    expect(api.appRoles.map((r) => [r.value, r.allowedMemberTypes])).toEqual([
      ['Ledger.Approver', ['User']],
      ['Ledger.Both', ['User', 'Application']],
      ['Ledger.Sync', ['Application']],
    ]);
    const client = await ok<{ appId: string }>(
      'app',
      'create',
      '--tenant',
      domain,
      '--name',
      'Ledger Web',
      '--redirect-uri',
      'web=https://ledger.example/cb',
    );
    const secret = await ok<{ secretText: string }>(
      'app',
      'add-password',
      '--tenant',
      domain,
      '--app',
      client.appId,
    );
    const user = await ok<{ id: string }>(
      'user',
      'create',
      '--tenant',
      domain,
      '--upn',
      `bob@${domain}`,
      '--password',
      'Correct-Horse-9',
    );
    const assignment = await ok(
      'app',
      'grant',
      '--tenant',
      domain,
      '--user',
      `bob@${domain}`,
      '--resource',
      `api://${domain}/ledger`,
      '--role',
      'Ledger.Approver',
    );
    expect(assignment).toMatchObject({ tenantId: tenant.id, principalId: user.id, principalType: 'User' });

    const refused = await run(
      'app',
      'grant',
      '--tenant',
      domain,
      '--user',
      `bob@${domain}`,
      '--resource',
      `api://${domain}/ledger`,
      '--role',
      'Ledger.Sync',
    );
    expect({ code: refused.code, out: JSON.parse(refused.stdout) as unknown }).toEqual({
      code: 1,
      out: { error: { code: 'invalid', message: "The app role 'Ledger.Sync' cannot be assigned to users." } },
    });
    for (const principal of [[], ['--user', `bob@${domain}`, '--client', client.appId]]) {
      const both = await run(
        'app',
        'grant',
        '--tenant',
        domain,
        ...principal,
        '--resource',
        `api://${domain}/ledger`,
        '--role',
        'Ledger.Approver',
      );
      expect({ code: both.code, out: JSON.parse(both.stdout) as unknown }).toEqual({
        code: 1,
        out: {
          error: { code: 'invalid', message: 'Give exactly one of --client <appId> and --user <upn>.' },
        },
      });
    }

    const running = await startTestServer({ dataDir });
    try {
      const params = new URLSearchParams({
        client_id: client.appId,
        response_type: 'code',
        redirect_uri: 'https://ledger.example/cb',
        scope: `api://${domain}/ledger/Ledger.Read`,
      });
      const back = await signInThrough(
        new TestBrowser(),
        `${running.url}/${tenant.id}/oauth2/v2.0/authorize?${params.toString()}`,
        { userName: `bob@${domain}`, password: 'Correct-Horse-9' },
      );
      const response = await fetch(`${running.url}/${tenant.id}/oauth2/v2.0/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          client_id: client.appId,
          client_secret: secret.secretText,
          grant_type: 'authorization_code',
          code: new URL(back.location ?? '').searchParams.get('code') ?? '',
          redirect_uri: 'https://ledger.example/cb',
        }),
      });
      const { access_token: token } = (await response.json()) as { access_token: string };
      const jwks = createRemoteJWKSet(new URL(`${running.url}/${tenant.id}/discovery/v2.0/keys`));
      const { payload } = await jwtVerify(token, jwks, {
        issuer: `${running.url}/${tenant.id}/v2.0`,
        audience: api.appId,
      });
      expect(payload).toMatchObject({ roles: ['Ledger.Approver'], oid: user.id, scp: 'Ledger.Read' });
    } finally {
      await running.close();
    }
    // Each command is a process of its own; leave room on a loaded machine.
  }, 90_000);
});
