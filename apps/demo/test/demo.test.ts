import { spawnSync } from 'node:child_process';
import { statSync, readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfidentialClientApplication } from '@azure/msal-node';
import { HttpTransportType, HubConnectionBuilder, LogLevel, type HubConnection } from '@microsoft/signalr';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  callApi,
  freeDemoPorts,
  spaSignIn,
  startDemo,
  type DemoPorts,
  type DemoProcess,
} from './support/demo-process.js';

// The demo as `npm start` runs it: the built entry point in its own process, on a fresh data directory, driven
// only from outside (HTTP, the official SignalR client, MSAL Node), then restarted on the same data directory.

/** The command the demo prints for the current TOTP code. */
const TOTP_CODE = fileURLToPath(new URL('../dist/totp-code.js', import.meta.url));
/** Milliseconds a start of the demo may take on a busy machine. */
const START_TIMEOUT_MS = 120_000;
const CLAIMS_C1 = Buffer.from('{"access_token":{"acrs":{"essential":true,"value":"c1"}}}').toString('base64');

describe('the demo, started on a fresh data directory', () => {
  let dataDir: string;
  let ports: DemoPorts;
  let demo: DemoProcess;
  let alice: string;
  let bob: string;
  let daemonToken: string;
  const hubs: HubConnection[] = [];

  /** Alice's current TOTP code, as the command the demo prints gives it. */
  function totpCodeNow(): string {
    const run = spawnSync(process.execPath, [TOTP_CODE], {
      env: { ...process.env, TESSERA_DATA_DIR: dataDir },
    });
    return /^(\d{6}) /.exec(run.stdout.toString())?.[1] ?? `no code: ${run.stderr.toString()}`;
  }

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'tessera-demo-'));
    ports = await freeDemoPorts();
    demo = await startDemo(dataDir, ports);
    alice = (await spaSignIn(demo, 'alice@contoso.test')).access_token;
    bob = (await spaSignIn(demo, 'bob@contoso.test')).access_token;
    const scenario = JSON.parse(readFileSync(join(dataDir, 'demo', 'scenario.json'), 'utf8')) as {
      daemon: { appId: string; thumbprintSha256: string; privateKeyFile: string };
    };
    const msal = new ConfidentialClientApplication({
      auth: {
        clientId: scenario.daemon.appId,
        authority: `${demo.ready.urls.identity}/${demo.ready.tenants.contoso.id}`,
        knownAuthorities: [new URL(demo.ready.urls.identity).host],
        clientCertificate: {
          thumbprintSha256: scenario.daemon.thumbprintSha256,
          privateKey: readFileSync(scenario.daemon.privateKeyFile, 'utf8'),
        },
      },
    });
    const result = await msal.acquireTokenByClientCredential({
      scopes: [`${demo.ready.apps.todoApi.identifierUri}/.default`],
    });
    daemonToken = result?.accessToken ?? '';
  }, START_TIMEOUT_MS);
  afterAll(async () => {
    for (const hub of hubs) await hub.stop();
    await demo.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('seeds both tenants, their users and the three apps, and keeps its record readable by this user only', () => {
    expect(demo.ready.created).toEqual(
      expect.arrayContaining([
        'tenant contoso.test',
        'tenant fabrikam.test',
        'user admin@contoso.test',
        'user alice@contoso.test',
        'user bob@contoso.test',
        'user admin@fabrikam.test',
        'application Todo API',
        'application Todo SPA',
        'application Report Daemon with its certificate',
        'Todos.Read.All for the Report Daemon in contoso',
        'Todo.Moderator for alice@contoso.test',
        'admin consent to access_as_user for the Todo SPA in contoso',
        'admin consent to openid profile offline_access User.Read for the Todo API (On-Behalf-Of) in contoso',
      ]),
    );
    expect(
      demo.ready.created.some((what) => what.includes('fabrikam') && what.includes('Todos.Read.All')),
    ).toBe(false);
    expect(statSync(join(dataDir, 'demo', 'scenario.json')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dataDir, 'demo', 'daemon-key.pem')).mode & 0o777).toBe(0o600);
  });

  it("the SPA's sign-in gives a v2 token for the Todo API with access_as_user (and Alice's moderator role)", () => {
    const claims = decodeJwt(alice);
    expect(claims).toMatchObject({
      aud: demo.ready.apps.todoApi.appId,
      azp: demo.ready.apps.spa.appId,
      scp: 'access_as_user',
      tid: demo.ready.tenants.contoso.id,
      ver: '2.0',
      roles: ['Todo.Moderator'],
    });
    expect(decodeJwt(bob).roles).toBeUndefined();
  });

  it("keeps each user's todos apart: add, list, complete, delete", async () => {
    const added = await callApi(demo, '/todos', alice, { method: 'POST', body: { title: '  Buy milk ' } });
    expect(added.status).toBe(201);
    expect(added.body).toMatchObject({ title: 'Buy milk', done: false });
    const id = String(added.body?.id);
    expect((await callApi(demo, '/todos', alice)).body).toEqual({ value: [added.body] });
    expect((await callApi(demo, '/todos', bob)).body).toEqual({ value: [] });
    // Bob cannot reach Alice's todo by its id: it is not his.
    expect((await callApi(demo, `/todos/${id}`, bob, { method: 'PATCH', body: { done: true } })).status).toBe(
      404,
    );
    expect((await callApi(demo, `/todos/${id}`, bob, { method: 'DELETE' })).status).toBe(404);
    const done = await callApi(demo, `/todos/${id}`, alice, { method: 'PATCH', body: { done: true } });
    expect(done.body).toMatchObject({ id, done: true });
    const second = await callApi(demo, '/todos', alice, { method: 'POST', body: { title: 'Call Bob' } });
    expect(
      (await callApi(demo, `/todos/${String(second.body?.id)}`, alice, { method: 'DELETE' })).status,
    ).toBe(204);
    expect((await callApi(demo, '/todos', alice)).body).toEqual({ value: [{ ...done.body }] });
  });

  it.each([
    ['no token', '/todos', 'GET', undefined, undefined, 401, 'unauthorized'],
    ['a malformed token', '/todos', 'GET', 'not-a-jwt', undefined, 401, 'invalid_token'],
    [
      "the daemon's app-only token on a user route",
      '/todos',
      'GET',
      'daemon',
      undefined,
      403,
      'insufficient_scope',
    ],
    [
      "a user's token on the daemon's route",
      '/reports/todos',
      'GET',
      'alice',
      undefined,
      403,
      'insufficient_scope',
    ],
    [
      'an unknown body property',
      '/todos',
      'POST',
      'alice',
      { title: 'x', owner: 'bob' },
      400,
      'invalid_request',
    ],
    ['an empty title', '/todos', 'POST', 'alice', { title: '   ' }, 400, 'invalid_request'],
    ['a title too long', '/todos', 'POST', 'alice', { title: 'x'.repeat(201) }, 400, 'invalid_request'],
    [
      'a todo id that is not a GUID',
      '/todos/1%27%20or%201=1',
      'DELETE',
      'alice',
      undefined,
      400,
      'invalid_request',
    ],
  ] as const)(
    'refuses %s with the exact status and error, no stack',
    async (_name, path, method, who, body, status, error) => {
      const token = who === 'alice' ? alice : who === 'daemon' ? daemonToken : who;
      const answer = await callApi(demo, path, token, { method, ...(body === undefined ? {} : { body }) });
      expect(answer.status).toBe(status);
      expect(answer.body?.error).toBe(error);
      expect(Object.keys(answer.body ?? {}).sort()).toEqual(['error', 'error_description']);
      if (status === 401 || status === 403)
        expect(answer.headers.get('www-authenticate')).toMatch(/^Bearer realm="todo-api"/);
    },
  );

  it("answers CORS for the demo site's origin only, exposing WWW-Authenticate for claims challenges", async () => {
    const preflight = (origin: string) =>
      fetch(`${demo.ready.urls.api}/todos/export`, {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization',
        },
      });
    const allowed = await preflight(demo.ready.urls.web);
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get('access-control-allow-origin')).toBe(demo.ready.urls.web);
    const other = await preflight('https://evil.example');
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    const get = await fetch(`${demo.ready.urls.api}/todos`, {
      headers: { origin: demo.ready.urls.web, authorization: `Bearer ${alice}` },
    });
    expect(get.headers.get('access-control-expose-headers')).toBe('www-authenticate');
  });

  it("reads the user's profile from the directory API On-Behalf-Of the user", async () => {
    const answer = await callApi(demo, '/me/profile', alice);
    expect(answer.status).toBe(200);
    expect(answer.body?.profile).toMatchObject({
      userPrincipalName: 'alice@contoso.test',
      displayName: 'Alice Adams',
      id: decodeJwt(alice).oid,
    });
    const obo = await demo.waitForFlow((f) => f.flow === 'on_behalf_of' && f.outcome === 'ok');
    expect(obo.token?.claims).toMatchObject({
      oid: decodeJwt(alice).oid,
      tid: demo.ready.tenants.contoso.id,
      appid: demo.ready.apps.todoApi.appId,
      scp: expect.stringContaining('User.Read') as unknown,
    });
    // The downstream token is the directory API's, not the Todo API's, and only its claims were printed.
    expect(obo.token?.claims.aud).not.toBe(demo.ready.apps.todoApi.appId);
    expect(JSON.stringify(demo.flows)).not.toContain(alice);
  });

  it('refuses the sensitive export without authentication context c1: 401 insufficient_claims with a claims challenge', async () => {
    const answer = await callApi(demo, '/todos/export', alice, { method: 'POST' });
    expect(answer.status).toBe(401);
    expect(answer.body?.error).toBe('insufficient_claims');
    expect(answer.headers.get('www-authenticate')).toBe(
      `Bearer realm="todo-api", error="insufficient_claims", error_description="${String(answer.body?.error_description)}", claims="${CLAIMS_C1}"`,
    );
    await demo.waitForFlow((f) => f.flow === 'step_up' && f.outcome === 'refused');
  });

  it("prints Alice's authenticator, and the one-line command prints its current code", () => {
    expect(demo.ready.totp).toMatchObject({
      userPrincipalName: 'alice@contoso.test',
      codeCommand: 'node apps/demo/dist/totp-code.js',
    });
    expect(demo.ready.totp?.otpauthUri).toMatch(
      /^otpauth:\/\/totp\/Tessera:alice%40contoso\.test\?secret=[A-Z2-7]+/,
    );
    expect(totpCodeNow()).toMatch(/^\d{6}$/);
    const bobs = spawnSync(process.execPath, [TOTP_CODE, 'bob@contoso.test'], {
      env: { ...process.env, TESSERA_DATA_DIR: dataDir },
    });
    expect(bobs.status).toBe(1);
    expect(bobs.stderr.toString()).toBe('bob@contoso.test has no authenticator registered by the demo.\n');
  });

  it('Alice answers the claims challenge with her TOTP code: the new token carries acrs c1 and the export succeeds', async () => {
    const challenge = await callApi(demo, '/todos/export', alice, { method: 'POST' });
    const claims = /claims="([^"]+)"/.exec(challenge.headers.get('www-authenticate') ?? '')?.[1] ?? '';
    const stepped = await spaSignIn(demo, 'alice@contoso.test', {
      claims: Buffer.from(claims, 'base64').toString('utf8'),
      secondFactor: () => Promise.resolve(totpCodeNow()),
    });
    const token = decodeJwt(stepped.access_token);
    expect(token.acrs).toEqual(['c1']);
    expect(token.amr).toEqual(expect.arrayContaining(['mfa']));
    const exported = await callApi(demo, '/todos/export', stepped.access_token, { method: 'POST' });
    expect(exported.status).toBe(200);
    expect(exported.headers.get('content-disposition')).toBe('attachment; filename="todos.json"');
    await demo.waitForFlow((f) => f.flow === 'step_up' && f.outcome === 'ok');
  });

  /** A SignalR connection to the team hub over WebSockets, with `token`. */
  async function connect(token: string, origin?: string): Promise<HubConnection> {
    const connection = new HubConnectionBuilder()
      .withUrl(`${demo.ready.urls.api}/hubs/team`, {
        transport: HttpTransportType.WebSockets,
        accessTokenFactory: () => token,
        ...(origin === undefined ? {} : { headers: { origin } }),
      })
      .configureLogging(LogLevel.None)
      .build();
    await connection.start();
    hubs.push(connection);
    return connection;
  }

  it('lets Alice and Bob chat in real time in their tenant’s team, with presence and a moderator-only action', async () => {
    const aliceHub = await connect(alice);
    const presence = new Promise<unknown>((resolve) => {
      aliceHub.on('presence', (online: { name: string }[]) => {
        if (online.length === 2) resolve(online.map((u) => u.name));
      });
    });
    const bobHub = await connect(bob);
    expect(await presence).toEqual(['Alice Adams', 'Bob Baker']);
    const received = new Promise<{ text: string; userName: string }>((resolve) => {
      bobHub.on('message', resolve);
    });
    await aliceHub.invoke('send', 'Hello Bob');
    expect(await received).toMatchObject({ text: 'Hello Bob', userName: 'Alice Adams' });
    expect(await bobHub.invoke('history')).toEqual([expect.objectContaining({ text: 'Hello Bob' })]);
    await expect(bobHub.invoke('clearHistory')).rejects.toThrow(
      "Failed to invoke 'clearHistory' because user is unauthorized",
    );
    await expect(aliceHub.invoke('send', 'x'.repeat(501))).rejects.toThrow(
      'A message is 1 to 500 characters of text.',
    );
    await aliceHub.invoke('send', 'Kept across restarts');
    expect(await bobHub.invoke('history')).toHaveLength(2);
  });

  it('refuses hub connections from another origin and without the scope, with empty bodies', async () => {
    const negotiate = (token: string, origin?: string) =>
      fetch(`${demo.ready.urls.api}/hubs/team/negotiate?negotiateVersion=1`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, ...(origin === undefined ? {} : { origin }) },
      });
    const foreign = await negotiate(alice, 'https://evil.example');
    expect(foreign.status).toBe(403);
    expect(await foreign.text()).toBe('');
    const appOnly = await negotiate(daemonToken);
    expect(appOnly.status).toBe(403);
    const fine = await negotiate(alice, demo.ready.urls.web);
    expect(fine.status).toBe(200);
    const body = (await fine.json()) as { connectionId: string; connectionToken: string };
    expect(body.connectionToken).not.toBe(body.connectionId);
  });

  it('runs the report daemon with its certificate: a report in contoso; fabrikam refuses it (700016) until its admin consents', async () => {
    const run = (headers: Record<string, string>) =>
      fetch(`${demo.ready.urls.web}/demo/daemon/run`, { method: 'POST', headers, body: '{}' });
    expect((await run({ 'content-type': 'application/json' })).status).toBe(403);
    expect((await run({ 'content-type': 'text/plain', origin: demo.ready.urls.web })).status).toBe(403);
    const answer = await run({ 'content-type': 'application/json', origin: demo.ready.urls.web });
    expect(answer.status).toBe(200);
    expect(await answer.json()).toEqual({
      value: [
        {
          tenant: 'contoso.test',
          outcome: 'ok',
          report: { users: 1, open: 0, done: 1 },
          roles: ['Todos.Read.All'],
        },
        { tenant: 'fabrikam.test', outcome: 'refused', error: 'unauthorized_client', errorCode: 700016 },
      ],
    });
    const token = await demo.waitForFlow((f) => f.flow === 'client_credentials' && f.token !== undefined);
    expect(token.token?.claims).toMatchObject({ idtyp: 'app', azpacr: '2', roles: ['Todos.Read.All'] });
  });

  it(
    'keeps every todo, message and user across a restart, and seeds nothing twice',
    async () => {
      for (const hub of hubs.splice(0)) await hub.stop();
      const before = demo.ready;
      expect(await demo.stop()).toBe(0);
      demo = await startDemo(dataDir, ports);
      expect(demo.ready.created).toEqual([]);
      expect(demo.ready.updated).toEqual([]);
      expect(demo.ready.tenants).toEqual(before.tenants);
      expect(demo.ready.apps).toEqual(before.apps);
      expect(demo.ready.users).toEqual(before.users);
      // Tokens issued before the restart still validate: the signing keys are kept.
      expect((await callApi(demo, '/todos', alice)).body).toEqual({
        value: [expect.objectContaining({ title: 'Buy milk', done: true })],
      });
      const hub = await connect(bob);
      expect((await hub.invoke<{ text: string }[]>('history')).map((m) => m.text)).toEqual([
        'Hello Bob',
        'Kept across restarts',
      ]);
    },
    START_TIMEOUT_MS,
  );
});
