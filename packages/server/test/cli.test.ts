import { createHash, randomUUID } from 'node:crypto';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openDatabase } from '@tessera/server';
import {
  cliEnvironment,
  createClientCertificate,
  freePort,
  JWT_BEARER_ASSERTION_TYPE,
  runTesseraCli,
  signClientAssertion,
  TESSERA_CLI,
  type ClientCertificate,
} from '@tessera/testkit';
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify, type JWK } from 'jose';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The `tessera` CLI end to end, as a separate process, against the same data directory as a running server
// (also a separate process): changes made while it runs take effect within a second.

const root = fileURLToPath(new URL('../../../', import.meta.url));
const STACK_FRAME = /^\s+at .+:\d+:\d+\)?$/m;

const runCli = (args: readonly string[], env: Record<string, string> = {}) =>
  runTesseraCli(args, { env: cliEnvironment(env), cwd: root });

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls `probe` every 50 ms until it returns a value, for at most `ms` milliseconds.
 *
 * @throws Error with the last observation when the deadline passes.
 */
async function within<T>(ms: number, probe: () => Promise<T | undefined>, what: string): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() >= deadline) throw new Error(`Not within ${ms} ms: ${what} (last: ${String(last)})`);
    await sleep(50);
  }
}

type TokenResponse = { status: number; body: Record<string, unknown> };

describe('tessera CLI', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-cli-'));
  let server: ChildProcess;
  let serverOutput = '';
  let base: string;

  // State built up by the commands, in order.
  const domain = `contoso-${randomUUID().slice(0, 8)}.test`;
  const otherDomain = `fabrikam-${randomUUID().slice(0, 8)}.test`;
  let tenantId: string;
  let api: { appId: string; identifierUri: string; roles: Record<string, string> };
  let daemon: { appId: string; servicePrincipalId: string; secret: string };
  let certificate: ClientCertificate;

  /** Runs a command against the test data directory with `--json`; it must succeed. */
  async function cli<T = Record<string, unknown>>(...args: string[]): Promise<T> {
    const result = await runCli([...args, '--data', dataDir, '--json']);
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
    return JSON.parse(result.stdout) as T;
  }

  async function requestToken(params: Record<string, string>): Promise<TokenResponse> {
    const response = await fetch(`${base}/${tenantId}/oauth2/v2.0/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        scope: `${api.identifierUri}/.default`,
        client_id: daemon.appId,
        ...params,
      }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  /** A token by client secret, once the server answers 200 and `accept` holds. */
  async function tokenWithin(
    ms: number,
    accept: (token: string) => boolean,
    what: string,
    params: () => Promise<Record<string, string>> = () => Promise.resolve({ client_secret: daemon.secret }),
  ): Promise<string> {
    return within(
      ms,
      async () => {
        const { status, body } = await requestToken(await params());
        if (status !== 200) throw new Error(`${status} ${JSON.stringify(body.error_codes)}`);
        const token = body.access_token as string;
        return accept(token) ? token : undefined;
      },
      what,
    );
  }

  async function jwks(): Promise<(JWK & { kid: string })[]> {
    const response = await fetch(`${base}/${tenantId}/discovery/v2.0/keys`);
    expect(response.status).toBe(200);
    return ((await response.json()) as { keys: (JWK & { kid: string })[] }).keys;
  }

  async function allRowsText(): Promise<string> {
    const db = openDatabase({ dialect: 'sqlite', file: join(dataDir, 'tessera.db') });
    try {
      const dumps: string[] = [];
      for (const table of ['applications', 'password_credentials', 'key_credentials', 'users']) {
        const { rows } = await sql`select * from ${sql.table(table)}`.execute(db);
        dumps.push(JSON.stringify(rows));
      }
      return dumps.join('\n');
    } finally {
      await db.destroy();
    }
  }

  beforeAll(async () => {
    if (!existsSync(TESSERA_CLI)) execFileSync('npx', ['tsc', '-b'], { cwd: root, stdio: 'inherit' });
    certificate = await createClientCertificate();
    const port = await freePort();
    base = `http://localhost:${port}`;
    server = spawn(process.execPath, [TESSERA_CLI, 'serve', '--data', dataDir, '--port', String(port)], {
      env: cliEnvironment({ TESSERA_TLS: 'off', TESSERA_LOG_LEVEL: 'warn' }),
      cwd: root,
    });
    server.stdout?.on('data', (chunk: Buffer) => (serverOutput += chunk.toString()));
    server.stderr?.on('data', (chunk: Buffer) => (serverOutput += chunk.toString()));
    let exited = false;
    server.on('exit', () => (exited = true));
    await within(
      20_000,
      async () => {
        if (exited) throw new Error(`the server exited: ${serverOutput}`);
        const response = await fetch(`${base}/common/v2.0/.well-known/openid-configuration`);
        return response.ok ? true : undefined;
      },
      'the server answers',
    );
  });

  afterAll(async () => {
    const running = () => server.exitCode === null && server.signalCode === null;
    if (running()) {
      const exited = new Promise((resolve) => server.once('exit', resolve));
      server.kill('SIGTERM');
      await Promise.race([exited, sleep(5000)]);
      if (running()) server.kill('SIGKILL');
    }
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('the server generated master.key and warned loudly that it did', () => {
    expect(serverOutput).toContain(
      `No TESSERA_MASTER_KEY set: generated a master key at ${join(dataDir, 'master.key')}`,
    );
  });

  it('tenant create', async () => {
    const tenant = await cli<{ id: string; displayName: string; domains: string[] }>(
      'tenant',
      'create',
      '--name',
      'Contoso',
      '--domain',
      domain.toUpperCase(),
      '--domain',
      `eu.${domain}`,
    );
    expect(tenant).toEqual({ id: tenant.id, displayName: 'Contoso', domains: [domain, `eu.${domain}`] });
    expect(tenant.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    tenantId = tenant.id;

    // Without --json: one human-readable line on stdout.
    const other = otherDomain;
    const text = await runCli([
      'tenant',
      'create',
      '--name',
      'Fabrikam',
      '--domain',
      other,
      '--data',
      dataDir,
    ]);
    expect(text.code).toBe(0);
    expect(text.stderr).toBe('');
    expect(text.stdout).toMatch(
      new RegExp(`^Created tenant Fabrikam: [0-9a-f-]{36} \\(${other.replaceAll('.', '\\.')}\\)\\n$`),
    );
  });

  it('app create with identifier URI, app roles, scope, redirect URIs, multi-tenant, token version 2', async () => {
    const created = await cli<
      Record<string, unknown> & { appId: string; appRoles: { id: string; value: string }[] }
    >(
      'app',
      'create',
      '--tenant',
      domain,
      '--name',
      'Orders API',
      '--identifier-uri',
      `api://${domain}/{appId}`,
      '--app-role',
      'Orders.Read.All',
      '--app-role',
      'Orders.Write.All',
      '--scope',
      'Orders.Read',
      '--redirect-uri',
      'web=https://web.example/callback',
      '--redirect-uri',
      'spa=https://spa.example/',
      '--redirect-uri',
      'public=http://localhost',
      '--multi-tenant',
      '--token-version',
      '2',
    );
    const appId = created.appId;
    const [read, write] = created.appRoles;
    const scope = (created.api as { oauth2PermissionScopes: { id: string }[] }).oauth2PermissionScopes[0];
    const roleJson = (id: string | undefined, value: string) => ({
      id,
      value,
      displayName: value,
      description: value,
      allowedMemberTypes: ['Application'],
      isEnabled: true,
    });
    expect(created).toEqual({
      id: created.id,
      appId,
      tenantId,
      displayName: 'Orders API',
      signInAudience: 'AzureADMultipleOrgs',
      identifierUris: [`api://${domain}/${appId}`],
      accountEnabled: true,
      appRoles: [roleJson(read?.id, 'Orders.Read.All'), roleJson(write?.id, 'Orders.Write.All')],
      api: {
        oauth2PermissionScopes: [
          {
            id: scope?.id,
            value: 'Orders.Read',
            type: 'User',
            adminConsentDisplayName: 'Orders.Read',
            adminConsentDescription: 'Orders.Read',
            userConsentDisplayName: 'Orders.Read',
            userConsentDescription: 'Orders.Read',
            isEnabled: true,
          },
        ],
        requestedAccessTokenVersion: 2,
        knownClientApplications: [],
        preAuthorizedApplications: [],
      },
      requiredResourceAccess: [],
      web: {
        redirectUris: ['https://web.example/callback'],
        logoutUrl: null,
        implicitGrantSettings: { enableAccessTokenIssuance: false, enableIdTokenIssuance: false },
      },
      spa: { redirectUris: ['https://spa.example/'] },
      publicClient: { redirectUris: ['http://localhost'] },
      accessTokenSigningAlgorithm: 'RS256',
      servicePrincipalId: created.servicePrincipalId,
    });
    expect(created.servicePrincipalId).toMatch(/^[0-9a-f-]{36}$/);
    api = {
      appId,
      identifierUri: `api://${domain}/${appId}`,
      roles: { 'Orders.Read.All': read!.id, 'Orders.Write.All': write!.id },
    };
    const client = await cli<{ appId: string; servicePrincipalId: string; identifierUris: string[] }>(
      'app',
      'create',
      '--tenant',
      tenantId,
      '--name',
      'Daemon',
    );
    expect(client.identifierUris).toEqual([]);
    daemon = { appId: client.appId, servicePrincipalId: client.servicePrincipalId, secret: '' };
  });

  it('app add-password: the secret is shown once, stored only as its hash, and authenticates within a second', async () => {
    const password = await cli<Record<string, unknown> & { secretText: string; keyId: string }>(
      'app',
      'add-password',
      '--tenant',
      domain,
      '--app',
      daemon.appId,
      '--display-name',
      'ci',
    );
    const done = Date.now();
    expect(Object.keys(password).sort()).toEqual([
      'displayName',
      'endDateTime',
      'hint',
      'keyId',
      'secretText',
      'startDateTime',
    ]);
    expect(password.secretText).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(password).toMatchObject({ displayName: 'ci', hint: password.secretText.slice(0, 3) });
    expect(password.startDateTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(Date.parse(password.endDateTime as string) - Date.parse(password.startDateTime as string)).toBe(
      730 * 86_400_000,
    );
    daemon.secret = password.secretText;

    const rows = await allRowsText();
    expect(rows).toContain(createHash('sha256').update(password.secretText).digest('hex'));
    expect(rows).not.toContain(password.secretText);

    const token = await tokenWithin(1000, () => true, 'a token by the new secret');
    expect(Date.now() - done).toBeLessThan(1000);
    const claims = decodeJwt(token);
    expect(claims).toMatchObject({
      aud: api.appId,
      azp: daemon.appId,
      azpacr: '1',
      tid: tenantId,
      ver: '2.0',
    });
    expect(claims.roles).toBeUndefined();
  });

  it('app grant: while the server runs, tokens carry the new role within a second', async () => {
    const assignment = await cli(
      'app',
      'grant',
      '--tenant',
      tenantId,
      '--client',
      daemon.appId,
      '--resource',
      api.identifierUri.toUpperCase(),
      '--role',
      'Orders.Read.All',
    );
    const done = Date.now();
    expect(assignment).toEqual({
      id: assignment.id,
      tenantId,
      principalId: daemon.servicePrincipalId,
      principalType: 'ServicePrincipal',
      resourceId: assignment.resourceId,
      appRoleId: api.roles['Orders.Read.All'],
      createdDateTime: assignment.createdDateTime,
    });
    const token = await tokenWithin(
      1000,
      (t) => JSON.stringify(decodeJwt(t).roles) === '["Orders.Read.All"]',
      'a token with roles ["Orders.Read.All"]',
    );
    expect(Date.now() - done).toBeLessThan(1000);
    expect(decodeJwt(token)).toMatchObject({ roles: ['Orders.Read.All'], oid: daemon.servicePrincipalId });
  });

  it('app add-cert: a certificate from a PEM file authenticates within a second', async () => {
    const file = join(dataDir, 'client.pem');
    writeFileSync(file, certificate.certificatePem);
    const credential = await cli(
      'app',
      'add-cert',
      '--tenant',
      tenantId,
      '--app',
      daemon.appId,
      '--cert',
      file,
    );
    const done = Date.now();
    expect(credential).toEqual({
      keyId: credential.keyId,
      displayName: credential.displayName,
      thumbprintSha1: certificate.x5t,
      thumbprintSha256: certificate.x5tS256,
      startDateTime: credential.startDateTime,
      endDateTime: credential.endDateTime,
    });
    expect(credential.displayName).toMatch(/^CN=test client /);
    const token = await tokenWithin(
      1000,
      () => true,
      'a token by certificate',
      async () => ({
        client_assertion_type: JWT_BEARER_ASSERTION_TYPE,
        client_assertion: await signClientAssertion({
          clientId: daemon.appId,
          audience: `${base}/${tenantId}/oauth2/v2.0/token`,
          key: certificate.privateKey,
          header: { 'x5t#S256': certificate.x5tS256 },
        }),
      }),
    );
    expect(Date.now() - done).toBeLessThan(1000);
    expect(decodeJwt(token)).toMatchObject({ azp: daemon.appId, azpacr: '2', roles: ['Orders.Read.All'] });
  });

  it('user create --admin', async () => {
    const password = `Pa55-${randomUUID()}`;
    const user = await cli(
      'user',
      'create',
      '--tenant',
      domain,
      '--upn',
      `Admin@${domain}`,
      '--password',
      password,
      '--display-name',
      'Admin',
      '--admin',
    );
    expect(user).toEqual({
      id: user.id,
      tenantId,
      userPrincipalName: `Admin@${domain}`,
      displayName: 'Admin',
      accountEnabled: true,
      directoryRoles: ['Global Administrator'],
      mailNickname: null,
      givenName: null,
      surname: null,
      jobTitle: null,
      mail: null,
    });
    expect(await allRowsText()).not.toContain(password);
  });

  it('user create --role (repeatable), user role add | remove, user set-password', async () => {
    const password = `Pa55-${randomUUID()}`;
    const user = await cli<{ id: string; directoryRoles: string[] }>(
      'user',
      'create',
      '--tenant',
      domain,
      '--upn',
      `helpdesk@${domain}`,
      '--password',
      password,
      '--role',
      'User Administrator',
      '--role',
      'global reader',
    );
    expect(user.directoryRoles).toEqual(['User Administrator', 'Global Reader']);
    const summary = (roles: string[]) => ({
      id: user.id,
      userPrincipalName: `helpdesk@${domain}`,
      accountEnabled: true,
      directoryRoles: roles,
    });
    const upn = ['--tenant', domain, '--upn', `helpdesk@${domain}`];
    expect(await cli('user', 'role', 'add', ...upn, '--role', 'Application Administrator')).toEqual(
      summary(['User Administrator', 'Global Reader', 'Application Administrator']),
    );
    expect(await cli('user', 'role', 'remove', ...upn, '--role', 'Global Reader')).toEqual(
      summary(['User Administrator', 'Application Administrator']),
    );
    const text = await runCli([
      'user',
      'role',
      'remove',
      ...upn,
      '--role',
      'User Administrator',
      '--data',
      dataDir,
    ]);
    expect({ code: text.code, stdout: text.stdout }).toEqual({
      code: 0,
      stdout: `helpdesk@${domain}: Application Administrator\n`,
    });
    const newPassword = `Ne3-${randomUUID()}`;
    expect(await cli('user', 'set-password', ...upn, '--password', newPassword)).toEqual(
      summary(['Application Administrator']),
    );
    const rows = await allRowsText();
    expect(rows).not.toContain(password);
    expect(rows).not.toContain(newPassword);
  });

  it('tenant create --admin-upn: a Global Administrator whose generated password is printed once, never stored', async () => {
    const bootDomain = `boot-${randomUUID().slice(0, 8)}.test`;
    const result = await cli<{
      tenant: { id: string; domains: string[] };
      administrator: { id: string; userPrincipalName: string; password: string };
      adminClient: { appId: string; redirectUri: string };
    }>('tenant', 'create', '--name', 'Boot', '--domain', bootDomain, '--admin-upn', `root@${bootDomain}`);
    expect(result.tenant.domains).toEqual([bootDomain]);
    expect(result.administrator.userPrincipalName).toBe(`root@${bootDomain}`);
    expect(result.administrator.password).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect(result.adminClient.redirectUri).toBe('http://localhost');
    expect(await allRowsText()).not.toContain(result.administrator.password);

    const textDomain = `boot-${randomUUID().slice(0, 8)}.test`;
    const text = await runCli([
      'tenant',
      'create',
      '--name',
      'Boot 2',
      '--domain',
      textDomain,
      '--admin-upn',
      `root@${textDomain}`,
      '--data',
      dataDir,
    ]);
    expect(text.code).toBe(0);
    const lines = text.stdout.split('\n');
    expect(lines[0]).toMatch(
      new RegExp(`^Created tenant Boot 2: [0-9a-f-]{36} \\(${textDomain.replaceAll('.', '\\.')}\\)$`),
    );
    expect(lines[1]).toBe(`Global Administrator: root@${textDomain}`);
    expect(
      lines.filter((line) =>
        /^Password \(shown only now, not stored in clear\): [A-Za-z0-9_-]{24}$/.test(line),
      ),
    ).toHaveLength(1);
  });

  it('serve --bootstrap-tenant on an empty data directory prints the administrator once; a second start prints and creates nothing', async () => {
    const bootData = mkdtempSync(join(tmpdir(), 'tessera-boot-'));
    const bootDomain = `first-${randomUUID().slice(0, 8)}.test`;
    /** Starts `serve --bootstrap-tenant`, waits until it answers, stops it; resolves with its stdout. */
    const start = async (): Promise<string> => {
      const port = await freePort();
      const child = spawn(
        process.execPath,
        [
          TESSERA_CLI,
          'serve',
          '--data',
          bootData,
          '--port',
          String(port),
          '--bootstrap-tenant',
          'First',
          '--bootstrap-domain',
          bootDomain,
        ],
        { env: cliEnvironment({ TESSERA_TLS: 'off', TESSERA_LOG_LEVEL: 'info' }), cwd: root },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const exited = new Promise((resolve) => child.once('exit', resolve));
      try {
        await within(
          20_000,
          async () => {
            if (child.exitCode !== null) throw new Error(`the server exited: ${stdout}${stderr}`);
            const response = await fetch(
              `http://localhost:${port}/common/v2.0/.well-known/openid-configuration`,
            );
            return response.ok && stdout.includes('Tessera listening') ? true : undefined;
          },
          'the bootstrap server answers',
        );
        await sleep(200);
      } finally {
        child.kill('SIGTERM');
        await Promise.race([exited, sleep(5000)]);
      }
      return stdout;
    };
    try {
      const first = await start();
      const password = /^Password \(shown only now, not stored in clear\): (\S+)$/m.exec(first)?.[1];
      expect(password).toMatch(/^[A-Za-z0-9_-]{24}$/);
      expect(first).toContain(`Global Administrator: admin@${bootDomain}`);
      // Only the printed line holds the password: not the log lines around it.
      expect(first.split('\n').filter((line) => line.includes(password ?? '-'))).toHaveLength(1);
      const second = await start();
      expect(second).not.toContain('Password');
      expect(second).not.toContain('Created tenant');
      const db = openDatabase({ dialect: 'sqlite', file: join(bootData, 'tessera.db') });
      try {
        const tenants = await sql<{ n: number }>`select count(*) as n from tenants`.execute(db);
        expect(Number(tenants.rows[0]?.n)).toBe(1);
        const { rows } = await sql`select * from users`.execute(db);
        expect(JSON.stringify(rows)).not.toContain(password);
      } finally {
        await db.destroy();
      }
    } finally {
      rmSync(bootData, { recursive: true, force: true });
    }
  });

  it('keys rotate --now: within a second new tokens use the new kid; the JWKS keeps the previous key', async () => {
    const before = await jwks();
    expect(before.map((k) => k.alg)).toEqual(['RS256', 'ES256']);
    const oldToken = await tokenWithin(1000, () => true, 'a token before rotation');
    const oldKid = decodeProtectedHeader(oldToken).kid;
    expect(oldKid).toBe(before[0]?.kid);

    const { rotated } = await cli<{ rotated: { alg: string; kid: string }[] }>('keys', 'rotate', '--now');
    const done = Date.now();
    expect(rotated.map((r) => r.alg)).toEqual(['RS256', 'ES256']);
    const newKid = rotated[0]!.kid;
    expect(newKid).toMatch(/^[A-Za-z0-9_-]{27}$/);
    expect(rotated.map((r) => r.kid)).not.toContain(oldKid);

    const newToken = await tokenWithin(
      1000,
      (t) => decodeProtectedHeader(t).kid === newKid,
      `a token with kid ${newKid}`,
    );
    expect(Date.now() - done).toBeLessThan(1000);
    expect(decodeProtectedHeader(newToken)).toMatchObject({ alg: 'RS256', kid: newKid, x5t: newKid });

    const after = await jwks();
    expect(after.map((k) => k.kid).sort()).toEqual(
      [...rotated.map((r) => r.kid), ...before.map((k) => k.kid)].sort(),
    );
    const keySet = createLocalJWKSet({ keys: after });
    const options = { issuer: `${base}/${tenantId}/v2.0`, audience: api.appId };
    expect((await jwtVerify(newToken, keySet, options)).protectedHeader.kid).toBe(newKid);
    expect((await jwtVerify(oldToken, keySet, options)).protectedHeader.kid).toBe(oldKid);
  });

  it('keys rotate: publishes the next keys at once but keeps signing with the current ones', async () => {
    const currentKid = decodeProtectedHeader(await tokenWithin(1000, () => true, 'a token')).kid;
    const started = Math.floor(Date.now() / 1000);
    const { rotated } = await cli<{ rotated: { alg: string; kid: string; activatesAt: number }[] }>(
      'keys',
      'rotate',
    );
    expect(rotated.map((r) => r.alg)).toEqual(['RS256', 'ES256']);
    for (const r of rotated) {
      expect(r.activatesAt).toBeGreaterThanOrEqual(started + 600);
      expect(r.activatesAt).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) + 600);
    }
    const nextKids = rotated.map((r) => r.kid);
    const deadline = Date.now() + 1000;
    let published = await jwks();
    while (!nextKids.every((kid) => published.some((k) => k.kid === kid)) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 25));
      published = await jwks();
    }
    expect(published.map((k) => k.kid)).toEqual(expect.arrayContaining([...nextKids, currentKid]));
    const token = await tokenWithin(1000, () => true, 'a token after the rotation');
    expect(decodeProtectedHeader(token).kid).toBe(currentKid);
  });

  describe('errors: exit code 1, {"error":{code,message}} with --json, a plain message without, no stack trace', () => {
    const missingFile = join(tmpdir(), `missing-${randomUUID()}.pem`);
    const notACertificate = join(dataDir, 'not-a-cert.pem');
    const cases: [string, () => string[], string, () => string | RegExp][] = [
      [
        'an unknown tenant',
        () => ['app', 'create', '--tenant', 'nowhere.test', '--name', 'X'],
        'not_found',
        () => "Tenant 'nowhere.test' not found.",
      ],
      [
        'a duplicate domain',
        () => ['tenant', 'create', '--name', 'Again', '--domain', domain.toUpperCase()],
        'conflict',
        () => `The domain '${domain}' is already verified by another tenant.`,
      ],
      [
        'a bad role value',
        () => ['app', 'create', '--tenant', domain, '--name', 'X', '--app-role', 'bad role'],
        'invalid',
        () => "'bad role' is not a valid app role value.",
      ],
      [
        'a missing certificate file',
        () => ['app', 'add-cert', '--tenant', domain, '--app', daemon.appId, '--cert', missingFile],
        'invalid',
        () => `Cannot read the certificate file '${missingFile}'.`,
      ],
      [
        'a file that holds no certificate',
        () => ['app', 'add-cert', '--tenant', domain, '--app', daemon.appId, '--cert', notACertificate],
        'invalid',
        () => /^Not a usable X\.509 certificate: \S/,
      ],
      [
        'an unknown directory role',
        () => ['user', 'role', 'add', '--tenant', domain, '--upn', `admin@${domain}`, '--role', 'Overlord'],
        'invalid',
        () =>
          "Unknown directory role 'Overlord'; known roles: Global Administrator, Global Reader, User Administrator, Application Administrator, Cloud Application Administrator, Privileged Role Administrator, Reports Reader, Security Reader, Security Administrator, Conditional Access Administrator, Authentication Administrator, Privileged Authentication Administrator.",
      ],
      [
        'taking the role of the last Global Administrator',
        () => [
          'user',
          'role',
          'remove',
          '--tenant',
          domain,
          '--upn',
          `admin@${domain}`,
          '--role',
          'Global Administrator',
        ],
        'invalid',
        () =>
          "The last enabled Global Administrator of a tenant can't be demoted; give another user the role first.",
      ],
      [
        'disabling the last Global Administrator',
        () => ['user', 'disable', '--tenant', domain, '--upn', `admin@${domain}`],
        'invalid',
        () =>
          "The last enabled Global Administrator of a tenant can't be disabled; give another user the role first.",
      ],
      [
        'a short new password',
        () => ['user', 'set-password', '--tenant', domain, '--upn', `admin@${domain}`, '--password', 'short'],
        'invalid',
        () => 'A password needs at least 8 characters.',
      ],
      [
        'serve --bootstrap-tenant without a domain',
        () => ['serve', '--bootstrap-tenant', 'X'],
        'invalid',
        () => '--bootstrap-tenant needs --bootstrap-domain.',
      ],
      [
        'an application of another tenant',
        () => ['app', 'add-password', '--tenant', otherDomain, '--app', api.appId],
        'not_found',
        () => `Application '${api.appId}' is not registered in tenant '${otherDomain}'.`,
      ],
    ];

    beforeAll(() => {
      writeFileSync(
        notACertificate,
        '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n',
      );
    });

    it.each(cases)('%s', async (_name, args, code, message) => {
      const [json, plain] = await Promise.all([
        runCli([...args(), '--data', dataDir, '--json']),
        runCli([...args(), '--data', dataDir]),
      ]);
      expect(json.code).toBe(1);
      expect(json.stderr).toBe('');
      const body = JSON.parse(json.stdout) as { error: { code: string; message: string } };
      expect(Object.keys(body)).toEqual(['error']);
      expect(Object.keys(body.error)).toEqual(['code', 'message']);
      expect(body.error.code).toBe(code);
      const expected = message();
      if (typeof expected === 'string') expect(body.error.message).toBe(expected);
      else expect(body.error.message).toMatch(expected);

      expect(plain.code).toBe(1);
      expect(plain.stdout).toBe('');
      expect(plain.stderr).toBe(`tessera: ${body.error.message}\n`);
      expect(`${json.stdout}${plain.stderr}`).not.toMatch(STACK_FRAME);
    });

    it('serve with another TESSERA_MASTER_KEY on the same data directory exits 1 with a clear message', async () => {
      const port = await freePort();
      const result = await runCli(['serve', '--data', dataDir, '--port', String(port)], {
        TESSERA_TLS: 'off',
        TESSERA_LOG_LEVEL: 'warn',
        TESSERA_MASTER_KEY: Buffer.alloc(32, 7).toString('base64'),
      });
      expect(result.code).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr).toContain(
        'Cannot decrypt a signing key: the master key does not match the one it was encrypted with.\n',
      );
      expect(result.stderr.split('\n')).toHaveLength(2);
      expect(result.stderr).not.toMatch(STACK_FRAME);
    });

    it('usage errors (a malformed --redirect-uri) are reported the same way with --json', async () => {
      const args = [
        'app',
        'create',
        '--tenant',
        domain,
        '--name',
        'X',
        '--redirect-uri',
        'web:https://a.test/',
        '--data',
        dataDir,
      ];
      const [json, plain] = await Promise.all([runCli([...args, '--json']), runCli(args)]);
      expect(plain.code).toBe(1);
      expect(plain.stderr).toContain('use web=URL, spa=URL or public=URL');
      expect(plain.stderr).not.toMatch(STACK_FRAME);
      expect(json.code).toBe(1);
      const body = JSON.parse(json.stdout) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('invalid');
      expect(body.error.message).toContain('use web=URL, spa=URL or public=URL');
    });
  });
});
