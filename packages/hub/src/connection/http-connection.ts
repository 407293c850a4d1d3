import { randomBytes } from 'node:crypto';
import type { AccessTokenClaims } from '@tessera/resource';
import { parseHandshakeRequest, writeHandshakeResponse } from '../protocol/handshake.js';
import type { HubProtocol, MessageParser } from '../protocol/hub-protocol.js';
import { ProtocolError } from '../protocol/hub-protocol.js';
import type { HubMessage } from '../protocol/messages.js';
import { isSequenced } from '../protocol/messages.js';
import type { HubLogger } from '../logging.js';
import { LongPollingTransport } from '../transports/long-polling.js';
import type { Transport, TransportKind, TransportSink } from '../transports/transport.js';
import { MessageBuffer } from './message-buffer.js';

/** Generic close reason sent to clients for protocol violations; details stay in the server's logs. */
export const GENERIC_CLOSE_ERROR = 'Connection closed with an error.';

/** Timings and limits one connection enforces (resolved from the hub options). */
export interface ConnectionLimits {
  readonly keepAliveIntervalMs: number;
  readonly clientTimeoutMs: number;
  readonly handshakeTimeoutMs: number;
  readonly disconnectTimeoutMs: number;
  readonly maxMessageBytes: number;
  readonly maxSendBufferBytes: number;
  readonly ackIntervalMs: number;
}

/** What a connection reports to the hub. */
export interface ConnectionHandler {
  /** The handshake succeeded; messages follow. */
  onHandshake(connection: HttpConnection): void;
  onMessage(connection: HttpConnection, message: HubMessage): void;
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
  readonly createdAtMs = Date.now();
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
  private lastReceivedAtMs = Date.now();
  private lastSentAtMs = Date.now();
  private lastAckAtMs = 0;
  private attachedAtMs = 0;
  private detachedAtMs = 0;
  private handshakeStartedAtMs = 0;
  private closeReason: string | undefined;

  constructor(
    public user: ConnectionUser,
    /** The negotiate asked for stateful reconnect (and the hub allows it). */
    readonly statefulRequested: boolean,
    private readonly protocols: ReadonlyMap<string, HubProtocol>,
    private readonly limits: ConnectionLimits,
    private readonly handler: ConnectionHandler,
    private readonly logger: HubLogger,
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
    this.attachedAtMs = Date.now();
    this.handshakeStartedAtMs = this.attachedAtMs;
    this.lastReceivedAtMs = this.attachedAtMs;
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

  /** Bytes from the client. */
  onData(data: Buffer): void {
    if (this.state === 'closed' || data.length === 0) return;
    this.lastReceivedAtMs = Date.now();
    if (this.state === 'handshake') {
      this.readHandshake(data);
      return;
    }
    if (this.parser === undefined) return;
    let messages: HubMessage[];
    try {
      messages = this.parser.parse(data);
    } catch (error) {
      this.logger.warn('hub connection closed: invalid message', {
        connectionId: this.connectionId,
        reason: error instanceof ProtocolError ? error.message : 'parse failure',
      });
      this.close(GENERIC_CLOSE_ERROR, false);
      return;
    }
    for (const message of messages) {
      if ((this.state as ConnectionState) === 'closed') return;
      if (this.stateful !== undefined) {
        try {
          if (!this.stateful.accept(message)) continue;
        } catch {
          this.close(GENERIC_CLOSE_ERROR, false);
          return;
        }
        if (message.type === 8) {
          this.stateful.ack(message.sequenceId);
          continue;
        }
      }
      if (message.type === 7) {
        this.close(undefined, false, false);
        return;
      }
      if (message.type === 6 || message.type === 8 || message.type === 9) continue;
      this.handler.onMessage(this, message);
    }
  }

  /** The transport went away without the server asking. */
  onTransportClosed(transport: Transport): void {
    if (this.state === 'closed' || transport !== this.transport) return;
    if (this.stateful !== undefined && this.state === 'connected') {
      this.state = 'detached';
      this.detachedAtMs = Date.now();
      this.transport = undefined;
      this.stateful.disconnected();
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
    const transport = this.transport;
    if (transport === undefined) return;
    transport.send(payload, this.protocol.transferFormat === 'Binary');
    this.lastSentAtMs = nowMs;
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
   * Periodic checks (keep-alive, client timeout, handshake timeout, reconnect window, token expiry, Ack).
   *
   * @returns an expiry action for the hub to apply: the token lifetime has ended.
   */
  tick(nowMs: number): 'expired' | undefined {
    const { limits } = this;
    switch (this.state) {
      case 'closed':
        return undefined;
      case 'negotiated':
        if (nowMs - this.createdAtMs > limits.disconnectTimeoutMs) this.abort('no transport started');
        return undefined;
      case 'handshake':
        if (nowMs - this.handshakeStartedAtMs > limits.handshakeTimeoutMs) {
          this.logger.info('hub handshake timed out', { connectionId: this.connectionId });
          this.abort('handshake timeout');
        }
        return undefined;
      case 'detached':
        if (nowMs - this.detachedAtMs > limits.disconnectTimeoutMs) this.abort('reconnect window elapsed');
        return undefined;
      case 'connected':
        break;
    }
    if (this.user.expiresAtMs !== undefined && nowMs >= this.user.expiresAtMs) return 'expired';
    const transport = this.transport;
    if (transport instanceof LongPollingTransport) {
      if (!transport.polling && nowMs - transport.lastPollEndedAtMs > limits.disconnectTimeoutMs) {
        this.abort('long polling client went away');
      }
      return undefined;
    }
    if (nowMs - this.lastReceivedAtMs > limits.clientTimeoutMs) {
      this.logger.info('hub client timed out', { connectionId: this.connectionId });
      this.close('Server timeout elapsed without receiving a message from the client.', false);
      return undefined;
    }
    if (nowMs - this.lastSentAtMs >= limits.keepAliveIntervalMs) this.send({ type: 6 });
    const buffer = this.stateful;
    if (buffer?.ackDue === true && nowMs - this.lastAckAtMs >= limits.ackIntervalMs) {
      this.lastAckAtMs = nowMs;
      this.send(buffer.ackMessage());
    }
    return undefined;
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
    if (parsed.remaining.length > 0) this.onData(parsed.remaining);
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
    if (wasOpen) this.handler.onClosed(this, reason);
    else this.handler.onClosed(this, reason ?? 'closed before the handshake');
  }
}
