import { fileURLToPath, pathToFileURL } from 'node:url';
import { ESLint, type Linter } from 'eslint';
import tseslint from 'typescript-eslint';
import { beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../..', import.meta.url));

/**
 * The layer check of `eslint.layers.js` (run by `npm test`'s lint over the whole server), here on files that
 * break it on purpose: each case lints one made-up module placed in a layer and asserts the exact refusal.
 */
describe('the server layers: imports point endpoints → grants / interactions → directory / tokens / sessions → store', () => {
  let eslint: ESLint;
  beforeAll(async () => {
    const layersModule = pathToFileURL(`${root}eslint.layers.js`).href;
    const { serverLayers } = (await import(layersModule)) as { serverLayers: Linter.Config };
    eslint = new ESLint({
      cwd: root,
      overrideConfigFile: true,
      overrideConfig: [{ files: ['**/*.ts'], languageOptions: { parser: tseslint.parser } }, serverLayers],
    });
  });

  async function lint(file: string, source: string): Promise<string[]> {
    const [result] = await eslint.lintText(source, { filePath: `${root}packages/server/src/${file}` });
    return (result?.messages ?? []).map((m) => `${m.ruleId ?? ''}: ${m.message}`);
  }

  const refusals: { name: string; file: string; source: string; message: string }[] = [
    {
      name: 'the store importing an endpoint',
      file: 'store/violation.ts',
      source:
        "import { registerTokenEndpoint } from '../endpoints/token.js';\nexport const x = registerTokenEndpoint;\n",
      message:
        'boundaries/dependencies: There is no policy allowing dependencies from elements of type "store" to elements of type "endpoints"',
    },
    {
      name: 'a grant importing an endpoint',
      file: 'grants/violation.ts',
      source:
        "import { registerTokenEndpoint } from '../endpoints/token.js';\nexport const x = registerTokenEndpoint;\n",
      message:
        'boundaries/dependencies: There is no policy allowing dependencies from elements of type "grants" to elements of type "endpoints"',
    },
    {
      name: 'the directory importing a grant',
      file: 'directory/violation.ts',
      source: "import { grants } from '../grants/index.js';\nexport const x = grants;\n",
      message:
        'boundaries/dependencies: There is no policy allowing dependencies from elements of type "directory" to elements of type "grants"',
    },
    {
      name: 'the store importing the directory at run time (types only are allowed)',
      file: 'store/violation.ts',
      source:
        "import { DirectoryCache } from '../directory/directory-cache.js';\nexport const x = DirectoryCache;\n",
      message:
        'boundaries/dependencies: There is no policy allowing dependencies from elements of type "store" to elements of type "directory"',
    },
  ];

  it.each(refusals)('refuses $name', async ({ file, source, message }) => {
    expect(await lint(file, source)).toEqual([message]);
  });

  it('admits what the direction allows: an endpoint importing a grant, the store naming a model type', async () => {
    expect(
      await lint(
        'endpoints/allowed.ts',
        "import { grants } from '../grants/index.js';\nexport const x = grants;\n",
      ),
    ).toEqual([]);
    expect(
      await lint(
        'store/allowed.ts',
        "import type { Application } from '../directory/model.js';\nexport type X = Application;\n",
      ),
    ).toEqual([]);
  });
});
