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
    };

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
}
