/** Transport names, as in the negotiate response and the `transport` the client asks for. */
export type TransportKind = 'WebSockets' | 'ServerSentEvents' | 'LongPolling';

/** Every transport, in the order negotiate lists them. */
export const ALL_TRANSPORTS: readonly TransportKind[] = ['WebSockets', 'ServerSentEvents', 'LongPolling'];

/** What a transport tells its connection. */
export interface TransportSink {
  /**
   * Bytes from the client (WebSocket frames; SSE and Long Polling get theirs from POST requests). A promise means
   * the data is still being handled: read nothing more from the client until it settles.
   */
  onData(data: Buffer): Promise<void> | undefined;
  /** The transport ended without the connection asking (socket closed, poll never came back, …). */
  onTransportClosed(transport: Transport): void;
}

/**
 * The server side of one transport of one connection.
 *
 * @see TransportProtocols.md
 */
export interface Transport {
  readonly kind: TransportKind;
  /**
   * Queues complete records for the client. `binary` selects a binary WebSocket frame; SSE only ever carries text.
   * Never throws; a transport that is gone drops the data.
   */
  send(payload: Buffer, binary: boolean): void;
  /** Bytes accepted but not yet handed to the kernel, in bytes: the slow-consumer measure. */
  readonly bufferedBytes: number;
  /** Ends the transport after what is queued has been sent. */
  close(): void;
  /** Ends the transport at once. */
  abort(): void;
}
