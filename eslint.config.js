// Lint configuration: zero warnings allowed (`eslint --max-warnings 0`).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { serverLayers } from './eslint.layers.js';

/** Packages each workspace may import; enforces the dependency direction in ARCHITECTURE.md. */
const forbidden = {
  protocol: ['@tessera/server', '@tessera/testkit', '@tessera/resource', '@tessera/hub'],
  server: ['@tessera/testkit', '@tessera/hub', '@tessera/spa'],
  resource: ['@tessera/server', '@tessera/testkit', '@tessera/hub', '@tessera/spa'],
  hub: ['@tessera/server', '@tessera/testkit', '@tessera/spa'],
};

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', 'data/**', 'bench/.results/**', '.tmp/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['vitest.config.ts'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': [
        'error',
        { selector: 'ExportDefaultDeclaration', message: 'Use named exports.' },
      ],
    },
  },
  {
    files: ['packages/protocol/src/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['node:*'], message: '@tessera/protocol is browser-safe: no Node built-ins.' },
            { group: forbidden.protocol, message: '@tessera/protocol depends on nothing in Tessera.' },
          ],
        },
      ],
    },
  },
  {
    files: ['packages/server/src/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: forbidden.server, message: 'Dependency direction.' }] },
      ],
    },
  },
  {
    files: ['packages/resource/src/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: forbidden.resource, message: 'Dependency direction.' }] },
      ],
    },
  },
  {
    files: ['packages/hub/src/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: forbidden.hub, message: 'Dependency direction.' }] },
      ],
    },
  },
  {
    files: ['**/*.test.ts', 'packages/testkit/**/*.ts', 'bench/**/*.{ts,mjs,js}'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
    },
  },
  {
    files: ['**/*.{js,mjs}', 'vitest.config.ts'],
    rules: { 'no-restricted-syntax': 'off' },
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', URL: 'readonly', setTimeout: 'readonly' },
    },
  },
  serverLayers,
);
