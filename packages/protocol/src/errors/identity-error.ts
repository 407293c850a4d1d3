import { errorCatalogue, type ErrorCode, type OAuthErrorName } from './catalogue.js';

/** Parameters that fill `{name}` placeholders in a catalogue description, any code (see {@link ErrorParamsOf}). */
export type ErrorParams = Readonly<Record<string, string | number>>;

/** The `{name}` placeholders of a description text, as a union of names (`never` when it has none). */
export type PlaceholderNames<Text extends string> = Text extends `${string}{${infer Name}}${infer Rest}`
  ? Name | PlaceholderNames<Rest>
  : never;

/** The placeholder names of catalogue entry `Code`, read from its `description` literal. */
export type ErrorPlaceholder<Code extends ErrorCode> = PlaceholderNames<
  (typeof errorCatalogue)[Code]['description']
>;

/**
 * The parameters catalogue entry `Code` needs: one property per placeholder of its description, e.g.
 * `ErrorParamsOf<70011>` is `{ readonly scope: string | number }`.
 */
export type ErrorParamsOf<Code extends ErrorCode> = {
  readonly [Name in ErrorPlaceholder<Code>]: string | number;
};

/**
 * The arguments of `new IdentityError(...)` for one code: the parameters are required when its description has
 * placeholders (exactly those names), optional and empty when it has none.
 */
export type IdentityErrorArgumentsOf<Code extends ErrorCode> = [ErrorPlaceholder<Code>] extends [never]
  ? [code: Code, params?: Readonly<Record<string, never>>, options?: IdentityErrorOptions]
  : [code: Code, params: ErrorParamsOf<Code>, options?: IdentityErrorOptions];

/** The arguments of `new IdentityError(...)`: a union of {@link IdentityErrorArgumentsOf} over every code. */
export type IdentityErrorArguments = { [Code in ErrorCode]: IdentityErrorArgumentsOf<Code> }[ErrorCode];

/** Options of an {@link IdentityError} beyond its code and parameters. */
export interface IdentityErrorOptions {
  /** Internal detail for logs; never sent to the client. */
  readonly detail?: string;
  /** Microsoft `suberror` (e.g. `consent_required`, `bad_token`). */
  readonly suberror?: string;
  /** A claims challenge (JSON text) the client can send back to `/authorize`. */
  readonly claims?: string;
  /** The underlying error, kept for logs. */
  readonly cause?: unknown;
  /**
   * The OAuth `error` to send instead of the entry's own: only one the entry lists in `alsoSentAs` (e.g. 65001 as
   * `invalid_grant` at the token endpoint, RFC 6749 §5.2).
   *
   * @throws Error (a programming error) for a value the entry does not list.
   */
  readonly error?: OAuthErrorName;
}

/**
 * The one error type of the Tessera protocol. Made only from the catalogue, so its `error`, HTTP `status` and
 * safe `description` are always consistent; `detail` is for logs only. The parameters are typed per code from the
 * entry's description ({@link IdentityErrorArguments}): a missing, misspelled or extra placeholder does not compile.
 *
 * @example throw new IdentityError(70011, { scope: 'api://x/read' })
 * @example throw new IdentityError(50057, {}, { detail: `user ${userId} is disabled` })
 * @throws Error (a programming error) when `options.error` is not one the entry lists in `alsoSentAs`.
 * @see errorCatalogue
 */
export class IdentityError extends Error {
  override readonly name = 'IdentityError';
  /** Numeric code, sent as `error_codes[0]`. */
  readonly code: ErrorCode;
  /** OAuth `error` string. */
  readonly error: OAuthErrorName;
  /** HTTP status code of the response. */
  readonly status: number;
  /** Safe description, sent in `error_description` after the code prefix. */
  readonly description: string;
  readonly detail: string | undefined;
  readonly suberror: string | undefined;
  readonly claims: string | undefined;

  constructor(...[code, params = {}, options = {}]: IdentityErrorArguments) {
    const definition = errorCatalogue[code];
    const description = fillPlaceholders(definition.description, params);
    super(description, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.error = options.error ?? definition.error;
    if (
      options.error !== undefined &&
      options.error !== definition.error &&
      !(('alsoSentAs' in definition ? definition.alsoSentAs : []) as readonly string[]).includes(
        options.error,
      )
    ) {
      throw new Error(`Error ${code} is never sent as '${options.error}'.`);
    }
    this.status = definition.status;
    this.description = description;
    this.detail = options.detail;
    this.suberror = options.suberror;
    this.claims = options.claims;
  }
}

function fillPlaceholders(template: string, params: ErrorParams): string {
  return template.replace(/\{(\w+)\}/g, (_, key: string) => String(params[key] ?? '')).trimEnd();
}
