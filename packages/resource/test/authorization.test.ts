import { describe, expect, it } from 'vitest';
import {
  authenticationContextClaims,
  authorize,
  bearerChallenge,
  bearerErrorResponse,
  bearerTokenOf,
  BearerTokenError,
  encodeClaimsChallenge,
  requireAcl,
  requireAppRoles,
  requireAuthenticationContext,
  requireScopes,
  requireScopesOrAppRoles,
  type AccessTokenClaims,
} from '@tessera/resource';

const ISSUER = 'https://login.tessera.test/11111111-2222-3333-4444-555555555555/v2.0';
const base = {
  iss: ISSUER,
  aud: 'api',
  exp: 2,
  iat: 1,
  sub: 's',
  tid: '11111111-2222-3333-4444-555555555555',
};
const appToken: AccessTokenClaims = {
  ...base,
  ver: '2.0',
  idtyp: 'app',
  azp: 'daemon-id',
  roles: ['Data.Read.All'],
};
const userToken: AccessTokenClaims = {
  ...base,
  ver: '2.0',
  idtyp: 'user',
  azp: 'spa-id',
  scp: 'User.Read Files.Read',
  roles: ['Data.Read.All'],
};
const v1AppToken: AccessTokenClaims = {
  ...base,
  iss: 'https://login.tessera.test/11111111-2222-3333-4444-555555555555/',
  ver: '1.0',
  idtyp: 'app',
  appid: 'DAEMON-ID',
};

function refusalOf(run: () => unknown): BearerTokenError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(BearerTokenError);
    return error as BearerTokenError;
  }
  throw new Error('expected a refusal');
}

describe('authorization helpers', () => {
  it('requireScopes: any accepted delegated scope, case-sensitive; app tokens never pass', () => {
    expect(() => {
      requireScopes(userToken, ['Mail.Send', 'Files.Read']);
    }).not.toThrow();
    expect(
      refusalOf(() => {
        requireScopes(userToken, ['files.read']);
      }),
    ).toMatchObject({
      code: 'insufficient_scope',
      status: 403,
      scope: 'files.read',
    });
    expect(
      refusalOf(() => {
        requireScopes(appToken, ['User.Read']);
      }).code,
    ).toBe('insufficient_scope');
    expect(() => {
      requireScopes(userToken, []);
    }).toThrow(TypeError);
    expect(() => {
      requireScopes(userToken, ['two words']);
    }).toThrow(TypeError);
  });

  it("requireAppRoles: app tokens only; a user's roles are not application permissions", () => {
    expect(() => {
      requireAppRoles(appToken, ['Data.Write.All', 'Data.Read.All']);
    }).not.toThrow();
    expect(
      refusalOf(() => {
        requireAppRoles(appToken, ['Data.Write.All']);
      }).scope,
    ).toBe('Data.Write.All');
    expect(
      refusalOf(() => {
        requireAppRoles(userToken, ['Data.Read.All']);
      }).code,
    ).toBe('insufficient_scope');
    expect(
      refusalOf(() => {
        requireAppRoles({ ...appToken, roles: undefined }, ['Data.Read.All']);
      }).code,
    ).toBe('insufficient_scope');
  });

  it('requireScopesOrAppRoles: users by scope, apps by role, never crossed', () => {
    const accepted = { scopes: ['Files.Read'], roles: ['Data.Read.All'] };
    expect(() => {
      requireScopesOrAppRoles(userToken, accepted);
    }).not.toThrow();
    expect(() => {
      requireScopesOrAppRoles(appToken, accepted);
    }).not.toThrow();
    const crossed = { scopes: ['Data.Read.All'], roles: ['Files.Read'] };
    expect(
      refusalOf(() => {
        requireScopesOrAppRoles(userToken, crossed);
      }).scope,
    ).toBe('Data.Read.All Files.Read');
    expect(
      refusalOf(() => {
        requireScopesOrAppRoles(appToken, crossed);
      }).code,
    ).toBe('insufficient_scope');
  });

  it('requireAcl: appId (azp or appid, any case) AND issuer must match one entry', () => {
    const allowed = [{ appId: 'daemon-id', issuer: ISSUER }];
    expect(() => {
      requireAcl(appToken, { allowed });
    }).not.toThrow();
    expect(() => {
      requireAcl(v1AppToken, { allowed: [{ appId: 'daemon-id', issuer: v1AppToken.iss }] });
    }).not.toThrow();
    expect(
      refusalOf(() => {
        requireAcl(v1AppToken, { allowed });
      }).code,
    ).toBe('client_not_allowed');
    expect(
      refusalOf(() => {
        requireAcl({ ...appToken, iss: 'https://evil.example/x/v2.0' }, { allowed });
      }).code,
    ).toBe('client_not_allowed');
    expect(
      refusalOf(() => {
        requireAcl(userToken, { allowed });
      }).status,
    ).toBe(403);
    expect(() => {
      requireAcl(appToken, { allowed: [] });
    }).toThrow(TypeError);
  });

  it("step-up: the claims challenge is Microsoft's format, byte for byte", () => {
    // The value in Microsoft's claims-challenge documentation for the authentication context "cp1".
    expect(encodeClaimsChallenge(authenticationContextClaims('cp1'))).toBe(
      'eyJhY2Nlc3NfdG9rZW4iOnsiYWNycyI6eyJlc3NlbnRpYWwiOnRydWUsInZhbHVlIjoiY3AxIn19fQ==',
    );
    expect(() => {
      requireAuthenticationContext({ ...userToken, acrs: ['c1', 'c2'] }, 'c2');
    }).not.toThrow();
    const error = refusalOf(() => {
      requireAuthenticationContext(userToken, 'c1');
    });
    expect(error).toMatchObject({ code: 'insufficient_claims', status: 401, error: 'insufficient_claims' });
    expect(Buffer.from(error.claims!, 'base64').toString()).toBe(
      '{"access_token":{"acrs":{"essential":true,"value":"c1"}}}',
    );
  });

  it('authorize: ACL first, then scopes / roles, then authentication context, then the custom check', async () => {
    const order: string[] = [];
    await authorize(appToken, { roles: ['Data.Read.All'], check: () => void order.push('check') });
    expect(order).toEqual(['check']);
    await expect(
      authorize(appToken, { acl: [{ appId: 'other', issuer: ISSUER }], roles: ['Nope'] }),
    ).rejects.toMatchObject({ code: 'client_not_allowed' });
    await expect(
      authorize(userToken, { scopes: ['User.Read'], authenticationContext: 'c1' }),
    ).rejects.toMatchObject({
      code: 'insufficient_claims',
    });
    await expect(
      authorize(userToken, { check: () => Promise.reject(new BearerTokenError('insufficient_scope')) }),
    ).rejects.toMatchObject({ code: 'insufficient_scope' });
  });
});

describe('challenges and the Authorization header', () => {
  it.each([
    ['Bearer abc.def.ghi', 'abc.def.ghi'],
    ['bearer abc', 'abc'],
    ['BEARER   a-b_c~d+e/f==', 'a-b_c~d+e/f=='],
  ])('reads %j', (header, token) => {
    expect(bearerTokenOf(header)).toBe(token);
  });

  it.each<[string | string[] | undefined, string]>([
    [undefined, 'token_missing'],
    ['', 'token_missing'],
    ['Basic dXNlcjpwYXNz', 'token_missing'],
    ['Bearerabc', 'token_missing'],
    ['Bearer', 'request_malformed'],
    ['Bearer a=b', 'request_malformed'],
    ['Bearer a,b', 'request_malformed'],
    [['Bearer a', 'Bearer b'], 'request_malformed'],
  ])('refuses %j as %s', (header, code) => {
    expect(refusalOf(() => bearerTokenOf(header)).code).toBe(code);
  });

  it('renders every attribute in order, and drops values that would break the quoted-string', () => {
    const claims = new BearerTokenError('insufficient_claims', { claims: 'e30=' });
    expect(
      bearerChallenge(claims, { realm: 'r', authorizationUri: 'https://idp/t/oauth2/v2.0/authorize' }),
    ).toBe(
      'Bearer realm="r", authorization_uri="https://idp/t/oauth2/v2.0/authorize", error="insufficient_claims", ' +
        'error_description="The access token does not meet the authentication requirements of this operation.", ' +
        'claims="e30="',
    );
    const injected = new BearerTokenError('insufficient_scope', { scope: 'a" , error="x' });
    expect(bearerChallenge(injected)).toBe(
      'Bearer realm="", error="insufficient_scope", error_description="The access token does not grant the permission this operation requires."',
    );
  });

  it('never sends the detail or the cause', () => {
    const error = new BearerTokenError('signature_invalid', {
      detail: 'kid abc secret detail',
      cause: new Error('x'),
    });
    const response = bearerErrorResponse(error, { realm: 'api' });
    expect(response).toEqual({
      status: 401,
      headers: {
        'cache-control': 'no-store',
        'www-authenticate':
          'Bearer realm="api", error="invalid_token", error_description="The access token signature is invalid."',
      },
      body: { error: 'invalid_token', error_description: 'The access token signature is invalid.' },
    });
  });
});
