/**
 * Kysely table types: the storage schema, identical on SQLite and PostgreSQL.
 *
 * Conventions: ids are text (GUIDs); times are integer Unix seconds; booleans are integers 0/1; nested Graph
 * sub-objects that are never queried by their contents are JSON text. Secrets, tokens and codes are stored only as
 * SHA-256 hashes; private keys only encrypted.
 */
import type { ColumnType, Generated } from 'kysely';

export interface TenantTable {
  id: string;
  display_name: string;
  created_at: number;
}

export interface TenantDomainTable {
  /** Lower-cased domain name; unique across tenants. */
  domain: string;
  tenant_id: string;
  is_default: number;
}

export interface ApplicationTable {
  /** Object id of the application. */
  id: string;
  /** `appId` = `client_id`. */
  app_id: string;
  /** Home tenant. */
  tenant_id: string;
  display_name: string;
  sign_in_audience: string;
  /** JSON: `ApplicationDefinition` (appRoles, api, requiredResourceAccess, redirect URIs, …). */
  definition: string;
  account_enabled: number;
  created_at: number;
}

export interface ApplicationIdentifierUriTable {
  /** Exact App ID URI, as registered. */
  uri: string;
  /** Lower-cased, for case-insensitive lookup; unique. */
  uri_lower: string;
  application_id: string;
}

export interface PasswordCredentialTable {
  key_id: string;
  application_id: string;
  display_name: string;
  /** First three characters of the secret, shown in listings. */
  hint: string;
  /** Hex SHA-256 of the secret text. */
  secret_hash: string;
  start_at: number;
  end_at: number;
}

export interface KeyCredentialTable {
  key_id: string;
  application_id: string;
  display_name: string;
  /** base64url SHA-1 thumbprint of the DER certificate (`x5t`). */
  thumbprint_sha1: string;
  /** base64url SHA-256 thumbprint (`x5t#S256`). */
  thumbprint_sha256: string;
  certificate_pem: string;
  start_at: number;
  end_at: number;
}

/** An owner of an application (Graph `application.owners`, migration 009): a user of its home tenant. */
export interface ApplicationOwnerTable {
  application_id: string;
  user_id: string;
  created_at: number;
}

export interface ServicePrincipalTable {
  id: string;
  app_id: string;
  tenant_id: string;
  display_name: string;
  app_owner_tenant_id: string;
  account_enabled: number;
  created_at: number;
}

export interface AppRoleAssignmentTable {
  id: string;
  tenant_id: string;
  /** Service principal or user object id. */
  principal_id: string;
  principal_type: 'ServicePrincipal' | 'User';
  /** Service principal id of the resource. */
  resource_id: string;
  app_role_id: string;
  created_at: number;
}

export interface UserTable {
  id: string;
  tenant_id: string;
  user_principal_name: string;
  /** Lower-cased UPN, unique. */
  upn_lower: string;
  display_name: string;
  /** argon2id PHC string. */
  password_hash: string;
  account_enabled: number;
  /** JSON array of directory role names, e.g. `["Global Administrator"]`. */
  directory_roles: string;
  created_at: number;
  /** Graph `mailNickname`, `givenName`, `surname`, `jobTitle`, `mail` (migration 012); null when not set. */
  mail_nickname: string | null;
  given_name: string | null;
  surname: string | null;
  job_title: string | null;
  mail: string | null;
}

export interface SigningKeyTable {
  kid: string;
  alg: 'RS256' | 'ES256';
  /** `v1.{iv}.{tag}.{ciphertext}` (base64url), AES-256-GCM over PKCS#8 DER, keyed by the master key. */
  private_key_encrypted: string;
  certificate_pem: string;
  created_at: number;
  /** When a newer key replaced (or will replace) this one; null while current or next. */
  retired_at: number | null;
  /** When the key starts signing; null: at `created_at`. Later for a key pre-published as next. */
  activates_at: number | null;
}

/** A DPoP proof `jti` already used (RFC 9449 §11.1). */
export interface DpopProofJtiTable {
  /** Hex SHA-256 of `{jkt}:{jti}`. */
  id: string;
  /** Unix seconds after which the proof is too old to be accepted anyway. */
  expires_at: number;
}

export interface ClientAssertionJtiTable {
  /** `{client_id}:{jti}`. */
  id: string;
  expires_at: number;
}

/** Delegated consent (Graph `oauth2PermissionGrant`). */
export interface OAuth2PermissionGrantTable {
  id: string;
  tenant_id: string;
  /** Service principal id of the client. */
  client_id: string;
  consent_type: 'AllPrincipals' | 'Principal';
  /** User id for `Principal`; empty text for `AllPrincipals` (so the unique key works on both dialects). */
  principal_id: string;
  /** Service principal id of the resource. */
  resource_id: string;
  /** Space-separated scope values. */
  scope: string;
  created_at: number;
}

/** One signed-in account in one browser (an SSO session). */
export interface SsoSessionTable {
  /** Random id (base64url); never sent to the browser. */
  id: string;
  /** Hex SHA-256 of the browser's session cookie; several sessions may share it (account picker). */
  browser_hash: string;
  user_id: string;
  tenant_id: string;
  /** Unix seconds of the interactive sign-in. */
  auth_time: number;
  /** JSON array of authentication methods, e.g. `["pwd"]`. */
  amr: string;
  created_at: number;
  last_active_at: number;
  /** Absolute end, Unix seconds. */
  expires_at: number;
  ended_at: number | null;
}

/** Applications a session signed in to (front-channel logout targets). */
export interface SsoSessionAppTable {
  session_id: string;
  app_id: string;
}

/**
 * One page of an interactive sign-in as it was shown (sign-in, account picker, consent): what the browser may
 * answer. The form carries only a random handle; everything else stays here.
 */
export interface InteractionStepTable {
  /** Hex SHA-256 of the handle in the page's form. */
  handle_hash: string;
  /** The `{tenant}` path segment of the authorization request. */
  tenant: string;
  /** `sign-in`, `select-account` or `consent`. */
  step: string;
  /** JSON array of the form actions this page offered, e.g. `["signin"]`. */
  actions: string;
  /** JSON object: account picker reference → SSO session id, for the accounts the picker offered. */
  choices: string;
  /** The SSO session the consent page was shown for. */
  session_id: string | null;
  /** 1 when `session_id` was signed in during this interaction (fresh authentication). */
  session_fresh: number;
  /** 1 when the consent page offered consent on behalf of the organization. */
  organization_consent: number;
  /** The resume target the interaction continues: `authorize` (migration 008). */
  resume_target: Generated<string>;
  /** JSON string map: the resume target's state (for `authorize`, the authorization request parameters). */
  params: string;
  /** Hex SHA-256 of the anti-CSRF token of the browser the page was shown to. */
  csrf_hash: string;
  created_at: number;
  expires_at: number;
}

/** Password sign-in attempts counted against a throttle key (an account name or a client IP), per window. */
export interface SignInAttemptTable {
  /** Hex SHA-256 of the key (no account names stored). */
  key_hash: string;
  /** Failed attempts plus attempts still being verified, in the current window. */
  attempts: number;
  /** Start of the current window, Unix milliseconds. */
  window_started_ms: number;
}

/** An authorization code (RFC 6749 §4.1.2), stored only as a hash. */
export interface AuthorizationCodeTable {
  /** Hex SHA-256 of the code. */
  code_hash: string;
  client_id: string;
  tenant_id: string;
  user_id: string;
  session_id: string;
  redirect_uri: string;
  /** `web`, `spa` or `publicClient`: the platform of the redirect URI. */
  platform: string;
  /** JSON `AuthorizedGrant`: resource, scopes, OIDC scopes. */
  grant: string;
  code_challenge: string | null;
  nonce: string | null;
  auth_time: number;
  amr: string;
  /** JSON array of authentication context ids satisfied (`acrs`, migration 015); null: none. */
  acrs: ColumnType<string | null, string | null | undefined, string | null>;
  /** 1 when the client sent `client_info=1`. */
  client_info: number;
  /** The refresh token family a redemption creates; revoked on replay. */
  family_id: string;
  expires_at: number;
  redeemed_at: number | null;
  created_at: number;
  /** RFC 9449 §10: the DPoP key (`dpop_jkt`, RFC 7638 thumbprint) the code is bound to, or null (migration 016). */
  dpop_jkt: ColumnType<string | null, string | null | undefined, string | null>;
}

/** A refresh token family: one row, rotated in place (RFC 9700 §4.14.2). */
export interface RefreshTokenTable {
  family_id: string;
  /** Hex SHA-256 of the current token of the family. */
  token_hash: string;
  /** Rotation counter of the current token. */
  generation: number;
  client_id: string;
  tenant_id: string;
  user_id: string;
  platform: string;
  /** JSON `AuthorizedGrant` of the original authorization. */
  grant: string;
  auth_time: number;
  amr: string;
  /** JSON array of authentication context ids satisfied (`acrs`, migration 015); null: none. */
  acrs: ColumnType<string | null, string | null | undefined, string | null>;
  client_info: number;
  created_at: number;
  last_used_at: number;
  /** Sliding (web/public) or fixed (spa) expiry, Unix seconds. */
  expires_at: number;
  revoked_at: number | null;
  /** RFC 9449 §5: the DPoP key (RFC 7638 thumbprint) the family is bound to, or null: not bound (migration 016). */
  dpop_jkt: ColumnType<string | null, string | null | undefined, string | null>;
}

/** A revoked grant (`g:{grant id}`) or access token (`u:{uti}`). */
export interface TokenRevocationTable {
  id: string;
  /** `revocation_state.version` of the write that recorded it; nodes poll for rows above the last they saw. */
  version: number;
  revoked_at: number;
}

/**
 * One row (`id` 1): the version of `token_revocations`, which every node polls to refresh its in-memory revocation
 * list without reading the table on each request.
 */
export interface RevocationStateTable {
  id: number;
  /** Incremented by every revocation, inside its transaction (so versions commit in order). */
  version: number;
}

export interface DirectoryStateTable {
  id: number;
  /** Incremented by every directory or key write, first thing in its transaction; nodes poll it. */
  version: number;
}

/**
 * What each directory version changed (one row per entity), written in the transaction of the write: nodes read
 * the rows above the version they last saw and evict only those cache entries. Old versions are purged.
 */
export interface DirectoryChangeTable {
  /** `directory_state.version` of the write. */
  version: number;
  /** `tenant`, `application`, `servicePrincipal`, `user`, `appRoleAssignment`, `oauth2PermissionGrant`, `signingKey`. */
  entity_type: string;
  /** Object id (`appId` of an application; principal of an assignment; client service principal of a grant). */
  entity_id: string;
}

/**
 * One directory audit event (Graph `directoryAudit`, migration 011): a directory write through any door, its
 * result, who made it and what it targeted. Never holds secrets, passwords or tokens.
 */
export interface DirectoryAuditTable {
  id: string;
  tenant_id: string;
  /** When it happened, Unix milliseconds (Graph `activityDateTime` has sub-second precision). */
  activity_ms: number;
  activity_display_name: string;
  category: string;
  operation_type: string;
  /** `success` or `failure`. */
  result: string;
  /** The refusal's code on failure; empty on success. */
  result_reason: string;
  correlation_id: string;
  /** JSON Graph `auditActivityInitiator` (`{ user, app }`, one of them null). */
  initiated_by: string;
  /** JSON array of Graph `targetResource`. */
  target_resources: string;
  /** `initiatedBy.user.id` / `initiatedBy.app.appId`, for `$filter`. */
  initiator_user_id: string | null;
  initiator_app_id: string | null;
}

/** One sign-in (Graph `signIn`, migration 011): interactive (password) or not (token endpoint), either result. */
export interface SignInTable {
  id: string;
  tenant_id: string;
  /** Unix milliseconds. */
  created_ms: number;
  user_id: string | null;
  user_principal_name: string | null;
  user_display_name: string | null;
  app_id: string | null;
  app_display_name: string | null;
  ip_address: string | null;
  client_app_used: string;
  correlation_id: string;
  /** 1 for a sign-in page, 0 for the token endpoint. */
  is_interactive: number;
  resource_id: string | null;
  resource_display_name: string | null;
  /** 0 on success, else the AADSTS number. */
  error_code: number;
  failure_reason: string | null;
}

/**
 * A software OATH authenticator (TOTP, RFC 6238) of a user (Graph `softwareOathAuthenticationMethod`, migration
 * 015): at most one per user.
 */
export interface SoftwareOathMethodTable {
  id: string;
  tenant_id: string;
  user_id: string;
  /** `v1.{iv}.{tag}.{ciphertext}` (base64url), AES-256-GCM over the Base32 secret, keyed from the master key. */
  secret_encrypted: string;
  created_at: number;
  last_used_at: number | null;
  /** The last accepted RFC 6238 time step (replay guard); 0 before the first. */
  last_time_step: Generated<number>;
}

/**
 * A conditional access policy of a tenant (Graph `conditionalAccessPolicy`, migration 014). `conditions` and
 * `grant_controls` are JSON in Graph's shape; role conditions hold role template ids.
 */
export interface ConditionalAccessPolicyTable {
  id: string;
  tenant_id: string;
  display_name: string;
  /** `enabled`, `disabled` or `enabledForReportingButNotEnforced`. */
  state: string;
  /** JSON: `ConditionalAccessConditions` (users, applications, clientAppTypes). */
  conditions: string;
  /** JSON: `ConditionalAccessGrantControls` (operator, builtInControls). */
  grant_controls: string;
  created_at: number;
  /** Unix seconds of the last change; null until changed. */
  modified_at: number | null;
}

export interface Database {
  tenants: TenantTable;
  tenant_domains: TenantDomainTable;
  applications: ApplicationTable;
  application_identifier_uris: ApplicationIdentifierUriTable;
  password_credentials: PasswordCredentialTable;
  key_credentials: KeyCredentialTable;
  application_owners: ApplicationOwnerTable;
  service_principals: ServicePrincipalTable;
  app_role_assignments: AppRoleAssignmentTable;
  users: UserTable;
  interaction_steps: InteractionStepTable;
  sign_in_attempts: SignInAttemptTable;
  signing_keys: SigningKeyTable;
  client_assertion_jtis: ClientAssertionJtiTable;
  dpop_proof_jtis: DpopProofJtiTable;
  directory_state: DirectoryStateTable;
  directory_changes: DirectoryChangeTable;
  oauth2_permission_grants: OAuth2PermissionGrantTable;
  sso_sessions: SsoSessionTable;
  sso_session_apps: SsoSessionAppTable;
  authorization_codes: AuthorizationCodeTable;
  refresh_tokens: RefreshTokenTable;
  token_revocations: TokenRevocationTable;
  revocation_state: RevocationStateTable;
  directory_audits: DirectoryAuditTable;
  sign_ins: SignInTable;
  conditional_access_policies: ConditionalAccessPolicyTable;
  software_oath_methods: SoftwareOathMethodTable;
  /** Placeholder so `Generated` stays referenced for later tables with serial ids. */
  _unused?: { id: Generated<number> };
}
