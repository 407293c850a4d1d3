/**
 * Resolves the URL a user asked for (the "return URL" of a sign-in or sign-out) to a same-origin path, or `/`.
 *
 * Refused (answered with `/`): absolute URLs of another origin, protocol-relative `//host`, backslash forms
 * (`/\host`, `\\host`, which browsers read as `//host`), their percent-encoded forms (`/%2F…`, `%5C`), control
 * characters, and every scheme but the app's own (`javascript:`, `data:`). What is returned is always a path
 * starting with a single `/` (plus query and fragment), never an absolute URL, so it cannot navigate off-origin.
 *
 * @param candidate what the app or the URL carried, e.g. `/orders?id=1`, `https://app.example/x`.
 * @param origin the app's origin, e.g. `https://app.example` (`location.origin`).
 * @see OWASP "Unvalidated Redirects and Forwards", RFC 3986 §4.2 (network-path references)
 */
export function sameOriginReturnUrl(candidate: string | null | undefined, origin: string): string {
  if (candidate === null || candidate === undefined || candidate === '') return '/';
  let decoded = candidate;
  // Decode repeatedly so that `%252F%252F` is judged as `//` too; a malformed escape is refused.
  for (let i = 0; i < 3; i++) {
    try {
      const next = decodeURIComponent(decoded);
      if (next === decoded) break;
      decoded = next;
    } catch {
      return '/';
    }
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f\\]/.test(decoded)) return '/';
  if (/^\s*\/\//.test(decoded)) return '/';
  let url: URL;
  try {
    url = new URL(candidate, `${origin}/`);
  } catch {
    return '/';
  }
  if (url.origin !== origin) return '/';
  const path = `${url.pathname}${url.search}${url.hash}`;
  // `new URL('https:x', origin)` or a path normalised into `//x` must not survive either.
  return path.startsWith('/') && !path.startsWith('//') ? path : '/';
}
