/**
 * Kysely table types: the storage schema, identical on SQLite and PostgreSQL.
 *
 * Conventions: ids are text (GUIDs); times are integer Unix seconds; booleans are integers 0/1; nested Graph
 * sub-objects that are never queried by their contents are JSON text. Secrets, tokens and codes are stored only as
 * SHA-256 hashes; private keys only encrypted.
 */
import type { Generated } from 'kysely';

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
}

export interface SigningKeyTable {
  kid: string;
  alg: 'RS256' | 'ES256';
  /** `v1.{iv}.{tag}.{ciphertext}` (base64url), AES-256-GCM over PKCS#8 DER, keyed by the master key. */
  private_key_encrypted: string;
  certificate_pem: string;
  created_at: number;
  /** When a newer key replaced this one; null while current. */
  retired_at: number | null;
}

export interface ClientAssertionJtiTable {
  /** `{client_id}:{jti}`. */
  id: string;
  expires_at: number;
}

export interface DirectoryStateTable {
  id: number;
  /** Incremented by every directory or key write; nodes poll it to drop their caches. */
  version: number;
}

export interface Database {
  tenants: TenantTable;
  tenant_domains: TenantDomainTable;
  applications: ApplicationTable;
  application_identifier_uris: ApplicationIdentifierUriTable;
  password_credentials: PasswordCredentialTable;
  key_credentials: KeyCredentialTable;
  service_principals: ServicePrincipalTable;
  app_role_assignments: AppRoleAssignmentTable;
  users: UserTable;
  signing_keys: SigningKeyTable;
  client_assertion_jtis: ClientAssertionJtiTable;
  directory_state: DirectoryStateTable;
  /** Placeholder so `Generated` stays referenced for later tables with serial ids. */
  _unused?: { id: Generated<number> };
}
