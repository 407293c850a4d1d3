import { errorCatalogue, type ErrorDefinition } from './catalogue.js';

/** Markers around the generated table in `docs/errors.md`. */
export const ERROR_TABLE_START = '<!-- error-catalogue:start -->';
export const ERROR_TABLE_END = '<!-- error-catalogue:end -->';

/**
 * The error catalogue as a Markdown table (code, OAuth `error`, HTTP status, name, origin, description), the
 * generated part of `docs/errors.md`. A test keeps the two in step.
 */
export function errorCatalogueMarkdown(): string {
  const rows = Object.entries(errorCatalogue).map(([code, entry]: [string, ErrorDefinition]) => {
    const origin = entry.tesseraOwn === true ? 'Tessera' : 'Microsoft identity platform';
    const description = entry.description.replaceAll('|', '\\|');
    const errors = [entry.error, ...(entry.alsoSentAs ?? [])].map((name) => `\`${name}\``).join(' or ');
    return `| ${code} | ${errors} | ${entry.status} | ${entry.name} | ${origin} | ${description} |`;
  });
  return [
    ERROR_TABLE_START,
    '| code | `error` | HTTP | name | number from | `error_description` text |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows,
    ERROR_TABLE_END,
  ].join('\n');
}
