import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// `@tessera/resource`'s main entry must not require Express or Fastify (nor their types): each adapter is its own
// subpath export. Checked on what is published, the built `dist/` (`tsc -b`, which `npm test` runs first): the
// module graph of each entry, JavaScript and declarations, followed through relative imports.

const packageDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const FRAMEWORKS =
  /^(express|express-serve-static-core|fastify|fastify-plugin|@fastify\/.*|@types\/express.*)$/;

/** Module specifiers a JS or .d.ts file names: imports, re-exports, dynamic imports, module augmentations. */
function specifiersOf(text: string): string[] {
  const patterns = [
    /\b(?:import|export)\s[^'"]*?\bfrom\s*['"]([^'"]+)['"]/g,
    /\bimport\s*['"]([^'"]+)['"]/g,
    /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g,
    /\bdeclare\s+module\s+['"]([^'"]+)['"]/g,
    /\/\/\/\s*<reference\s+types=['"]([^'"]+)['"]/g,
  ];
  return patterns.flatMap((pattern) => [...text.matchAll(pattern)].map((match) => match[1]!));
}

/** Every bare (package) specifier reachable from `entry` through relative imports, and the files visited. */
function packagesReachedFrom(entry: string): Set<string> & { files: number } {
  const declarations = entry.endsWith('.d.ts');
  const seen = new Set<string>();
  const reached = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    if (!existsSync(file)) throw new Error(`${file} is missing: build first (tsc -b)`);
    for (const specifier of specifiersOf(readFileSync(file, 'utf8'))) {
      if (!specifier.startsWith('.')) {
        reached.add(specifier);
        continue;
      }
      const target = resolve(dirname(file), specifier);
      visit(declarations ? target.replace(/\.js$/, '.d.ts') : target);
    }
  };
  visit(entry);
  return Object.assign(reached, { files: seen.size });
}

describe('entry points of @tessera/resource', () => {
  const exportsMap = (
    JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as {
      exports: Record<string, { types: string; default: string }>;
    }
  ).exports;

  it('exports the main entry and one subpath per adapter', () => {
    expect(Object.keys(exportsMap)).toEqual(['.', './node-http', './express', './fastify']);
  });

  it.each([['types'], ['default']] as const)(
    'the main entry (%s) reaches no web framework module',
    (condition) => {
      const reached = packagesReachedFrom(join(packageDir, exportsMap['.']![condition]));
      expect([...reached].filter((specifier) => FRAMEWORKS.test(specifier))).toEqual([]);
      expect(reached.files).toBeGreaterThan(15); // the walk does follow the graph
    },
  );

  it.each([
    ['./node-http', []],
    ['./express', ['express', 'express-serve-static-core']],
    ['./fastify', ['fastify', 'fastify-plugin']],
  ] as const)('%s reaches only its own framework', (subpath, frameworks) => {
    const reached = new Set([
      ...packagesReachedFrom(join(packageDir, exportsMap[subpath]!.types)),
      ...packagesReachedFrom(join(packageDir, exportsMap[subpath]!.default)),
    ]);
    expect([...reached].filter((specifier) => FRAMEWORKS.test(specifier)).sort()).toEqual([...frameworks]);
  });

  it('every subpath resolves through the package exports to the built files', () => {
    const require = createRequire(join(packageDir, '..', '..', 'package.json'));
    for (const [subpath, target] of Object.entries(exportsMap)) {
      const specifier = subpath === '.' ? '@tessera/resource' : `@tessera/resource/${subpath.slice(2)}`;
      expect(require.resolve(specifier)).toBe(join(packageDir, target.default));
    }
  });

  it('the built main entry loads in plain Node and exports no adapter', () => {
    const output = execFileSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        "const m = await import('@tessera/resource'); console.log(JSON.stringify(Object.keys(m).sort()));",
      ],
      { cwd: join(packageDir, '..', '..'), encoding: 'utf8' },
    );
    const names = JSON.parse(output) as string[];
    expect(names).toContain('createTokenValidator');
    expect(names).toContain('authenticateBearer');
    for (const adapter of ['createNodeAuthenticator', 'createExpressAuth', 'tesseraAuth']) {
      expect(names).not.toContain(adapter);
    }
  });
});
