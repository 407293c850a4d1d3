import type { AddressInfo } from 'node:net';
import express from 'express';
import Fastify from 'fastify';
import { startInteractiveServer, type InteractiveScenario, type TestServer } from '@tessera/testkit';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bearerErrorResponse,
  createTokenAcquirer,
  createTokenValidator,
  TokenAcquisitionError,
  type TokenAcquirer,
  type TokenValidator,
} from '@tessera/resource';
import { createExpressAuth } from '@tessera/resource/express';
import { tesseraAuth } from '@tessera/resource/fastify';
import {
  seedOnBehalfOf,
  spaAccessToken,
  type OnBehalfOfScenario,
} from '../../server/test/support/on-behalf-of.js';

// A middle-tier API on the resource library, against a real Tessera server: it validates the SPA's token with an
// adapter, trades it On-Behalf-Of for the Files API, and when the authority answers interaction_required (a
// conditional access policy requiring MFA) it passes the claims challenge back to the SPA as 401
// `WWW-Authenticate: Bearer error="insufficient_claims", claims="<base64>"`. Its On-Behalf-Of cache is per
// caller's token and scopes: two users never share an entry.

const REALM = 'middle-tier';

/** What a middle-tier route answers: the downstream token's user, or the challenge of a refusal. */
type Answer =
  | { readonly status: 200; readonly body: { oid: unknown; fromCache: boolean } }
  | { readonly status: number; readonly headers: Record<string, string>; readonly body: unknown };

/** The middle tier's handler logic, shared by both frameworks: OBO, or the claims challenge of its refusal. */
async function callFiles(
  acquirer: TokenAcquirer,
  authorization: string | undefined,
  scope: string,
): Promise<Answer> {
  const incoming = (authorization ?? '').replace(/^Bearer /, '');
  try {
    const token = await acquirer.acquireTokenOnBehalfOf(incoming, [scope]);
    return { status: 200, body: { oid: decodeJwt(token.accessToken).oid, fromCache: token.fromCache } };
  } catch (error) {
    const challenge = error instanceof TokenAcquisitionError ? error.toClaimsChallenge() : undefined;
    if (challenge === undefined) throw error;
    return bearerErrorResponse(challenge, { realm: REALM });
  }
}

describe('the resource library’s On-Behalf-Of against the real grant: claims challenges and the cache', () => {
  let server: TestServer;
  let s: InteractiveScenario;
  let obo: OnBehalfOfScenario;
  let validator: TokenValidator;
  let acquirer: TokenAcquirer;
  const urls = new Map<string, string>();
  const closers: (() => Promise<void>)[] = [];
  const filesRead = () => `${s.api.identifierUri}/Files.Read`;

  beforeAll(async () => {
    ({ server, scenario: s } = await startInteractiveServer());
    obo = await seedOnBehalfOf(server, s);
    // Every user of the tenant may be served Files.Read on behalf of them (admin consent for the middle tier).
    await server.directory.grants.createPermissionGrant({
      tenant: s.tenantId,
      clientId: obo.mid.servicePrincipalId,
      resourceId: obo.filesServicePrincipalId,
      consentType: 'AllPrincipals',
      principalId: null,
      scope: 'Files.Read',
    });
    validator = createTokenValidator({
      authority: `${server.url}/${s.tenantId}`,
      audience: [obo.mid.appId, obo.mid.identifierUri],
    });
    acquirer = createTokenAcquirer({
      authority: `${server.url}/${s.tenantId}`,
      clientId: obo.mid.appId,
      clientSecret: obo.mid.secret,
    });

    const fastify = Fastify();
    await fastify.register(tesseraAuth, { validator, realm: REALM });
    fastify.get('/files', async (request, reply) => {
      const answer = await callFiles(acquirer, request.headers.authorization, filesRead());
      return reply
        .code(answer.status)
        .headers('headers' in answer ? answer.headers : {})
        .send(answer.body);
    });
    urls.set('fastify', await fastify.listen({ port: 0, host: '127.0.0.1' }));
    closers.push(() => fastify.close());

    const app = express();
    const auth = createExpressAuth({ validator, realm: REALM });
    app.get('/files', auth({}), (request, response, next) => {
      callFiles(acquirer, request.headers.authorization, filesRead()).then((answer) => {
        response
          .status(answer.status)
          .set('headers' in answer ? answer.headers : {})
          .json(answer.body);
      }, next);
    });
    const listener = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => listener.once('listening', resolve));
    urls.set('express', `http://127.0.0.1:${(listener.address() as AddressInfo).port}`);
    closers.push(
      () =>
        new Promise<void>((resolve) =>
          listener.close(() => {
            resolve();
          }),
        ),
    );
  });
  afterAll(async () => {
    for (const close of closers) await close();
    await server.close();
  });

  const midScope = () => `${obo.mid.identifierUri}/access_as_user`;
  const get = (framework: string, token: string) =>
    fetch(`${urls.get(framework) ?? ''}/files`, { headers: { authorization: `Bearer ${token}` } });

  it.each(['fastify', 'express'])(
    '%s: an MFA policy’s interaction_required reaches the SPA as 401 insufficient_claims with the challenge',
    async (framework) => {
      const incoming = await spaAccessToken(server, s, midScope());
      const policy = await server.directory.conditionalAccessPolicies.create(s.tenantId, {
        displayName: 'Require MFA for Files',
        state: 'enabled',
        conditions: {
          users: { includeUsers: ['All'] },
          applications: { includeApplications: [s.api.appId] },
        },
        grantControls: { operator: 'OR', builtInControls: ['mfa'] },
      });
      try {
        const response = await get(framework, incoming);
        expect(response.status).toBe(401);
        const header = response.headers.get('www-authenticate') ?? '';
        expect(header).toMatch(/^Bearer realm="middle-tier", error="insufficient_claims", /);
        const claims = /claims="([^"]+)"/.exec(header)?.[1] ?? '';
        expect(JSON.parse(Buffer.from(claims, 'base64').toString('utf8'))).toEqual({
          access_token: { polids: { essential: true, values: [policy.id] } },
        });
        expect(response.headers.get('cache-control')).toBe('no-store');
        expect(await response.json()).toMatchObject({ error: 'insufficient_claims' });
      } finally {
        await server.directory.conditionalAccessPolicies.delete(s.tenantId, policy.id);
      }
    },
  );

  it('the OBO cache is per user and scopes: two users’ calls never share an entry', async () => {
    const alice = await spaAccessToken(server, s, midScope());
    const admin = await spaAccessToken(server, s, midScope(), s.admin.userPrincipalName);
    for (const framework of ['fastify', 'express']) {
      const answers: { oid: string; fromCache: boolean }[] = [];
      for (const token of [alice, admin, alice, admin]) {
        const response = await get(framework, token);
        expect(response.status).toBe(200);
        answers.push((await response.json()) as { oid: string; fromCache: boolean });
      }
      expect(answers.map((answer) => answer.oid)).toEqual([s.user.id, s.admin.id, s.user.id, s.admin.id]);
      // Both frameworks share one acquirer: only the very first call per user reached the authority.
      expect(answers.map((answer) => answer.fromCache)).toEqual(
        framework === 'fastify' ? [false, false, true, true] : [true, true, true, true],
      );
    }
    // Another scope of the same user is another entry (here refused: not consented).
    const other = await acquirer.acquireTokenOnBehalfOf(alice, [`${s.api.identifierUri}/Files.Admin`]).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(other).toMatchObject({
      error: 'invalid_grant',
      errorCodes: [65001],
      suberror: 'consent_required',
    });
  });
});
