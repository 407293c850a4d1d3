import { sameOriginReturnUrl } from '@tessera/spa';
import { describe, expect, it } from 'vitest';

const origin = 'https://app.example';

describe('sameOriginReturnUrl: the protected URL survives the round trip, never as an open redirect', () => {
  it.each([
    ['/orders?id=1#top', '/orders?id=1#top'],
    ['/', '/'],
    ['orders', '/orders'],
    ['https://app.example/orders', '/orders'],
    ['/a/../b', '/b'],
    ['/%E2%9C%93', '/%E2%9C%93'],
  ])('keeps the same-origin %s as %s', (candidate, expected) => {
    expect(sameOriginReturnUrl(candidate, origin)).toBe(expected);
  });

  it.each([
    ['absolute other origin', 'https://evil.example/steal'],
    ['same host, other scheme', 'http://app.example/x'],
    ['same host, other port', 'https://app.example:8443/x'],
    ['protocol-relative', '//evil.example/x'],
    ['protocol-relative after spaces', '  //evil.example/x'],
    ['backslash', '/\\evil.example'],
    ['double backslash', '\\\\evil.example'],
    ['encoded slashes', '/%2F%2Fevil.example'],
    ['encoded protocol-relative', '%2F%2Fevil.example'],
    ['double-encoded slashes', '%252F%252Fevil.example'],
    ['encoded backslash', '/%5Cevil.example'],
    ['javascript: scheme', 'javascript:alert(1)'],
    ['JavaScript: with a tab', 'java\tscript:alert(1)'],
    ['data: scheme', 'data:text/html,<script>alert(1)</script>'],
    ['userinfo trick', 'https://app.example@evil.example/'],
    ['malformed escape', '/%E0%A4%A'],
    ['control character', '/x\u0000y'],
    ['empty', ''],
    ['null', null],
  ])('refuses %s (falls back to /)', (_name, candidate) => {
    expect(sameOriginReturnUrl(candidate, origin)).toBe('/');
  });
});
