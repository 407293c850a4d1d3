import type { HubMessage } from './messages.js';

/** The frame kind a protocol needs: `Text` (UTF-8, may go over SSE) or `Binary`. */
export type TransferFormat = 'Text' | 'Binary';

/** A received payload that is not a valid message of the protocol; the connection is closed when it is raised. */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
}

/**
 * A hub protocol: framing and encoding of {@link HubMessage}s.
 *
 * Parsers are stateful per connection (a record may arrive in several POST bodies), so each connection asks for
 * its own with {@link HubProtocol.createParser}.
 *
 * @see HubProtocol.md "Hub Protocols"
 */
export interface HubProtocol {
  /** Name sent in the handshake: `json` or `messagepack`. */
  readonly name: string;
  /** Highest protocol version supported (2: Ack and Sequence messages). */
  readonly version: number;
  readonly transferFormat: TransferFormat;
  /** Encodes one message as a complete record (JSON: text + `0x1E`; MessagePack: varint length + body). */
  write(message: HubMessage): Buffer;
  /** Encodes `Invocation{target, arguments}` without an id: the broadcast form, serialized once per protocol. */
  writeInvocation(target: string, args: readonly unknown[]): Buffer;
  /**
   * A parser for one connection.
   *
   * @param maxMessageBytes largest accepted record; a larger one (or an unterminated remainder beyond it) throws.
   */
  createParser(maxMessageBytes: number): MessageParser;
}

/**
 * Turns received bytes into messages one at a time, so that the caller decides how much work a turn of the event
 * loop does, keeping an incomplete trailing record for the next bytes.
 */
export interface MessageParser {
  /** Appends received bytes (a WebSocket frame, a POST body or a part of one). */
  push(data: Buffer): void;
  /** Bytes of the records returned by {@link next} so far (a measure of the work done, for input budgets). */
  readonly bytesRead: number;
  /**
   * The next complete message; `null` for a record of an unknown message type (ignored, as HubProtocol.md asks);
   * `undefined` when the bytes received so far hold no complete record.
   *
   * @throws ProtocolError for a malformed record, or a record (complete or not) over `maxMessageBytes`.
   */
  next(): HubMessage | null | undefined;
}
