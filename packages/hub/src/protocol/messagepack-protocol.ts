import { Decoder, Encoder } from '@msgpack/msgpack';
import { ChunkedInput, EMPTY_CHUNK } from './chunked-input.js';
import { array, optionalString, string } from './fields.js';
import type { HubProtocol, MessageParser } from './hub-protocol.js';
import { ProtocolError } from './hub-protocol.js';
import type { HubMessage, MessageHeaders } from './messages.js';

/** Result kinds of a MessagePack Completion (HubProtocol.md "Completion Message Encoding"). */
const ERROR_RESULT = 1;
const VOID_RESULT = 2;
const NON_VOID_RESULT = 3;

const encoder = new Encoder({ ignoreUndefined: false });

/**
 * The MessagePack hub protocol: each message is a MessagePack array prefixed by its length as a varint
 * (7 bits per byte, little-endian groups, at most 5 bytes, length < 2 GiB).
 *
 * @see HubProtocol.md "MessagePack (MsgPack) encoding"
 */
export const messagePackHubProtocol: HubProtocol = {
  name: 'messagepack',
  version: 2,
  transferFormat: 'Binary',
  write(message) {
    return frame(encoder.encode(toArray(message)));
  },
  writeInvocation(target, args) {
    return frame(encoder.encode([1, {}, null, target, args]));
  },
  createParser(maxMessageBytes) {
    return new MessagePackParser(maxMessageBytes);
  },
};

function toArray(message: HubMessage): unknown[] {
  switch (message.type) {
    case 1:
    case 4: {
      const base = [
        message.type,
        message.headers ?? {},
        message.invocationId ?? null,
        message.target,
        message.arguments,
      ];
      return message.streamIds === undefined ? base : [...base, message.streamIds];
    }
    case 2:
      return [2, message.headers ?? {}, message.invocationId, message.item];
    case 3:
      if (message.error !== undefined) {
        return [3, message.headers ?? {}, message.invocationId, ERROR_RESULT, message.error];
      }
      return message.hasResult === true
        ? [3, message.headers ?? {}, message.invocationId, NON_VOID_RESULT, message.result ?? null]
        : [3, message.headers ?? {}, message.invocationId, VOID_RESULT];
    case 5:
      return [5, message.headers ?? {}, message.invocationId];
    case 6:
      return [6];
    case 7:
      return [7, message.error ?? null, message.allowReconnect === true];
    case 8:
    case 9:
      return [message.type, message.sequenceId];
  }
}

/** Prefixes a body with its varint length. */
export function frame(body: Uint8Array): Buffer {
  const prefix: number[] = [];
  let length = body.byteLength;
  do {
    let byte = length & 0x7f;
    length >>>= 7;
    if (length > 0) byte |= 0x80;
    prefix.push(byte);
  } while (length > 0);
  const out = Buffer.allocUnsafe(prefix.length + body.byteLength);
  for (let index = 0; index < prefix.length; index++) out[index] = prefix[index] ?? 0;
  out.set(body, prefix.length);
  return out;
}

class MessagePackParser extends ChunkedInput implements MessageParser {
  // A decoder per connection: @msgpack/msgpack decoders keep state while decoding.
  private readonly decoder = new Decoder({
    maxStrLength: 1 << 24,
    maxBinLength: 1 << 24,
    maxArrayLength: 1 << 16,
    maxMapLength: 1 << 12,
  });

  /** Byte `index` of the unread input (partial copies, then the current chunk); -1 past its end. */
  private byteAt(index: number): number {
    let rest = index;
    for (const chunk of this.partial) {
      if (rest < chunk.length) return chunk[rest] ?? -1;
      rest -= chunk.length;
    }
    return this.buffer[this.offset + rest] ?? -1;
  }

  next(): HubMessage | null | undefined {
    if (this.partial.length > 0) {
      // Only the length prefix is read across the copies (at most 5 bytes, in at most 5 copies); the record is
      // joined once, when complete.
      const available = this.partialBytes + this.buffer.length - this.offset;
      let length = 0;
      let prefixBytes = 0;
      let complete = false;
      while (prefixBytes < available && prefixBytes < 5) {
        const byte = this.byteAt(prefixBytes++);
        length += (byte & 0x7f) * 2 ** (7 * (prefixBytes - 1));
        if ((byte & 0x80) === 0) {
          complete = true;
          break;
        }
      }
      if (!complete && prefixBytes >= 5) throw new ProtocolError('invalid length prefix');
      if (length > this.maxMessageBytes) throw new ProtocolError('message too large');
      if (!complete || prefixBytes + length > available) {
        if (available > this.maxMessageBytes + 5) throw new ProtocolError('message too large');
        return undefined;
      }
      this.buffer = Buffer.concat([...this.partial, this.buffer.subarray(this.offset)]);
      this.offset = 0;
      this.clearPartial();
    }
    const { buffer } = this;
    if (this.offset >= buffer.length) return undefined;
    let length = 0;
    let shift = 0;
    let cursor = this.offset;
    let complete = false;
    while (cursor < buffer.length) {
      const byte = buffer[cursor++] ?? 0;
      length += (byte & 0x7f) * 2 ** shift;
      shift += 7;
      if ((byte & 0x80) === 0) {
        complete = true;
        break;
      }
      if (shift >= 35) throw new ProtocolError('invalid length prefix');
    }
    if (length > this.maxMessageBytes) throw new ProtocolError('message too large');
    if (!complete || cursor + length > buffer.length) {
      if (buffer.length - this.offset > this.maxMessageBytes + 5)
        throw new ProtocolError('message too large');
      return undefined;
    }
    const body = buffer.subarray(cursor, cursor + length);
    assertDeclaredLengthsFit(body);
    let value: unknown;
    try {
      value = this.decoder.decode(body);
    } catch {
      throw new ProtocolError('invalid MessagePack');
    }
    this.bytesRead += cursor + length - this.offset;
    this.offset = cursor + length;
    if (this.offset >= buffer.length) {
      this.buffer = EMPTY_CHUNK;
      this.offset = 0;
    }
    return fromArray(value) ?? null;
  }
}

/**
 * Walks the MessagePack headers of one record without decoding it and refuses a record whose declared array and
 * map sizes, or string, binary and extension lengths, cannot fit in its bytes. The decoder allocates an array of
 * the declared size before it reads the elements, so a 32 KiB record of nested `array 32` headers declaring
 * 65,535 elements each would make it allocate gigabytes and stall the event loop for seconds. Every element still
 * expected needs at least one byte, so after this check the decoder allocates no more slots than the record has
 * bytes. Linear in the record, no allocation.
 *
 * @throws ProtocolError `invalid MessagePack` for a declared size beyond the record, or a never-used type byte.
 * @see MessagePack specification "Formats"
 */
function assertDeclaredLengthsFit(body: Uint8Array): void {
  const end = body.length;
  let cursor = 0;
  let pending = 1; // values still expected: the record's top-level value
  const skip = (bytes: number): void => {
    cursor += bytes;
    if (cursor > end) throw new ProtocolError('invalid MessagePack');
  };
  const lengthOf = (bytes: 1 | 2 | 4): number => {
    if (cursor + bytes > end) throw new ProtocolError('invalid MessagePack');
    let value = 0;
    for (let index = 0; index < bytes; index++) value = value * 256 + (body[cursor + index] ?? 0);
    cursor += bytes;
    return value;
  };
  while (pending > 0) {
    if (cursor >= end) throw new ProtocolError('invalid MessagePack');
    const type = body[cursor++] ?? 0;
    pending -= 1;
    let children = 0;
    if (type <= 0x7f || type >= 0xe0 || type === 0xc0 || type === 0xc2 || type === 0xc3) {
      // fixint, nil, false, true: the type byte is the value
    } else if (type <= 0x8f) children = 2 * (type & 0x0f);
    else if (type <= 0x9f) children = type & 0x0f;
    else if (type <= 0xbf) skip(type & 0x1f);
    else if (type === 0xc4 || type === 0xd9) skip(lengthOf(1));
    else if (type === 0xc5 || type === 0xda) skip(lengthOf(2));
    else if (type === 0xc6 || type === 0xdb) skip(lengthOf(4));
    else if (type === 0xc7) skip(lengthOf(1) + 1);
    else if (type === 0xc8) skip(lengthOf(2) + 1);
    else if (type === 0xc9) skip(lengthOf(4) + 1);
    else if (type === 0xca || type === 0xce || type === 0xd2) skip(4);
    else if (type === 0xcb || type === 0xcf || type === 0xd3) skip(8);
    else if (type === 0xcc || type === 0xd0) skip(1);
    else if (type === 0xcd || type === 0xd1) skip(2);
    else if (type >= 0xd4 && type <= 0xd8) skip(1 + 2 ** (type - 0xd4));
    else if (type === 0xdc) children = lengthOf(2);
    else if (type === 0xdd) children = lengthOf(4);
    else if (type === 0xde) children = 2 * lengthOf(2);
    else if (type === 0xdf) children = 2 * lengthOf(4);
    else throw new ProtocolError('invalid MessagePack'); // 0xc1, never used
    pending += children;
    if (pending > end - cursor) throw new ProtocolError('invalid MessagePack');
  }
}

function fromArray(value: unknown): HubMessage | undefined {
  if (!Array.isArray(value) || value.length === 0) throw new ProtocolError('not an array');
  const fields: unknown[] = value;
  const type = fields[0];
  switch (type) {
    case 1:
    case 4: {
      const headers = optionalHeaders(fields[1]);
      const invocationId = type === 4 ? string(fields[2]) : optionalString(fields[2]);
      const streamIds = fields.length > 5 ? strings(fields[5]) : undefined;
      return {
        type,
        ...(headers === undefined ? {} : { headers }),
        ...(invocationId === undefined ? {} : { invocationId }),
        target: string(fields[3]),
        arguments: array(fields[4]),
        ...(streamIds === undefined ? {} : { streamIds }),
      } as HubMessage;
    }
    case 2:
      if (fields.length < 4) throw new ProtocolError('StreamItem too short');
      return { type: 2, invocationId: string(fields[2]), item: fields[3] };
    case 3: {
      const invocationId = string(fields[2]);
      switch (fields[3]) {
        case ERROR_RESULT:
          return { type: 3, invocationId, error: string(fields[4]) };
        case VOID_RESULT:
          return { type: 3, invocationId };
        case NON_VOID_RESULT:
          if (fields.length < 5) throw new ProtocolError('Completion without result');
          return { type: 3, invocationId, hasResult: true, result: fields[4] };
        default:
          throw new ProtocolError('invalid result kind');
      }
    }
    case 5:
      return { type: 5, invocationId: string(fields[2]) };
    case 6:
      return { type: 6 };
    case 7: {
      const error = optionalString(fields[1]);
      return {
        type: 7,
        ...(error === undefined ? {} : { error }),
        ...(fields[2] === true ? { allowReconnect: true } : {}),
      };
    }
    case 8:
    case 9: {
      const sequenceId = fields[1];
      if (typeof sequenceId !== 'number' || !Number.isSafeInteger(sequenceId) || sequenceId < 0) {
        throw new ProtocolError('invalid sequence id');
      }
      return { type, sequenceId };
    }
    default:
      if (typeof type !== 'number') throw new ProtocolError('missing type');
      return undefined;
  }
}

function strings(value: unknown): string[] {
  return array(value).map(string);
}

function optionalHeaders(value: unknown): MessageHeaders | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value) || value instanceof Uint8Array) {
    throw new ProtocolError('headers must be a map');
  }
  const entries = Object.entries(value as Record<string, unknown>);
  return entries.length === 0 ? undefined : Object.fromEntries(entries.map(([k, v]) => [k, string(v)]));
}
