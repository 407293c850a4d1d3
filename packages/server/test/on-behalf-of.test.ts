import {
  authorizeUrl,
  postgresAvailable,
  seedInteractiveScenario,
  signClientAssertion,
  signInThrough,
  TestBrowser,
  startInteractiveServer,
  startTestServer,
  type InteractiveScenario,
  type TestServer,
} from '@tessera/testkit';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  oboFields,
  postToken,
  seedOnBehalfOf,
  spaAccessToken,
  type OnBehalfOfScenario,
  startOnBehalfOfServer,
  withClockAhead,
} from './support/on-behalf-of.js';
import { statementCounts } from './support/statement-counts.js';

// The On-Behalf-Of grant over HTTP: the SPA signs Alice in for the middle tier, the middle tier trades her token
// for one to a downstream API.

let server: TestServer;
let s: InteractiveScenario;
let obo: OnBehalfOfScenario;
/** Alice's token for the middle tier (`aud` = mid). */
let assertion: string;

const filesRead = () => `${s.api.identifierUri}/Files.Read`;

beforeAll(async () => {
  ({ server, scenario: s } = await startInteractiveServer());
  obo = await seedOnBehalfOf(server, s);
  assertion = await spaAccessToken(server, s, `${obo.mid.identifierUri}/access_as_user`);
});
afterAll(() => server.close());

describe('On-Behalf-Of: discovery', () => {
  it('grant_types_supported lists the jwt-bearer grant', async () => {
    const response = await fetch(`${server.url}/${s.tenantId}/v2.0/.well-known/openid-configuration`);
    const metadata = (await response.json()) as { grant_types_supported: string[] };
    expect(metadata.grant_types_supported).toContain('urn:ietf:params:oauth:grant-type:jwt-bearer');
  });
});

describe('On-Behalf-Of: issuing', () => {
  it("the seed's request (secret) gets the seed's response shape, for the user, with the consented scope", async () => {
    const { status, body } = await postToken(server, s.tenantId, oboFields(obo.mid, assertion, filesRead()));
    expect(status).toBe(200);
    expect(Object.keys(body).sort()).toEqual([
      'access_token',
      'expires_in',
      'ext_expires_in',
      'scope',
      'token_type',
    ]);
    expect(body).toMatchObject({
      token_type: 'Bearer',
      scope: filesRead(),
      expires_in: server.server.config.accessTokenLifetimeSeconds,
    });
    const claims = decodeJwt(String(body.access_token));
    expect(claims).toMatchObject({
      aud: s.api.appId,
      azp: obo.mid.appId,
      azpacr: '1',
      idtyp: 'user',
      oid: s.user.id,
      tid: s.tenantId,
      name: s.user.displayName,
      preferred_username: s.user.userPrincipalName,
      amr: ['pwd'],
      scp: 'Files.Read',
      ver: '2.0',
    });
    expect(claims.upn).toBeUndefined();
  });

  it('`/.default` stands for the statically consented scopes', async () => {
    const { status, body } = await postToken(
      server,
      s.tenantId,
      oboFields(obo.mid, assertion, `${s.api.identifierUri}/.default`),
    );
    expect(status).toBe(200);
    expect(decodeJwt(String(body.access_token)).scp).toBe('Files.Read');
    expect(body.scope).toBe(filesRead());
  });

  it('offline_access adds a refresh token of the middle tier, which it redeems with its secret', async () => {
    const { status, body } = await postToken(
      server,
      s.tenantId,
      oboFields(obo.mid, assertion, `${filesRead()} offline_access`),
    );
    expect(status).toBe(200);
    expect(body.refresh_token).toEqual(expect.any(String));
    expect(body.scope).toBe(filesRead());
    const refreshed = await postToken(server, s.tenantId, {
      grant_type: 'refresh_token',
      client_id: obo.mid.appId,
      client_secret: obo.mid.secret,
      refresh_token: String(body.refresh_token),
    });
    expect(refreshed.status).toBe(200);
    expect(decodeJwt(String(refreshed.body.access_token))).toMatchObject({
      oid: s.user.id,
      azp: obo.mid.appId,
      scp: 'Files.Read',
    });
    // Bound to the middle tier: the SPA cannot redeem it.
    const stolen = await postToken(server, s.tenantId, {
      grant_type: 'refresh_token',
      client_id: s.spa.appId,
      refresh_token: String(refreshed.body.refresh_token),
    });
    expect(stolen.status).toBe(400);
    expect(stolen.body.error_codes).toEqual([70000]);
  });

  it('a v1 downstream API consented for everyone (AllPrincipals) gets upn / unique_name and its App ID URI', async () => {
    const d = server.directory;
    const legacyUri = `api://${s.domain}/legacy`;
    const legacy = await d.applications.create({
      tenant: s.tenantId,
      displayName: 'Legacy API',
      identifierUris: [legacyUri],
      scopes: ['Legacy.Read'],
    });
    await d.grants.createPermissionGrant({
      tenant: s.tenantId,
      clientId: obo.mid.servicePrincipalId,
      resourceId: legacy.servicePrincipal.id,
      consentType: 'AllPrincipals',
      scope: 'Legacy.Read',
    });
    const { status, body } = await postToken(
      server,
      s.tenantId,
      oboFields(obo.mid, assertion, `${legacyUri}/Legacy.Read`),
    );
    expect(status).toBe(200);
    expect(body.scope).toBe(`${legacyUri}/Legacy.Read`);
    const claims = decodeJwt(String(body.access_token));
    expect(claims).toMatchObject({
      aud: legacyUri,
      appid: obo.mid.appId,
      appidacr: '1',
      oid: s.user.id,
      upn: s.user.userPrincipalName,
      unique_name: s.user.userPrincipalName,
      scp: 'Legacy.Read',
      ver: '1.0',
    });
    expect(claims.preferred_username).toBeUndefined();
  });

  it('a downstream API pre-authorizing the middle tier needs no grant; a chain A → B → C keeps the user', async () => {
    const d = server.directory;
    const cUri = `api://${s.domain}/c`;
    const c = await d.applications.create({
      tenant: s.tenantId,
      displayName: 'API C',
      identifierUris: [cUri],
      scopes: ['C.Read'],
      requestedAccessTokenVersion: 2,
    });
    const bUri = `api://${s.domain}/b`;
    const b = await d.applications.create({
      tenant: s.tenantId,
      displayName: 'API B',
      identifierUris: [bUri],
      scopes: ['B.Call'],
      requestedAccessTokenVersion: 2,
      preAuthorizedApplications: [{ appId: obo.mid.appId, scopes: ['B.Call'] }],
    });
    await d.applications.update(c.application.appId, (current) => ({
      api: {
        ...current.api,
        preAuthorizedApplications: [
          {
            appId: b.application.appId,
            delegatedPermissionIds: current.api.oauth2PermissionScopes.map((scope) => scope.id),
          },
        ],
      },
    }));
    const bSecret = await d.credentials.addPassword({ appId: b.application.appId });

    const toB = await postToken(server, s.tenantId, oboFields(obo.mid, assertion, `${bUri}/B.Call`));
    expect(toB.status).toBe(200);
    const bToken = String(toB.body.access_token);
    expect(decodeJwt(bToken)).toMatchObject({ aud: b.application.appId, oid: s.user.id, scp: 'B.Call' });

    const toC = await postToken(
      server,
      s.tenantId,
      oboFields({ appId: b.application.appId, secret: bSecret.secretText }, bToken, `${cUri}/C.Read`),
    );
    expect(toC.status).toBe(200);
    expect(decodeJwt(String(toC.body.access_token))).toMatchObject({
      aud: c.application.appId,
      azp: b.application.appId,
      oid: s.user.id,
      tid: s.tenantId,
      scp: 'C.Read',
    });
  });

  it('a v1 assertion, addressed to the middle tier by its App ID URI, is accepted', async () => {
    const d = server.directory;
    const v1Uri = `api://${s.domain}/mid-v1`;
    const v1 = await d.applications.create({
      tenant: s.tenantId,
      displayName: 'Middle Tier v1',
      identifierUris: [v1Uri],
      scopes: ['user_impersonation'],
    });
    const secret = await d.credentials.addPassword({ appId: v1.application.appId });
    await d.grants.createPermissionGrant({
      tenant: s.tenantId,
      clientId: v1.servicePrincipal.id,
      resourceId: obo.filesServicePrincipalId,
      consentType: 'AllPrincipals',
      scope: 'Files.Read',
    });
    const incoming = await spaAccessToken(server, s, `${v1Uri}/user_impersonation`);
    expect(decodeJwt(incoming)).toMatchObject({ aud: v1Uri, ver: '1.0' });
    const client = { appId: v1.application.appId, secret: secret.secretText };
    const { status, body } = await postToken(server, s.tenantId, oboFields(client, incoming, filesRead()));
    expect(status).toBe(200);
    expect(decodeJwt(String(body.access_token))).toMatchObject({
      aud: s.api.appId,
      azp: v1.application.appId,
      oid: s.user.id,
      scp: 'Files.Read',
      ver: '2.0',
    });
  });

  it('combined consent (the API lists the SPA in knownClientApplications) covers the API’s own OBO', async () => {
    const d = server.directory;
    const knownUri = `api://${s.domain}/known`;
    const known = await d.applications.create({
      tenant: s.tenantId,
      displayName: 'Known API',
      identifierUris: [knownUri],
      scopes: ['Known.Call'],
      requestedAccessTokenVersion: 2,
      knownClientApplications: [s.spa.appId],
      requiredScopes: [{ resource: s.api.appId, scopes: ['Files.Read'] }],
    });
    const secret = await d.credentials.addPassword({ appId: known.application.appId });
    const client = { appId: known.application.appId, secret: secret.secretText };
    const token = await spaAccessToken(server, s, `${knownUri}/.default`);
    const { status, body } = await postToken(server, s.tenantId, oboFields(client, token, filesRead()));
    expect(status).toBe(200);
    expect(decodeJwt(String(body.access_token))).toMatchObject({ oid: s.user.id, scp: 'Files.Read' });
  });
});

describe('On-Behalf-Of and token exchange: the sign-in log', () => {
  /** POSTs `fields` to the token endpoint; the status and the request's correlation id. */
  async function tokenRequest(
    fields: Record<string, string>,
  ): Promise<{ status: number; correlationId: string }> {
    const response = await fetch(`${server.url}/${s.tenantId}/oauth2/v2.0/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields),
    });
    await response.arrayBuffer();
    return { status: response.status, correlationId: response.headers.get('client-request-id') ?? '' };
  }

  it('each trade is a non-interactive sign-in of the user, through the middle tier, to the downstream API', async () => {
    const requests = {
      onBehalfOf: oboFields(obo.mid, assertion, filesRead()),
      tokenExchange: {
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
        client_id: obo.mid.appId,
        client_secret: obo.mid.secret,
        subject_token: assertion,
        subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
        audience: s.api.identifierUri,
        scope: 'Files.Read',
      },
    };
    const mid = await server.directory.applications.require(obo.mid.appId);
    const api = await server.directory.applications.require(s.api.appId);
    for (const [grant, fields] of Object.entries(requests)) {
      const { status, correlationId } = await tokenRequest(fields);
      expect([grant, status]).toEqual([grant, 200]);
      await server.directory.signIns.flush();
      const page = await server.directory.audits.repository.listSignIns({
        tenantId: s.tenantId,
        top: 10,
        filter: { correlationId },
      });
      expect([grant, page.items]).toEqual([
        grant,
        [
          {
            id: expect.any(String) as string,
            createdMs: expect.any(Number) as number,
            tenantId: s.tenantId,
            userId: s.user.id,
            userPrincipalName: s.user.userPrincipalName,
            userDisplayName: s.user.displayName,
            appId: obo.mid.appId,
            appDisplayName: mid.displayName,
            ipAddress: '127.0.0.1',
            clientAppUsed: 'Mobile Apps and Desktop clients',
            correlationId,
            isInteractive: false,
            resourceId: s.api.appId,
            resourceDisplayName: api.displayName,
            errorCode: 0,
            failureReason: null,
          },
        ],
      ]);
    }
  });
});

describe('On-Behalf-Of: steady state', () => {
  it('makes no database query of its own: only the sign-in log inserts', async () => {
    // A server of its own without the directory poll (a background query every directoryPollIntervalMs).
    const quiet = await startTestServer({ config: { directoryPollIntervalMs: 60_000 } });
    try {
      const qs = await seedInteractiveScenario(quiet.directory);
      const qobo = await seedOnBehalfOf(quiet, qs);
      await quiet.server.refresh();
      const scope = `${qobo.mid.identifierUri}/access_as_user`;
      const assertions = [];
      for (let i = 0; i < 4; i++) assertions.push(await spaAccessToken(quiet, qs, scope));
      const trade = async (token: string) =>
        (
          await postToken(
            quiet,
            qs.tenantId,
            oboFields(qobo.mid, token, `${qs.api.identifierUri}/Files.Read`),
          )
        ).status;
      // The first trade warms the directory cache.
      expect(await trade(assertions[0]!)).toBe(200);
      await quiet.directory.signIns.flush();
      const before = await statementCounts(quiet);
      // New assertions (each verified) and one traded again and again (remembered).
      for (const token of [...assertions, ...assertions, ...assertions]) expect(await trade(token)).toBe(200);
      await quiet.directory.signIns.flush();
      const after = await statementCounts(quiet);
      const grown = [...after]
        .map(([kind, value]) => [kind, value - (before.get(kind) ?? 0)] as const)
        .filter(([, delta]) => delta !== 0);
      expect(grown.filter(([kind]) => !['insert/ok', 'begin/ok', 'commit/ok'].includes(kind))).toEqual([]);
    } finally {
      await quiet.close();
    }
  });
});

describe("On-Behalf-Of: seed 001's raw requests", () => {
  /** The seed's body, as written (`+` for the space, `:` and `/` unencoded in `scope`), host aside. */
  async function raw(credential: string): Promise<{ status: number; body: Record<string, unknown> }> {
    const body =
      `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` +
      `&client_id=${obo.mid.appId}` +
      credential +
      `&assertion=${assertion}` +
      `&scope=${s.api.identifierUri}/Files.Read+offline_access` +
      `&requested_token_use=on_behalf_of`;
    const response = await fetch(`${server.url}/${s.tenantId}/oauth2/v2.0/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body,
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  function expectSeedShape(answer: { status: number; body: Record<string, unknown> }, acr: string): void {
    expect(answer.status).toBe(200);
    expect(Object.keys(answer.body).sort()).toEqual([
      'access_token',
      'expires_in',
      'ext_expires_in',
      'refresh_token',
      'scope',
      'token_type',
    ]);
    expect(answer.body).toMatchObject({
      token_type: 'Bearer',
      scope: filesRead(),
      expires_in: expect.any(Number),
      ext_expires_in: expect.any(Number),
    });
    expect(decodeJwt(String(answer.body.access_token))).toMatchObject({
      oid: s.user.id,
      azp: obo.mid.appId,
      azpacr: acr,
      scp: 'Files.Read',
    });
  }

  it('first case: a shared secret', async () => {
    expectSeedShape(await raw(`&client_secret=${encodeURIComponent(obo.mid.secret)}`), '1');
  });

  it('second case: a certificate (client_assertion)', async () => {
    const clientAssertion = await signClientAssertion({
      clientId: obo.mid.appId,
      audience: `${server.url}/${s.tenantId}/oauth2/v2.0/token`,
      key: obo.mid.certificate.privateKey,
      header: { 'x5t#S256': obo.mid.certificate.x5tS256 },
    });
    expectSeedShape(
      await raw(
        `&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer` +
          `&client_assertion=${clientAssertion}`,
      ),
      '2',
    );
  });
});

describe('On-Behalf-Of: refusals', () => {
  interface Refusal {
    readonly name: string;
    readonly fields: () => Promise<Record<string, string>>;
    readonly status: number;
    readonly error: string;
    readonly code: number;
    readonly suberror?: string;
  }

  const refusals: Refusal[] = [
    {
      name: 'an assertion addressed to another audience (the downstream API itself)',
      fields: async () => oboFields(obo.mid, await spaAccessToken(server, s, filesRead()), filesRead()),
      status: 400,
      error: 'invalid_grant',
      code: 500131,
    },
    {
      name: 'an ID token as the assertion',
      fields: async () => {
        const page = await signInThrough(
          new TestBrowser(),
          authorizeUrl(server.url, s.tenantId, s.spa, { response_type: 'id_token' }),
          { userName: s.user.userPrincipalName, password: s.password },
        );
        const location = page.location ?? '';
        const idToken = new URLSearchParams(location.slice(location.indexOf('#') + 1)).get('id_token') ?? '';
        expect(idToken).not.toBe('');
        return oboFields(obo.mid, idToken, filesRead());
      },
      status: 400,
      error: 'invalid_grant',
      code: 50013,
    },
    {
      name: 'an app-only token (client credentials) as the assertion',
      fields: async () => {
        const appOnly = await postToken(server, s.tenantId, {
          grant_type: 'client_credentials',
          client_id: obo.mid.appId,
          client_secret: obo.mid.secret,
          scope: `${obo.mid.identifierUri}/.default`,
        });
        expect(appOnly.status).toBe(200);
        return oboFields(obo.mid, String(appOnly.body.access_token), filesRead());
      },
      status: 400,
      error: 'invalid_grant',
      code: 50013,
    },
    {
      name: 'a tampered assertion',
      fields: () => {
        const [header, payload] = assertion.split('.');
        return Promise.resolve(oboFields(obo.mid, `${header}.${payload}.AAAA`, filesRead()));
      },
      status: 400,
      error: 'invalid_grant',
      code: 50013,
    },
    {
      name: 'a revoked assertion',
      fields: async () => {
        const token = await spaAccessToken(server, s, `${obo.mid.identifierUri}/access_as_user`);
        const revoked = await fetch(`${server.url}/${s.tenantId}/oauth2/v2.0/revoke`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ client_id: s.spa.appId, token }),
        });
        expect(revoked.status).toBe(200);
        return oboFields(obo.mid, token, filesRead());
      },
      status: 400,
      error: 'invalid_grant',
      code: 50013,
    },
    {
      name: "another tenant's token",
      fields: async () => {
        const other = await seedInteractiveScenario(server.directory);
        return oboFields(
          obo.mid,
          await spaAccessToken(server, other, `${other.api.identifierUri}/Files.Read`),
          filesRead(),
        );
      },
      status: 400,
      error: 'invalid_grant',
      code: 50013,
    },
    {
      name: 'a public client (no credential)',
      fields: () =>
        Promise.resolve(
          oboFields({ appId: s.native.appId, secret: '' }, assertion, filesRead(), {
            client_secret: undefined,
          }),
        ),
      status: 401,
      error: 'invalid_client',
      code: 7000218,
    },
    {
      name: 'the middle tier without its credential',
      fields: () => Promise.resolve(oboFields(obo.mid, assertion, filesRead(), { client_secret: undefined })),
      status: 401,
      error: 'invalid_client',
      code: 7000218,
    },
    {
      name: 'no requested_token_use',
      fields: () =>
        Promise.resolve(oboFields(obo.mid, assertion, filesRead(), { requested_token_use: undefined })),
      status: 400,
      error: 'invalid_request',
      code: 900144,
    },
    {
      name: 'requested_token_use other than on_behalf_of',
      fields: () =>
        Promise.resolve(oboFields(obo.mid, assertion, filesRead(), { requested_token_use: 'impersonate' })),
      status: 400,
      error: 'invalid_grant',
      code: 70000,
    },
    {
      name: 'no assertion',
      fields: () => Promise.resolve(oboFields(obo.mid, '', filesRead(), { assertion: undefined })),
      status: 400,
      error: 'invalid_request',
      code: 900144,
    },
    {
      name: 'a scope not consented for the middle tier (Files.Admin)',
      fields: () => Promise.resolve(oboFields(obo.mid, assertion, `${s.api.identifierUri}/Files.Admin`)),
      status: 400,
      error: 'invalid_grant',
      code: 65001,
      suberror: 'consent_required',
    },
    {
      name: 'a scope the resource does not publish',
      fields: () => Promise.resolve(oboFields(obo.mid, assertion, `${s.api.identifierUri}/Files.Delete`)),
      status: 400,
      error: 'invalid_scope',
      code: 70011,
    },
  ];

  it.each(refusals)('refuses $name', async (refusal) => {
    const { status, body } = await postToken(server, s.tenantId, await refusal.fields());
    expect({ status, error: body.error, error_codes: body.error_codes }).toEqual({
      status: refusal.status,
      error: refusal.error,
      error_codes: [refusal.code],
    });
    expect(String(body.error_description)).toMatch(new RegExp(`^[A-Z]+${refusal.code}: `));
    if (refusal.suberror !== undefined) expect(body.suberror).toBe(refusal.suberror);
    expect(body.access_token).toBeUndefined();
  });

  it('refuses an expired assertion with 500133', async () => {
    const token = await spaAccessToken(server, s, `${obo.mid.identifierUri}/access_as_user`);
    const { status, body } = await withClockAhead(2 * 3600 * 1000, () =>
      postToken(server, s.tenantId, oboFields(obo.mid, token, filesRead())),
    );
    expect({ status, error: body.error, error_codes: body.error_codes }).toEqual({
      status: 400,
      error: 'invalid_grant',
      error_codes: [500133],
    });
  });
});

const pgAvailable = await postgresAvailable();

describe.skipIf(!pgAvailable)('On-Behalf-Of on PostgreSQL', () => {
  let pg: TestServer;
  let ps: InteractiveScenario;
  let pobo: OnBehalfOfScenario;

  beforeAll(async () => {
    ({ server: pg, s: ps, obo: pobo } = await startOnBehalfOfServer('postgres'));
  });
  afterAll(() => pg.close());

  it('issues for the user with offline_access, the refresh token redeems, missing consent is 65001', async () => {
    const incoming = await spaAccessToken(pg, ps, `${pobo.mid.identifierUri}/access_as_user`);
    const files = `${ps.api.identifierUri}/Files.Read`;
    const issued = await postToken(pg, ps.tenantId, oboFields(pobo.mid, incoming, `${files} offline_access`));
    expect(issued.status).toBe(200);
    expect(decodeJwt(String(issued.body.access_token))).toMatchObject({ oid: ps.user.id, scp: 'Files.Read' });
    const refreshed = await postToken(pg, ps.tenantId, {
      grant_type: 'refresh_token',
      client_id: pobo.mid.appId,
      client_secret: pobo.mid.secret,
      refresh_token: String(issued.body.refresh_token),
    });
    expect(refreshed.status).toBe(200);
    const refused = await postToken(
      pg,
      ps.tenantId,
      oboFields(pobo.mid, incoming, `${ps.api.identifierUri}/Files.Admin`),
    );
    expect({ status: refused.status, codes: refused.body.error_codes, sub: refused.body.suberror }).toEqual({
      status: 400,
      codes: [65001],
      sub: 'consent_required',
    });
  });

  it("refuses another tenant's token with 50013", async () => {
    const other = await seedInteractiveScenario(pg.directory);
    const foreign = await spaAccessToken(pg, other, `${other.api.identifierUri}/Files.Read`);
    const { status, body } = await postToken(
      pg,
      ps.tenantId,
      oboFields(pobo.mid, foreign, `${ps.api.identifierUri}/Files.Read`),
    );
    expect({ status, codes: body.error_codes }).toEqual({ status: 400, codes: [50013] });
  });
});
