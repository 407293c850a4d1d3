import type { Transaction } from 'kysely';
import { isUniqueViolation } from '../store/database.js';
import type { DirectoryStore } from '../store/directory-store.js';
import type { Database } from '../store/schema.js';

/** One kind of refused directory request, as Microsoft Graph answers it. */
export interface DirectoryErrorDescriptor {
  /** Graph's `error.code`. */
  readonly graphCode: string;
  /** HTTP status of the Graph response. */
  readonly httpStatus: number;
  /** Graph's `error.details[0].code`, when Graph names the cause under a generic `error.code`. */
  readonly detailCode?: string;
}

/**
 * Every way a directory request is refused, keyed by Tessera's stable code (what the CLI prints as
 * `error.code`), with the Microsoft Graph error the management API (`/v1.0`) answers for it.
 *
 * @see https://learn.microsoft.com/graph/errors (Graph error responses)
 */
export const DIRECTORY_ERRORS = {
  /** Malformed or unacceptable input (a bad URI, value, GUID, …). */
  invalid: { graphCode: 'Request_BadRequest', httpStatus: 400 },
  /** The tenant, application, user or role named does not exist (there). */
  not_found: { graphCode: 'Request_ResourceNotFound', httpStatus: 404 },
  /** A unique value (domain, App ID URI, UPN) already belongs to another object. */
  conflict: { graphCode: 'Request_BadRequest', httpStatus: 400, detailCode: 'ObjectConflict' },
  /** The caller may not make this change (e.g. the built-in directory application). */
  denied: { graphCode: 'Authorization_RequestDenied', httpStatus: 403 },
  /** An enabled app role or delegated scope removed or given another value: Graph requires disabling it first. */
  enabled_permission: { graphCode: 'CannotDeleteOrUpdateEnabledEntitlement', httpStatus: 400 },
} as const satisfies Record<string, DirectoryErrorDescriptor>;

/** Why a directory request was refused: a key of {@link DIRECTORY_ERRORS}. */
export type DirectoryErrorCode = keyof typeof DIRECTORY_ERRORS;

/** Graph's error body (`{ error: { code, message, innerError } }`), for the management API. */
export interface GraphErrorBody {
  readonly error: {
    readonly code: string;
    readonly message: string;
    readonly details?: readonly { readonly code: string; readonly message: string }[];
    readonly innerError?: Readonly<Record<string, string>>;
  };
}

/**
 * A refused directory request (bad input, missing object, duplicate), made only from {@link DIRECTORY_ERRORS}.
 * The message is safe to show.
 */
export class DirectoryError extends Error {
  override readonly name = 'DirectoryError';

  constructor(
    readonly code: DirectoryErrorCode,
    message: string,
  ) {
    super(message);
  }

  /** The Graph error and HTTP status this refusal answers. */
  get descriptor(): DirectoryErrorDescriptor {
    return DIRECTORY_ERRORS[this.code];
  }

  /**
   * Graph's error body for this refusal.
   *
   * @param innerError Graph's `innerError` (`date`, `request-id`, `client-request-id`), added by the HTTP layer.
   */
  toGraphBody(innerError?: Readonly<Record<string, string>>): GraphErrorBody {
    return graphErrorBody(this.descriptor, this.message, innerError);
  }
}

/**
 * Graph's error body for a refusal: `error.code` from the descriptor, its detail code (if any) under `details`, and
 * the HTTP layer's `innerError`.
 *
 * @see https://learn.microsoft.com/graph/errors
 */
export function graphErrorBody(
  descriptor: DirectoryErrorDescriptor,
  message: string,
  innerError?: Readonly<Record<string, string>>,
): GraphErrorBody {
  const { graphCode, detailCode } = descriptor;
  return {
    error: {
      code: graphCode,
      message,
      ...(detailCode === undefined ? {} : { details: [{ code: detailCode, message }] }),
      ...(innerError === undefined ? {} : { innerError }),
    },
  };
}

/**
 * Runs a directory write; a unique-key race lost to another writer becomes a `conflict` DirectoryError.
 *
 * @throws DirectoryError `conflict` with `message`; any other failure of `work` as it is.
 */
export async function writeOrConflict<T>(
  store: DirectoryStore,
  message: string,
  work: (trx: Transaction<Database>) => Promise<T>,
): Promise<T> {
  try {
    return await store.write(work);
  } catch (error) {
    if (isUniqueViolation(error)) throw new DirectoryError('conflict', message);
    throw error;
  }
}
