import { defineHub, type HubCallerContext } from '@tessera/hub';
import { createTokenValidator } from '@tessera/resource';
import {
  seedInteractiveScenario,
  signInThrough,
  startTestServer,
  TestBrowser,
  type InteractiveScenario,
  type TestServer,
} from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { negotiate } from './support/raw.js';
import { connect, startHub, type RunningHub } from './support/hub.js';

// Role-gated hub methods admit a user whose token carries the role: Tessera puts app roles assigned to the user
// (allowed member type User) in `roles` of delegated tokens, as Entra does. A user without the assignment, and an
// application holding an application permission of the same value, are refused.

let identity: TestServer;
let s: InteractiveScenario;
let hub: RunningHub;
/** An API whose `Chat.Moderator` role is for users and applications alike. */
const chat = { appId: '', identifierUri: '' };

beforeAll(async () => {
  identity = await startTestServer();
  s = await seedInteractiveScenario(identity.directory);
  chat.identifierUri = `api://${s.domain}/chat`;
  const { application } = await identity.directory.applications.create({
    tenant: s.tenantId,
    displayName: 'Chat API',
    identifierUris: [chat.identifierUri],
    scopes: ['Chat.Use'],
    userRoles: ['Chat.Moderator'],
    appRoles: ['Chat.Moderator'],
    requestedAccessTokenVersion: 2,
  });
  chat.appId = application.appId;
  await identity.directory.grants.assignAppRoleToUser({
    tenant: s.tenantId,
    userPrincipalName: s.admin.userPrincipalName,
    resource: chat.identifierUri,
    role: 'Chat.Moderator',
  });
  await identity.directory.grants.grantAppRole({
    tenant: s.tenantId,
    clientAppId: s.web.appId,
    resource: chat.identifierUri,
    role: 'Chat.Moderator',
  });
  await identity.server.refresh();
  hub = await startHub({
    path: '/hubs/moderation',
    hub: defineHub({
      methods: { say: (_context: HubCallerContext, text: string) => text, mute: () => 'muted' },
      methodOptions: { mute: { policy: { userRoles: ['Chat.Moderator'] } } },
    }),
    authentication: {
      validator: createTokenValidator({ authority: `${identity.url}/${s.tenantId}`, audience: chat.appId }),
    },
  });
});
afterAll(async () => {
  await hub.close();
  await identity.close();
});

const tokenEndpoint = () => `${identity.url}/${s.tenantId}/oauth2/v2.0/token`;

/** A real delegated token for the Chat API: the user signs in to the web app, which redeems the code. */
async function userToken(upn: string): Promise<string> {
  const params = new URLSearchParams({
    client_id: s.web.appId,
    response_type: 'code',
    redirect_uri: s.web.redirectUri,
    scope: `${chat.identifierUri}/Chat.Use`,
  });
  const back = await signInThrough(
    new TestBrowser(),
    `${identity.url}/${s.tenantId}/oauth2/v2.0/authorize?${params.toString()}`,
    { userName: upn, password: s.password },
  );
  const response = await fetch(tokenEndpoint(), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      client_id: s.web.appId,
      client_secret: s.web.secret,
      grant_type: 'authorization_code',
      code: new URL(back.location ?? '').searchParams.get('code') ?? '',
      redirect_uri: s.web.redirectUri,
    }),
  });
  return ((await response.json()) as { access_token: string }).access_token;
}

/** The web app's own app-only token: it holds `Chat.Moderator` as an application permission. */
async function appToken(): Promise<string> {
  const response = await fetch(tokenEndpoint(), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      client_id: s.web.appId,
      client_secret: s.web.secret,
      grant_type: 'client_credentials',
      scope: `${chat.identifierUri}/.default`,
    }),
  });
  return ((await response.json()) as { access_token: string }).access_token;
}

describe('a userRoles policy with real Tessera user tokens', () => {
  const callers: readonly { name: string; token: () => Promise<string>; admitted: boolean }[] = [
    { name: 'a user assigned the role', token: () => userToken(s.admin.userPrincipalName), admitted: true },
    { name: 'a user without it', token: () => userToken(s.user.userPrincipalName), admitted: false },
    { name: 'an app holding it as an application permission', token: appToken, admitted: false },
  ];

  it.each(callers)('$name: admitted $admitted', async ({ token, admitted }) => {
    const accessToken = await token();
    expect((await negotiate(hub.url, { token: accessToken })).status).toBe(200);
    const connection = await connect(hub.url, { transport: 'WebSockets', token: () => accessToken });
    try {
      expect(await connection.invoke('say', 'hi')).toBe('hi');
      if (admitted) expect(await connection.invoke('mute')).toBe('muted');
      else
        await expect(connection.invoke('mute')).rejects.toThrow(
          "Failed to invoke 'mute' because user is unauthorized",
        );
    } finally {
      await connection.stop();
    }
  });
});
