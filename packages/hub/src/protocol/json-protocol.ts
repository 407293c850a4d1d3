import { ChunkedInput, EMPTY_CHUNK } from './chunked-input.js';
import { array, optionalString, string } from './fields.js';
import type { HubProtocol, MessageParser } from './hub-protocol.js';
import { ProtocolError } from './hub-protocol.js';
import type { HubMessage, MessageHeaders } from './messages.js';

/** The JSON record separator (HubProtocol.md "JSON Encoding"). */
export const RECORD_SEPARATOR = 0x1e;
const SEPARATOR_TEXT = '\u001e';

/**
 * The JSON hub protocol: UTF-8 JSON objects, each terminated by `0x1E`.
 *
 * Received messages are checked field by field; anything missing or mistyped is a {@link ProtocolError} (the
 * connection closes), unknown message types are ignored as the spec asks.
 *
 * @see HubProtocol.md "JSON Encoding"
 */
export const jsonHubProtocol: HubProtocol = {
  name: 'json',
  version: 2,
  transferFormat: 'Text',
  write(message) {
    return Buffer.from(JSON.stringify(toJson(message)) + SEPARATOR_TEXT, 'utf8');
  },
  writeInvocation(target, args) {
    return Buffer.from(
      `{"type":1,"target":${JSON.stringify(target)},"arguments":${JSON.stringify(args)}}${SEPARATOR_TEXT}`,
      'utf8',
    );
  },
  createParser(maxMessageBytes) {
    return new JsonParser(maxMessageBytes);
  },
};

function toJson(message: HubMessage): Record<string, unknown> {
  if (message.type === 3) {
    const { hasResult, result, error, ...rest } = message;
    if (error !== undefined) return { ...rest, error };
    return hasResult === true ? { ...rest, result: result ?? null } : rest;
  }
  return message as unknown as Record<string, unknown>;
}

class JsonParser extends ChunkedInput implements MessageParser {
  next(): HubMessage | null | undefined {
    const end = this.buffer.indexOf(RECORD_SEPARATOR, this.offset);
    const recordBytes = this.partialBytes + (end === -1 ? this.buffer.length : end) - this.offset;
    if (recordBytes > this.maxMessageBytes) throw new ProtocolError('message too large');
    if (end === -1) return undefined;
    let text: string;
    if (this.partial.length === 0) {
      text = this.buffer.toString('utf8', this.offset, end);
    } else {
      text = Buffer.concat([...this.partial, this.buffer.subarray(this.offset, end)]).toString('utf8');
      this.clearPartial();
    }
    this.bytesRead += recordBytes + 1;
    this.offset = end + 1;
    if (this.offset >= this.buffer.length) {
      this.buffer = EMPTY_CHUNK;
      this.offset = 0;
    }
    return parseJsonMessage(text) ?? null;
  }
}

/** Parses and checks one JSON record (without its separator); `undefined` for an unknown message type. */
export function parseJsonMessage(text: string): HubMessage | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ProtocolError('invalid JSON');
  }
  if (!isRecord(value)) throw new ProtocolError('not an object');
  const headers = optionalHeaders(value.headers);
  switch (value.type) {
    case 1:
    case 4: {
      const invocationId = value.type === 4 ? string(value.invocationId) : optionalString(value.invocationId);
      const streamIds = optionalStrings(value.streamIds);
      return {
        type: value.type,
        ...(headers === undefined ? {} : { headers }),
        ...(invocationId === undefined ? {} : { invocationId }),
        target: string(value.target),
        arguments: array(value.arguments),
        ...(streamIds === undefined ? {} : { streamIds }),
      } as HubMessage;
    }
    case 2:
      if (!('item' in value)) throw new ProtocolError('StreamItem without item');
      return { type: 2, invocationId: string(value.invocationId), item: value.item };
    case 3: {
      const invocationId = string(value.invocationId);
      if (value.error !== undefined) {
        if ('result' in value) throw new ProtocolError('Completion with result and error');
        return { type: 3, invocationId, error: string(value.error) };
      }
      return 'result' in value
        ? { type: 3, invocationId, hasResult: true, result: value.result }
        : { type: 3, invocationId };
    }
    case 5:
      return { type: 5, invocationId: string(value.invocationId) };
    case 6:
      return { type: 6 };
    case 7: {
      const error = optionalString(value.error);
      return {
        type: 7,
        ...(error === undefined ? {} : { error }),
        ...(value.allowReconnect === true ? { allowReconnect: true } : {}),
      };
    }
    case 8:
    case 9:
      return { type: value.type, sequenceId: sequenceId(value.sequenceId) };
    default:
      if (typeof value.type !== 'number') throw new ProtocolError('missing type');
      return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function optionalStrings(value: unknown): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  return array(value).map(string);
}

function optionalHeaders(value: unknown): MessageHeaders | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isRecord(value)) throw new ProtocolError('headers must be an object');
  return Object.fromEntries(Object.entries(value).map(([name, header]) => [name, string(header)]));
}

function sequenceId(value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new ProtocolError('invalid sequence id');
  }
  return value;
}
