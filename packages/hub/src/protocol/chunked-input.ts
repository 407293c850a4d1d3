/** An empty chunk: the parser's input before the first `push` and after a chunk is read to its end. */
export const EMPTY_CHUNK = Buffer.alloc(0);

/**
 * The input both hub protocols parse records from: the chunk being read (from `offset`) and copies of the start
 * of a record left unfinished by earlier chunks. Each received byte is copied at most once before its record is
 * complete, so a record sent one byte per frame or POST costs linear time, not quadratic (a 32 KiB record dripped
 * in 32,000 frames blocked the event loop for ~0.8 s when every chunk re-copied and re-scanned the remainder).
 * The subclasses find the record boundary: the JSON record separator, or MessagePack's length prefix.
 *
 * @see docs/hub-protocol.md (message framing)
 */
export abstract class ChunkedInput {
  /** The chunk being read; `offset` is where its unread part starts. */
  protected buffer: Buffer = EMPTY_CHUNK;
  protected offset = 0;
  /** Copies of the start of an unfinished record, from earlier chunks, and their total length in bytes. */
  protected partial: Buffer[] = [];
  protected partialBytes = 0;
  /** Bytes of the records returned so far, framing included. */
  bytesRead = 0;

  /** @param maxMessageBytes the largest record accepted, in bytes (framing excluded). */
  constructor(protected readonly maxMessageBytes: number) {}

  /** Appends a received chunk; the unread rest of the previous one starts the record it continues. */
  push(data: Buffer): void {
    if (this.offset < this.buffer.length) {
      const rest = Buffer.from(this.buffer.subarray(this.offset));
      this.partial.push(rest);
      this.partialBytes += rest.length;
    }
    this.buffer = data;
    this.offset = 0;
  }

  /** Forgets the copies once the record they start has been joined. */
  protected clearPartial(): void {
    this.partial = [];
    this.partialBytes = 0;
  }
}
