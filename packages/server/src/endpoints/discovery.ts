import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.js';
import { DPOP_SIGNING_ALGORITHMS } from '../dpop/proof.js';
import { grants } from '../grants/index.js';
import { issuerV2, jwksUri, tokenEndpoint } from '../tokens/issuer.js';
import { resolveTenantSegment } from '../directory/tenant-segment.js';

/** Seconds clients may cache discovery metadata and the JWKS. */
const METADATA_MAX_AGE_SECONDS = 3600;
const JWKS_MAX_AGE_SECONDS = 300;

/**
 * `GET /{tenant}/v2.0/.well-known/openid-configuration` (OpenID Connect Discovery 1.0 §4, RFC 8414) and
 * `GET /{tenant}/discovery/v2.0/keys` (RFC 7517). For a tenant, endpoints use its GUID and `issuer` is its v2.0
 * issuer; for `common` / `organizations` / `consumers` endpoints keep the alias and `issuer` is the
 * `{tenantid}` template. Public metadata: CORS `*`, cacheable.
 *
 * `GET /{tenant}/.well-known/openid-configuration` — the path MSAL's OIDC protocol mode and generic OIDC libraries
 * derive from a plain `{base}/{tenant}` authority — serves the same v2.0 document. (Entra serves its v1.0 document
 * there; Tessera has no v1.0 endpoints, and a v1.0 issuer would not match the v2.0 ID tokens these clients get.)
 *
 * RFC 9207: `authorization_response_iss_parameter_supported` only for a tenant, whose issuer is one URL; the
 * authorization endpoint sends no `iss` on the aliases either.
 *
 * @throws IdentityError 900023 / 90002 for a malformed or unknown tenant.
 */
export function registerDiscoveryEndpoints(app: FastifyInstance, context: ServerContext): void {
  const configuration = async (
    request: FastifyRequest<{ Params: { tenant: string } }>,
    reply: FastifyReply,
  ) => {
    const resolved = await resolveTenantSegment(request.params.tenant, context.cache);
    const base = context.baseUrl();
    const segment = resolved.kind === 'tenant' ? resolved.tenant.id : resolved.segment;
    const issuer = issuerV2(base, resolved.kind === 'tenant' ? resolved.tenant.id : '{tenantid}');
    const algorithms = ['RS256', 'ES256'];
    return reply
      .header('cache-control', `public, max-age=${METADATA_MAX_AGE_SECONDS}`)
      .header('access-control-allow-origin', '*')
      .send({
        issuer,
        authorization_endpoint: `${base}/${segment}/oauth2/v2.0/authorize`,
        token_endpoint: tokenEndpoint(base, segment),
        jwks_uri: jwksUri(base, segment),
        userinfo_endpoint: `${base}/oidc/userinfo`,
        end_session_endpoint: `${base}/${segment}/oauth2/v2.0/logout`,
        revocation_endpoint: `${base}/${segment}/oauth2/v2.0/revoke`,
        introspection_endpoint: `${base}/${segment}/oauth2/v2.0/introspect`,
        frontchannel_logout_supported: true,
        frontchannel_logout_session_supported: false,
        code_challenge_methods_supported: ['S256'],
        prompt_values_supported: ['none', 'login', 'consent', 'select_account'],
        claims_parameter_supported: true,
        token_endpoint_auth_methods_supported: [
          'client_secret_post',
          'client_secret_basic',
          'private_key_jwt',
        ],
        token_endpoint_auth_signing_alg_values_supported: ['RS256', 'PS256', 'ES256'],
        // RFC 9449 §5.1: the algorithms DPoP proofs may be signed with.
        dpop_signing_alg_values_supported: DPOP_SIGNING_ALGORITHMS,
        // The token endpoint's grants, and the implicit grant the authorization endpoint serves (RFC 6749 §4.2).
        grant_types_supported: [...grants.map((grant) => grant.grantType), 'implicit'],
        response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token', 'token'],
        response_modes_supported: ['query', 'fragment', 'form_post'],
        scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
        subject_types_supported: ['pairwise'],
        id_token_signing_alg_values_supported: ['RS256'],
        access_token_signing_alg_values_supported: algorithms,
        claims_supported: [
          'sub',
          'iss',
          'aud',
          'exp',
          'iat',
          'nbf',
          'tid',
          'oid',
          'azp',
          'appid',
          'roles',
          'scp',
          'idtyp',
          'ver',
          'name',
          'preferred_username',
          'nonce',
          'at_hash',
          'c_hash',
          'auth_time',
          'amr',
          'login_hint',
        ],
        request_uri_parameter_supported: false,
        authorization_response_iss_parameter_supported: resolved.kind === 'tenant',
        tenant_region_scope: null,
        cloud_instance_name: new URL(base).host,
      });
  };
  app.get<{ Params: { tenant: string } }>('/:tenant/v2.0/.well-known/openid-configuration', configuration);
  app.get<{ Params: { tenant: string } }>('/:tenant/.well-known/openid-configuration', configuration);

  app.get<{ Params: { tenant: string } }>('/:tenant/discovery/v2.0/keys', async (request, reply) => {
    const resolved = await resolveTenantSegment(request.params.tenant, context.cache);
    const issuer = issuerV2(
      context.baseUrl(),
      resolved.kind === 'tenant' ? resolved.tenant.id : '{tenantid}',
    );
    return reply
      .header('cache-control', `public, max-age=${JWKS_MAX_AGE_SECONDS}`)
      .header('access-control-allow-origin', '*')
      .send({ keys: context.keyRing().publishedKeys.map((key) => ({ ...key, issuer })) });
  });
}
