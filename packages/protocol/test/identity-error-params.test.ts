import { describe, expect, expectTypeOf, it } from 'vitest';
import { errorCatalogue } from '../src/errors/catalogue.js';
import {
  IdentityError,
  type ErrorParamsOf,
  type ErrorPlaceholder,
  type PlaceholderNames,
} from '../src/errors/identity-error.js';

// The parameters of `new IdentityError(code, params)` are typed per code from the catalogue entry's description.
// The `@ts-expect-error` lines are the test: `tsc -p packages/protocol/test` (part of `npm run typecheck`) fails
// when one of them compiles.

describe('placeholder types', () => {
  it('reads the placeholder names of a description literal', () => {
    expectTypeOf<PlaceholderNames<'The scope {scope} is not valid in {tenant}.'>>().toEqualTypeOf<
      'scope' | 'tenant'
    >();
    expectTypeOf<PlaceholderNames<'No placeholders.'>>().toEqualTypeOf<never>();
    expectTypeOf<ErrorPlaceholder<70000>>().toEqualTypeOf<'name' | 'reason'>();
    expectTypeOf<ErrorParamsOf<70011>>().toEqualTypeOf<{ readonly scope: string | number }>();
    expectTypeOf<ErrorPlaceholder<50057>>().toEqualTypeOf<never>();
  });

  it('matches the placeholders the constructor fills: every brace in a description is a {name} placeholder', () => {
    for (const [code, entry] of Object.entries(errorCatalogue)) {
      const braces = entry.description.match(/[{}]/g) ?? [];
      const placeholders = entry.description.match(/\{\w+\}/g) ?? [];
      expect({ code, braces: braces.length }).toEqual({ code, braces: 2 * placeholders.length });
    }
  });
});

describe('IdentityError parameters', () => {
  it('accepts exactly the placeholders of the code', () => {
    expect(new IdentityError(70011, { scope: 'api://x/read' }).description).toBe(
      "The provided value for the input parameter 'scope' is not valid. The scope api://x/read is not valid.",
    );
    expect(new IdentityError(70000, { name: 'code', reason: 'It expired.' }).description).toBe(
      "The provided value for the 'code' parameter is not valid. It expired.",
    );
    expect(new IdentityError(9100062, { path: '/token', method: 'GET', allowed: 'POST' }).status).toBe(405);
  });

  it('needs no parameters object for a code without placeholders', () => {
    expect(new IdentityError(50057).description).toBe('The user account is disabled.');
    expect(new IdentityError(50057, {}, { detail: 'disabled in the directory' }).detail).toBe(
      'disabled in the directory',
    );
  });

  it('does not compile with missing, misspelled or extra placeholders', () => {
    const refused = [
      // @ts-expect-error 70011 needs `scope`
      () => new IdentityError(70011, {}),
      // @ts-expect-error 70011 needs its parameters object
      () => new IdentityError(70011),
      // @ts-expect-error `scpoe` is not a placeholder of 70011
      () => new IdentityError(70011, { scpoe: 'api://x/read' }),
      // @ts-expect-error `tenant` is not a placeholder of 70011
      () => new IdentityError(70011, { scope: 'api://x/read', tenant: 'contoso' }),
      // @ts-expect-error 70000 needs `reason` as well as `name`
      () => new IdentityError(70000, { name: 'code' }),
      // @ts-expect-error 50057 has no placeholders
      () => new IdentityError(50057, { reason: 'disabled' }),
      // @ts-expect-error a placeholder is text or a number
      () => new IdentityError(70011, { scope: ['api://x/read'] }),
      // @ts-expect-error 12345 is not a catalogue code
      () => new IdentityError(12345, {}),
    ];
    expect(refused).toHaveLength(8);
  });
});
