/**
 * The hub protocol's messages as a discriminated union on `type`.
 *
 * @see dotnet/aspnetcore `src/SignalR/docs/specs/HubProtocol.md` (Overview, "Message Types")
 */

/** Message type numbers (HubProtocol.md, JSON encoding `type` field / MessagePack first array element). */
export const MessageType = {
  Invocation: 1,
  StreamItem: 2,
  Completion: 3,
  StreamInvocation: 4,
  CancelInvocation: 5,
  Ping: 6,
  Close: 7,
  Ack: 8,
  Sequence: 9,
} as const;

/** Headers carried by invocation-like messages; read and ignored, never required. */
export type MessageHeaders = Readonly<Record<string, string>>;

/** Call a method: client → server (hub method) or server → client (client method, or client result with an id). */
export interface InvocationMessage {
  readonly type: 1;
  readonly headers?: MessageHeaders;
  /** Absent: fire and forget, no Completion is sent. */
  readonly invocationId?: string;
  readonly target: string;
  readonly arguments: readonly unknown[];
  /** Upload streams the caller will feed with StreamItem / Completion messages keyed by these ids. */
  readonly streamIds?: readonly string[];
}

/** One item of a server stream (keyed by the StreamInvocation's id) or of an upload stream (keyed by a streamId). */
export interface StreamItemMessage {
  readonly type: 2;
  readonly headers?: MessageHeaders;
  readonly invocationId: string;
  readonly item: unknown;
}

/** Ends an invocation or a stream: `error` xor (`hasResult` and `result`). */
export interface CompletionMessage {
  readonly type: 3;
  readonly headers?: MessageHeaders;
  readonly invocationId: string;
  readonly error?: string;
  /** True when `result` is present (even `null`): JSON `"result"` key / MessagePack result kind 3. */
  readonly hasResult?: boolean;
  readonly result?: unknown;
}

/** Starts a server-to-client stream. */
export interface StreamInvocationMessage {
  readonly type: 4;
  readonly headers?: MessageHeaders;
  readonly invocationId: string;
  readonly target: string;
  readonly arguments: readonly unknown[];
  readonly streamIds?: readonly string[];
}

/** Client asks the server to stop a stream it started. */
export interface CancelInvocationMessage {
  readonly type: 5;
  readonly headers?: MessageHeaders;
  readonly invocationId: string;
}

/** Keep-alive. */
export interface PingMessage {
  readonly type: 6;
}

/** The sender is closing the connection; `allowReconnect` tells a client with automatic reconnect to reconnect. */
export interface CloseMessage {
  readonly type: 7;
  readonly error?: string;
  readonly allowReconnect?: boolean;
}

/** Stateful reconnect: every sequenced message up to and including `sequenceId` was received. */
export interface AckMessage {
  readonly type: 8;
  readonly sequenceId: number;
}

/** Stateful reconnect: the next sequenced message the sender sends has this id. */
export interface SequenceMessage {
  readonly type: 9;
  readonly sequenceId: number;
}

export type HubMessage =
  | InvocationMessage
  | StreamItemMessage
  | CompletionMessage
  | StreamInvocationMessage
  | CancelInvocationMessage
  | PingMessage
  | CloseMessage
  | AckMessage
  | SequenceMessage;

/** Messages that carry a sequence number under stateful reconnect (types 1 to 5). */
export function isSequenced(message: HubMessage): boolean {
  return message.type <= 5;
}
