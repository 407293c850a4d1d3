import type { AccessTokenClaims } from '@tessera/resource';
import type { HubPolicy, HubUser } from '../security/policy.js';
import type { GroupManager, HubCallerClients } from './clients.js';

/**
 * What a hub method receives first. `signal` aborts when the client cancels the stream (CancelInvocation) or the
 * connection ends.
 */
export interface HubCallerContext {
  readonly connectionId: string;
  /** Validated access token claims; `undefined` for an anonymous caller. */
  readonly user: AccessTokenClaims | undefined;
  /** The id `clients.user(id)` targets (default `oid`, else `sub`). */
  readonly userIdentifier: string | undefined;
  /** Per-connection storage, kept for the connection's lifetime. */
  readonly items: Map<string, unknown>;
  readonly clients: HubCallerClients;
  readonly groups: GroupManager;
  readonly signal: AbortSignal;
  /** Ends the caller's connection (Close without error). */
  abort(): void;
}

/**
 * A hub method: receives the context, then the invocation's arguments, then one async iterable per upload stream
 * (in `streamIds` order). Returns the result (awaited), or an async iterable for a server stream.
 */
export type HubMethod = (context: HubCallerContext, ...args: never[]) => unknown;

/** Per-method options. */
export interface HubMethodOptions {
  /** Callable without authentication (default: the hub's `allowAnonymous`). */
  readonly allowAnonymous?: boolean;
  /** Required in addition to the hub's policy. */
  readonly policy?: HubPolicy;
  /**
   * How many invocation arguments the method takes, upload streams included (the context not counted). Default
   * the function's declared parameters (`length` − 1): give it for a method with default or rest parameters, or
   * `'any'` to skip the check. An invocation with another count fails as in ASP.NET:
   * `Failed to invoke 'X' due to an error on the server. InvalidDataException: Invocation provides N argument(s)
   * but target expects M.`
   */
  readonly parameterCount?: number | 'any';
}

/**
 * A hub. `methods` is an object or class instance whose function properties (own and inherited, except
 * `constructor`) are the hub methods, matched case-insensitively as ASP.NET does.
 *
 * Authentication is required by default: anonymous connections are accepted only when `allowAnonymous` is true
 * for the hub or at least one method, and anonymous callers can only call methods that allow them.
 */
export interface HubDefinition<Methods extends object = object> {
  readonly methods: Methods;
  /** Anonymous callers may connect and call every method not overriding it (default false). */
  readonly allowAnonymous?: boolean;
  /** Required to connect (negotiate answers 403 otherwise) and to call any method. */
  readonly policy?: HubPolicy;
  readonly methodOptions?: { readonly [K in keyof Methods]?: HubMethodOptions };
  /**
   * Decides every group join (`groups.add`), on the node that owns the connection. Default: allowed. Membership
   * lives on the server only; a refused join throws a {@link HubError} "Not authorized to join group 'X'.".
   */
  readonly authorizeGroup?: (user: HubUser, group: string) => boolean | Promise<boolean>;
  /** After the handshake, before any invocation of the connection is processed. */
  readonly onConnected?: (context: HubCallerContext) => void | Promise<void>;
  /** After the connection ended; `error` is the close reason, if any. */
  readonly onDisconnected?: (context: HubCallerContext, error: string | undefined) => void | Promise<void>;
}

/** Identity helper that keeps `methods`' type for `methodOptions` keys. */
export function defineHub<Methods extends object>(
  definition: HubDefinition<Methods>,
): HubDefinition<Methods> {
  return definition;
}

/** A method resolved from a definition. */
export interface ResolvedMethod {
  readonly name: string;
  readonly invoke: (context: HubCallerContext, args: readonly unknown[]) => unknown;
  readonly allowAnonymous: boolean;
  readonly policy: HubPolicy | undefined;
  /** Arguments plus upload streams the method takes; `undefined`: not checked. */
  readonly parameterCount: number | undefined;
}

/** A hub definition with its methods looked up once. */
export interface ResolvedHub {
  readonly definition: HubDefinition;
  /** Keyed by lower-case name. */
  readonly methods: ReadonlyMap<string, ResolvedMethod>;
  /** True when anonymous callers may connect. */
  readonly anonymousConnect: boolean;
}

/**
 * Collects the methods of a definition.
 *
 * @throws TypeError when two methods differ only by case, `methodOptions` names a method that does not exist, or a
 *   `parameterCount` is not a non-negative integer or `'any'`.
 */
export function resolveHub(definition: HubDefinition): ResolvedHub {
  const methods = new Map<string, ResolvedMethod>();
  const instance = definition.methods as Record<string, unknown>;
  const options = (definition.methodOptions ?? {}) as Record<string, HubMethodOptions | undefined>;
  for (
    let proto: object | null = instance;
    proto !== null && proto !== Object.prototype;
    proto = Object.getPrototypeOf(proto) as object | null
  ) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      if (name === 'constructor') continue;
      const value = instance[name];
      if (typeof value !== 'function') continue;
      const key = name.toLowerCase();
      const existing = methods.get(key);
      if (existing !== undefined) {
        if (existing.name !== name)
          throw new TypeError(`Hub methods '${existing.name}' and '${name}' differ only by case.`);
        continue;
      }
      const fn = value as (this: unknown, ...args: unknown[]) => unknown;
      const methodOptions = options[name];
      methods.set(key, {
        name,
        invoke: (context, args) => fn.call(instance, context, ...args),
        allowAnonymous: methodOptions?.allowAnonymous ?? definition.allowAnonymous ?? false,
        policy: methodOptions?.policy,
        parameterCount: parameterCountOf(name, fn, methodOptions?.parameterCount),
      });
    }
  }
  for (const name of Object.keys(options)) {
    if (methods.get(name.toLowerCase())?.name !== name) {
      throw new TypeError(`methodOptions names '${name}', which is not a hub method.`);
    }
  }
  const anonymousConnect =
    [...methods.values()].some((method) => method.allowAnonymous) || definition.allowAnonymous === true;
  return { definition, methods, anonymousConnect };
}

function parameterCountOf(
  name: string,
  fn: (...args: never[]) => unknown,
  option: number | 'any' | undefined,
): number | undefined {
  if (option === 'any') return undefined;
  if (option === undefined) return Math.max(0, fn.length - 1);
  if (!Number.isSafeInteger(option) || option < 0) {
    throw new TypeError(`methodOptions.${name}.parameterCount must be a non-negative integer or 'any'.`);
  }
  return option;
}
