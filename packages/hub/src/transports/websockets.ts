import type { RawData, WebSocket } from 'ws';
import type { Transport, TransportSink } from './transport.js';

/**
 * WebSockets transport: every send is one frame holding complete records (a record is never split across
 * frames); text frames for the JSON protocol, binary frames for MessagePack.
 *
 * @see TransportProtocols.md "WebSockets (Full Duplex)"
 */
export class WebSocketTransport implements Transport {
  readonly kind = 'WebSockets' as const;
  private closed = false;

  constructor(
    private readonly socket: WebSocket,
    sink: TransportSink,
  ) {
    socket.on('message', (data: RawData) => {
      sink.onData(toBuffer(data));
    });
    socket.on('close', () => {
      if (this.closed) return;
      this.closed = true;
      sink.onTransportClosed(this);
    });
    socket.on('error', () => {
      // 'close' follows; the error itself (reset, bad frame) carries nothing to report to the hub.
    });
  }

  send(payload: Buffer, binary: boolean): void {
    if (this.closed || this.socket.readyState !== 1) return;
    this.socket.send(payload, { binary });
  }

  get bufferedBytes(): number {
    return this.socket.bufferedAmount;
  }

  close(): void {
    this.closed = true;
    this.socket.close(1000);
    // A peer that never answers the closing handshake must not keep the socket.
    setTimeout(() => {
      this.socket.terminate();
    }, 5000).unref();
  }

  abort(): void {
    this.closed = true;
    this.socket.terminate();
  }
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}
