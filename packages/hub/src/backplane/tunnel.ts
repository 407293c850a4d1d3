import { randomUUID } from 'node:crypto';
import { Duplex } from 'node:stream';
import type { Backplane, BackplaneEnvelope } from './backplane.js';

type TunnelEnvelope = Extract<BackplaneEnvelope, { kind: 'tunnel' }>;

/**
 * One end of a byte stream between two hub nodes, carried by backplane envelopes on the other node's channel.
 * Writes are published one at a time, in order (each write completes once Redis has taken it: back-pressure);
 * received envelopes must arrive in `seq` order, else the tunnel is destroyed (a lost or repeated chunk never
 * reaches HTTP or WebSocket parsing). Emits `accepted` on its first envelope from the peer. It stands in for a socket: `setNoDelay`, `setTimeout` and `setKeepAlive`
 * do nothing.
 */
export class TunnelSocket extends Duplex {
  private sentSeq = 0;
  private receivedSeq = 0;
  private ended = false;

  constructor(
    private readonly tunnels: TunnelEndpoint,
    readonly tunnelId: string,
    /** The node at the other end. */
    readonly peer: string,
  ) {
    super({ allowHalfOpen: false });
  }

  /** An envelope of this tunnel from the peer. */
  receive(envelope: TunnelEnvelope): void {
    if (envelope.seq !== this.receivedSeq) {
      this.destroy(new Error('hub tunnel out of order'));
      return;
    }
    if (this.receivedSeq++ === 0) this.emit('accepted');
    if (envelope.data !== undefined && envelope.data.length > 0) {
      this.push(Buffer.from(envelope.data.buffer, envelope.data.byteOffset, envelope.data.byteLength));
    }
    if (envelope.end === true) {
      this.ended = true;
      this.push(null);
      this.destroy();
    }
  }

  /** Sends an envelope without data (the owner's acceptance). */
  accept(): void {
    void this.publish(undefined, false).catch(() => undefined);
  }

  override _read(): void {
    // Data is pushed as envelopes arrive.
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.publish(chunk, false).then(
      () => {
        callback();
      },
      (error: unknown) => {
        callback(error instanceof Error ? error : new Error('backplane publish failed'));
      },
    );
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.finishOnce();
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.finishOnce();
    this.tunnels.forget(this);
    callback(error);
  }

  setNoDelay(): this {
    return this;
  }

  setTimeout(): this {
    return this;
  }

  setKeepAlive(): this {
    return this;
  }

  private finishOnce(): void {
    if (this.ended) return;
    this.ended = true;
    void this.publish(undefined, true).catch(() => undefined);
  }

  private publish(data: Buffer | undefined, end: boolean): Promise<void> {
    return this.tunnels.publish(this.peer, {
      kind: 'tunnel',
      from: this.tunnels.nodeId,
      tunnelId: this.tunnelId,
      seq: this.sentSeq++,
      ...(data === undefined ? {} : { data }),
      ...(end ? { end: true } : {}),
    });
  }
}

/**
 * The tunnels of one hub node: subscribed to the node's own channel (`{channel}:node:{nodeId}`), it opens
 * tunnels to other nodes and hands the tunnels other nodes open to `onTunnel`.
 */
export class TunnelEndpoint {
  private readonly tunnels = new Map<string, TunnelSocket>();
  private unsubscribe: (() => Promise<void>) | undefined;

  constructor(
    private readonly backplane: Backplane,
    private readonly channel: string,
    readonly nodeId: string,
    /** A tunnel another node opened to this one (its first bytes follow). */
    private readonly onTunnel: (socket: TunnelSocket) => void,
  ) {}

  async start(): Promise<void> {
    this.unsubscribe = await this.backplane.subscribe(this.channelOf(this.nodeId), (envelope) => {
      if (envelope.kind === 'tunnel') this.receive(envelope);
    });
  }

  async stop(): Promise<void> {
    for (const socket of [...this.tunnels.values()]) socket.destroy();
    await this.unsubscribe?.();
  }

  /** Opens a tunnel to `peer`; it is accepted when the peer's first (empty) envelope arrives. */
  open(peer: string): TunnelSocket {
    const socket = new TunnelSocket(this, randomUUID(), peer);
    this.tunnels.set(`${peer} ${socket.tunnelId}`, socket);
    return socket;
  }

  publish(peer: string, envelope: TunnelEnvelope): Promise<void> {
    return this.backplane.publish(this.channelOf(peer), envelope);
  }

  forget(socket: TunnelSocket): void {
    const key = `${socket.peer} ${socket.tunnelId}`;
    if (this.tunnels.get(key) === socket) this.tunnels.delete(key);
  }

  private receive(envelope: TunnelEnvelope): void {
    const key = `${envelope.from} ${envelope.tunnelId}`;
    let socket = this.tunnels.get(key);
    if (socket === undefined) {
      // A new tunnel starts with seq 0; anything else belongs to one that ended here.
      if (envelope.seq !== 0 || envelope.end === true) return;
      socket = new TunnelSocket(this, envelope.tunnelId, envelope.from);
      this.tunnels.set(key, socket);
      socket.accept();
      this.onTunnel(socket);
    }
    socket.receive(envelope);
  }

  private channelOf(nodeId: string): string {
    return `${this.channel}:node:${nodeId}`;
  }
}
