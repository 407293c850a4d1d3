import {
  ConfidentialClientApplication,
  type AuthenticationResult,
  type Configuration,
} from '@azure/msal-node';
import { secureUrl } from '../validation/options.js';
import { fromMsalError, TokenAcquisitionError } from './errors.js';
import { OboTokenCache, type OboTokenCacheOptions } from './obo-cache.js';

/** A certificate credential (private_key_jwt, RFC 7523 §2.2), as MSAL takes it. */
export interface ClientCertificateCredential {
  /** Hex SHA-256 thumbprint of the certificate (sent as `x5t#S256`). */
  readonly thumbprintSha256: string;
  /** PEM PKCS#8 private key. */
  readonly privateKey: string;
  /** PEM certificate chain, for subject name / issuer authentication (optional). */
  readonly x5c?: string;
}

/** Options of {@link createTokenAcquirer}. Give exactly one of `clientSecret` and `clientCertificate`. */
export interface TokenAcquirerOptions {
  /** `https://{host}/{tenant}`: the API's tenant (GUID or domain). */
  readonly authority: string;
  /** The API's own application id (it is the client of the downstream API). */
  readonly clientId: string;
  readonly clientSecret?: string;
  readonly clientCertificate?: ClientCertificateCredential;
  /** Hosts MSAL trusts as authorities without instance discovery. Default: the authority's host. */
  readonly knownAuthorities?: readonly string[];
  /** The On-Behalf-Of cache (size and refresh margin). */
  readonly oboCache?: OboTokenCacheOptions;
}

/** A downstream access token. */
export interface AcquiredToken {
  readonly accessToken: string;
  /** When it expires. */
  readonly expiresOn: Date;
  readonly scopes: readonly string[];
  /** True when no request reached the authority. */
  readonly fromCache: boolean;
}

/** Acquires tokens for calling downstream APIs. */
export interface TokenAcquirer {
  /**
   * An app-only token (client credentials, RFC 6749 §4.4), e.g. `['api://downstream/.default']`. Served from
   * MSAL's token cache until 5 minutes before expiry.
   *
   * @throws TokenAcquisitionError with the authority's `error` and `errorCodes`.
   */
  acquireTokenForApp(scopes: readonly string[]): Promise<AcquiredToken>;
  /**
   * A token for the downstream API on behalf of the caller whose (already validated) access token is
   * `incomingToken` (OAuth 2.0 On-Behalf-Of, `urn:ietf:params:oauth:grant-type:jwt-bearer` with
   * `requested_token_use=on_behalf_of`). Cached by `sha256(incomingToken)` + scopes until 5 minutes before
   * expiry; concurrent identical requests share one call to the authority.
   *
   * Against a Tessera authority: the token must be addressed to this API and the scopes consented for it, else
   * `invalid_grant` with 50013 / 500131 / 500133 (assertion) or 65001 (`consent_required`); failures are not cached.
   *
   * @throws TokenAcquisitionError; for `interaction_required` its `claims` / `toClaimsChallenge()` carry the
   *   challenge to pass back to the caller.
   * @see RFC 7523 §2.1 (JWT bearer grant); `docs/resource.md`, "Calling a downstream API"
   */
  acquireTokenOnBehalfOf(incomingToken: string, scopes: readonly string[]): Promise<AcquiredToken>;
}

/**
 * Creates a token acquirer on `@azure/msal-node`'s `ConfidentialClientApplication`, the library the
 * On-Behalf-Of grant was designed around (it already speaks the platform's authority metadata, client
 * assertions and error format).
 *
 * Two MSAL instances: one for app tokens, whose MSAL cache is bounded by the number of distinct scope sets; one
 * for On-Behalf-Of, called with `skipCache` and cleared after every answer, because our {@link OboTokenCache}
 * (bounded, LRU) holds those tokens instead of MSAL's unbounded cache.
 *
 * @throws TypeError unless exactly one credential is given, or for a non-HTTPS authority (loopback excepted).
 */
export function createTokenAcquirer(options: TokenAcquirerOptions): TokenAcquirer {
  const authority = secureUrl(options.authority.replace(/\/+$/, ''), 'authority');
  if ((options.clientSecret === undefined) === (options.clientCertificate === undefined)) {
    throw new TypeError('Give exactly one of "clientSecret" and "clientCertificate".');
  }
  const configuration: Configuration = {
    auth: {
      clientId: options.clientId,
      authority: authority.href.replace(/\/+$/, ''),
      knownAuthorities: [...(options.knownAuthorities ?? [authority.host])],
      ...(options.clientSecret === undefined ? {} : { clientSecret: options.clientSecret }),
      ...(options.clientCertificate === undefined
        ? {}
        : { clientCertificate: { ...options.clientCertificate } }),
    },
  };
  const appClient = new ConfidentialClientApplication(configuration);
  const oboClient = new ConfidentialClientApplication(configuration);
  const oboCache = new OboTokenCache(options.oboCache);
  const pending = new Map<string, Promise<AcquiredToken>>();

  return {
    async acquireTokenForApp(scopes) {
      try {
        return toAcquired(await appClient.acquireTokenByClientCredential({ scopes: [...scopes] }), scopes);
      } catch (error) {
        throw fromMsalError(error);
      }
    },

    acquireTokenOnBehalfOf(incomingToken, scopes) {
      const key = OboTokenCache.keyOf(incomingToken, scopes);
      const cached = oboCache.get(key);
      if (cached !== undefined) return Promise.resolve({ ...cached, fromCache: true });
      let request = pending.get(key);
      if (request === undefined) {
        request = oboClient
          .acquireTokenOnBehalfOf({ oboAssertion: incomingToken, scopes: [...scopes], skipCache: true })
          .then(
            (result) => {
              const token = toAcquired(result, scopes);
              oboCache.set(key, token);
              return token;
            },
            (error: unknown) => {
              throw fromMsalError(error);
            },
          )
          .finally(() => {
            pending.delete(key);
            oboClient.clearCache();
          });
        pending.set(key, request);
      }
      return request;
    },
  };
}

function toAcquired(result: AuthenticationResult | null, scopes: readonly string[]): AcquiredToken {
  if (result?.expiresOn == null) {
    throw TokenAcquisitionError.fromCatalogue('no_token');
  }
  return {
    accessToken: result.accessToken,
    expiresOn: result.expiresOn,
    scopes: result.scopes.length > 0 ? result.scopes : [...scopes],
    fromCache: result.fromCache,
  };
}
