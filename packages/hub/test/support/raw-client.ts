import WebSocket from 'ws';
import { openSocket, RS } from './raw.js';
import { until } from './hub.js';

/** A raw JSON-protocol WebSocket connection past its handshake, for attacks the official client cannot send. */
export interface RawClient {
  readonly socket: WebSocket;
  /** Every record received after the handshake response. */
  readonly messages: Record<string, unknown>[];
  /** Resolves with the close code. */
  readonly closed: Promise<number>;
  /** Sends records in one frame. */
  send(...records: readonly unknown[]): void;
  /** Resolves with the Completion of `invocationId` (or rejects when the connection closes first). */
  completion(invocationId: string, timeoutMs?: number): Promise<Record<string, unknown>>;
}

/** Frames records as the JSON hub protocol does (each followed by the record separator). */
export function frameOf(records: readonly unknown[]): string {
  return records.map((record) => `${JSON.stringify(record)}${RS}`).join('');
}

/** Opens `url` (a hub URL, `?id=` optional) with a bearer token and completes the JSON handshake. */
export async function rawClient(url: string, token: string): Promise<RawClient> {
  const { socket, received, status } = await openSocket(url, { authorization: `Bearer ${token}` });
  if (socket === undefined) throw new Error(`upgrade refused: ${String(status)}`);
  socket.send(`{"protocol":"json","version":1}${RS}`);
  await until(() => received.messages.length > 0);
  if (JSON.stringify(received.messages[0]) !== '{}') throw new Error('handshake refused');
  received.messages.shift();
  let isClosed = false;
  void received.closed.then(() => (isClosed = true));
  return {
    socket,
    messages: received.messages,
    closed: received.closed,
    send(...records) {
      socket.send(frameOf(records));
    },
    async completion(invocationId, timeoutMs = 5000) {
      const find = () => received.messages.find((m) => m.type === 3 && m.invocationId === invocationId);
      await until(() => find() !== undefined || isClosed, timeoutMs);
      const found = find();
      if (found === undefined) {
        throw new Error(
          `closed before the completion of ${invocationId}: ${JSON.stringify(received.messages.at(-1))}`,
        );
      }
      return found;
    },
  };
}
