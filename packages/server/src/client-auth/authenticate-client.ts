import { CLIENT_ASSERTION_TYPE_JWT_BEARER, IdentityError } from '@tessera/protocol';
import type { Application, ServicePrincipal, Tenant } from '../directory/model.js';
import type { ServerContext } from '../context.js';
import type { ResolvedTenantSegment } from '../directory/tenant-segment.js';
import { issuerV2, tokenEndpoint } from '../tokens/issuer.js';
import type { ClientAuthenticationLevel } from '../tokens/access-token.js';
import { verifyClientSecret } from './client-secret.js';
import { verifyClientAssertion } from './private-key-jwt.js';

/** Client authentication methods (RFC 8414 `token_endpoint_auth_methods_supported`). */
export type ClientAuthenticationMethod = 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt';

/** A confidential client proven to be who it says, in the tenant of the request. */
export interface AuthenticatedClient {
  readonly application: Application;
  readonly servicePrincipal: ServicePrincipal;
  readonly tenant: Tenant;
  readonly method: ClientAuthenticationMethod;
  /** `1` secret, `2` certificate (`appidacr` / `azpacr`). */
  readonly clientAuthenticationLevel: Exclude<ClientAuthenticationLevel, '0'>;
}

/** The parts of a token request that identify and authenticate the client. */
export interface ClientCredentialsPresented {
  readonly params: Readonly<Record<string, string>>;
  /** The raw `Authorization` header, if any. */
  readonly authorization: string | undefined;
  readonly tenantSegment: ResolvedTenantSegment;
}

/**
 * Identifies and authenticates a confidential client at the token endpoint: exactly one of HTTP Basic,
 * `client_secret` in the body, or a private_key_jwt `client_assertion`. For `common` / `organizations` the
 * tenant is the application's home tenant.
 *
 * @throws IdentityError 900144 (no `client_id`), 9100005 (several methods or inconsistent ids),
 *   700016 (unknown app, or none in this tenant), 7000112 (disabled), 7000218 (no credential), 9100006 (bad
 *   assertion type), and whatever {@link verifyClientSecret} / {@link verifyClientAssertion} throw.
 * @see RFC 6749 §2.3, RFC 7523 §2.2, OpenID Connect Core §9
 */
export async function authenticateClient(
  context: ServerContext,
  presented: ClientCredentialsPresented,
): Promise<AuthenticatedClient> {
  const { params } = presented;
  const basic = parseBasicAuthorization(presented.authorization);
  const bodySecret = params.client_secret;
  const assertion = params.client_assertion;
  const methods = [basic, bodySecret, assertion].filter((m) => m !== undefined).length;
  if (methods > 1) throw new IdentityError(9100005);
  if (
    basic !== undefined &&
    params.client_id !== undefined &&
    params.client_id.toLowerCase() !== basic.clientId.toLowerCase()
  ) {
    throw new IdentityError(9100005, {}, { detail: 'client_id differs from the Basic user name' });
  }
  const clientId = basic?.clientId ?? params.client_id;
  if (clientId === undefined || clientId === '') throw new IdentityError(900144, { name: 'client_id' });

  const segment = presented.tenantSegment;
  const application = await context.cache.application(clientId);
  const tenantName = segment.kind === 'tenant' ? segment.tenant.id : segment.segment;
  if (application === undefined) throw new IdentityError(700016, { clientId, tenant: tenantName });
  let tenant: Tenant | undefined;
  if (segment.kind === 'tenant') tenant = segment.tenant;
  else if (segment.alias !== 'consumers') tenant = await context.cache.tenant(application.tenantId);
  const servicePrincipal =
    tenant === undefined ? undefined : await context.cache.servicePrincipal(tenant.id, application.appId);
  if (tenant === undefined || servicePrincipal === undefined) {
    throw new IdentityError(700016, { clientId, tenant: tenantName });
  }
  if (!application.accountEnabled || !servicePrincipal.accountEnabled)
    throw new IdentityError(7000112, { clientId });

  const now = context.now();
  if (basic !== undefined || bodySecret !== undefined) {
    verifyClientSecret(application, basic?.clientSecret ?? bodySecret ?? '', now);
    return {
      application,
      servicePrincipal,
      tenant,
      method: basic === undefined ? 'client_secret_post' : 'client_secret_basic',
      clientAuthenticationLevel: '1',
    };
  }
  if (assertion === undefined) throw new IdentityError(7000218);
  if (params.client_assertion_type !== CLIENT_ASSERTION_TYPE_JWT_BEARER) throw new IdentityError(9100006);

  const { config } = context;
  const verified = await verifyClientAssertion(application, assertion, {
    audiences: assertionAudiences(context.baseUrl(), tenant, segment.segment),
    now,
    clockSkewSeconds: config.clockSkewSeconds,
    maxLifetimeSeconds: config.clientAssertionMaxLifetimeSeconds,
  });
  if (config.strictAssertionJtiReplay) {
    const first = await context.store.assertionJtis.use(
      `${application.appId}:${verified.jti}`,
      verified.exp + config.clockSkewSeconds,
      now,
    );
    if (!first) throw new IdentityError(9100002, { jti: verified.jti.slice(0, 64) });
  }
  return {
    application,
    servicePrincipal,
    tenant,
    method: 'private_key_jwt',
    clientAuthenticationLevel: '2',
  };
}

/**
 * Every `aud` a client assertion may carry for this tenant, lower-cased: the token endpoint under the tenant's id,
 * each verified domain and the segment of this request (e.g. `organizations`), and the tenant's issuer.
 */
function assertionAudiences(base: string, tenant: Tenant, segment: string): Set<string> {
  const names = new Set([tenant.id, ...tenant.domains, segment]);
  const audiences = new Set([...names].map((name) => tokenEndpoint(base, name).toLowerCase()));
  audiences.add(issuerV2(base, tenant.id).toLowerCase());
  return audiences;
}

/**
 * Parses `Authorization: Basic` per RFC 6749 §2.3.1 (client id and secret are form-urlencoded before base64).
 * Other schemes are ignored here.
 *
 * @throws IdentityError 9100005 for a malformed Basic header.
 */
function parseBasicAuthorization(
  header: string | undefined,
): { clientId: string; clientSecret: string } | undefined {
  if (header === undefined) return undefined;
  const [scheme, value] = header.split(' ', 2);
  if (scheme?.toLowerCase() !== 'basic') return undefined;
  const decoded = Buffer.from(value ?? '', 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) throw new IdentityError(9100005, {}, { detail: 'malformed Basic credentials' });
  try {
    const formDecode = (part: string) => decodeURIComponent(part.replaceAll('+', ' '));
    return {
      clientId: formDecode(decoded.slice(0, colon)),
      clientSecret: formDecode(decoded.slice(colon + 1)),
    };
  } catch {
    throw new IdentityError(9100005, {}, { detail: 'malformed Basic credentials encoding' });
  }
}
