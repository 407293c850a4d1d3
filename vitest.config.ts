import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const file = (path: string) => fileURLToPath(new URL(`./packages/${path}`, import.meta.url));
/** `@tessera/<pkg>` and each subpath export of it, matched exactly, to the TypeScript source. */
const entry = (specifier: string, path: string) => ({
  find: new RegExp(`^${specifier.replaceAll('/', '\\/')}$`),
  replacement: file(path),
});

export default defineConfig({
  resolve: {
    alias: [
      entry('@tessera/protocol', 'protocol/src/index.ts'),
      entry('@tessera/resource', 'resource/src/index.ts'),
      entry('@tessera/resource/node-http', 'resource/src/adapters/node-http.ts'),
      entry('@tessera/resource/express', 'resource/src/adapters/express.ts'),
      entry('@tessera/resource/fastify', 'resource/src/adapters/fastify.ts'),
      entry('@tessera/hub', 'hub/src/index.ts'),
      entry('@tessera/server', 'server/src/index.ts'),
      entry('@tessera/testkit', 'testkit/src/index.ts'),
      entry('@tessera/spa', 'spa/src/index.ts'),
      entry('@tessera/spa/react', 'spa/src/react/index.ts'),
    ],
  },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'packages/*/test/**/*.test.ts', 'apps/*/test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    globalSetup: ['./packages/testkit/src/global-setup.ts'],
  },
});
