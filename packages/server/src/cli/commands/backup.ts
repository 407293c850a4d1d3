/**
 * `tessera backup <file>` and `tessera restore <file>` for an SQLite store (docs/cli.md, docs/deployment.md). On
 * PostgreSQL both refuse and name the procedure: `pg_dump` and `pg_restore`.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { CliError, type CliContext, type GlobalOptions } from '../context.js';

/** The options of `backup` and `restore`. */
interface BackupOptions extends GlobalOptions {
  force?: boolean;
}

const POSTGRES_PROCEDURE =
  'With DATABASE_URL (PostgreSQL) back up with pg_dump and restore with pg_restore (docs/deployment.md), for example ' +
  '`pg_dump --format=custom --file tessera.dump "$DATABASE_URL"` and ' +
  '`pg_restore --clean --if-exists --no-owner --dbname "$DATABASE_URL" tessera.dump`.';

const MASTER_KEY_NOTE =
  'The backup holds the token signing keys encrypted under the master key, not the master key itself: keep ' +
  "TESSERA_MASTER_KEY (or the data directory's master.key) with it, apart from it.";

/** Registers `backup` and `restore`. */
export function registerBackupCommands(program: Command, cli: CliContext): void {
  const { withCommon, config, print, run } = cli;

  withCommon(
    program
      .command('backup <file>')
      .description('copy the SQLite database to <file>, consistent while the server runs (online backup)'),
  )
    .option('--force', 'overwrite <file> if it exists')
    .action((file: string, options: BackupOptions) =>
      run(async (opts: BackupOptions) => {
        const loaded = config(opts);
        if (loaded.databaseUrl !== undefined) throw new CliError(POSTGRES_PROCEDURE);
        const { BackupError, backupSqlite } = await import('../../store/backup.js');
        const source = join(loaded.dataDir, 'tessera.db');
        try {
          const info = await backupSqlite(source, file, { force: opts.force === true });
          print(
            opts,
            { file, ...info },
            `Backed up ${source} to ${file} (${info.bytes} bytes, migration ${info.migration}: ${info.tenants} tenants, ${info.applications} applications, ${info.users} users).\n${MASTER_KEY_NOTE}`,
          );
        } catch (error) {
          if (error instanceof BackupError) throw new CliError(error.message);
          throw error;
        }
      })(options),
    );

  withCommon(
    program
      .command('restore <file>')
      .description('replace the SQLite database with the backup <file> (stop the server first)'),
  )
    .option('--force', 'replace an existing database (kept beside it as tessera.db.before-restore-…)')
    .action((file: string, options: BackupOptions) =>
      run(async (opts: BackupOptions) => {
        const loaded = config(opts);
        if (loaded.databaseUrl !== undefined) throw new CliError(POSTGRES_PROCEDURE);
        const { BackupError, inspectBackup, restoreSqlite, sealedSigningKeys } =
          await import('../../store/backup.js');
        const { decryptWithMasterKey, loadMasterKey } = await import('../../keys/master-key.js');
        const target = join(loaded.dataDir, 'tessera.db');
        try {
          inspectBackup(file);
          // The master key in place must open the backup's signing keys, or the server could not sign.
          const haveKey =
            (loaded.masterKey !== undefined && loaded.masterKey !== '') ||
            existsSync(join(loaded.dataDir, 'master.key'));
          const opens = (key: Buffer) =>
            sealedSigningKeys(file).every(({ kid, sealed }) => {
              try {
                decryptWithMasterKey(key, sealed, kid);
                return true;
              } catch {
                return false;
              }
            });
          if (haveKey && !opens(loadMasterKey(loaded.masterKey, loaded.dataDir).key)) {
            throw new CliError(
              `The master key here (${loaded.masterKey === undefined ? join(loaded.dataDir, 'master.key') : 'TESSERA_MASTER_KEY'}) does not decrypt the signing keys in ${file}: use the master key of the server the backup was taken from.`,
            );
          }
          const { info, replaced } = await restoreSqlite(file, target, { force: opts.force === true });
          const keyNote = haveKey
            ? 'The master key in place decrypts its signing keys.'
            : `No master key here yet: put the backed-up server's master key in ${join(loaded.dataDir, 'master.key')} or TESSERA_MASTER_KEY before tessera serve.`;
          print(
            opts,
            { file, database: target, replaced: replaced ?? null, masterKeyChecked: haveKey, ...info },
            `Restored ${file} to ${target} (migration ${info.migration}: ${info.tenants} tenants, ${info.applications} applications, ${info.users} users).` +
              (replaced === undefined ? '' : `\nThe previous database is kept as ${replaced}.`) +
              `\n${keyNote}`,
          );
        } catch (error) {
          if (error instanceof BackupError) throw new CliError(error.message);
          throw error;
        }
      })(options),
    );
}
