import { describe, expect, it } from 'vitest';
import { DIRECTORY_ERRORS, DirectoryError } from '../src/directory/errors.js';

// The directory's refusals: one table of Tessera codes (what the CLI prints) and the Microsoft Graph error the
// management API answers for each, and the Graph error body made from it.

describe('DirectoryError catalogue', () => {
  it('maps every code to its Graph error.code and HTTP status', () => {
    expect(DIRECTORY_ERRORS).toEqual({
      invalid: { graphCode: 'Request_BadRequest', httpStatus: 400 },
      not_found: { graphCode: 'Request_ResourceNotFound', httpStatus: 404 },
      conflict: { graphCode: 'Request_BadRequest', httpStatus: 400, detailCode: 'ObjectConflict' },
      denied: { graphCode: 'Authorization_RequestDenied', httpStatus: 403 },
      enabled_permission: { graphCode: 'CannotDeleteOrUpdateEnabledEntitlement', httpStatus: 400 },
    });
  });

  it('makes errors only from the catalogue', () => {
    // @ts-expect-error -- a code outside the catalogue does not compile
    const unknown = new DirectoryError('Request_BadRequest', 'x');
    expect(unknown.code).toBe('Request_BadRequest');
  });

  it.each([
    [
      new DirectoryError('not_found', "Tenant 'nowhere.test' not found."),
      404,
      { error: { code: 'Request_ResourceNotFound', message: "Tenant 'nowhere.test' not found." } },
    ],
    [
      new DirectoryError('conflict', "A user 'adele@contoso.test' already exists."),
      400,
      {
        error: {
          code: 'Request_BadRequest',
          message: "A user 'adele@contoso.test' already exists.",
          details: [{ code: 'ObjectConflict', message: "A user 'adele@contoso.test' already exists." }],
        },
      },
    ],
  ])('answers %s as Graph does', (error, status, body) => {
    expect(error.descriptor.httpStatus).toBe(status);
    expect(error.toGraphBody()).toEqual(body);
  });

  it('carries the innerError the HTTP layer adds', () => {
    const error = new DirectoryError('invalid', 'A tenant needs a display name.');
    const innerError = { date: '2026-01-01T00:00:00', 'request-id': 'r', 'client-request-id': 'c' };
    expect(error.toGraphBody(innerError)).toEqual({
      error: { code: 'Request_BadRequest', message: 'A tenant needs a display name.', innerError },
    });
  });
});
