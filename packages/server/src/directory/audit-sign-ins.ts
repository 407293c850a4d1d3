import { randomUUID } from 'node:crypto';
import type { AuditLogRepository } from '../store/repositories/audit-logs.js';
import type { SignInRecord } from './audit-records.js';

/**
 * A GUID that sorts by time: a version 7 UUID (RFC 9562 §5.7), the Unix milliseconds `ms` in its first 48 bits,
 * then 74 random bits from the CSPRNG. New rows of the sign-in log then land at the end of its primary key index
 * instead of on a random page of it, which makes a batch insert about a third cheaper on SQLite.
 */
export function timeOrderedId(ms: number): string {
  const time = Math.max(0, Math.floor(ms)).toString(16).padStart(12, '0').slice(-12);
  // randomUUID is version 4: `xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx`, the variant already RFC 9562's.
  return `${time.slice(0, 8)}-${time.slice(8, 12)}-7${randomUUID().slice(15)}`;
}

/** A sign-in to record: {@link SignInLog.record} fills in `id` and `createdMs`. */
export type NewSignIn = Omit<SignInRecord, 'id' | 'createdMs'>;

/** How the sign-in log buffers, in records and milliseconds. */
export interface SignInLogOptions {
  /** Rows per multi-row insert statement of a write; default 500 (at most 2000). */
  readonly batchSize?: number;
  /** Longest a record waits in the buffer, in milliseconds; default 1000. */
  readonly flushIntervalMs?: number;
  /**
   * Buffered records that start a write at once, before `flushIntervalMs` is up; default 5000, at most
   * `maxBuffered`. Under load a write then carries up to this many records, in one transaction.
   */
  readonly flushAtRecords?: number;
  /** Most records held while writes are slow or failing; more are dropped and counted. Default 10000. */
  readonly maxBuffered?: number;
}

/**
 * The sign-in log (Graph `signIn`), off the token endpoint's hot path: {@link SignInLog.record} only appends to an
 * in-memory buffer; the buffer is written by time — `flushIntervalMs` after the first record buffered since the
 * last write (an unref'd timer: it never keeps the process alive) — or as soon as it holds `flushAtRecords`
 * records, and on {@link SignInLog.close}. One write is one transaction (one commit, one sync to disk on SQLite)
 * of every record buffered when it starts, `batchSize` rows per statement. Over `maxBuffered` records, new ones
 * are dropped and counted ({@link SignInLog.dropped}); the first drop and every failed write are reported to
 * `onError` (once per kind until a write succeeds again). A failed write keeps its records buffered and is retried
 * by the timer, not by every new record.
 */
export class SignInLog {
  private buffer: SignInRecord[] = [];
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  /** The write queued behind {@link writing} and not begun: a flush meanwhile joins it. */
  private queued: Promise<void> | undefined;
  private closed = false;
  private failing = false;
  private droppedCount = 0;
  private reportedDrop = false;
  private reportedFailure = false;
  private readonly batchSize: number;
  private readonly flushIntervalMs: number;
  private readonly flushAtRecords: number;
  private readonly maxBuffered: number;

  /**
   * @param nowMs the clock, Unix milliseconds.
   * @param afterWrite run after each flush that wrote (the retention purge, which limits itself to once an hour).
   */
  constructor(
    private readonly repository: AuditLogRepository,
    private readonly nowMs: () => number,
    private readonly onError: (error: unknown, what: 'dropped' | 'write failed') => void,
    options: SignInLogOptions = {},
    private readonly afterWrite: () => Promise<void> = () => Promise.resolve(),
  ) {
    this.batchSize = options.batchSize ?? 500;
    this.flushIntervalMs = options.flushIntervalMs ?? 1000;
    this.maxBuffered = options.maxBuffered ?? 10_000;
    this.flushAtRecords = Math.min(options.flushAtRecords ?? 5000, this.maxBuffered);
  }

  /** Records dropped because the buffer was full, since the log was made. */
  get dropped(): number {
    return this.droppedCount;
  }

  /**
   * Buffers one sign-in (never waits for storage); `id` (a time-ordered GUID, {@link timeOrderedId}) and
   * `createdMs` are filled in.
   */
  record(record: NewSignIn): void {
    if (this.buffer.length >= this.maxBuffered) {
      this.droppedCount += 1;
      if (!this.reportedDrop) {
        this.reportedDrop = true;
        this.onError(new Error(`sign-in log buffer full (${this.maxBuffered} records)`), 'dropped');
      }
      return;
    }
    const createdMs = this.nowMs();
    this.buffer.push({ ...record, id: timeOrderedId(createdMs), createdMs });
    if (this.closed || (this.buffer.length >= this.flushAtRecords && !this.failing)) void this.flush();
    else this.startTimer();
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
   * Writes every record buffered when the write begins, after any write already under way, in one transaction.
   * A failed write keeps its records buffered for the next flush.
   */
  flush(): Promise<void> {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.queued !== undefined) return this.queued;
    const queued = this.writing.then(() => {
      this.queued = undefined;
      return this.writeBuffered();
    });
    this.queued = queued;
    this.writing = queued;
    return queued;
  }

  /** Stops the timer and writes what is buffered. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
  }

  private startTimer(): void {
    if (this.timer !== undefined || this.closed) return;
    this.timer = setTimeout(() => void this.flush(), this.flushIntervalMs);
    this.timer.unref();
  }

  private async writeBuffered(): Promise<void> {
    const count = this.buffer.length;
    if (count === 0) return;
    try {
      await this.repository.insertSignIns(this.buffer.slice(0, count), this.batchSize);
    } catch (error) {
      this.failing = true;
      if (!this.reportedFailure) {
        this.reportedFailure = true;
        this.onError(error, 'write failed');
      }
      this.startTimer();
      return;
    }
    // Records buffered while the write was under way stay for the next one (their timer is running).
    this.buffer = this.buffer.slice(count);
    this.failing = false;
    this.reportedFailure = false;
    this.reportedDrop = false;
    await this.afterWrite().catch((error: unknown) => {
      this.onError(error, 'write failed');
    });
  }
}
