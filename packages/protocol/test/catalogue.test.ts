import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { errorCatalogue, isErrorCode, type ErrorCode } from '../src/errors/catalogue.js';
import {
  ERROR_TABLE_END,
  ERROR_TABLE_START,
  errorCatalogueMarkdown,
} from '../src/errors/catalogue-markdown.js';
import { IdentityError, type IdentityErrorArguments } from '../src/errors/identity-error.js';
import { formatErrorTimestamp, toErrorBody } from '../src/errors/error-body.js';

const docs = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');

describe('error catalogue', () => {
  it('is documented: docs/errors.md holds exactly the generated table (npm run docs:errors)', () => {
    const start = docs.indexOf(ERROR_TABLE_START);
    const end = docs.indexOf(ERROR_TABLE_END);
    expect(start).toBeGreaterThanOrEqual(0);
    expect(docs.slice(start, end + ERROR_TABLE_END.length)).toBe(errorCatalogueMarkdown());
  });

  it('keeps Tessera-own numbers in their range and platform numbers outside it', () => {
    for (const [code, entry] of Object.entries(errorCatalogue)) {
      const own = Number(code) >= 9_100_000 && Number(code) <= 9_199_999;
      expect({ code, own }).toEqual({ code, own: 'tesseraOwn' in entry });
    }
  });

  it.each([
    ['invalid_client', 401],
    ['server_error', 500],
  ] as const)('gives every %s entry status %i', (error, status) => {
    for (const entry of Object.values(errorCatalogue))
      if (entry.error === error) expect(entry.status).toBe(status);
  });

  it('narrows numbers to catalogue codes', () => {
    expect(isErrorCode(70011)).toBe(true);
    expect(isErrorCode(12345)).toBe(false);
  });
});

describe('error body', () => {
  const at = new Date('2016-01-09T02:02:12.345Z');

  it('has the platform shape, fills placeholders and keeps internal detail out', () => {
    const error = new IdentityError(
      70011,
      { scope: 'https://foo.example/.default' },
      { detail: 'secret internal state' },
    );
    const body = toErrorBody(error, { traceId: 'trace-1', correlationId: 'corr-1', at });
    expect(body).toEqual({
      error: 'invalid_scope',
      error_description:
        "TSS70011: The provided value for the input parameter 'scope' is not valid. The scope https://foo.example/.default is not valid.\r\n" +
        'Trace ID: trace-1\r\nCorrelation ID: corr-1\r\nTimestamp: 2016-01-09 02:02:12Z',
      error_codes: [70011],
      timestamp: '2016-01-09 02:02:12Z',
      trace_id: 'trace-1',
      correlation_id: 'corr-1',
    });
    expect(JSON.stringify(body)).not.toContain('secret internal state');
  });

  it('carries suberror and claims when set', () => {
    const error = new IdentityError(
      9100003,
      { reason: 'x' },
      { suberror: 'bad_token', claims: '{"access_token":{}}' },
    );
    expect(toErrorBody(error, { traceId: 't', correlationId: 'c', at })).toMatchObject({
      suberror: 'bad_token',
      claims: '{"access_token":{}}',
    });
  });

  it('formats timestamps as the platform does', () => {
    expect(formatErrorTimestamp(at)).toBe('2016-01-09 02:02:12Z');
  });

  it('builds every catalogue entry without leftover placeholders when parameters are given', () => {
    for (const code of Object.keys(errorCatalogue).map(Number) as ErrorCode[]) {
      const params = new Proxy({}, { get: (_t, key) => `<${String(key)}>` }) as Record<string, string>;
      // A code known only at run time: the per-code parameter types cannot apply, the proxy fills any name.
      const error = new IdentityError(...([code, params] as unknown as IdentityErrorArguments));
      expect(error.description).not.toMatch(/\{\w+\}/);
      expect(error.status).toBe(errorCatalogue[code].status);
    }
  });
});
