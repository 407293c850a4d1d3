import { randomUUID } from 'node:crypto';
import type { AuditLogRepository } from '../store/repositories/audit-logs.js';
import type { SignInRecord } from './audit-records.js';

/** A sign-in to record: {@link SignInLog.record} fills in `id` and `createdMs`. */
export type NewSignIn = Omit<SignInRecord, 'id' | 'createdMs'>;

/** How the sign-in log buffers, in records and milliseconds. */
export interface SignInLogOptions {
  /** Records written per insert, and the buffer size that triggers a write at once; default 200. */
  readonly batchSize?: number;
  /** Longest a record waits in the buffer, in milliseconds; default 1000. */
  readonly flushIntervalMs?: number;
  /** Most records held while writes are slow or failing; more are dropped and counted. Default 10000. */
  readonly maxBuffered?: number;
}

/**
 * The sign-in log (Graph `signIn`), off the token endpoint's hot path: {@link SignInLog.record} only appends to an
 * in-memory buffer; the buffer is written in batches every `flushIntervalMs` (an unref'd timer: it never keeps the
 * process alive) or as soon as it holds `batchSize` records, and on {@link SignInLog.close}. Over `maxBuffered`
 * records, new ones are dropped and counted ({@link SignInLog.dropped}); the first drop and every failed write
 * are reported to `onError` (once per kind until a write succeeds again).
 */
export class SignInLog {
  private buffer: SignInRecord[] = [];
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private closed = false;
  private droppedCount = 0;
  private reportedDrop = false;
  private reportedFailure = false;
  private readonly batchSize: number;
  private readonly flushIntervalMs: number;
  private readonly maxBuffered: number;

  /**
   * @param nowMs the clock, Unix milliseconds.
   * @param afterWrite run after each flush that wrote (the retention purge).
   */
  constructor(
    private readonly repository: AuditLogRepository,
    private readonly nowMs: () => number,
    private readonly onError: (error: unknown, what: 'dropped' | 'write failed') => void,
    options: SignInLogOptions = {},
    private readonly afterWrite: () => Promise<void> = () => Promise.resolve(),
  ) {
    this.batchSize = options.batchSize ?? 200;
    this.flushIntervalMs = options.flushIntervalMs ?? 1000;
    this.maxBuffered = options.maxBuffered ?? 10_000;
  }

  /** Records dropped because the buffer was full, since the log was made. */
  get dropped(): number {
    return this.droppedCount;
  }

  /** Buffers one sign-in (never waits for storage); `id` and `createdMs` are filled in. */
  record(record: NewSignIn): void {
    if (this.buffer.length >= this.maxBuffered) {
      this.droppedCount += 1;
      if (!this.reportedDrop) {
        this.reportedDrop = true;
        this.onError(new Error(`sign-in log buffer full (${this.maxBuffered} records)`), 'dropped');
      }
      return;
    }
    this.buffer.push({ ...record, id: randomUUID(), createdMs: this.nowMs() });
    if (this.buffer.length >= this.batchSize || this.closed) void this.flush();
    else if (this.timer === undefined) {
      this.timer = setTimeout(() => void this.flush(), this.flushIntervalMs);
      this.timer.unref();
    }
  }

  /**
   * Buffers the record `build` makes, if any. A failure to make it (a directory read that failed) goes to
   * `onError`, never to the caller: recording a sign-in never fails the sign-in.
   */
  async recordFrom(build: () => Promise<NewSignIn | undefined>): Promise<void> {
    try {
      const record = await build();
      if (record !== undefined) this.record(record);
    } catch (error) {
      this.onError(error, 'write failed');
    }
  }

  /**
   * Writes every buffered record (in batches of `batchSize`), after any write already under way. A failed batch
   * stays buffered for the next flush.
   */
  flush(): Promise<void> {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.writing = this.writing.then(() => this.writeBuffered());
    return this.writing;
  }

  /** Stops the timer and writes what is buffered. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
  }

  private async writeBuffered(): Promise<void> {
    if (this.buffer.length === 0) return;
    while (this.buffer.length > 0) {
      const batch = this.buffer.slice(0, this.batchSize);
      try {
        await this.repository.insertSignIns(batch);
      } catch (error) {
        if (!this.reportedFailure) {
          this.reportedFailure = true;
          this.onError(error, 'write failed');
        }
        if (this.timer === undefined && !this.closed) {
          this.timer = setTimeout(() => void this.flush(), this.flushIntervalMs);
          this.timer.unref();
        }
        return;
      }
      this.buffer = this.buffer.slice(batch.length);
      this.reportedFailure = false;
      this.reportedDrop = false;
    }
    await this.afterWrite().catch((error: unknown) => {
      this.onError(error, 'write failed');
    });
  }
}
