import type { HubRuntime } from './runtime.js';

/** Sends to a set of connections. Resolves once handed to local transports and published to other nodes. */
export interface ClientProxy {
  /** Invokes `target` on every client of the set (an Invocation without id: no result). */
  send(target: string, ...args: unknown[]): Promise<void>;
}

/** One connection: can also ask the client for a result. */
export interface SingleClientProxy extends ClientProxy {
  /**
   * Client results: invokes `target` with an invocation id and resolves with what the client's handler returns.
   * Only for connections on this node.
   *
   * @throws HubError when the client reports an error, the connection ends, `clientResultTimeoutMs` passes, or the
   *   connection is not on this node.
   */
  invoke(target: string, ...args: unknown[]): Promise<unknown>;
}

/** Targets for server → client calls, usable anywhere (`hubServer.clients`). */
export interface HubClients {
  readonly all: ClientProxy;
  allExcept(connectionIds: readonly string[]): ClientProxy;
  client(connectionId: string): SingleClientProxy;
  clients(connectionIds: readonly string[]): ClientProxy;
  /** Every connection of the user (`userIdentifier`), on every node. */
  user(userId: string): ClientProxy;
  users(userIds: readonly string[]): ClientProxy;
  group(name: string): ClientProxy;
  groups(names: readonly string[]): ClientProxy;
  groupExcept(name: string, excludedConnectionIds: readonly string[]): ClientProxy;
}

/** Targets inside a hub method: adds the caller. */
export interface HubCallerClients extends HubClients {
  readonly caller: SingleClientProxy;
  /** Everyone except the caller. */
  readonly others: ClientProxy;
  othersInGroup(name: string): ClientProxy;
}

/** Group membership, kept on the server (the node owning the connection). */
export interface GroupManager {
  /**
   * Adds a connection (on any node) to a group, after the hub's `authorizeGroup` hook accepted it.
   *
   * @throws HubError "Not authorized to join group 'X'." when the hook refuses; Error when the owning node does not
   *   answer within `groupOperationTimeoutMs`.
   */
  add(connectionId: string, group: string): Promise<void>;
  remove(connectionId: string, group: string): Promise<void>;
}

/** Proxies over the runtime. */
export function createHubClients(runtime: HubRuntime): HubClients {
  const proxy = (send: (target: string, args: unknown[]) => Promise<void>): ClientProxy => ({
    send: (target, ...args) => send(target, args),
  });
  return {
    all: proxy((target, args) => runtime.sendAll(target, args)),
    allExcept: (ids) => proxy((target, args) => runtime.sendAll(target, args, ids)),
    client: (id) => ({
      send: (target, ...args) => runtime.sendConnections([id], target, args),
      invoke: (target, ...args) => runtime.invokeClient(id, target, args),
    }),
    clients: (ids) => proxy((target, args) => runtime.sendConnections(ids, target, args)),
    user: (id) => proxy((target, args) => runtime.sendUsers([id], target, args)),
    users: (ids) => proxy((target, args) => runtime.sendUsers(ids, target, args)),
    group: (name) => proxy((target, args) => runtime.sendGroups([name], target, args)),
    groups: (names) => proxy((target, args) => runtime.sendGroups(names, target, args)),
    groupExcept: (name, ids) => proxy((target, args) => runtime.sendGroups([name], target, args, ids)),
  };
}

/** Proxies for a hub method's context. */
export function createCallerClients(
  runtime: HubRuntime,
  clients: HubClients,
  connectionId: string,
): HubCallerClients {
  return {
    ...clients,
    caller: clients.client(connectionId),
    others: clients.allExcept([connectionId]),
    othersInGroup: (name) => clients.groupExcept(name, [connectionId]),
  };
}

/** The group manager over the runtime. */
export function createGroupManager(runtime: HubRuntime): GroupManager {
  return {
    add: (connectionId, group) => runtime.addToGroup(connectionId, group),
    remove: (connectionId, group) => runtime.removeFromGroup(connectionId, group),
  };
}
