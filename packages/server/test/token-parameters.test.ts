import { IdentityError } from '@tessera/protocol';
import { describe, expect, it } from 'vitest';
import type { GrantDescriptor } from '../src/grants/grant.js';
import { grantFor, grants } from '../src/grants/index.js';
import { parseTokenParameters } from '../src/grants/parameters.js';
import type { FormField } from '../src/http/form.js';

// The token endpoint parses the form through the grant's descriptor. A test-only descriptor shaped like RFC 8693
// token exchange (whose `resource` and `audience` may repeat, §2.1) shows what a grant that lets parameters repeat
// receives.

const tokenExchange: GrantDescriptor = {
  grantType: 'urn:ietf:params:oauth:grant-type:token-exchange',
  parameters: ['subject_token', 'subject_token_type', 'resource', 'audience', 'scope'],
  allowRepeated: ['resource', 'audience'],
  handle: () => Promise.reject(new Error('not called')),
};

/** The outcome as the table writes it: the parameters kept, or the 9100004 text. */
type Outcome =
  { params: Record<string, string>; repeatedParams: Record<string, string[]> } | { refused: string };

function outcome(fields: Record<string, FormField>, grant: GrantDescriptor | undefined): Outcome {
  try {
    const parsed = parseTokenParameters(fields, grant);
    return {
      params: { ...parsed.params },
      repeatedParams: Object.fromEntries(Object.entries(parsed.repeatedParams).map(([k, v]) => [k, [...v]])),
    };
  } catch (error) {
    if (!(error instanceof IdentityError)) throw error;
    return { refused: `${error.code} ${error.description}` };
  }
}

const clientCredentials = grantFor('client_credentials');

const cases: {
  name: string;
  grant: GrantDescriptor | undefined;
  fields: Record<string, FormField>;
  expected: Outcome;
}[] = [
  {
    name: 'only the declared and the client authentication parameters reach the grant',
    grant: clientCredentials,
    fields: {
      grant_type: 'client_credentials',
      client_id: 'app',
      client_secret: 's',
      scope: 'api://a/.default',
      code: 'not-for-this-grant',
      'x-client-SKU': 'MSAL.Node',
    },
    expected: {
      params: { client_id: 'app', client_secret: 's', scope: 'api://a/.default' },
      repeatedParams: {},
    },
  },
  {
    name: 'a repeated declared parameter is refused',
    grant: clientCredentials,
    fields: { grant_type: 'client_credentials', scope: ['a', 'b'] },
    expected: { refused: "9100004 The request must not contain the parameter 'scope' more than once." },
  },
  {
    name: 'a repeated parameter the grant does not read is refused too',
    grant: clientCredentials,
    fields: { grant_type: 'client_credentials', 'x-client-SKU': ['a', 'b'] },
    expected: {
      refused: "9100004 The request must not contain the parameter 'x-client-SKU' more than once.",
    },
  },
  {
    name: 'the first repeated parameter in body order is named',
    grant: clientCredentials,
    fields: { client_id: ['a', 'b'], scope: ['c', 'd'] },
    expected: {
      refused: "9100004 The request must not contain the parameter 'client_id' more than once.",
    },
  },
  {
    name: 'without a grant nothing may repeat',
    grant: undefined,
    fields: { grant_type: ['client_credentials', 'refresh_token'] },
    expected: {
      refused: "9100004 The request must not contain the parameter 'grant_type' more than once.",
    },
  },
  {
    name: 'without a grant nothing is kept',
    grant: undefined,
    fields: { grant_type: 'password', client_id: 'app', username: 'u' },
    expected: { params: {}, repeatedParams: {} },
  },
  {
    name: 'a grant that lets parameters repeat gets every value in order',
    grant: tokenExchange,
    fields: {
      grant_type: tokenExchange.grantType,
      subject_token: 't',
      resource: ['https://a.example', 'https://b.example'],
      audience: 'urn:c',
      client_id: 'app',
    },
    expected: {
      params: { subject_token: 't', client_id: 'app' },
      repeatedParams: { resource: ['https://a.example', 'https://b.example'], audience: ['urn:c'] },
    },
  },
  {
    name: 'such a grant still refuses its other parameters repeated',
    grant: tokenExchange,
    fields: { resource: ['https://a.example', 'https://b.example'], subject_token: ['t', 'u'] },
    expected: {
      refused: "9100004 The request must not contain the parameter 'subject_token' more than once.",
    },
  },
];

describe('token request parameters, parsed through the grant descriptor', () => {
  it.each(cases)('$name', ({ fields, grant, expected }) => {
    expect(outcome(fields, grant)).toEqual(expected);
  });

  it('registers the RFC 6749 grants, On-Behalf-Of and token exchange, in discovery order; only RFC 8693 targets repeat', () => {
    expect(grants.map((g) => [g.grantType, g.allowRepeated])).toEqual([
      ['authorization_code', []],
      ['refresh_token', []],
      ['client_credentials', []],
      ['urn:ietf:params:oauth:grant-type:jwt-bearer', []],
      ['urn:ietf:params:oauth:grant-type:token-exchange', ['audience', 'resource']],
    ]);
    expect(grantFor('urn:ietf:params:oauth:grant-type:token-exchange')).toBeDefined();
  });
});
