import { HubError, defineHub, type HubCallerContext, type HubDefinition } from '@tessera/hub';
import type { FlowLog } from '../flows/flow-log.js';
import { ACCESS_AS_USER, TODO_MODERATOR } from '../seed/scenario.js';
import type { ChatMessage, TodoStore } from './todo-store.js';

/** Path of the team hub on the Todo API's origin. */
export const TEAM_HUB_PATH = '/hubs/team';
/** Longest chat message, in characters. */
export const MAX_MESSAGE_CHARS = 500;

/** Someone online in a tenant's team. */
export interface OnlineUser {
  /** `oid`. */
  readonly userId: string;
  readonly name: string;
  /** Open connections (tabs, devices) of that user. */
  readonly connections: number;
}

/** The group of a tenant's team: every connection of the tenant joins it, and only those. */
export function teamGroup(tenantId: string): string {
  return `team:${tenantId}`;
}

interface OnlineEntry {
  readonly name: string;
  readonly connections: Set<string>;
}

/**
 * Who is online, per tenant: connection ids of each user, kept on the server (the hub's groups and this map are
 * the only membership; a client never names its group).
 */
class Presence {
  private readonly tenants = new Map<string, Map<string, OnlineEntry>>();

  join(tenantId: string, userId: string, name: string, connectionId: string): void {
    let users = this.tenants.get(tenantId);
    if (users === undefined) this.tenants.set(tenantId, (users = new Map<string, OnlineEntry>()));
    let user = users.get(userId);
    if (user === undefined) users.set(userId, (user = { name, connections: new Set() }));
    user.connections.add(connectionId);
  }

  leave(tenantId: string, userId: string, connectionId: string): void {
    const users = this.tenants.get(tenantId);
    const user = users?.get(userId);
    user?.connections.delete(connectionId);
    if (user?.connections.size === 0) users?.delete(userId);
    if (users?.size === 0) this.tenants.delete(tenantId);
  }

  online(tenantId: string): OnlineUser[] {
    return [...(this.tenants.get(tenantId)?.entries() ?? [])]
      .map(([userId, user]) => ({ userId, name: user.name, connections: user.connections.size }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }
}

/** The caller's tenant, user id and display name, from its validated access token. */
function caller(context: HubCallerContext): { tenantId: string; userId: string; name: string } {
  const claims = context.user;
  const tenantId = typeof claims?.tid === 'string' ? claims.tid : undefined;
  const userId = context.userIdentifier;
  if (tenantId === undefined || userId === undefined) throw new HubError('Sign in first.');
  const name = typeof claims?.name === 'string' ? claims.name : userId;
  return { tenantId, userId, name };
}

/**
 * The team hub (seed 002): a chat and a "who is online" panel per tenant, for users with the Todo API's
 * `access_as_user` scope.
 *
 * - Client → server: `send(text)` (to the caller's team), `history()`, `online()`, and `clearHistory()` for
 *   holders of the `Todo.Moderator` app role only (a method policy on the token's `roles`).
 * - Server → client: `message(ChatMessage)`, `presence(OnlineUser[])`, `cleared(moderatorName)`.
 *
 * A connection joins its tenant's group in `onConnected`, decided by the token's `tid` on the server; the
 * `authorizeGroup` hook refuses any other group, so no client can listen to another tenant.
 */
export function teamHub(todos: TodoStore, flows: FlowLog): HubDefinition {
  const presence = new Presence();
  const broadcastPresence = async (context: HubCallerContext, tenantId: string) => {
    await context.clients.group(teamGroup(tenantId)).send('presence', presence.online(tenantId));
  };
  return defineHub({
    policy: { scopes: [ACCESS_AS_USER] },
    authorizeGroup: (user, group) =>
      typeof user.claims?.tid === 'string' && group === teamGroup(user.claims.tid),
    async onConnected(context) {
      const { tenantId, userId, name } = caller(context);
      await context.groups.add(context.connectionId, teamGroup(tenantId));
      presence.join(tenantId, userId, name, context.connectionId);
      flows.record({
        flow: 'hub',
        outcome: 'ok',
        title: `${name} connected to the team hub`,
        explanation:
          'Negotiate validated the access token (scope access_as_user) and answered a connection id and a separate ' +
          'connection token; the connection joined its tenant’s group, chosen by the server from tid.',
        rules: [
          'The connection token (128 random bits) is not the public connection id, and every request on it must carry the same user.',
          'Group membership is decided on the server from the token’s tid: a client cannot ask to join another tenant’s team.',
          'Cross-origin negotiate and WebSocket upgrades are refused unless the origin is the demo SPA’s.',
        ],
      });
      await broadcastPresence(context, tenantId);
    },
    async onDisconnected(context) {
      const claims = context.user;
      if (typeof claims?.tid !== 'string' || context.userIdentifier === undefined) return;
      presence.leave(claims.tid, context.userIdentifier, context.connectionId);
      await context.clients.group(teamGroup(claims.tid)).send('presence', presence.online(claims.tid));
    },
    methods: {
      async send(context: HubCallerContext, text: unknown): Promise<ChatMessage> {
        const { tenantId, userId, name } = caller(context);
        if (typeof text !== 'string' || text.trim() === '' || text.length > MAX_MESSAGE_CHARS) {
          throw new HubError(`A message is 1 to ${MAX_MESSAGE_CHARS} characters of text.`);
        }
        const message = await todos.addMessage(tenantId, { userId, userName: name, text: text.trim() });
        await context.clients.group(teamGroup(tenantId)).send('message', message);
        return message;
      },
      async history(context: HubCallerContext): Promise<ChatMessage[]> {
        return todos.messages(caller(context).tenantId);
      },
      online(context: HubCallerContext): OnlineUser[] {
        return presence.online(caller(context).tenantId);
      },
      async clearHistory(context: HubCallerContext): Promise<number> {
        const { tenantId, name } = caller(context);
        const removed = await todos.clearMessages(tenantId);
        await context.clients.group(teamGroup(tenantId)).send('cleared', name);
        flows.record({
          flow: 'hub',
          outcome: 'ok',
          title: `${name} (moderator) cleared the team chat`,
          explanation: `The hub method clearHistory requires the app role ${TODO_MODERATOR} in the token’s roles claim.`,
          rules: [
            'Hub methods are authorized per method: a user without the role gets “Failed to invoke … because user is unauthorized”.',
          ],
        });
        return removed;
      },
    },
    methodOptions: { clearHistory: { policy: { userRoles: [TODO_MODERATOR] } } },
  });
}
