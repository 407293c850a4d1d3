import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (pkg: string) => fileURLToPath(new URL(`./packages/${pkg}/src/index.ts`, import.meta.url));

export default defineConfig({
  resolve: {
    alias: {
      '@tessera/protocol': src('protocol'),
      '@tessera/resource': src('resource'),
      '@tessera/hub': src('hub'),
      '@tessera/server': src('server'),
      '@tessera/testkit': src('testkit'),
    },
  },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'packages/*/test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    globalSetup: ['./packages/testkit/src/global-setup.ts'],
  },
});
