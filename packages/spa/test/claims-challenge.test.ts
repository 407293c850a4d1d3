import { encodeClaimsChallenge, insufficientClaims, authenticationContextClaims } from '@tessera/resource';
import { claimsChallengeOf, parseAuthenticateHeader } from '@tessera/spa';
import { describe, expect, it } from 'vitest';

describe('WWW-Authenticate parsing (RFC 9110 §11.6.1, RFC 6750 §3)', () => {
  it('reads several challenges with quoted commas and escapes', () => {
    expect(
      parseAuthenticateHeader(
        'Bearer realm="api, v1", error="invalid_token", error_description="say \\"hi\\"", DPoP algs="ES256 RS256"',
      ),
    ).toEqual([
      {
        scheme: 'bearer',
        params: { realm: 'api, v1', error: 'invalid_token', error_description: 'say "hi"' },
      },
      { scheme: 'dpop', params: { algs: 'ES256 RS256' } },
    ]);
  });

  it('decodes the claims request of the challenge @tessera/resource sends', () => {
    const claims = authenticationContextClaims('c1');
    const challenge = `Bearer realm="", error="insufficient_claims", claims="${encodeClaimsChallenge(claims)}"`;
    expect(claimsChallengeOf(challenge)).toBe(claims);
    expect(insufficientClaims(claims).claims).toBe(encodeClaimsChallenge(claims));
  });

  it.each([
    ['no header', null],
    ['another error', `Bearer error="invalid_token", claims="${btoa('{}')}"`],
    ['claims not base64 JSON', 'Bearer error="insufficient_claims", claims="%%%"'],
    ['claims a JSON array', `Bearer error="insufficient_claims", claims="${btoa('[1]')}"`],
    ['another scheme', `Basic error="insufficient_claims", claims="${btoa('{}')}"`],
  ])('answers undefined for %s', (_name, header) => {
    expect(claimsChallengeOf(header)).toBeUndefined();
  });
});
