// Rewrites the generated error table in docs/errors.md from the catalogue (run after `npm run build`).
import { readFileSync, writeFileSync } from 'node:fs';
import { ERROR_TABLE_END, ERROR_TABLE_START, errorCatalogueMarkdown } from '@tessera/protocol';

const file = new URL('../docs/errors.md', import.meta.url);
const text = readFileSync(file, 'utf8');
const start = text.indexOf(ERROR_TABLE_START);
const end = text.indexOf(ERROR_TABLE_END);
if (start < 0 || end < 0)
  throw new Error(`docs/errors.md has no ${ERROR_TABLE_START} … ${ERROR_TABLE_END} markers`);
writeFileSync(
  file,
  text.slice(0, start) + errorCatalogueMarkdown() + text.slice(end + ERROR_TABLE_END.length),
);
