/**
 * A parsed `WWW-Authenticate` challenge: its scheme and auth-params (`error`, `claims`, `realm`, …).
 *
 * @see RFC 9110 §11.6.1, RFC 6750 §3
 */
export interface AuthenticateChallenge {
  /** Lower-cased: `bearer`, `dpop`. */
  readonly scheme: string;
  readonly params: Readonly<Record<string, string>>;
}

/**
 * Parses a `WWW-Authenticate` header value into its challenges (several may be listed, comma-separated).
 * Quoted strings may contain commas and `\"` escapes; unknown syntax ends the parse rather than throwing.
 */
export function parseAuthenticateHeader(value: string | null): AuthenticateChallenge[] {
  if (value === null) return [];
  const challenges: { scheme: string; params: Record<string, string> }[] = [];
  const token = /\s*([!#$%&'*+\-.^_`|~0-9A-Za-z]+)/y;
  const param = /\s*([!#$%&'*+\-.^_`|~0-9A-Za-z]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?/y;
  let at = 0;
  while (at < value.length) {
    param.lastIndex = at;
    const p = param.exec(value);
    const current = challenges.at(-1);
    if (p !== null && current !== undefined) {
      current.params[(p[1] ?? '').toLowerCase()] =
        p[2] === undefined ? (p[3] ?? '') : p[2].replace(/\\(.)/g, '$1');
      at = param.lastIndex;
      continue;
    }
    token.lastIndex = at;
    const t = token.exec(value);
    if (t === null) break;
    challenges.push({ scheme: (t[1] ?? '').toLowerCase(), params: {} });
    at = token.lastIndex;
    while (value[at] === ',' || value[at] === ' ') at++;
  }
  return challenges;
}

/**
 * The claims request of an `insufficient_claims` challenge (`Bearer error="insufficient_claims",
 * claims="<base64 JSON>"`, as the Microsoft identity platform's APIs send it), decoded to JSON text for the
 * `claims` authorization request parameter; undefined when the response carries no such challenge.
 *
 * @see OpenID Connect Core 1.0 §5.5, Microsoft identity platform "claims challenges"
 */
export function claimsChallengeOf(wwwAuthenticate: string | null): string | undefined {
  for (const challenge of parseAuthenticateHeader(wwwAuthenticate)) {
    if (challenge.scheme !== 'bearer' && challenge.scheme !== 'dpop') continue;
    if (challenge.params.error !== 'insufficient_claims') continue;
    const encoded = challenge.params.claims;
    if (encoded === undefined || encoded === '') continue;
    try {
      const binary = atob(encoded.replaceAll('-', '+').replaceAll('_', '/'));
      const json = new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
      const parsed: unknown = JSON.parse(json);
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return json;
    } catch {
      // not base64 JSON: not a claims challenge this library can answer
    }
  }
  return undefined;
}
