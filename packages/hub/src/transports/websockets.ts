import type { Duplex } from 'node:stream';
import type { RawData, WebSocket } from 'ws';
import type { Transport, TransportSink } from './transport.js';

/** Bytes a corked socket holds before they are handed over without waiting for the end of the run. */
const MAX_CORKED_BYTES = 64 * 1024;

/** Transports corked in this synchronous run; uncorked together in one microtask. */
let corked: WebSocketTransport[] = [];

function uncorkAll(): void {
  const batch = corked;
  corked = [];
  for (const transport of batch) transport.flush();
}

/**
 * WebSockets transport: every send is one frame holding complete records (a record is never split across
 * frames); text frames for the JSON protocol, binary frames for MessagePack.
 *
 * Frames sent in one synchronous run (e.g. several broadcasts) leave in one `writev` per connection: the first
 * send corks the underlying socket and a microtask uncorks it. A write system call costs far more than the frame
 * (about 8 µs against 1 to 2 µs of JavaScript per delivery in bench/hub), so a burst costs fewer calls; a lone
 * send leaves at the end of the current run, as before.
 *
 * @see TransportProtocols.md "WebSockets (Full Duplex)"
 */
export class WebSocketTransport implements Transport {
  readonly kind = 'WebSockets' as const;
  private closed = false;

  private corked = false;
  private closeTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly socket: WebSocket,
    private readonly sink: TransportSink,
    /** The upgraded connection under `socket`: corked while a run of sends lasts. */
    private readonly raw?: Duplex,
  ) {
    // The listeners are shared by every socket (no closures per connection): each finds its transport here.
    (socket as TransportSocket)[TRANSPORT] = this;
    socket.on('message', onMessage);
    socket.on('close', onClose);
    socket.on('error', onError);
  }

  /** A frame from the client. */
  received(data: RawData): void {
    const pending = this.sink.onData(toBuffer(data));
    if (pending === undefined) return;
    // Back-pressure: no more frames are read from the network until this one is handled.
    const socket = this.socket;
    socket.pause();
    void pending.then(() => {
      if (socket.readyState === 1) socket.resume();
    });
  }

  /** The socket closed, whoever closed it. */
  ended(): void {
    clearTimeout(this.closeTimer);
    if (this.closed) return;
    this.closed = true;
    this.sink.onTransportClosed(this);
  }

  send(payload: Buffer, binary: boolean): void {
    if (this.closed || this.socket.readyState !== 1) return;
    if (!this.corked && this.raw !== undefined) {
      this.corked = true;
      this.raw.cork();
      if (corked.push(this) === 1) queueMicrotask(uncorkAll);
    }
    this.socket.send(payload, binary ? BINARY : TEXT);
    // A long run must not pile up in memory (nor look like a slow consumer): hand it over in slices.
    if (this.corked && (this.raw?.writableLength ?? 0) >= MAX_CORKED_BYTES) this.flush();
  }

  /** Hands what this run sent to the socket in one write. */
  flush(): void {
    if (!this.corked) return;
    this.corked = false;
    this.raw?.uncork();
  }

  get bufferedBytes(): number {
    return this.socket.bufferedAmount;
  }

  close(): void {
    this.closed = true;
    this.flush();
    this.socket.close(1000);
    // A peer that never answers the closing handshake must not keep the socket (nor, through this timer, its
    // memory once it has closed).
    this.closeTimer = setTimeout(() => {
      this.socket.terminate();
    }, 5000).unref();
  }

  abort(): void {
    this.closed = true;
    this.socket.terminate();
  }
}

const TRANSPORT = Symbol('tessera.transport');
type TransportSocket = WebSocket & { [TRANSPORT]?: WebSocketTransport };

function onMessage(this: TransportSocket, data: RawData): void {
  this[TRANSPORT]?.received(data);
}

function onClose(this: TransportSocket): void {
  this[TRANSPORT]?.ended();
}

function onError(): void {
  // 'close' follows; the error itself (reset, bad frame) carries nothing to report to the hub.
}

// Shared send options: one object per frame type instead of one per send.
const TEXT = { binary: false } as const;
const BINARY = { binary: true } as const;

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}
