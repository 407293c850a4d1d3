import { ProtocolError } from './hub-protocol.js';

// Field checks both hub protocols apply to a received message: a field of the wrong type is a ProtocolError,
// which closes the connection (docs/hub-protocol.md).

/** The value as a string. @throws ProtocolError when it is not one. */
export function string(value: unknown): string {
  if (typeof value !== 'string') throw new ProtocolError('expected a string');
  return value;
}

/** The value as a string, or undefined when absent (`undefined` or `null`). @throws ProtocolError otherwise. */
export function optionalString(value: unknown): string | undefined {
  return value === undefined || value === null ? undefined : string(value);
}

/** The value as an array. @throws ProtocolError when it is not one. */
export function array(value: unknown): unknown[] {
  if (!Array.isArray(value)) throw new ProtocolError('expected an array');
  return value;
}
