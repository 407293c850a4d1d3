/**
 * An upload stream (client → server) as an async iterable, fed by StreamItem messages. `push` resolves when the
 * item fits in the buffer (`capacity` items, ASP.NET's StreamBufferCapacity 10): until then the connection's
 * receive loop waits, which is the back-pressure the client sees.
 */
export class UploadStream implements AsyncIterable<unknown> {
  private readonly items: unknown[] = [];
  private done = false;
  private error: Error | undefined;
  private waitingReader: (() => void) | undefined;
  private waitingWriter: (() => void) | undefined;

  constructor(private readonly capacity: number) {}

  async push(item: unknown): Promise<void> {
    if (this.done) return;
    this.items.push(item);
    this.wakeReader();
    while (this.items.length > this.capacity && !(this.done as boolean)) {
      await new Promise<void>((resolve) => {
        this.waitingWriter = resolve;
      });
    }
  }

  complete(error?: string): void {
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
