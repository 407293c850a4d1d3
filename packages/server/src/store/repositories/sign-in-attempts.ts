import { SqliteAdapter, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../schema.js';

/**
 * Password attempt counters per throttle key (`sign_in_attempts`), in fixed windows, shared by every node on the
 * database (`users/sign-in-throttle.ts`). Keys are stored as hex SHA-256 hashes.
 */
export class SignInAttemptRepository {
  /** True on SQLite, where every commit waits for the disk on the event loop (see `DatabaseSignInThrottle`). */
  readonly blockingCommits: boolean;

  constructor(private readonly db: Kysely<Database>) {
    this.blockingCommits = db.getExecutor().adapter instanceof SqliteAdapter;
  }

  /** Runs `work` in one transaction (one commit for every statement it runs through `trx`). */
  transaction<T>(work: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
    return this.db.transaction().execute(work);
  }

  /**
   * Reserves one password attempt of a throttle key in one conditional upsert: the attempt is counted before the
   * password is verified, so of many parallel attempts exactly `limit` per window get through. A key whose window
   * (`windowMs`) has passed starts a new window with this attempt.
   *
   * @param keyHash hex SHA-256 of the throttle key.
   * @param nowMs Unix milliseconds.
   * @param trx the transaction to run in, if any.
   * @returns the start (Unix ms) of the window the attempt was counted in, or undefined when the key already
   *   holds `limit` attempts in its current window (locked: nothing was counted).
   */
  async reserve(
    keyHash: string,
    limit: number,
    windowMs: number,
    nowMs: number,
    trx?: Transaction<Database>,
  ): Promise<number | undefined> {
    const expired = nowMs - windowMs;
    const row = await (trx ?? this.db)
      .insertInto('sign_in_attempts')
      .values({ key_hash: keyHash, attempts: 1, window_started_ms: nowMs })
      .onConflict((oc) =>
        oc
          .column('key_hash')
          .doUpdateSet((eb) => ({
            attempts: eb
              .case()
              .when('sign_in_attempts.window_started_ms', '<=', expired)
              .then(1)
              .else(eb('sign_in_attempts.attempts', '+', 1))
              .end(),
            window_started_ms: eb
              .case()
              .when('sign_in_attempts.window_started_ms', '<=', expired)
              .then(nowMs)
              .else(eb.ref('sign_in_attempts.window_started_ms'))
              .end(),
          }))
          .where((eb) =>
            eb.or([
              eb('sign_in_attempts.attempts', '<', limit),
              eb('sign_in_attempts.window_started_ms', '<=', expired),
            ]),
          ),
      )
      .returning('window_started_ms')
      .executeTakeFirst();
    return row?.window_started_ms;
  }

  /**
   * Takes back one attempt reserved by {@link reserve} (it succeeded): only in the window it was counted in,
   * never below zero, so a success cannot erase failures counted by anyone else. Inside `trx` when given.
   */
  async release(keyHash: string, windowStartedMs: number, trx?: Transaction<Database>): Promise<void> {
    await (trx ?? this.db)
      .updateTable('sign_in_attempts')
      .set((eb) => ({ attempts: eb('attempts', '-', 1) }))
      .where('key_hash', '=', keyHash)
      .where('window_started_ms', '=', windowStartedMs)
      .where('attempts', '>', 0)
      .execute();
  }

  /** Deletes counters whose window started at or before `beforeMs` (Unix ms); returns how many. */
  async purge(beforeMs: number): Promise<number> {
    const result = await this.db
      .deleteFrom('sign_in_attempts')
      .where('window_started_ms', '<=', beforeMs)
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
