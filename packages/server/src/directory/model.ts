/**
 * The directory's domain objects, in Microsoft Graph's names and shapes (camelCase). Wire names (`client_id`,
 * `tid`, …) appear only at the protocol boundary. Times are Unix seconds named `…At`; Graph's `…DateTime`
 * (ISO 8601 text) appears only where a Graph-shaped body is written.
 *
 * @see https://learn.microsoft.com/graph/api/resources/application (Graph v1.0 resource types)
 */

/** A directory (organisation). `id` is the `tid` of its tokens. */
export interface Tenant {
  readonly id: string;
  readonly displayName: string;
  /** Verified domains, lower-case; the first is the default. */
  readonly domains: readonly string[];
}

export type SignInAudience =
  'AzureADMyOrg' | 'AzureADMultipleOrgs' | 'AzureADandPersonalMicrosoftAccount' | 'PersonalMicrosoftAccount';

/** An application permission or a role users can hold (Graph `appRole`). */
export interface AppRole {
  readonly id: string;
  readonly value: string;
  readonly displayName: string;
  readonly description: string;
  readonly allowedMemberTypes: readonly ('Application' | 'User')[];
  readonly isEnabled: boolean;
}

/** A delegated permission (Graph `permissionScope`). */
export interface PermissionScope {
  readonly id: string;
  readonly value: string;
  /** `Admin` scopes need an administrator's consent. */
  readonly type: 'User' | 'Admin';
  readonly adminConsentDisplayName: string;
  readonly adminConsentDescription: string;
  readonly userConsentDisplayName: string;
  readonly userConsentDescription: string;
  readonly isEnabled: boolean;
}

/** Graph `requiredResourceAccess`: the static permissions `/.default` stands for. */
export interface RequiredResourceAccess {
  readonly resourceAppId: string;
  readonly resourceAccess: readonly { readonly id: string; readonly type: 'Scope' | 'Role' }[];
}

/** Graph `apiApplication`. */
export interface ApiApplication {
  readonly oauth2PermissionScopes: readonly PermissionScope[];
  /** Access token version issued for this resource: 1 or 2 (null means 1, as in Entra ID). */
  readonly requestedAccessTokenVersion: 1 | 2 | null;
  readonly knownClientApplications: readonly string[];
  readonly preAuthorizedApplications: readonly {
    readonly appId: string;
    readonly delegatedPermissionIds: readonly string[];
  }[];
}

/** Redirect URIs per platform (Graph `webApplication`, `spaApplication`, `publicClientApplication`). */
export interface WebApplication {
  readonly redirectUris: readonly string[];
  readonly logoutUrl: string | null;
  readonly implicitGrantSettings: {
    readonly enableAccessTokenIssuance: boolean;
    readonly enableIdTokenIssuance: boolean;
  };
}

/** Algorithm of access tokens issued for a resource (Tessera extension; RS256 unless the resource asks). */
export type TokenSigningAlgorithm = 'RS256' | 'ES256';

/** The stored, mutable part of an application registration besides credentials and identifier URIs. */
export interface ApplicationDefinition {
  readonly appRoles: readonly AppRole[];
  readonly api: ApiApplication;
  readonly requiredResourceAccess: readonly RequiredResourceAccess[];
  readonly web: WebApplication;
  readonly spa: { readonly redirectUris: readonly string[] };
  readonly publicClient: { readonly redirectUris: readonly string[] };
  /** Tessera extension: the JWS algorithm of access tokens issued *for* this app as a resource. */
  readonly accessTokenSigningAlgorithm: TokenSigningAlgorithm;
  /**
   * Tessera extension, after RFC 9449 §5.2's client metadata: when true, every token request of this app (as a
   * client) must carry a DPoP proof, so all its access tokens are DPoP-bound. Absent: false.
   */
  readonly dpopBoundAccessTokens?: boolean;
}

/** A client secret as listed (Graph `passwordCredential`); the secret itself is never stored. */
export interface PasswordCredential {
  readonly keyId: string;
  readonly displayName: string;
  /** First three characters of the secret. */
  readonly hint: string;
  /** Hex SHA-256 of the secret text (internal; never returned by APIs). */
  readonly secretHash: string;
  /** When the credential starts to authenticate, Unix seconds (Graph `startDateTime`). */
  readonly startAt: number;
  /** When it stops authenticating, Unix seconds (Graph `endDateTime`). */
  readonly endAt: number;
}

/** A certificate credential (Graph `keyCredential`, type AsymmetricX509Cert, usage Verify). */
export interface KeyCredential {
  readonly keyId: string;
  readonly displayName: string;
  /** base64url SHA-1 of the DER certificate (JWS `x5t`). */
  readonly thumbprintSha1: string;
  /** base64url SHA-256 of the DER certificate (JWS `x5t#S256`). */
  readonly thumbprintSha256: string;
  readonly certificatePem: string;
  /** When the credential starts to authenticate, Unix seconds (Graph `startDateTime`). */
  readonly startAt: number;
  /** When it stops authenticating, Unix seconds (Graph `endDateTime`). */
  readonly endAt: number;
}

/** An app registration (Graph `application`), with its credentials. */
export interface Application extends ApplicationDefinition {
  /** Object id. */
  readonly id: string;
  /** `client_id`. */
  readonly appId: string;
  /** Home tenant id. */
  readonly tenantId: string;
  readonly displayName: string;
  readonly signInAudience: SignInAudience;
  readonly identifierUris: readonly string[];
  readonly passwordCredentials: readonly PasswordCredential[];
  readonly keyCredentials: readonly KeyCredential[];
  readonly accountEnabled: boolean;
  /** When it was registered, Unix seconds (Graph `createdDateTime`); absent for the built-in directory API. */
  readonly createdAt?: number;
}

/** An application's instance in a tenant (Graph `servicePrincipal`). Its `id` is the `oid` of app tokens. */
export interface ServicePrincipal {
  readonly id: string;
  readonly appId: string;
  readonly tenantId: string;
  readonly displayName: string;
  readonly appOwnerOrganizationId: string;
  readonly accountEnabled: boolean;
}

/** An app role granted to a service principal or a user (Graph `appRoleAssignment`). */
export interface AppRoleAssignment {
  readonly id: string;
  readonly tenantId: string;
  readonly principalId: string;
  readonly principalType: 'ServicePrincipal' | 'User';
  /** Service principal id of the resource. */
  readonly resourceId: string;
  readonly appRoleId: string;
  /** When the role was assigned, Unix seconds (Graph `createdDateTime`). */
  readonly createdAt: number;
}

/** A user (Graph `user`), without the password hash. */
export interface User extends Partial<UserProfile> {
  readonly id: string;
  readonly tenantId: string;
  readonly userPrincipalName: string;
  readonly displayName: string;
  readonly accountEnabled: boolean;
  readonly directoryRoles: readonly string[];
}

/**
 * The optional profile properties of a Graph `user` Tessera keeps (null or absent: not set). `mail` is not a
 * mailbox here: Tessera stores what it is told and sends no mail.
 *
 * @see https://learn.microsoft.com/graph/api/resources/user
 */
export interface UserProfile {
  readonly mailNickname: string | null;
  readonly givenName: string | null;
  readonly surname: string | null;
  readonly jobTitle: string | null;
  readonly mail: string | null;
}

/** The names of {@link UserProfile}'s properties, in Graph's spelling. */
export const USER_PROFILE_PROPERTIES = ['mailNickname', 'givenName', 'surname', 'jobTitle', 'mail'] as const;

/** The directory role whose holders may consent for the whole tenant. */
export const GLOBAL_ADMINISTRATOR = 'Global Administrator';

/**
 * The directory roles Tessera knows, by Graph's display names (`directoryRole.displayName`). A user holds any of
 * them in `directoryRoles`; the management API's permission table names which allow what.
 *
 * @see https://learn.microsoft.com/entra/identity/role-based-access-control/permissions-reference
 */
export const DIRECTORY_ROLES = [
  GLOBAL_ADMINISTRATOR,
  'Global Reader',
  'User Administrator',
  'Application Administrator',
  'Cloud Application Administrator',
  'Privileged Role Administrator',
  'Reports Reader',
  'Security Reader',
  'Security Administrator',
  'Conditional Access Administrator',
  'Authentication Administrator',
  'Privileged Authentication Administrator',
] as const;

/** A directory role's display name: one of {@link DIRECTORY_ROLES}. */
export type DirectoryRoleName = (typeof DIRECTORY_ROLES)[number];

/** Empty definition parts, for building applications. */
export const emptyApplicationDefinition: ApplicationDefinition = {
  appRoles: [],
  api: {
    oauth2PermissionScopes: [],
    requestedAccessTokenVersion: null,
    knownClientApplications: [],
    preAuthorizedApplications: [],
  },
  requiredResourceAccess: [],
  web: {
    redirectUris: [],
    logoutUrl: null,
    implicitGrantSettings: { enableAccessTokenIssuance: false, enableIdTokenIssuance: false },
  },
  spa: { redirectUris: [] },
  publicClient: { redirectUris: [] },
  accessTokenSigningAlgorithm: 'RS256',
};

/** Delegated consent of a client to a resource's scopes (Graph `oauth2PermissionGrant`). */
export interface OAuth2PermissionGrant {
  readonly id: string;
  readonly tenantId: string;
  /** Service principal id of the client. */
  readonly clientId: string;
  /** `AllPrincipals`: an administrator consented for everyone; `Principal`: one user consented for themself. */
  readonly consentType: 'AllPrincipals' | 'Principal';
  /** The user for `Principal`, else null. */
  readonly principalId: string | null;
  /** Service principal id of the resource. */
  readonly resourceId: string;
  /** Space-separated scope values. */
  readonly scope: string;
}

/**
 * What a user authorized a client to do in one authorization (kept with codes and refresh tokens): the resource
 * of the access token, its delegated scope values, and the OpenID Connect scopes.
 */
export interface AuthorizedGrant {
  /** `appId` of the resource. */
  readonly resourceAppId: string;
  /** The resource as the client named it (App ID URI or appId); empty for bare directory API scopes. */
  readonly requestedIdentifier: string;
  /** Delegated scope values of the resource (the `scp` claim). */
  readonly scopes: readonly string[];
  /** `openid`, `profile`, `email`, `offline_access` as requested. */
  readonly oidcScopes: readonly string[];
}

/**
 * A time as Microsoft Graph's `…DateTime` properties carry it: ISO 8601 in UTC, seconds precision
 * (`2026-12-01T23:21:53Z`). The model keeps Unix seconds (`…At`); this is the conversion at the boundary.
 *
 * @param unixSeconds seconds since the epoch.
 */
export function graphDateTime(unixSeconds: number): string {
  return new Date(unixSeconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
