import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrateToLatest, openDatabase, SignInStore, type DatabaseTarget } from '@tessera/server';
import { createPostgresSchema, postgresAvailable } from '@tessera/testkit';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  endSessions,
  listBrowserSessions,
  startSession,
  upgradeSession,
  type SessionContext,
} from '../src/sessions/browser-sessions.js';
import { browserHash } from '../src/sessions/cookies.js';
import {
  loadInteractionStep,
  saveInteractionStep,
  type InteractionStep,
} from '../src/endpoints/interaction/interaction-state.js';

// A browser's sign-in state on both store dialects. sessions/ creates, upgrades (step-up adds amr values) and
// ends SSO sessions: the session id is stable across an upgrade, the cookie (browser token) rotates at sign-in
// and at upgrade. Interaction steps keep the resume target they were shown for, and only a registered one loads.
const pgAvailable = await postgresAvailable();

/** A fixed clock (Unix seconds). */
const NOW = 1_800_000_000;
const MAX_LIFETIME_SECONDS = 7200;
const IDLE_SECONDS = 600;

/** A fresh database of a dialect, and how to delete it. */
async function freshDatabase(
  dialect: 'sqlite' | 'postgres',
): Promise<{ target: DatabaseTarget; drop: () => Promise<void> }> {
  if (dialect === 'postgres') {
    const schema = await createPostgresSchema();
    return { target: { dialect, url: schema.url }, drop: () => schema.drop() };
  }
  const dir = mkdtempSync(join(tmpdir(), 'tessera-sessions-'));
  return { target: { dialect, file: join(dir, 'store.db') }, drop: () => rm(dir, { recursive: true }) };
}

/** A browser: its SSO cookie (if any) as a request carries it. */
function requestWith(token: string | undefined): FastifyRequest {
  return { cookies: token === undefined ? {} : { tessera_sso: token } } as unknown as FastifyRequest;
}

/** A reply that records the cookies set and cleared. */
function recordingReply() {
  const set: { name: string; value: string; maxAge: unknown }[] = [];
  const cleared: string[] = [];
  const reply = {
    setCookie(name: string, value: string, options: { maxAge?: number }) {
      set.push({ name, value, maxAge: options.maxAge });
      return reply;
    },
    clearCookie(name: string) {
      cleared.push(name);
      return reply;
    },
  };
  return { reply: reply as unknown as FastifyReply, set, cleared };
}

describe.each([
  { name: 'sqlite', available: true },
  { name: 'postgres', available: pgAvailable },
] as const)('SSO sessions on $name', (dialect) => {
  const test = it.skipIf(!dialect.available);
  let db: ReturnType<typeof openDatabase>;
  let context: SessionContext;
  let clock = NOW;
  let drop: () => Promise<void> = () => Promise.resolve();

  beforeAll(async () => {
    if (!dialect.available) return;
    const opened = await freshDatabase(dialect.name);
    drop = opened.drop;
    db = openDatabase(opened.target);
    await migrateToLatest(db);
    context = {
      signIn: new SignInStore(db),
      config: {
        sessionMaxLifetimeSeconds: MAX_LIFETIME_SECONDS,
        sessionIdleTimeoutSeconds: IDLE_SECONDS,
      } as SessionContext['config'],
      now: () => clock,
    };
  });
  afterAll(async () => {
    if (!dialect.available) return;
    await db.destroy();
    await drop();
  });

  /** Signs a user in on a browser (its current cookie, or none); returns the new cookie and session. */
  async function signIn(userId: string, cookie: string | undefined) {
    const { reply, set } = recordingReply();
    const started = await startSession(context, requestWith(cookie), reply, {
      userId,
      tenantId: 'tenant-1',
      amr: ['pwd'],
    });
    const token = set[0]?.value ?? '';
    return { ...started, token, set };
  }

  test('sign-in: a new session with auth_time now and amr pwd, under a new cookie the older sessions move to', async () => {
    clock = NOW;
    const first = await signIn('user-a', undefined);
    expect(first.set).toEqual([{ name: 'tessera_sso', value: first.token, maxAge: MAX_LIFETIME_SECONDS }]);
    expect(first.browserHash).toBe(browserHash(first.token));
    expect(first.session).toEqual({
      id: first.session.id,
      userId: 'user-a',
      tenantId: 'tenant-1',
      authTime: NOW,
      amr: ['pwd'],
      lastActiveAt: NOW,
      expiresAt: NOW + MAX_LIFETIME_SECONDS,
    });
    clock = NOW + 10;
    const second = await signIn('user-b', first.token);
    expect(second.token).not.toBe(first.token);
    expect(await listBrowserSessions(context, requestWith(first.token))).toEqual([]);
    const listed = await listBrowserSessions(context, requestWith(second.token));
    expect(listed.map((s) => [s.userId, s.authTime])).toEqual([
      ['user-b', NOW + 10],
      ['user-a', NOW],
    ]);
  });

  test('upgrade: same session id, amr values added once, auth_time now, and the cookie rotates', async () => {
    clock = NOW;
    const { session, token } = await signIn('user-c', undefined);
    clock = NOW + 60;
    const { reply, set } = recordingReply();
    const upgraded = await upgradeSession(context, requestWith(token), reply, session, ['mfa', 'pwd', 'otp']);
    expect(upgraded?.session).toEqual({
      ...session,
      authTime: NOW + 60,
      amr: ['pwd', 'mfa', 'otp'],
      lastActiveAt: NOW + 60,
    });
    const newToken = set[0]?.value ?? '';
    expect(set).toEqual([{ name: 'tessera_sso', value: newToken, maxAge: MAX_LIFETIME_SECONDS }]);
    expect(newToken).not.toBe(token);
    expect(upgraded?.browserHash).toBe(browserHash(newToken));
    // The old cookie names nothing any more; the new one the upgraded session, as stored.
    expect(await listBrowserSessions(context, requestWith(token))).toEqual([]);
    expect(await listBrowserSessions(context, requestWith(newToken))).toEqual([
      { ...session, authTime: NOW + 60, amr: ['pwd', 'mfa', 'otp'], lastActiveAt: NOW + 60 },
    ]);
  });

  test('upgrade of an ended session changes nothing and sets no cookie', async () => {
    clock = NOW;
    const { session, token } = await signIn('user-d', undefined);
    await endSessions(context, requestWith(token), recordingReply().reply, [session.id]);
    const { reply, set } = recordingReply();
    expect(await upgradeSession(context, requestWith(token), reply, session, ['mfa'])).toBeUndefined();
    expect(set).toEqual([]);
  });

  test('ending: the apps the ended sessions signed in to; the cookie is deleted once no session is left', async () => {
    clock = NOW;
    const first = await signIn('user-e', undefined);
    const second = await signIn('user-f', first.token);
    await context.signIn.sessions.touch(first.session.id, 'app-1', NOW);
    await context.signIn.sessions.touch(second.session.id, 'app-2', NOW);

    const one = recordingReply();
    expect(await endSessions(context, requestWith(second.token), one.reply, [first.session.id])).toEqual([
      'app-1',
    ]);
    expect(one.cleared).toEqual([]);
    const left = await listBrowserSessions(context, requestWith(second.token));
    expect(left.map((s) => s.id)).toEqual([second.session.id]);

    const other = recordingReply();
    expect(await endSessions(context, requestWith(second.token), other.reply, [second.session.id])).toEqual([
      'app-2',
    ]);
    expect(other.cleared).toEqual(['tessera_sso']);
    expect(await endSessions(context, requestWith(undefined), recordingReply().reply, ['x'])).toEqual([]);
  });

  test('idle sessions: not listed for sign-in, listed for sign-out', async () => {
    clock = NOW;
    const { token } = await signIn('user-g', undefined);
    clock = NOW + IDLE_SECONDS + 1;
    expect(await listBrowserSessions(context, requestWith(token))).toEqual([]);
    const forSignOut = await listBrowserSessions(context, requestWith(token), { includeIdle: true });
    expect(forSignOut.map((s) => s.userId)).toEqual(['user-g']);
  });

  test('an interaction step keeps its resume target and state; an unregistered target never loads', async () => {
    clock = NOW;
    const step: InteractionStep = {
      tenant: 'contoso.test',
      resume: { target: 'authorize', state: { client_id: 'app-1', scope: 'openid', state: 'xyz' } },
      step: 'sign-in',
      actions: ['signin'],
      choices: {},
      sessionId: undefined,
      sessionFresh: false,
      organizationConsent: false,
    };
    const handle = await saveInteractionStep(context.signIn.interactionSteps, step, 'csrf-1', NOW);
    expect(await loadInteractionStep(context.signIn.interactionSteps, handle, 'csrf-1', NOW + 1)).toEqual(
      step,
    );
    expect(
      await loadInteractionStep(context.signIn.interactionSteps, handle, 'csrf-2', NOW + 1),
    ).toBeUndefined();

    await sql`update interaction_steps set resume_target = ${'no-such-target'}`.execute(db);
    expect(
      await loadInteractionStep(context.signIn.interactionSteps, handle, 'csrf-1', NOW + 1),
    ).toBeUndefined();
  });
});
