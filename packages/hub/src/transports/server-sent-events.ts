import type { ServerResponse } from 'node:http';
import type { Transport, TransportSink } from './transport.js';

/**
 * Server-Sent Events transport: server → client as `data:` lines of one event per send, text only; client →
 * server by POST. Headers are flushed at once: the client's `start()` waits for them.
 *
 * @see TransportProtocols.md "Server-Sent Events"
 */
export class ServerSentEventsTransport implements Transport {
  readonly kind = 'ServerSentEvents' as const;
  private closed = false;

  constructor(
    private readonly response: ServerResponse,
    sink: TransportSink,
    extraHeaders: Readonly<Record<string, string>>,
  ) {
    response.writeHead(200, {
      ...extraHeaders,
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      'x-accel-buffering': 'no',
    });
    response.flushHeaders();
    response.socket?.setNoDelay(true);
    response.on('close', () => {
      if (this.closed) return;
      this.closed = true;
      sink.onTransportClosed(this);
    });
  }

  send(payload: Buffer): void {
    if (this.closed) return;
    const lines = payload.toString('utf8').split(/\r?\n/);
    this.response.write(`data: ${lines.join('\r\ndata: ')}\r\n\r\n`);
  }

  get bufferedBytes(): number {
    return this.response.writableLength;
  }

  close(): void {
    this.closed = true;
    this.response.end();
  }

  abort(): void {
    this.closed = true;
    this.response.destroy();
  }
}
