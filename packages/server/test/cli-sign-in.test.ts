import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openDatabase } from '@tessera/server';
import { runTesseraCli } from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The sign-in options of `tessera app create` and `tessera user disable|enable`, run as the built CLI with --json:
// the stored application in Graph shape, and exact refusals that write nothing.
const root = fileURLToPath(new URL('../../../', import.meta.url));
const STACK_FRAME = /^\s+at .+:\d+:\d+\)?$/m;
let dataDir: string;
let apiAppId = '';
let scopeId = '';

interface CliResult {
  readonly code: number | null;
  readonly json: Record<string, unknown>;
  readonly stderr: string;
}

async function cli(...args: string[]): Promise<CliResult> {
  const { code, stdout, stderr } = await runTesseraCli([...args, '--data', dataDir, '--json'], { cwd: root });
  return { code, json: JSON.parse(stdout) as Record<string, unknown>, stderr };
}

async function applicationCount(): Promise<number> {
  const db = openDatabase({ dialect: 'sqlite', file: join(dataDir, 'tessera.db') });
  try {
    const rows = await db.selectFrom('applications').select('app_id').execute();
    return rows.length;
  } finally {
    await db.destroy();
  }
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'tessera-cli-sign-in-'));
  expect((await cli('tenant', 'create', '--name', 'Contoso', '--domain', 'contoso.test')).code).toBe(0);
  expect((await cli('tenant', 'create', '--name', 'Fabrikam', '--domain', 'fabrikam.test')).code).toBe(0);
  const api = await cli(
    'app',
    'create',
    '--tenant',
    'contoso.test',
    '--name',
    'Files API',
    '--identifier-uri',
    'api://contoso.test/files',
    '--scope',
    'Files.Read',
  );
  expect(api.code).toBe(0);
  apiAppId = api.json.appId as string;
  scopeId = (
    (api.json.api as { oauth2PermissionScopes: { id: string }[] }).oauth2PermissionScopes[0] ?? { id: '' }
  ).id;
  expect(
    (
      await cli(
        'user',
        'create',
        '--tenant',
        'contoso.test',
        '--upn',
        'alice@contoso.test',
        '--password',
        'Correct-Horse-9',
      )
    ).code,
  ).toBe(0);
}, 60_000);
afterAll(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

describe('tessera app create: sign-in options', () => {
  it('stores implicit grant settings, logout URL, known clients, pre-authorized clients and required scopes', async () => {
    const client = '11111111-2222-3333-4444-555555555555';
    const created = await cli(
      'app',
      'create',
      '--tenant',
      'contoso.test',
      '--name',
      'Middle',
      '--scope',
      'Middle.Access',
      '--redirect-uri',
      'web=https://middle.example/cb',
      '--implicit',
      'id-token',
      '--implicit',
      'access-token',
      '--logout-url',
      'https://middle.example/logout',
      '--known-client',
      client,
      '--pre-authorize',
      `${client}=Middle.Access`,
      '--required-scope',
      'api://contoso.test/files=Files.Read',
      '--required-scope',
      `${apiAppId}=Files.Read`,
    );
    expect([created.code, created.stderr]).toEqual([0, '']);
    const app = created.json as {
      web: unknown;
      api: {
        knownClientApplications: unknown;
        preAuthorizedApplications: unknown;
        oauth2PermissionScopes: { id: string }[];
      };
      requiredResourceAccess: unknown;
    };
    expect(app.web).toEqual({
      redirectUris: ['https://middle.example/cb'],
      logoutUrl: 'https://middle.example/logout',
      implicitGrantSettings: { enableAccessTokenIssuance: true, enableIdTokenIssuance: true },
    });
    expect(app.api.knownClientApplications).toEqual([client]);
    expect(app.api.preAuthorizedApplications).toEqual([
      { appId: client, delegatedPermissionIds: [app.api.oauth2PermissionScopes[0]?.id] },
    ]);
    expect(app.requiredResourceAccess).toEqual([
      { resourceAppId: apiAppId, resourceAccess: [{ id: scopeId, type: 'Scope' }] },
    ]);
  });

  it('defaults: implicit off, no logout URL', async () => {
    const created = await cli('app', 'create', '--tenant', 'contoso.test', '--name', 'Plain');
    expect((created.json as { web: unknown }).web).toEqual({
      redirectUris: [],
      logoutUrl: null,
      implicitGrantSettings: { enableAccessTokenIssuance: false, enableIdTokenIssuance: false },
    });
  });

  const refusals: [string, string[], string, string][] = [
    [
      'an unknown implicit token',
      ['--implicit', 'code'],
      'invalid',
      "option '--implicit <token>' argument 'code' is invalid. use access-token or id-token",
    ],
    [
      'a malformed --pre-authorize',
      ['--pre-authorize', 'nope'],
      'invalid',
      "option '--pre-authorize <appId=scope>' argument 'nope' is invalid. use APPID=SCOPE",
    ],
    [
      'pre-authorizing a scope the app does not expose',
      ['--scope', 'A', '--pre-authorize', '11111111-2222-3333-4444-555555555555=B'],
      'invalid',
      "The application exposes no scope 'B' to pre-authorize.",
    ],
    [
      'a pre-authorized id that is not a GUID',
      ['--scope', 'A', '--pre-authorize', 'someone=A'],
      'invalid',
      "The pre-authorized application id 'someone' is not a GUID.",
    ],
    [
      'a known client that is not a GUID',
      ['--known-client', 'x'],
      'invalid',
      "The client id 'x' is not a GUID.",
    ],
    [
      'a required scope of an unknown resource',
      ['--required-scope', 'api://nowhere.test=Files.Read'],
      'not_found',
      "Resource 'api://nowhere.test' not found.",
    ],
    [
      'a required scope the resource does not expose',
      ['--required-scope', 'api://contoso.test/files=Files.Delete'],
      'not_found',
      "The resource 'Files API' has no delegated scope 'Files.Delete'.",
    ],
    ...(
      [
        'http://middle.example/logout',
        'not a url',
        'https://middle.example/logout#x',
        'https://user@middle.example/logout',
        'javascript:alert(1)',
      ] as const
    ).map((url): [string, string[], string, string] => [
      `logout URL ${url}`,
      ['--logout-url', url],
      'invalid',
      `The logout URL '${url}' must be an absolute https URL (http only on a loopback host), without a fragment, userinfo or wildcard.`,
    ]),
  ];
  it.each(refusals)('refuses %s, writing nothing', async (_name, args, code, message) => {
    const before = await applicationCount();
    const result = await cli('app', 'create', '--tenant', 'contoso.test', '--name', 'Refused', ...args);
    expect(result.code).toBe(1);
    expect(result.json).toEqual({ error: { code, message } });
    expect(result.stderr).not.toMatch(STACK_FRAME);
    expect(await applicationCount()).toBe(before);
  });
});

describe('tessera user disable | enable', () => {
  it('disables and re-enables a user by UPN', async () => {
    const disabled = await cli('user', 'disable', '--tenant', 'contoso.test', '--upn', 'ALICE@contoso.test');
    expect(disabled.code).toBe(0);
    expect(disabled.json).toMatchObject({ userPrincipalName: 'alice@contoso.test', accountEnabled: false });
    expect(Object.keys(disabled.json).sort()).toEqual(['accountEnabled', 'id', 'userPrincipalName']);
    const enabled = await cli('user', 'enable', '--tenant', 'contoso.test', '--upn', 'alice@contoso.test');
    expect(enabled.json).toMatchObject({ accountEnabled: true });
  });

  it.each([
    [
      'an unknown user',
      'contoso.test',
      'bob@contoso.test',
      'not_found',
      "User 'bob@contoso.test' not found in tenant 'contoso.test'.",
    ],
    [
      'a user of another tenant',
      'fabrikam.test',
      'alice@contoso.test',
      'not_found',
      "User 'alice@contoso.test' not found in tenant 'fabrikam.test'.",
    ],
    [
      'an unknown tenant',
      'nowhere.test',
      'alice@contoso.test',
      'not_found',
      "Tenant 'nowhere.test' not found.",
    ],
  ])('refuses %s', async (_name, tenant, upn, code, message) => {
    const result = await cli('user', 'disable', '--tenant', tenant, '--upn', upn);
    expect([result.code, result.json]).toEqual([1, { error: { code, message } }]);
  });
});
