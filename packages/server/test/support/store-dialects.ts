import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DatabaseTarget } from '@tessera/server';
import { createPostgresSchema } from '@tessera/testkit';

/** A store of one test: where it is, and how to remove it afterwards. */
export interface TestStore {
  readonly target: DatabaseTarget;
  readonly cleanup: () => Promise<void>;
}

/**
 * The two dialects as `describe.each` rows `[name, available, open]`: SQLite in a fresh temporary directory
 * (`{prefix}…`), always available; PostgreSQL in a fresh schema, available when `postgresUp` (from the testkit's
 * `postgresAvailable()`, which warns loudly, and fails under CI, when PostgreSQL cannot be reached).
 */
export function storeDialects(
  prefix: string,
  postgresUp: boolean,
): [name: string, available: boolean, open: () => Promise<TestStore>][] {
  return [
    [
      'SQLite',
      true,
      () => {
        const dir = mkdtempSync(join(tmpdir(), prefix));
        return Promise.resolve({
          target: { dialect: 'sqlite', file: join(dir, 'tessera.db') },
          cleanup: () => {
            rmSync(dir, { recursive: true, force: true });
            return Promise.resolve();
          },
        });
      },
    ],
    [
      'PostgreSQL',
      postgresUp,
      async () => {
        const schema = await createPostgresSchema();
        return { target: { dialect: 'postgres', url: schema.url }, cleanup: () => schema.drop() };
      },
    ],
  ];
}
