/**
 * What hub nodes tell each other. Sends carry the target and arguments (serialized per protocol by each receiving
 * node, once per protocol); group operations travel to the node that owns the connection and are answered.
 */
export type BackplaneEnvelope =
  | {
      readonly kind: 'all';
      readonly from: string;
      readonly target: string;
      readonly args: readonly unknown[];
      readonly exclude?: readonly string[];
    }
  | {
      readonly kind: 'connections' | 'users';
      readonly from: string;
      readonly ids: readonly string[];
      readonly target: string;
      readonly args: readonly unknown[];
    }
  | {
      readonly kind: 'groups';
      readonly from: string;
      readonly names: readonly string[];
      readonly target: string;
      readonly args: readonly unknown[];
      readonly exclude?: readonly string[];
    }
  | {
      readonly kind: 'group-add' | 'group-remove';
      readonly from: string;
      readonly requestId: string;
      readonly connectionId: string;
      readonly group: string;
    }
  | {
      readonly kind: 'group-reply';
      readonly from: string;
      readonly to: string;
      readonly requestId: string;
      /** `undefined` on success, else a safe error text. */
      readonly error?: string;
    }
  | {
      /** A client result asked of a connection on another node (its node answers with `invoke-reply`). */
      readonly kind: 'invoke';
      readonly from: string;
      readonly requestId: string;
      readonly connectionId: string;
      readonly target: string;
      readonly args: readonly unknown[];
    }
  | {
      /** `accepted` first (the connection is there), then the client's `result` or a safe `error` text. */
      readonly kind: 'invoke-reply';
      readonly from: string;
      readonly to: string;
      readonly requestId: string;
      readonly accepted?: boolean;
      readonly result?: unknown;
      readonly error?: string;
    }
  | {
      /**
       * Bytes of a relayed HTTP exchange (docs/hub.md "Scale-out"), sent on the channel of the node at the other end
       * only. `seq` counts from 0 in each direction (a gap ends the tunnel); the owner's first envelope (seq 0, no
       * data) accepts the tunnel; `end` ends it both ways.
       */
      readonly kind: 'tunnel';
      readonly from: string;
      readonly tunnelId: string;
      readonly seq: number;
      readonly data?: Uint8Array;
      readonly end?: boolean;
    };

/**
 * Where connections live: connection-token hashes to node ids, with a time to live, shared by every node (a Redis
 * key per connection). A node that gets a request for a connection it does not hold asks here which node does.
 */
export interface ConnectionDirectory {
  /** Records (or refreshes) that the connections of `keys` live on `nodeId`, for `ttlMs` ms. */
  set(keys: readonly string[], nodeId: string, ttlMs: number): Promise<void>;
  /** The node id of `key`, if recorded and not expired. */
  get(key: string): Promise<string | undefined>;
  /** Forgets `keys`. */
  delete(keys: readonly string[]): Promise<void>;
}

/**
 * A publish/subscribe bus between hub nodes. Each hub subscribes to its own channel; a node ignores what it
 * published itself (`from` is its node id).
 */
export interface Backplane {
  /**
   * Subscribes to `channel`.
   *
   * @returns a function that unsubscribes.
   */
  subscribe(channel: string, handler: (envelope: BackplaneEnvelope) => void): Promise<() => Promise<void>>;
  /** Publishes to every subscriber of `channel` (including the publisher's own node). */
  publish(channel: string, envelope: BackplaneEnvelope): Promise<void>;
  /** Releases connections. */
  close(): Promise<void>;
  /**
   * The shared connection directory; with it, requests for a connection of another node are relayed to that node
   * (no sticky sessions). The Redis backplane has one; without it every request must reach its connection's node.
   */
  readonly directory?: ConnectionDirectory;
}
