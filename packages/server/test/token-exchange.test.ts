import {
  authorizeUrl,
  postgresAvailable,
  seedInteractiveScenario,
  signInThrough,
  startInteractiveServer,
  TestBrowser,
  type InteractiveScenario,
  type TestServer,
} from '@tessera/testkit';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  postToken,
  seedOnBehalfOf,
  spaAccessToken,
  type OnBehalfOfScenario,
  startOnBehalfOfServer,
  withClockAhead,
} from './support/on-behalf-of.js';

// RFC 8693 token exchange over HTTP: the middle tier trades Alice's token for one to a downstream API, with the
// On-Behalf-Of consent rules, an `act` claim and `issued_token_type`.

const GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';

let server: TestServer;
let s: InteractiveScenario;
let obo: OnBehalfOfScenario;
/** Alice's token for the middle tier (`aud` = mid). */
let subjectToken: string;

/**
 * A token exchange request of `client` with a secret; a field given as a list repeats; `undefined` removes one.
 */
function exchangeFields(
  client: { readonly appId: string; readonly secret: string },
  token: string,
  overrides: Readonly<Record<string, string | readonly string[] | undefined>> = {},
): URLSearchParams {
  const fields: Record<string, string | readonly string[] | undefined> = {
    grant_type: GRANT,
    client_id: client.appId,
    client_secret: client.secret,
    subject_token: token,
    subject_token_type: ACCESS_TOKEN,
    audience: s.api.identifierUri,
    scope: 'Files.Read',
    ...overrides,
  };
  const body = new URLSearchParams();
  for (const [name, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    for (const one of typeof value === 'string' ? [value] : value) body.append(name, one);
  }
  return body;
}

async function exchange(
  target: TestServer,
  tenant: string,
  body: URLSearchParams,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${target.url}/${tenant}/oauth2/v2.0/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body,
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

beforeAll(async () => {
  ({ server, scenario: s } = await startInteractiveServer());
  obo = await seedOnBehalfOf(server, s);
  subjectToken = await spaAccessToken(server, s, `${obo.mid.identifierUri}/access_as_user`);
});
afterAll(() => server.close());

describe('token exchange: discovery', () => {
  it('grant_types_supported lists the token exchange grant after On-Behalf-Of', async () => {
    const response = await fetch(`${server.url}/${s.tenantId}/v2.0/.well-known/openid-configuration`);
    const metadata = (await response.json()) as { grant_types_supported: string[] };
    const listed = metadata.grant_types_supported;
    expect(listed).toContain(GRANT);
    expect(listed.indexOf(GRANT)).toBe(listed.indexOf('urn:ietf:params:oauth:grant-type:jwt-bearer') + 1);
  });
});

describe('token exchange: issuing', () => {
  it('issues for the user with the consented scope, act = the client, issued_token_type', async () => {
    const { status, body } = await exchange(server, s.tenantId, exchangeFields(obo.mid, subjectToken));
    expect(status).toBe(200);
    expect(Object.keys(body).sort()).toEqual([
      'access_token',
      'expires_in',
      'ext_expires_in',
      'issued_token_type',
      'scope',
      'token_type',
    ]);
    expect(body).toMatchObject({
      token_type: 'Bearer',
      issued_token_type: ACCESS_TOKEN,
      scope: `${s.api.identifierUri}/Files.Read`,
    });
    expect(decodeJwt(String(body.access_token))).toMatchObject({
      aud: s.api.appId,
      azp: obo.mid.appId,
      oid: s.user.id,
      tid: s.tenantId,
      idtyp: 'user',
      scp: 'Files.Read',
      act: { sub: obo.mid.appId },
    });
  });

  it('`resource` alone means the static permissions (/.default); audience and resource naming one API agree', async () => {
    const { status, body } = await exchange(
      server,
      s.tenantId,
      exchangeFields(obo.mid, subjectToken, {
        audience: [s.api.appId, s.api.identifierUri],
        resource: s.api.identifierUri,
        scope: undefined,
        requested_token_type: ACCESS_TOKEN,
      }),
    );
    expect(status).toBe(200);
    expect(decodeJwt(String(body.access_token)).scp).toBe('Files.Read');
  });

  it('a resource-qualified scope without audience works as in On-Behalf-Of', async () => {
    const { status, body } = await exchange(
      server,
      s.tenantId,
      exchangeFields(obo.mid, subjectToken, {
        audience: undefined,
        scope: `${s.api.identifierUri}/Files.Read`,
      }),
    );
    expect(status).toBe(200);
    expect(body.scope).toBe(`${s.api.identifierUri}/Files.Read`);
  });

  it('an actor_token the client obtained itself becomes act (its sub and iss)', async () => {
    const appOnly = await postToken(server, s.tenantId, {
      grant_type: 'client_credentials',
      client_id: obo.mid.appId,
      client_secret: obo.mid.secret,
      scope: `${obo.mid.identifierUri}/.default`,
    });
    expect(appOnly.status).toBe(200);
    const actor = decodeJwt(String(appOnly.body.access_token));
    const { status, body } = await exchange(
      server,
      s.tenantId,
      exchangeFields(obo.mid, subjectToken, {
        actor_token: String(appOnly.body.access_token),
        actor_token_type: ACCESS_TOKEN,
      }),
    );
    expect(status).toBe(200);
    expect(decodeJwt(String(body.access_token)).act).toEqual({ sub: actor.sub, iss: actor.iss });
  });

  it('a chain A → B → C keeps the user and nests the earlier act inside', async () => {
    const d = server.directory;
    const cUri = `api://${s.domain}/tx-c`;
    const c = await d.applications.create({
      tenant: s.tenantId,
      displayName: 'Exchange API C',
      identifierUris: [cUri],
      scopes: ['C.Read'],
      requestedAccessTokenVersion: 2,
    });
    const bUri = `api://${s.domain}/tx-b`;
    const b = await d.applications.create({
      tenant: s.tenantId,
      displayName: 'Exchange API B',
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

    const toB = await exchange(
      server,
      s.tenantId,
      exchangeFields(obo.mid, subjectToken, { audience: bUri, scope: 'B.Call' }),
    );
    expect(toB.status).toBe(200);
    const bToken = String(toB.body.access_token);
    expect(decodeJwt(bToken)).toMatchObject({ aud: b.application.appId, act: { sub: obo.mid.appId } });

    const toC = await exchange(
      server,
      s.tenantId,
      exchangeFields({ appId: b.application.appId, secret: bSecret.secretText }, bToken, {
        audience: undefined,
        resource: cUri,
        scope: 'C.Read',
      }),
    );
    expect(toC.status).toBe(200);
    expect(decodeJwt(String(toC.body.access_token))).toMatchObject({
      aud: c.application.appId,
      azp: b.application.appId,
      oid: s.user.id,
      scp: 'C.Read',
      act: { sub: b.application.appId, act: { sub: obo.mid.appId } },
    });
  });
});

describe('token exchange: refusals', () => {
  interface Refusal {
    readonly name: string;
    readonly fields: () => Promise<URLSearchParams>;
    readonly status: number;
    readonly error: string;
    readonly code: number;
    readonly suberror?: string;
  }

  /** The scenario's subject token with `overrides` (read when the test runs, after the seeding). */
  const sameToken =
    (overrides: () => Readonly<Record<string, string | readonly string[] | undefined>>) => () =>
      Promise.resolve(exchangeFields(obo.mid, subjectToken, overrides()));

  const refusals: Refusal[] = [
    {
      name: 'no subject_token',
      fields: sameToken(() => ({ subject_token: undefined })),
      status: 400,
      error: 'invalid_request',
      code: 900144,
    },
    {
      name: 'no subject_token_type',
      fields: sameToken(() => ({ subject_token_type: undefined })),
      status: 400,
      error: 'invalid_request',
      code: 900144,
    },
    {
      name: 'a subject_token_type other than access_token (id_token)',
      fields: sameToken(() => ({ subject_token_type: 'urn:ietf:params:oauth:token-type:id_token' })),
      status: 400,
      error: 'invalid_request',
      code: 9100070,
    },
    {
      name: 'an unsupported requested_token_type (refresh_token)',
      fields: sameToken(() => ({ requested_token_type: 'urn:ietf:params:oauth:token-type:refresh_token' })),
      status: 400,
      error: 'invalid_request',
      code: 9100070,
    },
    {
      name: 'an actor_token without actor_token_type',
      fields: sameToken(() => ({ actor_token: 'x' })),
      status: 400,
      error: 'invalid_request',
      code: 900144,
    },
    {
      name: 'an actor_token_type other than access_token',
      fields: sameToken(() => ({
        actor_token: 'x',
        actor_token_type: 'urn:ietf:params:oauth:token-type:jwt',
      })),
      status: 400,
      error: 'invalid_request',
      code: 9100070,
    },
    {
      name: 'an actor_token that is not a token of this server',
      fields: sameToken(() => ({ actor_token: 'not.a.token', actor_token_type: ACCESS_TOKEN })),
      status: 400,
      error: 'invalid_grant',
      code: 50013,
    },
    {
      name: 'an actor_token obtained by another client (the SPA)',
      fields: async () => {
        const spaToken = await spaAccessToken(server, s, `${obo.mid.identifierUri}/access_as_user`);
        return exchangeFields(obo.mid, subjectToken, {
          actor_token: spaToken,
          actor_token_type: ACCESS_TOKEN,
        });
      },
      status: 400,
      error: 'invalid_grant',
      code: 50013,
    },
    {
      name: 'audiences of two resources',
      fields: sameToken(() => ({ audience: [s.api.identifierUri, obo.mid.identifierUri] })),
      status: 400,
      error: 'invalid_target',
      code: 9100071,
    },
    {
      name: 'an audience and a resource of two resources',
      fields: sameToken(() => ({ audience: s.api.identifierUri, resource: obo.mid.identifierUri })),
      status: 400,
      error: 'invalid_target',
      code: 9100071,
    },
    {
      name: 'a resource-qualified scope of another resource than the audience',
      fields: sameToken(() => ({ scope: `${obo.mid.identifierUri}/access_as_user` })),
      status: 400,
      error: 'invalid_target',
      code: 9100071,
    },
    {
      name: 'an audience that names no resource',
      fields: sameToken(() => ({ audience: 'api://nowhere.example/none' })),
      status: 400,
      error: 'invalid_target',
      code: 9100071,
    },
    {
      name: 'no audience, resource or scope',
      fields: sameToken(() => ({ audience: undefined, scope: undefined })),
      status: 400,
      error: 'invalid_request',
      code: 900144,
    },
    {
      name: 'a scope not consented for the middle tier (Files.Admin)',
      fields: sameToken(() => ({ scope: 'Files.Admin' })),
      status: 400,
      error: 'invalid_grant',
      code: 65001,
      suberror: 'consent_required',
    },
    {
      name: 'an app-only subject token (client credentials)',
      fields: async () => {
        const appOnly = await postToken(server, s.tenantId, {
          grant_type: 'client_credentials',
          client_id: obo.mid.appId,
          client_secret: obo.mid.secret,
          scope: `${obo.mid.identifierUri}/.default`,
        });
        expect(appOnly.status).toBe(200);
        return exchangeFields(obo.mid, String(appOnly.body.access_token));
      },
      status: 400,
      error: 'invalid_grant',
      code: 50013,
    },
    {
      name: 'an ID token as the subject token',
      fields: async () => {
        const page = await signInThrough(
          new TestBrowser(),
          authorizeUrl(server.url, s.tenantId, s.spa, { response_type: 'id_token' }),
          { userName: s.user.userPrincipalName, password: s.password },
        );
        const location = page.location ?? '';
        const idToken = new URLSearchParams(location.slice(location.indexOf('#') + 1)).get('id_token') ?? '';
        expect(idToken).not.toBe('');
        return exchangeFields(obo.mid, idToken);
      },
      status: 400,
      error: 'invalid_grant',
      code: 50013,
    },
    {
      name: 'a subject token addressed to another audience',
      fields: async () =>
        exchangeFields(obo.mid, await spaAccessToken(server, s, `${s.api.identifierUri}/Files.Read`)),
      status: 400,
      error: 'invalid_grant',
      code: 500131,
    },
    {
      name: 'a revoked subject token',
      fields: async () => {
        const token = await spaAccessToken(server, s, `${obo.mid.identifierUri}/access_as_user`);
        const revoked = await fetch(`${server.url}/${s.tenantId}/oauth2/v2.0/revoke`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ client_id: s.spa.appId, token }),
        });
        expect(revoked.status).toBe(200);
        return exchangeFields(obo.mid, token);
      },
      status: 400,
      error: 'invalid_grant',
      code: 50013,
    },
    {
      name: "another tenant's subject token",
      fields: async () => {
        const other = await seedInteractiveScenario(server.directory);
        return exchangeFields(
          obo.mid,
          await spaAccessToken(server, other, `${other.api.identifierUri}/Files.Read`),
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
          exchangeFields({ appId: s.native.appId, secret: '' }, subjectToken, { client_secret: undefined }),
        ),
      status: 401,
      error: 'invalid_client',
      code: 7000218,
    },
    {
      name: 'a repeated scope',
      fields: sameToken(() => ({ scope: ['Files.Read', 'Files.Read'] })),
      status: 400,
      error: 'invalid_request',
      code: 9100004,
    },
  ];

  it.each(refusals)('refuses $name', async (refusal) => {
    const { status, body } = await exchange(server, s.tenantId, await refusal.fields());
    expect({ status, error: body.error, error_codes: body.error_codes }).toEqual({
      status: refusal.status,
      error: refusal.error,
      error_codes: [refusal.code],
    });
    expect(String(body.error_description)).toMatch(new RegExp(`^[A-Z]+${refusal.code}: `));
    if (refusal.suberror !== undefined) expect(body.suberror).toBe(refusal.suberror);
    expect(body.access_token).toBeUndefined();
  });

  it('refuses an expired subject token with 500133', async () => {
    const token = await spaAccessToken(server, s, `${obo.mid.identifierUri}/access_as_user`);
    const { status, body } = await withClockAhead(2 * 3600 * 1000, () =>
      exchange(server, s.tenantId, exchangeFields(obo.mid, token)),
    );
    expect({ status, error: body.error, error_codes: body.error_codes }).toEqual({
      status: 400,
      error: 'invalid_grant',
      error_codes: [500133],
    });
  });
});

const pgAvailable = await postgresAvailable();

describe.skipIf(!pgAvailable)('token exchange on PostgreSQL', () => {
  let pg: TestServer;
  let ps: InteractiveScenario;
  let pobo: OnBehalfOfScenario;

  beforeAll(async () => {
    ({ server: pg, s: ps, obo: pobo } = await startOnBehalfOfServer('postgres'));
  });
  afterAll(() => pg.close());

  it('issues with act and issued_token_type; an unconsented scope is 65001; tenants stay apart', async () => {
    const incoming = await spaAccessToken(pg, ps, `${pobo.mid.identifierUri}/access_as_user`);
    const fields = (scope: string) =>
      new URLSearchParams({
        grant_type: GRANT,
        client_id: pobo.mid.appId,
        client_secret: pobo.mid.secret,
        subject_token: incoming,
        subject_token_type: ACCESS_TOKEN,
        audience: ps.api.identifierUri,
        scope,
      });
    const issued = await exchange(pg, ps.tenantId, fields('Files.Read'));
    expect(issued.status).toBe(200);
    expect(issued.body.issued_token_type).toBe(ACCESS_TOKEN);
    expect(decodeJwt(String(issued.body.access_token))).toMatchObject({
      oid: ps.user.id,
      scp: 'Files.Read',
      act: { sub: pobo.mid.appId },
    });
    const refused = await exchange(pg, ps.tenantId, fields('Files.Admin'));
    expect({ status: refused.status, codes: refused.body.error_codes, sub: refused.body.suberror }).toEqual({
      status: 400,
      codes: [65001],
      sub: 'consent_required',
    });
    const other = await seedInteractiveScenario(pg.directory);
    const foreign = await exchange(pg, other.tenantId, fields('Files.Read'));
    expect(foreign.status).toBe(400);
    expect(foreign.body.access_token).toBeUndefined();
  });
});
