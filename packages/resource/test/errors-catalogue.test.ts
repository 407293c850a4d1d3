import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  acquisitionErrorCatalogue,
  bearerErrorCatalogue,
  BearerTokenError,
  TokenAcquisitionError,
  type AcquisitionErrorCode,
  type BearerErrorCode,
} from '@tessera/resource';
import { fromMsalError } from '../src/acquisition/errors.js';

const markdown = readFileSync(new URL('../../../docs/resource.md', import.meta.url), 'utf8');

/** The rows of the error table in docs/resource.md: | `code` | `error` | status | when |. */
function documentedErrors(): Map<string, { error: string; status: number; when: string }> {
  const section = markdown.slice(markdown.indexOf('## Errors'), markdown.indexOf('## Key rotation'));
  const rows = new Map<string, { error: string; status: number; when: string }>();
  // Prettier pads table cells, hence the spaces around each one.
  for (const match of section.matchAll(/^\| `([a-z_]+)` +\| (`[a-z_]+`|—) +\| (\d{3}) +\| (.+?) +\|$/gm)) {
    rows.set(match[1]!, { error: match[2]!.replaceAll('`', ''), status: Number(match[3]), when: match[4]! });
  }
  return rows;
}

describe('the error catalogue', () => {
  const codes = Object.keys(bearerErrorCatalogue) as BearerErrorCode[];

  it('is documented row for row in docs/resource.md', () => {
    const documented = documentedErrors();
    expect([...documented.keys()].sort()).toEqual([...codes].sort());
    for (const code of codes) {
      const definition = bearerErrorCatalogue[code];
      expect(documented.get(code)).toEqual({
        error: definition.error ?? '—',
        status: definition.status,
        when: definition.when,
      });
    }
  });

  it('maps to RFC 6750 statuses: invalid_request 400, invalid_token 401, insufficient_scope 403', () => {
    const statusOf = {
      invalid_request: 400,
      invalid_token: 401,
      insufficient_scope: 403,
      insufficient_claims: 401,
      invalid_dpop_proof: 401,
    };
    for (const code of codes) {
      const { error, status } = bearerErrorCatalogue[code];
      if (error === undefined) expect(status).toBe(401);
      else if (error === 'temporarily_unavailable') expect(status).toBe(503);
      else expect(status).toBe(statusOf[error]);
      expect(new BearerTokenError(code)).toMatchObject({ code, error, status });
    }
  });

  it('has descriptions that fit an RFC 6750 quoted error_description', () => {
    for (const code of codes) {
      expect(bearerErrorCatalogue[code].description).toMatch(/^[\x20\x21\x23-\x5B\x5D-\x7E]+$/);
    }
  });
});

/** The rows of the token acquisition error table in docs/resource.md: | `code` | message | meaning |. */
function documentedAcquisitionErrors(): Map<string, { message: string; meaning: string }> {
  const section = markdown.slice(markdown.indexOf('### Token acquisition errors'));
  const rows = new Map<string, { message: string; meaning: string }>();
  for (const match of section.matchAll(/^\| `([a-z_]+)` +\| (.+?) +\| (.+?) +\|$/gm)) {
    rows.set(match[1]!, { message: match[2]!, meaning: match[3]! });
  }
  return rows;
}

describe('the token acquisition error catalogue', () => {
  const codes = Object.keys(acquisitionErrorCatalogue) as AcquisitionErrorCode[];

  it('is documented row for row in docs/resource.md', () => {
    const documented = documentedAcquisitionErrors();
    expect([...documented.keys()].sort()).toEqual([...codes].sort());
    for (const code of codes) expect(documented.get(code)).toEqual(acquisitionErrorCatalogue[code]);
  });

  it('makes each error from its entry: code as `error`, its message, no platform codes', () => {
    const cause = new Error('socket hang up');
    const noToken = TokenAcquisitionError.fromCatalogue('no_token');
    expect(noToken).toMatchObject({
      name: 'TokenAcquisitionError',
      error: 'no_token',
      message: 'The authority returned no access token.',
      errorCodes: [],
    });
    expect(noToken.cause).toBeUndefined();
    expect(TokenAcquisitionError.fromCatalogue('acquisition_failed', cause)).toMatchObject({
      error: 'acquisition_failed',
      message: 'The token could not be acquired.',
      cause,
    });
  });

  it('turns an exception that is not an MSAL error into acquisition_failed, keeping it as the cause', () => {
    const cause = new TypeError('fetch failed');
    expect(fromMsalError(cause)).toMatchObject({
      error: 'acquisition_failed',
      message: 'The token could not be acquired.',
      errorCodes: [],
      cause,
    });
  });
});
