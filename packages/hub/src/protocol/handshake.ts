import { RECORD_SEPARATOR } from './json-protocol.js';

/** The client's first message: `{"protocol":"json"|"messagepack","version":1|2}` + `0x1E`. */
export interface HandshakeRequest {
  readonly protocol: string;
  readonly version: number;
}

/** Largest handshake request accepted, in bytes; the real one is about 40. */
export const MAX_HANDSHAKE_BYTES = 1024;

/** Outcome of reading the start of a connection's input. */
export type HandshakeParse =
  | { readonly kind: 'incomplete' }
  | { readonly kind: 'invalid' }
  | { readonly kind: 'request'; readonly request: HandshakeRequest; readonly remaining: Buffer };

/**
 * Reads the handshake request from the data received so far (always JSON text, whatever the protocol).
 *
 * @see HubProtocol.md "Overview" (handshake)
 */
export function parseHandshakeRequest(data: Buffer): HandshakeParse {
  const end = data.indexOf(RECORD_SEPARATOR);
  if (end === -1) return data.length > MAX_HANDSHAKE_BYTES ? { kind: 'invalid' } : { kind: 'incomplete' };
  if (end > MAX_HANDSHAKE_BYTES) return { kind: 'invalid' };
  let value: unknown;
  try {
    value = JSON.parse(data.toString('utf8', 0, end));
  } catch {
    return { kind: 'invalid' };
  }
  if (typeof value !== 'object' || value === null) return { kind: 'invalid' };
  const { protocol, version } = value as Record<string, unknown>;
  if (typeof protocol !== 'string' || typeof version !== 'number' || !Number.isInteger(version)) {
    return { kind: 'invalid' };
  }
  return { kind: 'request', request: { protocol, version }, remaining: data.subarray(end + 1) };
}

/** `{}` + `0x1E`, or `{"error":"…"}` + `0x1E`. */
export function writeHandshakeResponse(error?: string): Buffer {
  return Buffer.from(`${error === undefined ? '{}' : JSON.stringify({ error })}\u001e`, 'utf8');
}
