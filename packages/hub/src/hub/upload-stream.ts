/**
 * An upload stream (client → server) as an async iterable, fed by StreamItem messages. `push` returns a promise
 * when the buffer is full (`capacity` items, ASP.NET's StreamBufferCapacity 10): until it resolves the connection's
 * receive loop waits, which is the back-pressure the client sees. A Completion with an error makes the iterator
 * throw an `Error` with the client's message, after the items buffered before it.
 */
export class UploadStream implements AsyncIterable<unknown> {
  private readonly items: unknown[] = [];
  private done = false;
  private error: Error | undefined;
  private waitingReader: (() => void) | undefined;
  private waitingWriter: (() => void) | undefined;

  constructor(private readonly capacity: number) {}

  /** Adds an item; a promise when the caller must wait for the reader (ignored once the stream is done). */
  push(item: unknown): Promise<void> | undefined {
    if (this.done) return undefined;
    this.items.push(item);
    this.wakeReader();
    return this.items.length > this.capacity ? this.waitForRoom() : undefined;
  }

  private async waitForRoom(): Promise<void> {
    while (this.items.length > this.capacity && !this.done) {
      await new Promise<void>((resolve) => {
        this.waitingWriter = resolve;
      });
    }
  }

  /** Ends the stream (the client's Completion, or the end of its invocation); a waiting writer is released. */
  complete(error?: string): void {
    if (this.done) return;
    this.done = true;
    if (error !== undefined) this.error = new Error(error);
    this.wakeReader();
    this.wakeWriter();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<unknown> {
    for (;;) {
      if (this.items.length > 0) {
        const item = this.items.shift();
        this.wakeWriter();
        yield item;
        continue;
      }
      if (this.done) {
        if (this.error !== undefined) throw this.error;
        return;
      }
      await new Promise<void>((resolve) => {
        this.waitingReader = resolve;
      });
    }
  }

  private wakeReader(): void {
    const wake = this.waitingReader;
    this.waitingReader = undefined;
    wake?.();
  }

  private wakeWriter(): void {
    const wake = this.waitingWriter;
    this.waitingWriter = undefined;
    wake?.();
  }
}
