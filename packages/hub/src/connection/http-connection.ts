import { randomBytes } from 'node:crypto';
import type { AccessTokenClaims } from '@tessera/resource';
import { parseHandshakeRequest, writeHandshakeResponse } from '../protocol/handshake.js';
import type { HubProtocol, MessageParser } from '../protocol/hub-protocol.js';
import { ProtocolError } from '../protocol/hub-protocol.js';
import type { HubMessage } from '../protocol/messages.js';
import { isSequenced } from '../protocol/messages.js';
import type { HubLogger } from '../logging.js';
import type { HubMetrics } from '../metrics.js';
import { LongPollingTransport } from '../transports/long-polling.js';
import type { Transport, TransportKind, TransportSink } from '../transports/transport.js';
import { MessageBuffer } from './message-buffer.js';

/** Generic close reason sent to clients for protocol violations; details stay in the server's logs. */
export const GENERIC_CLOSE_ERROR = 'Connection closed with an error.';

/** The Close error of a connection whose access token reached its `exp`. */
export const TOKEN_EXPIRED_CLOSE_ERROR = 'The access token has expired.';

/**
 * Longest run of one connection's input handling in one turn of the event loop, in ms: past it the connection
 * yields (`setImmediate`) so that timers and other sockets are served between two slices of a large frame.
 */
const INPUT_BUDGET_MS = 4;
/** Messages, or bytes of messages, handled between two clock reads of the input budget. */
const MESSAGES_PER_BUDGET_CHECK = 16;
const BYTES_PER_BUDGET_CHECK = 8192;

/** Timings and limits one connection enforces (resolved from the hub options). */
export interface ConnectionLimits {
  readonly keepAliveIntervalMs: number;
  readonly clientTimeoutMs: number;
  readonly handshakeTimeoutMs: number;
  readonly disconnectTimeoutMs: number;
  readonly maxMessageBytes: number;
  /** Largest WebSocket frame or POST body (a batch of records), in bytes. */
  readonly maxFrameBytes: number;
  readonly maxSendBufferBytes: number;
  readonly ackIntervalMs: number;
}

/** What a connection reports to the hub. */
export interface ConnectionHandler {
  /** The handshake succeeded; messages follow. */
  onHandshake(connection: HttpConnection): void;
  /**
   * A message for the hub. A promise means "wait": the connection reads nothing more until it settles (upload
   * stream back-pressure), and its transport stops reading from the network meanwhile.
   */
  onMessage(connection: HttpConnection, message: HubMessage): Promise<void> | undefined;
  /** The connection is over (any cause); called once. */
  onClosed(connection: HttpConnection, reason: string | undefined): void;
}

/** Lifecycle: `negotiated` → `handshake` → `connected` (⇄ `detached` with stateful reconnect) → `closed`. */
export type ConnectionState = 'negotiated' | 'handshake' | 'connected' | 'detached' | 'closed';

/** The authenticated caller bound to a connection. */
export interface ConnectionUser {
  /** Validated claims; `undefined` for an anonymous connection. */
  readonly claims: AccessTokenClaims | undefined;
  /** The identity the connection token is bound to (`tid:oid`, or `iss:sub`); `undefined` when anonymous. */
  readonly bindingKey: string | undefined;
  /** `exp` in ms since the epoch; `undefined` when anonymous or cookie-authenticated without expiry. */
  readonly expiresAtMs: number | undefined;
}

/**
 * One logical connection: public `connectionId`, secret `connectionToken` (16 random bytes, base64url), the user
 * it is bound to, at most one transport at a time, the handshake, framing, keep-alive and the stateful reconnect
 * buffer.
 *
 * @see TransportProtocols.md "Transport Requirements", "POST [endpoint-base]/negotiate"
 */
export class HttpConnection implements TransportSink {
  readonly connectionId = randomBytes(16).toString('base64url');
  readonly connectionToken = randomBytes(16).toString('base64url');
  state: ConnectionState = 'negotiated';
  transportKind: TransportKind | undefined;
  transport: Transport | undefined;
  protocol: HubProtocol | undefined;
  /** Handshake version 2 on WebSockets after a negotiate that asked for it. */
  stateful: MessageBuffer | undefined;
  /** True while a POST on this connection is being read (a second one gets 409). */
  posting = false;
  private parser: MessageParser | undefined;
  private handshakeBuffer: Buffer | undefined;
  /**
   * Received data not yet handed to the parser (at most what the transport read before it paused). Made on first
   * use, as the waiters below: an idle connection holds neither (docs/benchmarks.md, hub memory).
   */
  private inbound: Buffer[] | undefined;
  /** True while the input loop runs (possibly waiting for the hub or for its next turn). */
  private reading = false;
  private drainWaiters: (() => void)[] | undefined;
  /**
   * When the current state began, in ms since the epoch: the negotiate (`negotiated`), the transport's start
   * (`handshake`), the transport's loss (`detached`). One field for the three timers (a time is a boxed number).
   */
  private stateSinceMs = Date.now();
  private lastReceivedAtMs = this.stateSinceMs;
  private lastSentAtMs = this.stateSinceMs;
  private lastAckAtMs = 0;
  private closeReason: string | undefined;

  constructor(
    public user: ConnectionUser,
    /** The negotiate asked for stateful reconnect (and the hub allows it). */
    readonly statefulRequested: boolean,
    private readonly protocols: ReadonlyMap<string, HubProtocol>,
    private readonly limits: ConnectionLimits,
    private readonly handler: ConnectionHandler,
    private readonly logger: HubLogger,
    /** The hub's counts, when it reports metrics. */
    private readonly metrics?: HubMetrics,
  ) {}

  /** True once the handshake is done and until the connection closes. */
  get open(): boolean {
    return this.state === 'connected' || this.state === 'detached';
  }

  /** Binds the first transport; the handshake clock starts. */
  attach(transport: Transport): void {
    this.transport = transport;
    this.transportKind = transport.kind;
    this.state = 'handshake';
    this.stateSinceMs = Date.now();
    this.lastReceivedAtMs = this.stateSinceMs;
  }

  /**
   * Stateful reconnect: a new WebSocket replaces the dropped (or stale) one. No handshake; the server sends
   * Sequence and replays what the client has not acknowledged.
   */
  reattach(transport: Transport, user: ConnectionUser): void {
    const previous = this.transport;
    this.transport = transport;
    if (previous !== undefined && previous !== transport) previous.abort();
    this.user = user;
    this.state = 'connected';
    this.lastReceivedAtMs = Date.now();
    const buffer = this.stateful;
    if (buffer === undefined || this.protocol === undefined) return;
    buffer.disconnected();
    const { sequenceId, payloads } = buffer.replay();
    const binary = this.protocol.transferFormat === 'Binary';
    transport.send(this.protocol.write({ type: 9, sequenceId }), binary);
    for (const payload of payloads) transport.send(payload, binary);
    this.lastSentAtMs = Date.now();
    this.logger.debug('hub connection re-attached', {
      connectionId: this.connectionId,
      replayed: payloads.length,
    });
  }

  /**
   * Bytes from the client. They are parsed and handed to the hub one message at a time, at most
   * {@link INPUT_BUDGET_MS} per turn of the event loop, and not at all once the connection is closed or has lost
   * its transport.
   *
   * @returns `undefined` when the data was handled at once, else a promise that settles once it has been (the
   *   transport reads nothing more meanwhile: back-pressure on the client).
   */
  onData(data: Buffer): Promise<void> | undefined {
    if (this.state === 'closed' || data.length === 0) return undefined;
    this.lastReceivedAtMs = Date.now();
    if (this.state === 'handshake') {
      this.readHandshake(data);
    } else if (this.parser !== undefined && this.state === 'connected') {
      (this.inbound ??= []).push(data);
      if (!this.reading) void this.read();
    }
    if (!this.reading) return undefined;
    return new Promise((resolve) => {
      (this.drainWaiters ??= []).push(resolve);
    });
  }

  /** The input loop: parse, check, dispatch, within the per-turn budget. */
  private async read(): Promise<void> {
    this.reading = true;
    let turnStartedAtMs = Date.now();
    let sinceCheck = 0;
    let bytesAtCheck = this.parser?.bytesRead ?? 0;
    try {
      while (this.state === 'connected' && this.parser !== undefined) {
        const parser = this.parser;
        const message = parser.next();
        if (message === undefined) {
          const chunk = this.inbound?.shift();
          if (chunk === undefined) break;
          parser.push(chunk);
          continue;
        }
        if (message !== null) {
          const pending = this.dispatch(message, turnStartedAtMs);
          if (pending !== undefined) await pending;
        }
        if (
          ++sinceCheck < MESSAGES_PER_BUDGET_CHECK &&
          parser.bytesRead - bytesAtCheck < BYTES_PER_BUDGET_CHECK
        ) {
          continue;
        }
        sinceCheck = 0;
        bytesAtCheck = parser.bytesRead;
        if (Date.now() - turnStartedAtMs < INPUT_BUDGET_MS) continue;
        await new Promise((resolve) => setImmediate(resolve));
        turnStartedAtMs = Date.now();
      }
    } catch (error) {
      if (error instanceof ProtocolError) {
        this.logger.warn('hub connection closed: invalid message', {
          connectionId: this.connectionId,
          reason: error.message,
        });
      } else {
        this.logger.error('hub message handling failed', {
          connectionId: this.connectionId,
          reason: error instanceof Error ? error.message : 'unknown',
        });
      }
      this.close(GENERIC_CLOSE_ERROR, false);
    } finally {
      this.reading = false;
      this.lastReceivedAtMs = Date.now();
      if (this.state !== 'connected' || this.inbound?.length === 0) this.inbound = undefined;
      const waiters = this.drainWaiters;
      this.drainWaiters = undefined;
      for (const resolve of waiters ?? []) resolve();
    }
  }

  /** One parsed message: expiry, stateful reconnect bookkeeping, Close, then the hub. */
  private dispatch(message: HubMessage, turnStartedAtMs: number): Promise<void> | undefined {
    if (this.metrics !== undefined) this.metrics.messagesIn++;
    const expiresAtMs = this.user.expiresAtMs;
    if (expiresAtMs !== undefined) {
      // An invocation is checked against the clock of its arrival; other messages against the turn's.
      const nowMs = message.type === 1 || message.type === 4 ? Date.now() : turnStartedAtMs;
      if (nowMs >= expiresAtMs) {
        // Before the stateful bookkeeping: the message is not counted as received, so the client replays it
        // after re-attaching with a fresh token.
        this.expireIfDue(nowMs);
        return undefined;
      }
    }
    if (this.stateful !== undefined) {
      try {
        if (!this.stateful.accept(message)) return undefined;
      } catch {
        this.close(GENERIC_CLOSE_ERROR, false);
        return undefined;
      }
      if (message.type === 8) {
        this.stateful.ack(message.sequenceId);
        return undefined;
      }
    }
    if (message.type === 7) {
      this.close(undefined, false, false);
      return undefined;
    }
    if (message.type === 6 || message.type === 8 || message.type === 9) return undefined;
    return this.handler.onMessage(this, message);
  }

  /**
   * Whether the access token has reached its `exp` at `nowMs`, and if so, ends what it authorized: a Close with
   * `allowReconnect` (the client negotiates again with a fresh token) or, with stateful reconnect, the transport
   * only (the client re-attaches with a fresh token of the same user).
   *
   * @returns true when the token has expired (nothing more may be received or sent under it).
   */
  expireIfDue(nowMs: number): boolean {
    const expiresAtMs = this.user.expiresAtMs;
    if (expiresAtMs === undefined || nowMs < expiresAtMs) return false;
    if (this.state !== 'connected' && this.state !== 'handshake') return true;
    this.logger.info('hub connection token expired', { connectionId: this.connectionId });
    if (this.stateful !== undefined && this.state === 'connected') this.dropTransport('access token expired');
    else this.close(TOKEN_EXPIRED_CLOSE_ERROR, true);
    return true;
  }

  /** The transport went away without the server asking. */
  onTransportClosed(transport: Transport): void {
    if (this.state === 'closed' || transport !== this.transport) return;
    if (this.stateful !== undefined && this.state === 'connected') {
      this.state = 'detached';
      this.stateSinceMs = Date.now();
      this.transport = undefined;
      this.stateful.disconnected();
      // What the old socket delivered but was not read is replayed by the client after it re-attaches.
      this.inbound = undefined;
      if (this.protocol !== undefined) this.parser = this.protocol.createParser(this.limits.maxMessageBytes);
      this.logger.debug('hub connection detached', { connectionId: this.connectionId });
      return;
    }
    this.finish(this.closeReason);
  }

  /**
   * Sends one message. Sequenced messages are numbered and buffered under stateful reconnect.
   */
  send(message: HubMessage): void {
    const protocol = this.protocol;
    if (protocol === undefined) return;
    this.sendPayload(protocol.write(message), isSequenced(message));
  }

  /**
   * Sends an already-serialized record (shared between connections of the same protocol). A client whose unsent
   * (or, with stateful reconnect, unacknowledged) bytes pass `maxSendBufferBytes` is dropped: slow consumers must
   * not stall others or grow memory without bound.
   *
   * @param nowMs the send time for keep-alive bookkeeping; a broadcast reads the clock once for all recipients
   *   (reading it costs about 0.4 µs on some hosts, as much as a third of the rest of a delivery).
   */
  sendPayload(payload: Buffer, sequenced: boolean, nowMs = Date.now()): void {
    if (!this.open || this.protocol === undefined) return;
    if (this.stateful !== undefined && sequenced) {
      this.stateful.push(payload);
      if (this.stateful.bufferedBytes > this.limits.maxSendBufferBytes) {
        this.dropSlowConsumer();
        return;
      }
    }
    // Nothing reaches a client past its token's exp (with stateful reconnect, the payload above is replayed once
    // the client re-attaches with a fresh token).
    if (this.user.expiresAtMs !== undefined && nowMs >= this.user.expiresAtMs) {
      this.expireIfDue(nowMs);
      return;
    }
    const transport = this.transport;
    if (transport === undefined) return;
    transport.send(payload, this.protocol.transferFormat === 'Binary');
    this.lastSentAtMs = nowMs;
    if (this.metrics !== undefined) this.metrics.messagesOut++;
    if (transport.bufferedBytes > this.limits.maxSendBufferBytes) this.dropSlowConsumer();
  }

  /**
   * Ends the connection: sends Close (when `sendClose`) with `error` and `allowReconnect`, ends the transport and
   * invalidates the connection token at once.
   */
  close(error: string | undefined, allowReconnect: boolean, sendClose = true): void {
    if (this.state === 'closed') return;
    if (sendClose && this.open && this.transport !== undefined && this.protocol !== undefined) {
      this.transport.send(
        this.protocol.write({
          type: 7,
          ...(error === undefined ? {} : { error }),
          ...(allowReconnect ? { allowReconnect: true } : {}),
        }),
        this.protocol.transferFormat === 'Binary',
      );
      if (this.metrics !== undefined) this.metrics.messagesOut++;
    }
    this.closeReason = error;
    this.transport?.close();
    this.finish(error);
  }

  /**
   * Drops the current transport but keeps the logical connection when stateful reconnect is on (the client
   * re-attaches with a fresh token); otherwise the same as {@link abort}.
   */
  dropTransport(reason: string): void {
    const transport = this.transport;
    if (transport === undefined) return;
    transport.abort();
    this.closeReason = reason;
    this.onTransportClosed(transport);
  }

  /** Ends the connection at once, without a Close message. */
  abort(reason: string): void {
    if (this.state === 'closed') return;
    this.transport?.abort();
    this.finish(reason);
  }

  /**
   * Periodic checks (keep-alive, client timeout, handshake timeout, reconnect window, token expiry, Ack). Token
   * expiry is also checked on every received invocation and every send: the tick only covers an idle connection.
   */
  tick(nowMs: number): void {
    const { limits } = this;
    switch (this.state) {
      case 'closed':
        return;
      case 'negotiated':
        if (nowMs - this.stateSinceMs > limits.disconnectTimeoutMs) this.abort('no transport started');
        return;
      case 'handshake':
        if (nowMs - this.stateSinceMs > limits.handshakeTimeoutMs) {
          this.logger.info('hub handshake timed out', { connectionId: this.connectionId });
          this.abort('handshake timeout');
        }
        return;
      case 'detached':
        if (nowMs - this.stateSinceMs > limits.disconnectTimeoutMs) this.abort('reconnect window elapsed');
        return;
      case 'connected':
        break;
    }
    if (this.expireIfDue(nowMs)) return;
    const transport = this.transport;
    if (transport instanceof LongPollingTransport) {
      if (!transport.polling && nowMs - transport.lastPollEndedAtMs > limits.disconnectTimeoutMs) {
        this.abort('long polling client went away');
      }
      return;
    }
    // While its input waits on the hub (back-pressure), the client is not read: its silence is ours, not its own.
    if (!this.reading && nowMs - this.lastReceivedAtMs > limits.clientTimeoutMs) {
      this.logger.info('hub client timed out', { connectionId: this.connectionId });
      this.close('Server timeout elapsed without receiving a message from the client.', false);
      return;
    }
    if (nowMs - this.lastSentAtMs >= limits.keepAliveIntervalMs) this.send({ type: 6 });
    const buffer = this.stateful;
    if (buffer?.ackDue === true && nowMs - this.lastAckAtMs >= limits.ackIntervalMs) {
      this.lastAckAtMs = nowMs;
      this.send(buffer.ackMessage());
    }
  }

  private readHandshake(data: Buffer): void {
    const received = this.handshakeBuffer === undefined ? data : Buffer.concat([this.handshakeBuffer, data]);
    const parsed = parseHandshakeRequest(received);
    if (parsed.kind === 'incomplete') {
      this.handshakeBuffer = received;
      return;
    }
    this.handshakeBuffer = undefined;
    if (parsed.kind === 'invalid') {
      this.failHandshake('Handshake request is invalid.');
      return;
    }
    const { protocol: name, version } = parsed.request;
    const protocol = this.protocols.get(name);
    if (protocol === undefined) {
      this.failHandshake(`The protocol '${name}' is not supported.`);
      return;
    }
    if (version < 1 || version > protocol.version) {
      this.failHandshake(`The server does not support version ${version} of the '${name}' protocol.`);
      return;
    }
    if (protocol.transferFormat === 'Binary' && this.transportKind === 'ServerSentEvents') {
      this.failHandshake(
        `Cannot use the '${name}' protocol on the current transport. The transport does not support 'Binary' transfer format.`,
      );
      return;
    }
    this.protocol = protocol;
    this.parser = protocol.createParser(this.limits.maxMessageBytes);
    if (this.statefulRequested && version >= 2 && this.transportKind === 'WebSockets') {
      this.stateful = new MessageBuffer();
    }
    this.state = 'connected';
    this.transport?.send(writeHandshakeResponse(), protocol.transferFormat === 'Binary');
    this.lastSentAtMs = Date.now();
    this.handler.onHandshake(this);
    if (parsed.remaining.length > 0 && (this.state as ConnectionState) === 'connected') {
      (this.inbound ??= []).push(parsed.remaining);
      void this.read();
    }
  }

  private failHandshake(error: string): void {
    this.logger.info('hub handshake refused', { connectionId: this.connectionId, error });
    this.transport?.send(writeHandshakeResponse(error), false);
    this.transport?.close();
    this.finish(error);
  }

  private dropSlowConsumer(): void {
    this.logger.warn('hub connection dropped: send buffer full (slow consumer)', {
      connectionId: this.connectionId,
    });
    this.abort('slow consumer');
  }

  private finish(reason: string | undefined): void {
    if (this.state === 'closed') return;
    const wasOpen = this.open;
    this.state = 'closed';
    this.stateful = undefined;
    this.inbound = undefined;
    this.parser = undefined;
    this.handshakeBuffer = undefined;
    if (wasOpen) this.handler.onClosed(this, reason);
    else this.handler.onClosed(this, reason ?? 'closed before the handshake');
  }
}
