// The layers of the identity server (packages/server/src) and the direction their imports may point:
// endpoints → grants / interactions → directory / tokens / sessions → store (docs/architecture.md).
// Checked by eslint-plugin-boundaries on every lint run; packages/server/test/layers.test.ts shows it refusing
// a deliberate violation.
import boundaries from 'eslint-plugin-boundaries';

const src = 'packages/server/src';

/** Each layer by its folder; the first match wins, so `root` (the files directly in src/) comes last. */
const layers = [
  ['composition', ['cli', 'seed']],
  ['interactions', ['endpoints/interaction']],
  ['endpoints', ['endpoints']],
  ['management', ['management']],
  ['grants', ['grants']],
  ['dpop', ['dpop']],
  ['client-auth', ['client-auth']],
  ['sessions', ['sessions']],
  ['users', ['users']],
  ['tokens', ['tokens']],
  ['directory', ['directory']],
  ['keys', ['keys']],
  ['store', ['store']],
  ['ui', ['ui']],
  ['http', ['http']],
  ['tls', ['tls']],
  ['operations', ['operations']],
  ['config', ['config']],
  ['root', ['']],
];
const elements = layers.map(([type, folders]) => ({
  type,
  pattern: folders.map((folder) => (folder === '' ? src : `${src}/${folder}`)),
}));

/**
 * What each layer may import besides itself and packages. `root` is the composition root (server.ts, app.ts,
 * index.ts) and `context.ts`, whose types everything may name.
 */
const everyLayer = layers.map(([type]) => type);
const endpointImports = [
  'interactions',
  'grants',
  'dpop',
  'client-auth',
  'sessions',
  'users',
  'tokens',
  'directory',
  'keys',
  'store',
  'ui',
  'http',
  'config',
];
const mayImport = {
  root: everyLayer,
  composition: everyLayer,
  endpoints: endpointImports,
  // The management API (/v1.0) is an endpoint too: the same imports.
  management: endpointImports,
  interactions: ['sessions', 'users', 'tokens', 'directory', 'keys', 'store', 'ui', 'http', 'config'],
  grants: ['client-auth', 'dpop', 'sessions', 'users', 'tokens', 'directory', 'keys', 'store', 'config'],
  // RFC 9449 proof checking: jose, the proof jti store and the nonce key.
  dpop: ['keys', 'store', 'config'],
  'client-auth': ['tokens', 'directory', 'keys', 'store', 'config'],
  sessions: ['users', 'tokens', 'directory', 'keys', 'store', 'config'],
  users: ['directory', 'keys', 'store', 'config'],
  tokens: ['directory', 'keys', 'store', 'config'],
  directory: ['keys', 'store', 'config'],
  keys: ['store', 'config'],
  store: ['config'],
  ui: ['config'],
  http: ['directory', 'store', 'config'],
  tls: ['keys', 'config'],
  // Health, readiness, metrics and tracing: the shared error body (http) and config; the checks come from root.
  operations: ['http', 'config'],
  config: [],
};

/**
 * Type-only imports beyond that: the store maps rows to the domain's model types, and tokens carry the
 * authentication event a session records.
 */
const mayImportTypes = {
  store: ['directory', 'sessions', 'keys'],
  tokens: ['sessions'],
};

const policies = [
  ...Object.entries(mayImport).map(([type, allowed]) => ({
    from: { element: { type } },
    allow: { to: { element: { types: [type, ...allowed] } } },
  })),
  ...Object.entries(mayImportTypes).map(([type, allowed]) => ({
    from: { element: { type } },
    allow: { to: { element: { types: allowed } }, dependency: { kind: 'type' } },
  })),
  // The server context (context.ts) names the type of every service it carries.
  { allow: { to: { element: { type: 'root' } }, dependency: { kind: 'type' } } },
  { allow: { to: { module: { origin: ['external', 'core'] } } } },
];

/** The flat-config block that checks the server's layers. */
export const serverLayers = {
  files: [`${src}/**/*.ts`],
  plugins: { boundaries },
  settings: {
    'boundaries/elements': elements,
    'import/resolver': { typescript: { project: 'packages/server/tsconfig.json' } },
  },
  rules: {
    'boundaries/dependencies': ['error', { default: 'disallow', policies }],
  },
};
