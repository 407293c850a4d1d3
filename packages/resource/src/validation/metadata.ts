import { BearerTokenError } from '../errors.js';

/** What the validator needs from an authority's discovery document. */
export interface AuthorityMetadata {
  /** v2.0 issuer, or the `{tenantid}` template for multi-tenant authorities. */
  readonly issuer: string;
  readonly jwksUri: URL;
}

/**
 * Fetches `{authority}/v2.0/.well-known/openid-configuration` (OpenID Connect Discovery 1.0 §4) and checks that
 * `issuer` and `jwks_uri` are on the authority's origin: the keys that decide what the API accepts must come
 * from the authority it was configured with, not from wherever a document points.
 *
 * @param timeoutMs request timeout in milliseconds.
 * @throws BearerTokenError `metadata_unavailable` on a network error, timeout, non-200 response, invalid JSON, or
 *   a document failing the checks above.
 */
export async function fetchAuthorityMetadata(authority: URL, timeoutMs: number): Promise<AuthorityMetadata> {
  const url = new URL(`${authority.href.replace(/\/+$/, '')}/v2.0/.well-known/openid-configuration`);
  let document: unknown;
  try {
    const response = await fetch(url, {
      headers: { accept: 'application/json' },
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (response.status !== 200) {
      throw new Error(`discovery answered HTTP ${response.status}`);
    }
    document = await response.json();
  } catch (cause) {
    throw new BearerTokenError('metadata_unavailable', { detail: `discovery ${url.href} failed`, cause });
  }
  const { issuer, jwks_uri: jwksUri } = (document ?? {}) as { issuer?: unknown; jwks_uri?: unknown };
  if (typeof issuer !== 'string' || typeof jwksUri !== 'string') {
    throw new BearerTokenError('metadata_unavailable', {
      detail: `discovery ${url.href} has no issuer or jwks_uri`,
    });
  }
  const jwks = parseUrl(jwksUri);
  const issuerUrl = parseUrl(issuer.replace('{tenantid}', 'tenant'));
  if (jwks?.origin !== authority.origin || issuerUrl?.origin !== authority.origin) {
    throw new BearerTokenError('metadata_unavailable', {
      detail: `discovery ${url.href}: issuer or jwks_uri not on ${authority.origin}`,
    });
  }
  return { issuer, jwksUri: jwks };
}

function parseUrl(value: string): URL | undefined {
  try {
    return new URL(value);
  } catch {
    return undefined;
  }
}
