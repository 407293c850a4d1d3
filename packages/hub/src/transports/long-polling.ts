import type { ServerResponse } from 'node:http';
import type { Transport, TransportSink } from './transport.js';

/** Long Polling timings. */
export interface LongPollingOptions {
  /** How long a poll waits for data before answering 200 with an empty body, in ms (default 90000). */
  readonly pollTimeoutMs: number;
}

interface PendingPoll {
  readonly response: ServerResponse;
  readonly timer: NodeJS.Timeout;
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * Long Polling transport: each GET takes everything queued (or waits up to `pollTimeoutMs`); a newer poll ends the
 * older one with 204; once the connection is closed, polls answer 204. The first poll of a connection answers at
 * once with an empty 200 (the client's `start()` waits for it).
 *
 * @see TransportProtocols.md "Long Polling"
 */
export class LongPollingTransport implements Transport {
  readonly kind = 'LongPolling' as const;
  private queue: Buffer[] = [];
  private queuedBytes = 0;
  private poll: PendingPoll | undefined;
  private closed = false;
  private binary = false;
  /** When the last poll ended, in ms since the epoch; the connection closes when no poll follows in time. */
  lastPollEndedAtMs = Date.now();

  constructor(
    private readonly options: LongPollingOptions,
    private readonly sink: TransportSink,
  ) {}

  /** True while a poll request is waiting. */
  get polling(): boolean {
    return this.poll !== undefined;
  }

  /** Handles a poll request (the first one is answered empty by the caller). */
  addPoll(response: ServerResponse, headers: Readonly<Record<string, string>>): void {
    this.endPoll(204);
    if (this.closed && this.queue.length === 0) {
      response.writeHead(204, headers).end();
      return;
    }
    const timer = setTimeout(() => {
      this.endPoll(200);
    }, this.options.pollTimeoutMs);
    this.poll = { response, timer, headers };
    response.on('close', () => {
      if (this.poll?.response !== response) return;
      clearTimeout(timer);
      this.poll = undefined;
      this.lastPollEndedAtMs = Date.now();
    });
    if (this.queue.length > 0) this.flush();
  }

  send(payload: Buffer, binary: boolean): void {
    if (this.closed) return;
    this.binary = binary;
    this.queue.push(payload);
    this.queuedBytes += payload.length;
    if (this.poll !== undefined)
      setImmediate(() => {
        this.flush();
      });
  }

  get bufferedBytes(): number {
    return this.queuedBytes + (this.poll?.response.writableLength ?? 0);
  }

  close(): void {
    this.closed = true;
    if (this.poll !== undefined) {
      if (this.queue.length > 0) this.flush();
      else this.endPoll(204);
    }
  }

  abort(): void {
    this.closed = true;
    this.queue = [];
    this.queuedBytes = 0;
    this.endPoll(204);
  }

  /** Called when the client DELETEs the connection: the pending poll ends with 204. */
  terminate(): void {
    this.abort();
    this.sink.onTransportClosed(this);
  }

  private flush(): void {
    const poll = this.poll;
    if (poll === undefined || this.queue.length === 0) return;
    const body = Buffer.concat(this.queue);
    this.queue = [];
    this.queuedBytes = 0;
    this.finish(poll);
    poll.response
      .writeHead(200, {
        ...poll.headers,
        'content-type': this.binary ? 'application/octet-stream' : 'text/plain; charset=utf-8',
        'content-length': String(body.length),
        'cache-control': 'no-cache',
      })
      .end(body);
  }

  private endPoll(status: 200 | 204): void {
    const poll = this.poll;
    if (poll === undefined) return;
    this.finish(poll);
    poll.response.writeHead(status, { ...poll.headers, 'content-length': '0' }).end();
  }

  private finish(poll: PendingPoll): void {
    clearTimeout(poll.timer);
    this.poll = undefined;
    this.lastPollEndedAtMs = Date.now();
  }
}
