import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import { IdentityError } from '@tessera/protocol';
import { migrateToLatest, openDatabase, SignInStore } from '@tessera/server';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ServerContext } from '../src/context.js';
import { registerInteractionEndpoint } from '../src/endpoints/interaction/index.js';
import { saveInteractionStep, type InteractionStep } from '../src/endpoints/interaction/interaction-state.js';
import type { ResumeTarget, Resumption } from '../src/endpoints/interaction/resume-target.js';
import { browserHash, csrfTokenFor } from '../src/sessions/cookies.js';

// The interaction endpoint on its own, with a resume target that is not /authorize: what the admin consent
// endpoint and step-up will plug in. POST /{tenant}/login runs the step its page offered and hands exactly that
// result, with the suspended request's state, to the step's resume target — or shows the sign-in page again
// with the requester the target names.
const NOW = 1_800_000_000;
const TENANT = 'contoso.test';
const CSRF_COOKIE = 'c'.repeat(43);

describe('the interaction endpoint resumes the target its step names', () => {
  const interactionKey = randomBytes(32);
  const resumed: Resumption[] = [];
  let app: FastifyInstance;
  let signIn: SignInStore;
  let db: ReturnType<typeof openDatabase>;
  let dir: string;
  let csrfToken: string;

  /** A resume target that records what it is given and answers 204. */
  const target: ResumeTarget = {
    requester: () =>
      Promise.resolve({
        app: { displayName: 'Admin consent for Payroll', publisherDomain: 'contoso.test' },
        redirectSource: undefined,
      }),
    // The reply is thenable: an async function returns it as it is (Promise.resolve would unwrap it).
    async resume(_context, _request, reply, resumption) {
      resumed.push(resumption);
      return reply.status(204).send();
    },
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-interaction-'));
    db = openDatabase({ dialect: 'sqlite', file: join(dir, 'store.db') });
    await migrateToLatest(db);
    signIn = new SignInStore(db);
    const context = {
      signIn,
      keys: { interaction: interactionKey },
      config: { sessionMaxLifetimeSeconds: 3600, sessionIdleTimeoutSeconds: 600 },
      cache: { tenant: () => Promise.resolve(undefined) },
      // Sign-ins are recorded through the directory's sign-in log; this test does not read it.
      directory: { signIns: { recordFrom: () => Promise.resolve() } },
      passwords: {
        verify: (input: { userName: string; password: string }) =>
          input.password === 'right'
            ? Promise.resolve({ id: 'user-1', tenantId: 'tenant-1' })
            : Promise.reject(new IdentityError(50126)),
      },
      now: () => NOW,
    } as unknown as ServerContext;
    app = Fastify();
    await app.register(formbody);
    await app.register(cookie);
    app.decorate('errorCodePrefix', 'TSS');
    registerInteractionEndpoint(app, context, { authorize: target, adminconsent: target });
    await app.ready();
    csrfToken = csrfTokenFor(
      { cookies: { tessera_csrf: CSRF_COOKIE } } as unknown as FastifyRequest,
      {} as FastifyReply,
      interactionKey,
    );
  });
  afterAll(async () => {
    await app.close();
    await db.destroy();
    await rm(dir, { recursive: true });
  });
  beforeEach(() => {
    resumed.length = 0;
  });

  /** Shows a page: stores its step for the test browser; returns the handle its form carries. */
  function show(step: Partial<InteractionStep> & Pick<InteractionStep, 'step' | 'actions'>): Promise<string> {
    return saveInteractionStep(
      signIn.interactionSteps,
      {
        tenant: TENANT,
        resume: { target: 'authorize', state: { client_id: 'payroll', admin_consent: 'true' } },
        choices: {},
        sessionId: undefined,
        sessionFresh: false,
        organizationConsent: false,
        ...step,
      },
      csrfToken,
      NOW,
    );
  }

  function post(fields: Record<string, string>) {
    return app.inject({
      method: 'POST',
      url: `/${TENANT}/login`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      cookies: { tessera_csrf: CSRF_COOKIE },
      payload: new URLSearchParams({ csrf_token: csrfToken, ...fields }).toString(),
    });
  }

  const state = { client_id: 'payroll', admin_consent: 'true' };

  it('a picked account resumes the target with that session', async () => {
    const interaction = await show({
      step: 'select-account',
      actions: ['select', 'use_another'],
      choices: { ref1: 'session-1' },
    });
    const response = await post({ interaction, action: 'select', session: 'ref1' });
    expect(response.statusCode).toBe(204);
    expect(resumed).toEqual([
      { tenant: TENANT, state, result: { kind: 'account-selected', sessionId: 'session-1' } },
    ]);
  });

  it('"use another account" resumes the target, which decides how to ask again', async () => {
    const interaction = await show({ step: 'select-account', actions: ['select', 'use_another'] });
    expect((await post({ interaction, action: 'use_another' })).statusCode).toBe(204);
    expect(resumed).toEqual([{ tenant: TENANT, state, result: { kind: 'another-account' } }]);
  });

  it('a password sign-in creates a session under a new cookie, then resumes the target with it', async () => {
    const interaction = await show({ step: 'sign-in', actions: ['signin'] });
    const response = await post({
      interaction,
      action: 'signin',
      username: 'a@contoso.test',
      password: 'right',
    });
    expect(response.statusCode).toBe(204);
    const sso = response.cookies.find((c) => c.name === 'tessera_sso');
    expect(sso?.value).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const [sessionOfCookie] = await signIn.sessions.listLive(browserHash(sso?.value ?? ''), NOW, 600);
    expect(sessionOfCookie).toMatchObject({
      userId: 'user-1',
      tenantId: 'tenant-1',
      authTime: NOW,
      amr: ['pwd'],
    });
    expect(resumed).toEqual([
      {
        tenant: TENANT,
        state,
        result: {
          kind: 'signed-in',
          sessionId: sessionOfCookie?.id,
          browserHash: browserHash(sso?.value ?? ''),
        },
      },
    ]);
  });

  it('a refused password shows the sign-in page again, naming the target’s requester; nothing resumes', async () => {
    const interaction = await show({ step: 'sign-in', actions: ['signin'] });
    const response = await post({
      interaction,
      action: 'signin',
      username: 'a@contoso.test',
      password: 'wrong',
    });
    expect(response.statusCode).toBe(400);
    expect(response.body).toContain('Admin consent for Payroll');
    expect(response.body).toContain('value="a@contoso.test"');
    expect(response.body).toContain('role="alert"');
    expect(resumed).toEqual([]);
  });

  it('a consent decision resumes the target with the session the page was shown for', async () => {
    const interaction = await show({
      step: 'consent',
      actions: ['consent', 'decline'],
      sessionId: 'session-9',
      sessionFresh: true,
      organizationConsent: true,
    });
    const response = await post({ interaction, action: 'consent', consent_organization: 'true' });
    expect(response.statusCode).toBe(204);
    expect(resumed).toEqual([
      {
        tenant: TENANT,
        state,
        result: {
          kind: 'consent-decided',
          sessionId: 'session-9',
          sessionFresh: true,
          accept: true,
          forOrganization: true,
        },
      },
    ]);
  });

  it('a step under another {tenant} never resumes (9100014)', async () => {
    const interaction = await show({ tenant: 'fabrikam.test', step: 'sign-in', actions: ['signin'] });
    const response = await post({ interaction, action: 'signin', username: 'a', password: 'right' });
    expect(response.statusCode).toBe(400);
    expect(response.body).toContain('TSS9100014');
    expect(resumed).toEqual([]);
  });
});
