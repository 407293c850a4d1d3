import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  authorizationCodeFields,
  authorizeUrl,
  cliEnvironment,
  endpointUrl,
  postForm,
  postgresAvailable,
  runTesseraCli,
  seedClientCredentialsScenario,
  seedInteractiveScenario,
  signInThrough,
  startTestServer,
  TestBrowser,
  type ClientCredentialsScenario,
  type InteractiveScenario,
  type TestServer,
} from '@tessera/testkit';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AUDIT_ACTIVITIES,
  DIRECTORY_READS,
  DIRECTORY_SERVICE_NAMES,
} from '../src/directory/audit-activities.js';
import type { SignInRecord } from '../src/directory/audit-records.js';
import { SignInLog } from '../src/directory/audit-sign-ins.js';
import { Directory } from '../src/directory/directory.js';
import { WRITE_ROUTES, writeRoutesRegistered } from '../src/management/audit-logs.js';
import type { AuditLogRepository } from '../src/store/repositories/audit-logs.js';
import { callApi, expectGraphError, GRAPH, graphAppToken, type Answer } from './support/management-api.js';

// The directory audit log and the sign-in log on SQLite and PostgreSQL: a write through the management API, the
// CLI and the consent page each audited with its actor, target, result and correlation id; refused API writes
// audited as failures (once) with nothing written; password sign-ins and token requests in signIns with their
// AADSTS codes, recorded off the token endpoint's path; paging, $filter, permissions and tenant isolation.

const dialects = [
  { name: 'sqlite', database: 'sqlite' as const },
  ...((await postgresAvailable()) ? [{ name: 'postgres', database: 'postgres' as const }] : []),
];

interface GraphAudit {
  id: string;
  category: string;
  correlationId: string;
  result: string;
  resultReason: string;
  activityDisplayName: string;
  activityDateTime: string;
  loggedByService: string;
  operationType: string;
  initiatedBy: { user: Record<string, unknown> | null; app: Record<string, unknown> | null };
  targetResources: {
    id: string | null;
    displayName: string | null;
    type: string;
    userPrincipalName: string | null;
    modifiedProperties: { displayName: string; oldValue: string | null; newValue: string | null }[];
  }[];
}

interface GraphSignIn {
  id: string;
  createdDateTime: string;
  userId: string | null;
  userPrincipalName: string | null;
  userDisplayName: string | null;
  appId: string | null;
  appDisplayName: string | null;
  ipAddress: string | null;
  clientAppUsed: string;
  correlationId: string;
  isInteractive: boolean;
  resourceId: string | null;
  resourceDisplayName: string | null;
  status: { errorCode: number; failureReason: string | null; additionalDetails: null };
}

describe.each(dialects)('audit logs on $name', ({ database }) => {
  let server: TestServer;
  /** Tenant A: its daemon may write users and read audit logs. */
  let a: ClientCredentialsScenario;
  /** Tenant B: its daemon reads audit logs (of B only). */
  let b: ClientCredentialsScenario;
  /** Tenant N: its daemon holds no directory permission. */
  let n: ClientCredentialsScenario;
  /** Tenant I: users signing in through a web app; an auditor app reads its logs. */
  let i: InteractiveScenario;
  const tokens = new Map<string, string>();
  const token = (name: string) => tokens.get(name) ?? '';
  const call = (path: string, bearer: string | undefined, init: Parameters<typeof callApi>[3] = {}) =>
    callApi(server, path, bearer, init);

  /** The directory audits of the caller's tenant with a correlation id, through the API. */
  async function auditsOf(bearer: string, correlationId: string): Promise<GraphAudit[]> {
    const answer = await call(
      `/v1.0/auditLogs/directoryAudits?$filter=${encodeURIComponent(`correlationId eq '${correlationId}'`)}`,
      bearer,
    );
    expect(answer.status).toBe(200);
    return answer.body.value as GraphAudit[];
  }

  async function signInsOf(bearer: string, filter: string): Promise<GraphSignIn[]> {
    await server.directory.signIns.flush();
    const answer = await call(`/v1.0/auditLogs/signIns?$filter=${encodeURIComponent(filter)}`, bearer);
    expect(answer.status).toBe(200);
    return answer.body.value as GraphSignIn[];
  }

  beforeAll(async () => {
    server = await startTestServer({ database });
    a = await seedClientCredentialsScenario(server.directory);
    b = await seedClientCredentialsScenario(server.directory);
    n = await seedClientCredentialsScenario(server.directory);
    i = await seedInteractiveScenario(server.directory);
    for (const role of [
      'User.ReadWrite.All',
      'Application.ReadWrite.All',
      'DelegatedPermissionGrant.ReadWrite.All',
      'AuditLog.Read.All',
    ]) {
      await server.directory.grants.grantAppRole({
        tenant: a.tenantId,
        clientAppId: a.daemon.appId,
        resource: GRAPH,
        role,
      });
    }
    await server.directory.grants.grantAppRole({
      tenant: b.tenantId,
      clientAppId: b.daemon.appId,
      resource: GRAPH,
      role: 'AuditLog.Read.All',
    });
    const auditor = await server.directory.applications.create({
      tenant: i.tenantId,
      displayName: 'Auditor',
    });
    const secret = await server.directory.credentials.addPassword({ appId: auditor.application.appId });
    await server.directory.grants.grantAppRole({
      tenant: i.tenantId,
      clientAppId: auditor.application.appId,
      resource: GRAPH,
      role: 'AuditLog.Read.All',
    });
    await server.server.refresh();
    tokens.set('a', (await graphAppToken(server, a.tenantId, a.daemon)).token);
    tokens.set('b', (await graphAppToken(server, b.tenantId, b.daemon)).token);
    tokens.set('n', (await graphAppToken(server, n.tenantId, n.daemon)).token);
    tokens.set(
      'i',
      (
        await graphAppToken(server, i.tenantId, {
          appId: auditor.application.appId,
          secret: secret.secretText,
        })
      ).token,
    );
  });
  afterAll(() => server.close());

  describe('directory audits', () => {
    it('a write through the API is audited with the calling app, the target and the client-request-id', async () => {
      const correlationId = randomUUID();
      const upn = `audited-${randomUUID().slice(0, 8)}@${a.domain}`;
      const created = await call('/v1.0/users', token('a'), {
        method: 'POST',
        headers: { 'client-request-id': correlationId },
        body: {
          accountEnabled: true,
          displayName: 'Audited',
          mailNickname: 'audited',
          userPrincipalName: upn,
          passwordProfile: { password: 'Correct-Horse-9-secret' },
        },
      });
      expect(created.status).toBe(201);
      const audits = await auditsOf(token('a'), correlationId);
      expect(audits).toEqual([
        {
          id: expect.stringMatching(/^[0-9a-f-]{36}$/) as unknown,
          category: 'UserManagement',
          correlationId,
          result: 'success',
          resultReason: '',
          activityDisplayName: 'Add user',
          activityDateTime: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/) as unknown,
          loggedByService: 'Core Directory',
          operationType: 'Add',
          initiatedBy: {
            user: null,
            app: {
              appId: a.daemon.appId,
              displayName: 'Daemon',
              servicePrincipalId: a.daemon.servicePrincipalId,
              servicePrincipalName: null,
            },
          },
          targetResources: [
            {
              id: created.body.id,
              displayName: 'Audited',
              type: 'User',
              userPrincipalName: upn,
              modifiedProperties: [
                { displayName: 'displayName', oldValue: null, newValue: '"Audited"' },
                { displayName: 'accountEnabled', oldValue: null, newValue: 'true' },
              ],
            },
          ],
          additionalDetails: [],
        },
      ]);
      expect(JSON.stringify(audits)).not.toContain('Correct-Horse-9-secret');
      const one = await call(`/v1.0/auditLogs/directoryAudits/${audits[0]?.id ?? ''}`, token('a'));
      expect(one.status).toBe(200);
      expect(one.body).toEqual({
        '@odata.context': `${server.url}/v1.0/$metadata#auditLogs/directoryAudits/$entity`,
        ...audits[0],
      });
    });

    it.each([
      [
        'an unknown property',
        'POST',
        '/v1.0/users',
        { accountEnabled: true, displayName: 'X', mailNickname: 'x', userPrincipalName: 'x@x', bogus: 1 },
        400,
        'Request_BadRequest',
        'Add user',
        'invalid',
      ],
      [
        'a body that is not JSON',
        'POST',
        '/v1.0/users',
        '{"displayName":',
        400,
        'Request_BadRequest',
        'Add user',
        'invalid',
      ],
      [
        'an unknown user id',
        'PATCH',
        `/v1.0/users/${randomUUID()}`,
        { displayName: 'Renamed' },
        404,
        'Request_ResourceNotFound',
        'Update user',
        'not_found',
      ],
      [
        'an unknown user to delete',
        'DELETE',
        `/v1.0/users/${randomUUID()}`,
        undefined,
        404,
        'Request_ResourceNotFound',
        'Delete user',
        'not_found',
      ],
      [
        'an unknown application (addPassword)',
        'POST',
        `/v1.0/applications/${randomUUID()}/addPassword`,
        { passwordCredential: { displayName: 'x' } },
        404,
        'Request_ResourceNotFound',
        'Update application – Certificates and secrets management',
        'not_found',
      ],
      [
        "an unknown applications(appId='…')",
        'PATCH',
        `/v1.0/applications(appId='${randomUUID()}')`,
        { displayName: 'Renamed' },
        404,
        'Request_ResourceNotFound',
        'Update application',
        'not_found',
      ],
      [
        'an unknown service principal',
        'DELETE',
        `/v1.0/servicePrincipals/${randomUUID()}`,
        undefined,
        404,
        'Request_ResourceNotFound',
        'Remove service principal',
        'not_found',
      ],
      [
        'an unknown delegated permission grant',
        'DELETE',
        `/v1.0/oauth2PermissionGrants/${randomUUID()}`,
        undefined,
        404,
        'Request_ResourceNotFound',
        'Remove delegated permission grant',
        'not_found',
      ],
    ] as const)(
      'a write refused for %s is audited once as a failure and writes nothing',
      async (_label, method, path, body, status, code, activity, reason) => {
        const correlationId = randomUUID();
        const before = await server.directory.users.list({ tenant: a.tenantId, top: 999 });
        const answer = await call(path, token('a'), {
          method,
          headers: { 'client-request-id': correlationId },
          ...(body === undefined ? {} : { body }),
        });
        expectGraphError(answer, status, code);
        const audits = await auditsOf(token('a'), correlationId);
        expect(audits.map((x) => [x.activityDisplayName, x.result, x.resultReason])).toEqual([
          [activity, 'failure', reason],
        ]);
        expect(audits[0]?.initiatedBy.app?.appId).toBe(a.daemon.appId);
        const [, collection = '', id] =
          /^\/v1\.0\/(\w+)(?:(?:\/|\(appId=')([0-9a-f-]{36}))?/.exec(path) ?? [];
        const type = {
          users: 'User',
          applications: 'Application',
          servicePrincipals: 'ServicePrincipal',
          oauth2PermissionGrants: 'OAuth2PermissionGrant',
        }[collection];
        expect(audits[0]?.targetResources[0]).toMatchObject(id === undefined ? { type } : { id, type });
        const after = await server.directory.users.list({ tenant: a.tenantId, top: 999 });
        expect(after.items).toEqual(before.items);
      },
    );

    it('a write the directory refuses (a taken UPN) is audited once, by the service, with its code', async () => {
      const upn = `taken-${randomUUID().slice(0, 8)}@${a.domain}`;
      await server.directory.users.create({
        tenant: a.tenantId,
        userPrincipalName: upn,
        password: 'Correct-Horse-9',
      });
      const correlationId = randomUUID();
      const answer = await call('/v1.0/users', token('a'), {
        method: 'POST',
        headers: { 'client-request-id': correlationId },
        body: {
          accountEnabled: true,
          displayName: 'Again',
          mailNickname: 'again',
          userPrincipalName: upn,
          passwordProfile: { password: 'Correct-Horse-9' },
        },
      });
      expect(answer.status).toBe(400);
      const audits = await auditsOf(token('a'), correlationId);
      expect(audits.map((x) => [x.activityDisplayName, x.result, x.resultReason])).toEqual([
        ['Add user', 'failure', 'conflict'],
      ]);
      expect(audits[0]?.targetResources[0]).toMatchObject({ id: null, type: 'User', userPrincipalName: upn });
    });

    it('a 403 is audited as a failure in the caller tenant; a 401 is not audited', async () => {
      const correlationId = randomUUID();
      const body = {
        accountEnabled: true,
        displayName: 'Nope',
        mailNickname: 'nope',
        userPrincipalName: `nope@${n.domain}`,
        passwordProfile: { password: 'Correct-Horse-9' },
      };
      const denied = await call('/v1.0/users', token('n'), {
        method: 'POST',
        headers: { 'client-request-id': correlationId },
        body,
      });
      expectGraphError(denied, 403, 'Authorization_RequestDenied');
      const page = await server.directory.audits.repository.listAudits({
        tenantId: n.tenantId,
        top: 10,
        filter: { correlationId },
      });
      expect(
        page.items.map((x) => [x.activityDisplayName, x.result, x.resultReason, x.initiatedBy.app?.appId]),
      ).toEqual([['Add user', 'failure', 'denied', n.daemon.appId]]);
      const anonymous = randomUUID();
      const unauthenticated = await call('/v1.0/users', undefined, {
        method: 'POST',
        headers: { 'client-request-id': anonymous },
        body,
      });
      expect(unauthenticated.status).toBe(401);
      for (const tenantId of [a.tenantId, n.tenantId]) {
        const none = await server.directory.audits.repository.listAudits({
          tenantId,
          top: 10,
          filter: { correlationId: anonymous },
        });
        expect(none.items).toEqual([]);
      }
    });

    it('a write through the CLI is audited as the CLI, with a correlation id of its own', async () => {
      const upn = `cli-${randomUUID().slice(0, 8)}@${a.domain}`;
      const env =
        server.databaseUrl === undefined
          ? cliEnvironment()
          : cliEnvironment({ DATABASE_URL: server.databaseUrl });
      const result = await runTesseraCli(
        [
          'user',
          'create',
          '--tenant',
          a.tenantId,
          '--upn',
          upn,
          '--password',
          'Correct-Horse-9',
          '--data',
          server.dataDir,
          '--json',
        ],
        { env },
      );
      expect(result.code, `${result.stdout}${result.stderr}`).toBe(0);
      const created = JSON.parse(result.stdout) as { id: string };
      const answer = await call('/v1.0/auditLogs/directoryAudits?$top=20', token('a'));
      const audit = (answer.body.value as GraphAudit[]).find((x) => x.targetResources[0]?.id === created.id);
      expect(audit).toMatchObject({
        activityDisplayName: 'Add user',
        result: 'success',
        initiatedBy: { user: null, app: { appId: null, servicePrincipalId: null } },
        targetResources: [{ id: created.id, type: 'User', userPrincipalName: upn }],
      });
      expect(audit?.initiatedBy.app?.displayName).toMatch(/^Tessera CLI/);
      expect(audit?.correlationId).toMatch(/^[0-9a-f-]{36}$/);
    });

    it('consent on the consent page is audited as the signed-in user', async () => {
      const browser = new TestBrowser();
      const redirect = await signInThrough(
        browser,
        authorizeUrl(server.url, i.tenantId, i.web, { scope: `openid ${i.api.identifierUri}/Files.Read` }),
        { userName: i.user.userPrincipalName, password: i.password },
      );
      expect(redirect.location).toContain('code=');
      const answer = await call(
        `/v1.0/auditLogs/directoryAudits?$filter=${encodeURIComponent(`initiatedBy/user/id eq '${i.user.id}'`)}`,
        token('i'),
      );
      expect(answer.status).toBe(200);
      const audits = answer.body.value as GraphAudit[];
      expect(audits.map((x) => x.activityDisplayName)).toEqual(['Consent to application']);
      const webSp = await server.directory.servicePrincipals.get(i.tenantId, { appId: i.web.appId });
      expect(audits[0]).toMatchObject({
        category: 'ApplicationManagement',
        operationType: 'Assign',
        result: 'success',
        initiatedBy: {
          app: null,
          user: {
            id: i.user.id,
            displayName: i.user.displayName,
            userPrincipalName: i.user.userPrincipalName,
            ipAddress: expect.stringMatching(/127\.0\.0\.1|::1/) as unknown,
          },
        },
        targetResources: [{ id: webSp.id, type: 'ServicePrincipal' }],
      });
      const permissions = audits[0]?.targetResources[0]?.modifiedProperties.find(
        (property) => property.displayName === 'ConsentAction.Permissions',
      );
      expect(JSON.parse(permissions?.newValue ?? '[]')).toContainEqual({
        ResourceAppId: i.api.appId,
        Scope: 'Files.Read',
      });
      expect(audits[0]?.correlationId).not.toBe('');
    });

    it('a write through the API with a delegated token is audited as the signed-in user', async () => {
      const browser = new TestBrowser();
      const redirect = await signInThrough(
        browser,
        authorizeUrl(server.url, i.tenantId, i.web, { scope: `openid ${GRAPH}/User.ReadWrite.All` }),
        { userName: i.admin.userPrincipalName, password: i.password, consentForOrganization: true },
      );
      const code = new URL(redirect.location ?? 'https://none.example/').searchParams.get('code') ?? '';
      const redeemed = await postForm(
        endpointUrl(server.url, i.tenantId, 'token'),
        authorizationCodeFields({ ...i.web }, code),
      );
      expect(redeemed.status).toBe(200);
      const { access_token: adminToken } = (await redeemed.json()) as { access_token: string };
      const correlationId = randomUUID();
      const changed = await call(`/v1.0/users/${i.user.id}`, adminToken, {
        method: 'PATCH',
        headers: { 'client-request-id': correlationId },
        body: { jobTitle: 'Auditor' },
      });
      expect(changed.status).toBe(204);
      const [audit] = await auditsOf(token('i'), correlationId);
      expect(audit).toMatchObject({
        activityDisplayName: 'Update user',
        result: 'success',
        initiatedBy: {
          app: null,
          user: {
            id: i.admin.id,
            userPrincipalName: i.admin.userPrincipalName,
            ipAddress: expect.stringMatching(/127\.0\.0\.1|::1/) as unknown,
          },
        },
        targetResources: [
          {
            id: i.user.id,
            type: 'User',
            userPrincipalName: i.user.userPrincipalName,
            modifiedProperties: [{ displayName: 'jobTitle', oldValue: null, newValue: '"Auditor"' }],
          },
        ],
      });
    });

    it('a client secret added is audited by key id and name only, never the secret', async () => {
      const added = await server.directory.credentials.addPassword({
        appId: a.daemon.appId,
        displayName: 'ci',
      });
      const page = await server.directory.audits.repository.listAudits({
        tenantId: a.tenantId,
        top: 1,
        filter: {},
      });
      const [audit] = page.items;
      expect(audit?.activityDisplayName).toBe('Update application – Certificates and secrets management');
      expect(audit?.initiatedBy.app?.displayName).toBe('Tessera');
      expect(audit?.targetResources[0]?.modifiedProperties).toEqual([
        {
          displayName: 'KeyDescription',
          oldValue: null,
          newValue: JSON.stringify([
            {
              KeyIdentifier: added.credential.keyId,
              KeyType: 'Password',
              KeyUsage: 'Verify',
              DisplayName: 'ci',
            },
          ]),
        },
      ]);
      expect(JSON.stringify(page)).not.toContain(added.secretText);
    });
  });

  describe('sign-ins', () => {
    it('a successful and a failed password sign-in appear as interactive sign-ins with the AADSTS code', async () => {
      const since = new Date().toISOString();
      const refused = new TestBrowser();
      const page = await signInThrough(
        refused,
        authorizeUrl(server.url, i.tenantId, i.web, { scope: 'openid' }),
        { userName: i.admin.userPrincipalName, password: 'Wrong-Horse-0' },
      );
      expect(page.status).toBe(400);
      const failed = await signInsOf(token('i'), 'status/errorCode eq 50126');
      expect(failed[0]).toMatchObject({
        userId: i.admin.id,
        userPrincipalName: i.admin.userPrincipalName,
        appId: i.web.appId,
        clientAppUsed: 'Browser',
        isInteractive: true,
        status: { errorCode: 50126, failureReason: expect.any(String) as unknown },
      });
      expect(JSON.stringify(failed)).not.toContain('Wrong-Horse-0');

      const browser = new TestBrowser();
      const redirect = await signInThrough(
        browser,
        authorizeUrl(server.url, i.tenantId, i.web, { scope: 'openid' }),
        { userName: i.admin.userPrincipalName, password: i.password },
      );
      const code = new URL(redirect.location ?? 'https://none.example/').searchParams.get('code') ?? '';
      const correlationId = randomUUID();
      const redeemed = await postForm(
        `${endpointUrl(server.url, i.tenantId, 'token')}?client-request-id=${correlationId}`,
        authorizationCodeFields({ ...i.web }, code),
      );
      expect(redeemed.status).toBe(200);
      const ofAdmin = await signInsOf(
        token('i'),
        `userId eq '${i.admin.id}' and status/errorCode eq 0 and createdDateTime ge ${since}`,
      );
      expect(ofAdmin.map((x) => [x.isInteractive, x.clientAppUsed])).toEqual([
        [false, 'Mobile Apps and Desktop clients'],
        [true, 'Browser'],
      ]);
      expect(ofAdmin[0]).toMatchObject({
        correlationId,
        appId: i.web.appId,
        userPrincipalName: i.admin.userPrincipalName,
        status: { errorCode: 0, failureReason: null },
      });
    });

    it('a client credentials request, granted or refused, appears as a non-interactive sign-in', async () => {
      const correlationId = randomUUID();
      const refused = await postForm(
        `${endpointUrl(server.url, a.tenantId, 'token')}?client-request-id=${correlationId}`,
        {
          grant_type: 'client_credentials',
          client_id: a.daemon.appId,
          client_secret: 'not-the-secret',
          scope: `${a.api.identifierUri}/.default`,
        },
      );
      expect(refused.status).toBe(401);
      const code = ((await refused.json()) as { error_codes: number[] }).error_codes[0];
      const granted = randomUUID();
      const ok = await postForm(
        `${endpointUrl(server.url, a.tenantId, 'token')}?client-request-id=${granted}`,
        {
          grant_type: 'client_credentials',
          client_id: a.daemon.appId,
          client_secret: a.daemon.secret,
          scope: `${a.api.identifierUri}/.default`,
        },
      );
      expect(ok.status).toBe(200);
      const [failure] = await signInsOf(token('a'), `correlationId eq '${correlationId}'`);
      expect(failure).toMatchObject({
        appId: a.daemon.appId,
        appDisplayName: 'Daemon',
        userId: null,
        isInteractive: false,
        status: { errorCode: code, failureReason: expect.any(String) as unknown },
      });
      const [success] = await signInsOf(token('a'), `correlationId eq '${granted}'`);
      expect(success).toMatchObject({
        appId: a.daemon.appId,
        resourceId: a.api.appId,
        resourceDisplayName: 'API',
        isInteractive: false,
        status: { errorCode: 0 },
      });
    });

    it('the token endpoint answers while the sign-in log cannot write; the sign-in is written by a later flush', async () => {
      const repository = server.directory.audits.repository;
      const insert = repository.insertSignIns.bind(repository);
      let release: () => void = () => undefined;
      const blocked = new Promise<void>((resolve) => (release = resolve));
      repository.insertSignIns = async (records) => {
        await blocked;
        return insert(records);
      };
      try {
        const correlationId = randomUUID();
        const ok = await postForm(
          `${endpointUrl(server.url, a.tenantId, 'token')}?client-request-id=${correlationId}`,
          {
            grant_type: 'client_credentials',
            client_id: a.daemon.appId,
            client_secret: a.daemon.secret,
            scope: `${a.api.identifierUri}/.default`,
          },
        );
        expect(ok.status).toBe(200);
        const flushed = server.directory.signIns.flush();
        const pending = await repository.listSignIns({
          tenantId: a.tenantId,
          top: 5,
          filter: { correlationId },
        });
        expect(pending.items).toEqual([]);
        release();
        await flushed;
        const written = await repository.listSignIns({
          tenantId: a.tenantId,
          top: 5,
          filter: { correlationId },
        });
        expect(written.items.map((x) => x.correlationId)).toEqual([correlationId]);
      } finally {
        release();
        repository.insertSignIns = insert;
      }
    });
  });

  describe('reading the logs', () => {
    it('pages newest first with $top and @odata.nextLink', async () => {
      const first = await call('/v1.0/auditLogs/directoryAudits?$top=2', token('a'));
      expect(first.status).toBe(200);
      const firstItems = first.body.value as GraphAudit[];
      expect(firstItems).toHaveLength(2);
      const next = first.body['@odata.nextLink'] as string;
      expect(next).toMatch(/^https:\/\/.+\/v1\.0\/auditLogs\/directoryAudits\?%24top=2&%24skiptoken=/);
      const second = await call(next.slice(server.url.length), token('a'));
      const secondItems = second.body.value as GraphAudit[];
      const times = [...firstItems, ...secondItems].map((x) => x.activityDateTime);
      expect([...times].sort().reverse()).toEqual(times);
      expect(secondItems.map((x) => x.id)).not.toContain(firstItems[0]?.id);
    });

    it('filters by time, result, activity and category', async () => {
      const future = await call(
        `/v1.0/auditLogs/directoryAudits?$filter=${encodeURIComponent('activityDateTime ge 2999-01-01T00:00:00Z')}`,
        token('a'),
      );
      expect(future.body.value).toEqual([]);
      const past = await call(
        `/v1.0/auditLogs/signIns?$filter=${encodeURIComponent('createdDateTime le 2000-01-01T00:00:00Z')}`,
        token('a'),
      );
      expect(past.body.value).toEqual([]);
      const all = await call(
        `/v1.0/auditLogs/directoryAudits?$filter=${encodeURIComponent("activityDateTime ge 2000-01-01T00:00:00Z and result eq 'failure'")}`,
        token('a'),
      );
      const results = (all.body.value as GraphAudit[]).map((x) => x.result);
      expect(results.length).toBeGreaterThan(0);
      expect(new Set(results)).toEqual(new Set(['failure']));
      const named = await call(
        `/v1.0/auditLogs/directoryAudits?$filter=${encodeURIComponent("activityDisplayName eq 'Add user' and category eq 'UserManagement'")}`,
        token('a'),
      );
      const names = (named.body.value as GraphAudit[]).map((x) => x.activityDisplayName);
      expect(names.length).toBeGreaterThan(1);
      expect(new Set(names)).toEqual(new Set(['Add user']));
      const credentials = await call(
        `/v1.0/auditLogs/directoryAudits?$filter=${encodeURIComponent("activityDisplayName eq 'Update application – Certificates and secrets management' and result eq 'success'")}`,
        token('a'),
      );
      expect(credentials.status).toBe(200);
      expect((credentials.body.value as GraphAudit[]).map((x) => x.activityDisplayName)).toContain(
        'Update application – Certificates and secrets management',
      );
    });

    it.each([
      ["$filter=displayName eq 'x'", 400, 'Request_UnsupportedQuery'],
      ["$filter=result eq 'x' or result eq 'y'", 400, 'Request_UnsupportedQuery'],
      ['$filter=activityDateTime ge yesterday', 400, 'Request_BadRequest'],
      ["$filter=result ne 'success'", 400, 'Request_UnsupportedQuery'],
      ['$top=0', 400, 'Request_BadRequest'],
      ['$skiptoken=bm9wZQ', 400, 'Request_BadRequest'],
      ['$select=id', 400, 'Request_UnsupportedQuery'],
    ])('%s: %i %s', async (query, status, code) => {
      const answer = await call(
        `/v1.0/auditLogs/directoryAudits?${query.replaceAll(' ', '%20')}`,
        token('a'),
      );
      expectGraphError(answer, status, code);
    });

    it('needs AuditLog.Read.All: 403 without it, 401 without a token', async () => {
      for (const path of ['/v1.0/auditLogs/directoryAudits', '/v1.0/auditLogs/signIns']) {
        expectGraphError(await call(path, token('n')), 403, 'Authorization_RequestDenied');
        expectGraphError(await call(path, undefined), 401, 'InvalidAuthenticationToken');
      }
    });

    it("a tenant's logs are its own: another tenant's token sees none of them", async () => {
      await server.directory.signIns.flush();
      const ofA = await call('/v1.0/auditLogs/directoryAudits?$top=999', token('a'));
      const signInsOfA = await call('/v1.0/auditLogs/signIns?$top=999', token('a'));
      const idsOfA = new Set(
        [...(ofA.body.value as GraphAudit[]), ...(signInsOfA.body.value as GraphSignIn[])].map((x) => x.id),
      );
      expect(idsOfA.size).toBeGreaterThan(1);
      for (const path of ['directoryAudits', 'signIns']) {
        const ofB = await call(`/v1.0/auditLogs/${path}?$top=999`, token('b'));
        expect(ofB.status).toBe(200);
        for (const item of ofB.body.value as { id: string }[]) expect(idsOfA.has(item.id)).toBe(false);
      }
      const auditOfA = (ofA.body.value as GraphAudit[])[0]?.id ?? '';
      const signInOfA = (signInsOfA.body.value as GraphSignIn[])[0]?.id ?? '';
      expectGraphError(
        await call(`/v1.0/auditLogs/directoryAudits/${auditOfA}`, token('b')),
        404,
        'Request_ResourceNotFound',
      );
      expectGraphError(
        await call(`/v1.0/auditLogs/signIns/${signInOfA}`, token('b')),
        404,
        'Request_ResourceNotFound',
      );
      const own: Answer = await call(`/v1.0/auditLogs/signIns/${signInOfA}`, token('a'));
      expect(own.status).toBe(200);
    });
  });

  describe('write routes', () => {
    it('every write route of the management API names the activity a refusal of it is audited as', () => {
      const routes = writeRoutesRegistered();
      expect(routes.length).toBeGreaterThan(10);
      const guid = '00000000-0000-4000-8000-000000000001';
      const unnamed = routes.filter((route) => {
        const [method = '', pattern = ''] = route.split(' ');
        // A sample path of the pattern: each parameter a GUID, `(appId=` keys quoted and closed as Graph sends them.
        const path = pattern
          .replace(/\(\*$/, `(appId='${guid}')`)
          .replace(/\(appId=:\w+/, `(appId='${guid}')`)
          .replaceAll(/:\w+/g, guid);
        return !WRITE_ROUTES.some((write) => write.method === method && write.path.test(path));
      });
      expect(unnamed).toEqual([]);
    });
  });

  describe('retention', () => {
    it('rows older than auditRetentionDays are purged when a later write is audited', async () => {
      const dayMs = 24 * 3600 * 1000;
      const later = Date.now() + 3 * dayMs;
      const directory = new Directory(server.directory.store, undefined, {
        auditRetentionDays: 2,
        nowMs: () => later,
      });
      const before = await server.directory.audits.repository.listAudits({
        tenantId: a.tenantId,
        top: 5,
        filter: {},
      });
      expect(before.items.length).toBeGreaterThan(0);
      await directory.users.create({
        tenant: a.tenantId,
        userPrincipalName: `late-${randomUUID().slice(0, 8)}@${a.domain}`,
        password: 'Correct-Horse-9',
      });
      const after = await directory.audits.repository.listAudits({
        tenantId: a.tenantId,
        top: 999,
        filter: {},
      });
      expect(after.items.map((x) => [x.activityDisplayName, x.activityMs])).toEqual([['Add user', later]]);
      const signIns = await directory.audits.repository.listSignIns({
        tenantId: a.tenantId,
        top: 5,
        filter: {},
      });
      expect(signIns.items).toEqual([]);
    });

    it('a flush of sign-ins purges old rows too (a node that only signs users in)', async () => {
      const muchLater = Date.now() + 9 * 24 * 3600 * 1000;
      const directory = new Directory(server.directory.store, undefined, {
        auditRetentionDays: 2,
        nowMs: () => muchLater,
      });
      directory.signIns.record({
        tenantId: a.tenantId,
        userId: null,
        userPrincipalName: null,
        userDisplayName: null,
        appId: null,
        appDisplayName: null,
        ipAddress: null,
        clientAppUsed: 'Browser',
        correlationId: randomUUID(),
        isInteractive: true,
        resourceId: null,
        resourceDisplayName: null,
        errorCode: 0,
        failureReason: null,
      });
      await directory.signIns.close();
      const audits = await directory.audits.repository.listAudits({
        tenantId: a.tenantId,
        top: 5,
        filter: {},
      });
      expect(audits.items).toEqual([]);
      const signIns = await directory.audits.repository.listSignIns({
        tenantId: a.tenantId,
        top: 5,
        filter: {},
      });
      expect(signIns.items.map((x) => x.createdMs)).toEqual([muchLater]);
    });
  });
});

describe('the sign-in log buffer', () => {
  function fakeRepository(): { repository: AuditLogRepository; written: SignInRecord[][] } {
    const written: SignInRecord[][] = [];
    const repository = {
      insertSignIns: (records: readonly SignInRecord[]) => {
        written.push([...records]);
        return Promise.resolve();
      },
    } as unknown as AuditLogRepository;
    return { repository, written };
  }
  const record = {
    tenantId: randomUUID(),
    userId: null,
    userPrincipalName: null,
    userDisplayName: null,
    appId: null,
    appDisplayName: null,
    ipAddress: null,
    clientAppUsed: 'Browser',
    correlationId: 'c',
    isInteractive: true,
    resourceId: null,
    resourceDisplayName: null,
    errorCode: 0,
    failureReason: null,
  };

  it('writes in batches of batchSize and holds the rest until a flush', async () => {
    const { repository, written } = fakeRepository();
    const log = new SignInLog(
      repository,
      () => 1000,
      () => undefined,
      { batchSize: 3, flushIntervalMs: 3_600_000 },
    );
    for (let at = 0; at < 3; at++) log.record(record);
    await log.flush();
    expect(written.map((batch) => batch.length)).toEqual([3]);
    log.record(record);
    await Promise.resolve();
    expect(written.map((batch) => batch.length)).toEqual([3]);
    await log.close();
    expect(written.map((batch) => batch.length)).toEqual([3, 1]);
  });

  it('over maxBuffered drops and counts, and reports the first drop once', async () => {
    const { repository, written } = fakeRepository();
    const reports: string[] = [];
    const log = new SignInLog(
      repository,
      () => 1000,
      (_error, what) => reports.push(what),
      {
        batchSize: 100,
        flushIntervalMs: 3_600_000,
        maxBuffered: 2,
      },
    );
    for (let at = 0; at < 5; at++) log.record(record);
    expect(log.dropped).toBe(3);
    expect(reports).toEqual(['dropped']);
    await log.close();
    expect(written.map((batch) => batch.length)).toEqual([2]);
  });
});

describe('audit coverage', () => {
  /** The public methods of each directory service class, read from its source. */
  function publicMethods(): Map<string, string[]> {
    const dir = join(import.meta.dirname, '../src/directory/services');
    const byClass = new Map<string, string[]>();
    for (const file of readdirSync(dir).filter((name) => name.endsWith('.ts'))) {
      const source = ts.createSourceFile(file, readFileSync(join(dir, file), 'utf8'), ts.ScriptTarget.Latest);
      for (const statement of source.statements) {
        if (!ts.isClassDeclaration(statement) || statement.name === undefined) continue;
        const names = statement.members
          .filter((member): member is ts.MethodDeclaration => ts.isMethodDeclaration(member))
          .filter(
            (member) =>
              !(
                ts.getCombinedModifierFlags(member) &
                (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)
              ),
          )
          .map((member) => member.name.getText(source));
        byClass.set(statement.name.text, names);
      }
    }
    return byClass;
  }

  const classes = {
    tenants: 'TenantService',
    applications: 'ApplicationService',
    credentials: 'CredentialService',
    users: 'UserService',
    servicePrincipals: 'ServicePrincipalService',
    grants: 'GrantService',
    conditionalAccessPolicies: 'ConditionalAccessPolicyService',
  } as const;

  it.each(DIRECTORY_SERVICE_NAMES)(
    'every public method of %s is an audited write or a listed read',
    (name) => {
      const methods = publicMethods().get(classes[name]);
      expect(methods?.length).toBeGreaterThan(0);
      const listed = new Set<string>([...Object.keys(AUDIT_ACTIVITIES[name]), ...DIRECTORY_READS[name]]);
      expect((methods ?? []).filter((method) => !listed.has(method))).toEqual([]);
      const writes = Object.keys(AUDIT_ACTIVITIES[name]);
      expect(
        writes.filter((method) => (DIRECTORY_READS[name] as readonly string[]).includes(method)),
      ).toEqual([]);
    },
  );

  it('every directory service of Directory is covered', () => {
    expect([...DIRECTORY_SERVICE_NAMES].sort()).toEqual(Object.keys(classes).sort());
    expect(publicMethods().size).toBe(Object.keys(classes).length);
  });
});
