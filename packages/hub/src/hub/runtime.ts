import { randomUUID } from 'node:crypto';
import type { Backplane, BackplaneEnvelope } from '../backplane/backplane.js';
import type { HttpConnection } from '../connection/http-connection.js';
import type { HubLogger } from '../logging.js';
import type { HubProtocol } from '../protocol/hub-protocol.js';
import type { HubUser } from '../security/policy.js';
import type { ResolvedHub } from './definition.js';
import { HubError } from './errors.js';

/** A connection of this node, as the runtime delivers to it. */
export interface LocalConnection {
  readonly connectionId: string;
  readonly connection: HttpConnection;
  readonly user: HubUser;
  /** Groups this connection is in (membership lives here, on its node). */
  readonly groups: Set<string>;
  /** Client results. */
  invokeClient(target: string, args: readonly unknown[]): Promise<unknown>;
}

interface PendingGroupOperation {
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

interface PendingClientResult {
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
  timer: NodeJS.Timeout;
  /** The connection's node has the request: the wait becomes the client result's. */
  readonly accepted: () => void;
}

/**
 * Who is connected where: local connections by id, user and group, and the backplane for the rest. A send is
 * serialized at most once per protocol for all local recipients.
 */
export class HubRuntime {
  readonly nodeId = randomUUID();
  readonly connections = new Map<string, LocalConnection>();
  private readonly users = new Map<string, Set<LocalConnection>>();
  private readonly groups = new Map<string, Set<LocalConnection>>();
  private readonly pending = new Map<string, PendingGroupOperation>();
  /** Client results asked of connections on other nodes, by request id. */
  private readonly results = new Map<string, PendingClientResult>();
  private unsubscribe: (() => Promise<void>) | undefined;

  constructor(
    private readonly hub: ResolvedHub,
    private readonly backplane: Backplane | undefined,
    private readonly channel: string,
    private readonly groupOperationTimeoutMs: number,
    /** Groups one connection may be in. */
    private readonly maxGroupsPerClient: number,
    private readonly logger: HubLogger,
    /** How long a client result may take once the connection's node has it, in ms. */
    private readonly clientResultTimeoutMs = 30_000,
  ) {}

  async start(): Promise<void> {
    if (this.backplane === undefined) return;
    this.unsubscribe = await this.backplane.subscribe(this.channel, (envelope) => {
      if (envelope.from !== this.nodeId) this.receive(envelope);
    });
  }

  async stop(): Promise<void> {
    for (const operation of this.pending.values()) {
      clearTimeout(operation.timer);
      operation.reject(new Error('The hub is shutting down.'));
    }
    this.pending.clear();
    for (const result of this.results.values()) {
      clearTimeout(result.timer);
      result.reject(new Error('The hub is shutting down.'));
    }
    this.results.clear();
    await this.unsubscribe?.();
  }

  register(local: LocalConnection): void {
    this.connections.set(local.connectionId, local);
    const userId = local.user.userIdentifier;
    if (userId !== undefined) addTo(this.users, userId, local);
  }

  unregister(local: LocalConnection): void {
    if (this.connections.get(local.connectionId) !== local) return;
    this.connections.delete(local.connectionId);
    const userId = local.user.userIdentifier;
    if (userId !== undefined) removeFrom(this.users, userId, local);
    for (const group of local.groups) removeFrom(this.groups, group, local);
    local.groups.clear();
  }

  sendAll(target: string, args: readonly unknown[], exclude?: readonly string[]): Promise<void> {
    this.deliver(this.connections.values(), target, args, exclude);
    return this.publish({ kind: 'all', from: this.nodeId, target, args, ...(exclude ? { exclude } : {}) });
  }

  sendConnections(ids: readonly string[], target: string, args: readonly unknown[]): Promise<void> {
    const remote: string[] = [];
    const local: LocalConnection[] = [];
    for (const id of ids) {
      const connection = this.connections.get(id);
      if (connection === undefined) remote.push(id);
      else local.push(connection);
    }
    this.deliver(local, target, args);
    return remote.length === 0
      ? Promise.resolve()
      : this.publish({ kind: 'connections', from: this.nodeId, ids: remote, target, args });
  }

  sendUsers(ids: readonly string[], target: string, args: readonly unknown[]): Promise<void> {
    this.deliver(this.membersOf(this.users, ids), target, args);
    return this.publish({ kind: 'users', from: this.nodeId, ids, target, args });
  }

  sendGroups(
    names: readonly string[],
    target: string,
    args: readonly unknown[],
    exclude?: readonly string[],
  ): Promise<void> {
    this.deliver(this.membersOf(this.groups, names), target, args, exclude);
    return this.publish({
      kind: 'groups',
      from: this.nodeId,
      names,
      target,
      args,
      ...(exclude ? { exclude } : {}),
    });
  }

  async addToGroup(connectionId: string, group: string): Promise<void> {
    const local = this.connections.get(connectionId);
    if (local !== undefined) {
      await this.addLocal(local, group);
      return;
    }
    await this.remoteGroupOperation('group-add', connectionId, group);
  }

  async removeFromGroup(connectionId: string, group: string): Promise<void> {
    const local = this.connections.get(connectionId);
    if (local !== undefined) {
      local.groups.delete(group);
      removeFrom(this.groups, group, local);
      return;
    }
    await this.remoteGroupOperation('group-remove', connectionId, group);
  }

  invokeClient(connectionId: string, target: string, args: readonly unknown[]): Promise<unknown> {
    const local = this.connections.get(connectionId);
    if (local !== undefined) return local.invokeClient(target, args);
    if (this.backplane === undefined) {
      return Promise.reject(new HubError(`Connection '${connectionId}' is not connected.`));
    }
    return this.remoteClientResult(connectionId, target, args);
  }

  /**
   * A client result of a connection on another node: its node accepts within `groupOperationTimeoutMs` (else the
   * connection is on no node), then answers the client's result or error within `clientResultTimeoutMs` more.
   */
  private remoteClientResult(
    connectionId: string,
    target: string,
    args: readonly unknown[],
  ): Promise<unknown> {
    const requestId = randomUUID();
    return new Promise<unknown>((resolve, reject) => {
      const expire = (message: string) =>
        setTimeout(() => {
          this.results.delete(requestId);
          reject(new HubError(message));
        }, this.groupOperationTimeoutMs);
      const pending: PendingClientResult = {
        resolve,
        reject,
        timer: expire(`Connection '${connectionId}' is not connected.`),
        accepted: () => {
          clearTimeout(pending.timer);
          pending.timer = setTimeout(() => {
            this.results.delete(requestId);
            reject(new HubError('Timed out waiting for the client result.'));
          }, this.clientResultTimeoutMs + this.groupOperationTimeoutMs);
        },
      };
      this.results.set(requestId, pending);
      this.publish({ kind: 'invoke', from: this.nodeId, requestId, connectionId, target, args }).catch(
        (error: unknown) => {
          clearTimeout(pending.timer);
          this.results.delete(requestId);
          reject(error instanceof Error ? error : new Error('backplane publish failed'));
        },
      );
    });
  }

  private async addLocal(local: LocalConnection, group: string): Promise<void> {
    const authorize = this.hub.definition.authorizeGroup;
    let allowed = true;
    if (authorize !== undefined) {
      try {
        allowed = await authorize(local.user, group);
      } catch {
        allowed = false;
      }
    }
    if (!allowed) throw new HubError(`Not authorized to join group '${group}'.`);
    if (!this.connections.has(local.connectionId)) return;
    if (!local.groups.has(group) && local.groups.size >= this.maxGroupsPerClient) {
      throw new HubError(
        `Failed to join group '${group}': a connection may be in at most ${this.maxGroupsPerClient} groups.`,
      );
    }
    local.groups.add(group);
    addTo(this.groups, group, local);
  }

  private remoteGroupOperation(
    kind: 'group-add' | 'group-remove',
    connectionId: string,
    group: string,
  ): Promise<void> {
    if (this.backplane === undefined) {
      return kind === 'group-remove'
        ? Promise.resolve()
        : Promise.reject(new HubError(`Connection '${connectionId}' is not connected.`));
    }
    const requestId = randomUUID();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(requestId);
        if (kind === 'group-remove') resolve();
        else reject(new HubError(`Connection '${connectionId}' is not connected.`));
      }, this.groupOperationTimeoutMs);
      this.pending.set(requestId, { resolve, reject, timer });
      this.publish({ kind, from: this.nodeId, requestId, connectionId, group }).catch((error: unknown) => {
        clearTimeout(timer);
        this.pending.delete(requestId);
        reject(error instanceof Error ? error : new Error('backplane publish failed'));
      });
    });
  }

  private receive(envelope: BackplaneEnvelope): void {
    switch (envelope.kind) {
      case 'all':
        this.deliver(this.connections.values(), envelope.target, envelope.args, envelope.exclude);
        return;
      case 'connections': {
        const targets = envelope.ids.map((id) => this.connections.get(id)).filter((c) => c !== undefined);
        this.deliver(targets, envelope.target, envelope.args);
        return;
      }
      case 'users':
        this.deliver(this.membersOf(this.users, envelope.ids), envelope.target, envelope.args);
        return;
      case 'groups':
        this.deliver(
          this.membersOf(this.groups, envelope.names),
          envelope.target,
          envelope.args,
          envelope.exclude,
        );
        return;
      case 'group-add':
      case 'group-remove': {
        const local = this.connections.get(envelope.connectionId);
        if (local === undefined) return;
        const done =
          envelope.kind === 'group-add'
            ? this.addLocal(local, envelope.group)
            : this.removeFromGroup(envelope.connectionId, envelope.group);
        done.then(
          () => {
            this.reply(envelope.from, envelope.requestId, undefined);
          },
          (error: unknown) => {
            this.reply(
              envelope.from,
              envelope.requestId,
              error instanceof HubError ? error.message : 'Group operation failed.',
            );
          },
        );
        return;
      }
      case 'invoke': {
        const local = this.connections.get(envelope.connectionId);
        if (local === undefined) return;
        const answer = (fields: { accepted?: boolean; result?: unknown; error?: string }) => {
          this.publish({
            kind: 'invoke-reply',
            from: this.nodeId,
            to: envelope.from,
            requestId: envelope.requestId,
            ...fields,
          }).catch(() => undefined);
        };
        answer({ accepted: true });
        local.invokeClient(envelope.target, envelope.args).then(
          (result) => {
            answer({ result: result ?? null });
          },
          (error: unknown) => {
            answer({ error: error instanceof Error ? error.message : 'Client result failed.' });
          },
        );
        return;
      }
      case 'invoke-reply': {
        if (envelope.to !== this.nodeId) return;
        const pending = this.results.get(envelope.requestId);
        if (pending === undefined) return;
        if (envelope.accepted === true) {
          pending.accepted();
          return;
        }
        this.results.delete(envelope.requestId);
        clearTimeout(pending.timer);
        if (envelope.error === undefined) pending.resolve(envelope.result);
        else pending.reject(new HubError(envelope.error));
        return;
      }
      case 'group-reply': {
        if (envelope.to !== this.nodeId) return;
        const operation = this.pending.get(envelope.requestId);
        if (operation === undefined) return;
        this.pending.delete(envelope.requestId);
        clearTimeout(operation.timer);
        if (envelope.error === undefined) operation.resolve();
        else operation.reject(new HubError(envelope.error));
        return;
      }
    }
  }

  private reply(to: string, requestId: string, error: string | undefined): void {
    this.publish({
      kind: 'group-reply',
      from: this.nodeId,
      to,
      requestId,
      ...(error === undefined ? {} : { error }),
    }).catch(() => undefined);
  }

  private publish(envelope: BackplaneEnvelope): Promise<void> {
    if (this.backplane === undefined) return Promise.resolve();
    return this.backplane.publish(this.channel, envelope).catch((error: unknown) => {
      this.logger.error('hub backplane publish failed', {
        reason: error instanceof Error ? error.message : 'unknown',
      });
      throw error;
    });
  }

  private membersOf(
    index: Map<string, Set<LocalConnection>>,
    keys: readonly string[],
  ): Iterable<LocalConnection> {
    if (keys.length === 1) return index.get(keys[0] ?? '') ?? [];
    const members = new Set<LocalConnection>();
    for (const key of keys) for (const member of index.get(key) ?? []) members.add(member);
    return members;
  }

  /** Serializes once per protocol, then hands the same bytes to every recipient. */
  private deliver(
    targets: Iterable<LocalConnection>,
    target: string,
    args: readonly unknown[],
    exclude?: readonly string[],
  ): void {
    const excluded = exclude === undefined || exclude.length === 0 ? undefined : new Set(exclude);
    let cachedProtocol: HubProtocol | undefined;
    let cachedPayload: Buffer | undefined;
    let others: Map<HubProtocol, Buffer> | undefined;
    const nowMs = Date.now();
    for (const local of targets) {
      if (excluded?.has(local.connectionId) === true) continue;
      const { connection } = local;
      const protocol = connection.protocol;
      if (protocol === undefined) continue;
      let payload: Buffer | undefined;
      if (protocol === cachedProtocol) payload = cachedPayload;
      else if (cachedProtocol === undefined) {
        cachedProtocol = protocol;
        payload = cachedPayload = protocol.writeInvocation(target, args);
      } else {
        others ??= new Map();
        payload = others.get(protocol);
        if (payload === undefined) {
          payload = protocol.writeInvocation(target, args);
          others.set(protocol, payload);
        }
      }
      if (payload !== undefined) connection.sendPayload(payload, true, nowMs);
    }
  }
}

function addTo<K, V>(index: Map<K, Set<V>>, key: K, value: V): void {
  let set = index.get(key);
  if (set === undefined) {
    set = new Set();
    index.set(key, set);
  }
  set.add(value);
}

function removeFrom<K, V>(index: Map<K, Set<V>>, key: K, value: V): void {
  const set = index.get(key);
  if (set === undefined) return;
  set.delete(value);
  if (set.size === 0) index.delete(key);
}
