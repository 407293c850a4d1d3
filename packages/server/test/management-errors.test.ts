import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MANAGEMENT_ERRORS, ManagementError } from '../src/management/errors.js';
import { builtinDirectoryApplication } from '../src/directory/builtin-directory-app.js';
import { DIRECTORY_ROLES } from '../src/directory/model.js';
import { OPERATION_PERMISSIONS } from '../src/management/permissions.js';

// The management API's catalogue and permission table, kept in step with docs/management-api.md.

const doc = readFileSync(new URL('../../../docs/management-api.md', import.meta.url), 'utf8');

/** The cells of the doc's table rows whose first cell is `name` (in backticks). */
function docRow(name: string): string[] | undefined {
  const line = doc.split('\n').find((row) => row.startsWith(`| \`${name}\``));
  return line
    ?.split('|')
    .slice(1, -1)
    .map((cell) => cell.trim());
}

describe('management error catalogue', () => {
  it.each(Object.entries(MANAGEMENT_ERRORS))(
    '%s is documented with its Graph code and status',
    (code, entry) => {
      const row = docRow(code);
      expect(row?.[1]).toContain(`\`${entry.graphCode}\``);
      expect(row?.[2]).toBe(String(entry.httpStatus));
    },
  );

  it('documents no code outside the catalogue', () => {
    const documented = doc
      .split('\n')
      .filter((row) => /^\| `[a-z_]+` +\| `/.test(row))
      .map((row) => /^\| `([a-z_]+)`/.exec(row)?.[1]);
    expect(documented.sort()).toEqual(Object.keys(MANAGEMENT_ERRORS).sort());
  });

  it('makes Graph bodies with innerError', () => {
    const body = new ManagementError('unsupported_query', 'No.').toGraphBody({ 'request-id': 'r' });
    expect(body).toEqual({
      error: { code: 'Request_UnsupportedQuery', message: 'No.', innerError: { 'request-id': 'r' } },
    });
  });
});

describe('permission table', () => {
  it('the doc lists every permission of every operation', () => {
    for (const rule of Object.values(OPERATION_PERMISSIONS)) {
      for (const permission of [...rule.delegatedScopes, ...rule.appRoles]) {
        expect(doc).toContain(`\`${permission}\``);
      }
      for (const role of rule.directoryRoles) expect(doc).toContain(role);
    }
  });

  it('every permission it names is a scope or an app role of the built-in directory app, and every role a known one', () => {
    const scopes = builtinDirectoryApplication.api.oauth2PermissionScopes.map((scope) => scope.value);
    const appRoles = builtinDirectoryApplication.appRoles.map((role) => role.value);
    for (const rule of Object.values(OPERATION_PERMISSIONS)) {
      for (const scope of rule.delegatedScopes) expect(scopes).toContain(scope);
      for (const role of rule.appRoles) expect(appRoles).toContain(role);
      for (const role of rule.directoryRoles) expect(DIRECTORY_ROLES).toContain(role);
    }
  });
});
