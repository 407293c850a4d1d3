/**
 * Online backup and restore of an SQLite store (docs/deployment.md). The copy uses SQLite's online backup API
 * (better-sqlite3's `backup()`), so it is consistent while a server keeps writing in WAL mode. A backup holds the
 * signing keys encrypted under the master key, and not the master key itself.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import SQLite from 'better-sqlite3';
import { KNOWN_MIGRATIONS } from './database.js';

/** A backup or restore the operator must change something for (exit code 1, the message says what). */
export class BackupError extends Error {}

/** What {@link inspectBackup} found in a database file. */
export interface BackupInfo {
  /** The newest migration applied, e.g. `016-dpop-binding`. */
  readonly migration: string;
  readonly tenants: number;
  readonly users: number;
  readonly applications: number;
  readonly signingKeys: number;
  /** Size of the file in bytes. */
  readonly bytes: number;
}

const SQLITE_HEADER = 'SQLite format 3\u0000';

/**
 * Copies the SQLite database `source` to `destination` with the online backup API, consistent even while a server
 * writes. The copy goes to a temporary file beside `destination`, is checked ({@link inspectBackup}), then renamed
 * into place.
 *
 * @throws BackupError when `destination` exists and `force` is not set, or `source` is not a Tessera database.
 */
export async function backupSqlite(
  source: string,
  destination: string,
  options: { force?: boolean } = {},
): Promise<BackupInfo> {
  if (!existsSync(source)) throw new BackupError(`No database at ${source}.`);
  if (existsSync(destination) && options.force !== true) {
    throw new BackupError(`${destination} exists; pass --force to overwrite it.`);
  }
  const partial = join(
    dirname(destination),
    `.${basename(destination)}.${randomBytes(6).toString('hex')}.partial`,
  );
  const db = new SQLite(source, { fileMustExist: true, timeout: 5000 });
  try {
    await db.backup(partial);
  } catch (error) {
    rmSync(partial, { force: true });
    throw new BackupError(`Could not write ${destination}: ${(error as Error).message}`);
  } finally {
    db.close();
  }
  try {
    const info = inspectBackup(partial);
    renameSync(partial, destination);
    return info;
  } finally {
    rmSync(partial, { force: true });
  }
}

/**
 * Checks that `file` is a Tessera SQLite database whose migrations this build knows, without changing it.
 *
 * @throws BackupError when it is not an SQLite file, has no Tessera tables, fails SQLite's quick check, or was
 *   written by a newer Tessera (a migration this build does not know).
 */
export function inspectBackup(file: string): BackupInfo {
  if (!existsSync(file)) throw new BackupError(`No file at ${file}.`);
  const header = Buffer.alloc(SQLITE_HEADER.length);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, header, 0, header.length, 0);
  } finally {
    closeSync(fd);
  }
  if (header.toString('latin1') !== SQLITE_HEADER) {
    throw new BackupError(`${file} is not an SQLite database.`);
  }
  const db = new SQLite(file, { readonly: true, fileMustExist: true });
  try {
    const hasTable = (name: string) =>
      db.prepare("select 1 from sqlite_master where type = 'table' and name = ?").get(name) !== undefined;
    if (!hasTable('kysely_migration') || !hasTable('tenants') || !hasTable('signing_keys')) {
      throw new BackupError(`${file} is not a Tessera database (no Tessera tables).`);
    }
    const check = db.pragma('quick_check', { simple: true });
    if (check !== 'ok') throw new BackupError(`${file} is damaged: ${String(check)}`);
    const applied = (
      db.prepare('select name from kysely_migration order by name').all() as { name: string }[]
    ).map((row) => row.name);
    const unknown = applied.filter((name) => !KNOWN_MIGRATIONS.includes(name));
    if (unknown.length > 0) {
      throw new BackupError(
        `${file} was written by a newer Tessera (migrations ${unknown.join(', ')} are unknown to this version); restore it with that version or newer.`,
      );
    }
    const migration = applied.at(-1);
    if (migration === undefined) throw new BackupError(`${file} has no migrations applied.`);
    const count = (table: string) =>
      (db.prepare(`select count(*) as n from ${table}`).get() as { n: number }).n;
    return {
      migration,
      tenants: count('tenants'),
      users: hasTable('users') ? count('users') : 0,
      applications: hasTable('applications') ? count('applications') : 0,
      signingKeys: count('signing_keys'),
      bytes: statSync(file).size,
    };
  } finally {
    db.close();
  }
}

/**
 * The signing keys stored in the database `file`, still sealed under the master key (`v1.{iv}.{tag}.{ciphertext}`,
 * the key id as associated data), so a restore can check the master key in place opens them.
 */
export function sealedSigningKeys(file: string): { kid: string; sealed: string }[] {
  const db = new SQLite(file, { readonly: true, fileMustExist: true });
  try {
    return db.prepare('select kid, private_key_encrypted as sealed from signing_keys').all() as {
      kid: string;
      sealed: string;
    }[];
  } finally {
    db.close();
  }
}

/**
 * Whether a process (a running server, a CLI command) has the SQLite database `file` open: leaving WAL mode needs
 * the only connection, so SQLite refuses it at once (`SQLITE_BUSY`) while another one exists.
 */
export function sqliteInUse(file: string): boolean {
  if (!existsSync(file)) return false;
  const db = new SQLite(file, { fileMustExist: true, timeout: 0 });
  try {
    db.pragma('journal_mode = DELETE');
    return false;
  } catch (error) {
    if ((error as { code?: string }).code === 'SQLITE_BUSY') return true;
    throw error;
  } finally {
    db.close();
  }
}

/**
 * Replaces the database `target` with the backup `source`: checks the backup ({@link inspectBackup}), refuses while
 * a process has `target` open, moves an existing `target` aside to `{target}.before-restore-{time}`, drops its
 * stale `-wal` and `-shm` files, and copies the backup in (temporary file, then rename).
 *
 * @returns what the backup holds and where the replaced database went (undefined when there was none).
 * @throws BackupError when the backup is not usable, a process holds `target`, or `target` exists without `force`.
 */
export async function restoreSqlite(
  source: string,
  target: string,
  options: { force?: boolean } = {},
): Promise<{ info: BackupInfo; replaced: string | undefined }> {
  const info = inspectBackup(source);
  if (sqliteInUse(target)) {
    throw new BackupError(
      `${target} is in use (a running tessera serve or another command has it open): stop the server first.`,
    );
  }
  let replaced: string | undefined;
  if (existsSync(target)) {
    if (options.force !== true) {
      throw new BackupError(
        `${target} exists; pass --force to replace it (it is kept as ${basename(target)}.before-restore-…).`,
      );
    }
    replaced = `${target}.before-restore-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    renameSync(target, replaced);
  }
  mkdirSync(dirname(target), { recursive: true });
  rmSync(`${target}-wal`, { force: true });
  rmSync(`${target}-shm`, { force: true });
  const partial = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString('hex')}.partial`);
  const db = new SQLite(source, { readonly: true, fileMustExist: true });
  try {
    await db.backup(partial);
    renameSync(partial, target);
  } finally {
    db.close();
    rmSync(partial, { force: true });
  }
  return { info, replaced };
}
