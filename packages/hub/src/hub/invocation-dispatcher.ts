import type { HttpConnection } from '../connection/http-connection.js';
import { GENERIC_CLOSE_ERROR } from '../connection/http-connection.js';
import type { HubLogger } from '../logging.js';
import type { HubMetrics, InvocationOutcome } from '../metrics.js';
import type {
  CompletionMessage,
  HubMessage,
  InvocationMessage,
  StreamInvocationMessage,
} from '../protocol/messages.js';
import { satisfiesPolicy, type HubUser } from '../security/policy.js';
import { TokenBucket, type RateLimit } from '../security/rate-limit.js';
import type { AccessTokenClaims } from '@tessera/resource';
import {
  createCallerClients,
  createGroupManager,
  type GroupManager,
  type HubCallerClients,
  type HubClients,
} from './clients.js';
import type { HubCallerContext, ResolvedHub, ResolvedMethod } from './definition.js';
import {
  argumentCountMessage,
  HubError,
  streamCountMessage,
  unauthorizedMessage,
  unexpectedErrorMessage,
} from './errors.js';
import type { HubRuntime, LocalConnection } from './runtime.js';
import { UploadStream } from './upload-stream.js';

/** Per-connection invocation limits. */
export interface InvocationLimits {
  readonly maxParallelInvocations: number;
  /** Invocations waiting for a slot beyond this close the connection (a flood). */
  readonly maxQueuedInvocations: number;
  readonly rateLimit: RateLimit;
  readonly streamBufferCapacity: number;
  readonly clientResultTimeoutMs: number;
  /** Upload streams one invocation may carry. */
  readonly maxStreamIdsPerInvocation: number;
  /** Upload and server streams open at once on the connection. */
  readonly maxStreamsPerClient: number;
}

/** Refusals logged once per connection (then counted, and the count logged when the connection ends). */
type RefusalKind = 'rate limit' | 'unauthorized' | 'stream limit';

interface ClientResult {
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/**
 * The hub side of one connection: authorizes and runs invocations (at most `maxParallelInvocations` at a time, in
 * arrival order), pumps server streams, feeds upload streams, matches client results, and keeps the connection's
 * context.
 *
 * Every upload stream is registered when its invocation arrives (items may follow before the invocation gets its
 * slot) and released on every path: refusal (rate limit, unknown method, stream limits, policy, argument count,
 * expiry), the end of the invocation, the client's Completion, the end of the connection.
 *
 * @see HubProtocol.md "Invocations", "Streams", "Upload streaming", "Client results"
 */
export class InvocationDispatcher implements LocalConnection {
  readonly connectionId: string;
  readonly user: HubUser;
  private groupNames: Set<string> | undefined;
  // What an idle connection never uses is created on first use (docs/benchmarks.md, hub memory): an empty Map
  // costs about 200 bytes, an AbortController about 400, and a hub may hold 100,000 idle connections.
  private lifetimeController: AbortController | undefined;
  /** True once the connection has ended. */
  private ended = false;
  private queued: (() => Promise<void>)[] | undefined;
  private running = 0;
  /** Running server streams by invocation id. */
  private streamsById: Map<string, AbortController> | undefined;
  /** Server streams accepted (queued or running): they count against `maxStreamsPerClient` from their arrival. */
  private serverStreams = 0;
  private uploadsById: Map<string, UploadStream> | undefined;
  private refusalsByKind: Map<RefusalKind, number> | undefined;
  private clientResultsById: Map<string, ClientResult> | undefined;
  private nextClientInvocationId = 0;
  private tokenBucket: TokenBucket | undefined;
  /** The context's `items` and caller clients, once a hook or method has used them. */
  contextItems: Map<string, unknown> | undefined;
  contextClients: HubCallerClients | undefined;
  private callerContext: CallerContext | undefined;
  /** Pending until `onConnected` is done; messages wait for it. */
  private ready: Promise<void> | undefined;

  constructor(
    readonly connection: HttpConnection,
    private readonly hub: ResolvedHub,
    private readonly runtime: HubRuntime,
    private readonly clients: HubClients,
    userIdentifier: string | undefined,
    private readonly limits: InvocationLimits,
    private readonly logger: HubLogger,
    /** The hub's counts, when it reports metrics. */
    private readonly metrics?: HubMetrics,
  ) {
    this.connectionId = connection.connectionId;
    this.user = { connectionId: this.connectionId, claims: connection.user.claims, userIdentifier };
    runtime.register(this);
    const onConnected = hub.definition.onConnected;
    if (onConnected !== undefined) {
      const connected = this.runHook(() => onConnected(this.context), 'onConnected');
      this.ready = connected.then(() => {
        this.ready = undefined;
      });
    }
  }

  /** Aborted when the connection ends (created on first use; already aborted if that is after the end). */
  get lifetime(): AbortController {
    if (this.lifetimeController === undefined) {
      this.lifetimeController = new AbortController();
      if (this.ended) this.lifetimeController.abort();
    }
    return this.lifetimeController;
  }

  /** Groups this connection is in. */
  get groups(): Set<string> {
    return (this.groupNames ??= new Set());
  }

  /** The context hooks and methods receive. */
  private get context(): CallerContext {
    return (this.callerContext ??= new CallerContext(this, this.runtime, this.clients));
  }

  private get queue(): (() => Promise<void>)[] {
    return (this.queued ??= []);
  }

  private get streams(): Map<string, AbortController> {
    return (this.streamsById ??= new Map());
  }

  private get uploads(): Map<string, UploadStream> {
    return (this.uploadsById ??= new Map());
  }

  private get refusals(): Map<RefusalKind, number> {
    return (this.refusalsByKind ??= new Map());
  }

  private get clientResults(): Map<string, ClientResult> {
    return (this.clientResultsById ??= new Map());
  }

  private get bucket(): TokenBucket {
    return (this.tokenBucket ??= new TokenBucket(this.limits.rateLimit));
  }

  /** The connection's current user (refreshed on stateful reconnect with a fresh token). */
  private get claims() {
    return this.connection.user.claims;
  }

  /**
   * Handles one message from the connection's input loop, which hands them over one after another.
   *
   * @returns a promise when the loop must wait before the next message (`onConnected` still running, or an upload
   *   stream's buffer full), else `undefined`.
   */
  receive(message: HubMessage): Promise<void> | undefined {
    if (this.ready !== undefined) return this.ready.then(() => this.handle(message));
    return this.handle(message);
  }

  /** The connection ended: cancel everything, leave groups, run `onDisconnected`. */
  closed(reason: string | undefined): void {
    this.ended = true;
    this.lifetimeController?.abort();
    this.runtime.unregister(this);
    for (const upload of this.uploadsById?.values() ?? []) upload.complete('The connection ended.');
    this.uploadsById?.clear();
    for (const [id, result] of this.clientResultsById ?? []) {
      clearTimeout(result.timer);
      result.reject(new HubError('Connection closed before the client returned a result.'));
      this.clientResultsById?.delete(id);
    }
    this.queued = undefined;
    for (const [kind, count] of this.refusalsByKind ?? []) {
      if (count > 1) {
        this.logger.warn(`hub invocations refused: ${kind}`, {
          connectionId: this.connectionId,
          refused: count,
        });
      }
    }
    this.refusalsByKind?.clear();
    void (this.ready ?? Promise.resolve()).then(() =>
      this.runHook(() => this.hub.definition.onDisconnected?.(this.context, reason), 'onDisconnected'),
    );
  }

  invokeClient(target: string, args: readonly unknown[]): Promise<unknown> {
    if (!this.connection.open) return Promise.reject(new HubError('The connection is closed.'));
    const invocationId = `s${++this.nextClientInvocationId}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.clientResults.delete(invocationId);
        reject(new HubError('The client did not return a result in time.'));
      }, this.limits.clientResultTimeoutMs);
      this.clientResults.set(invocationId, { resolve, reject, timer });
      this.connection.send({ type: 1, invocationId, target, arguments: args });
    });
  }

  private handle(message: HubMessage): Promise<void> | undefined {
    if (this.ended) return undefined;
    switch (message.type) {
      case 1:
      case 4:
        this.accept(message);
        return undefined;
      case 2:
        return this.uploadsById?.get(message.invocationId)?.push(message.item);
      case 3:
        this.complete(message);
        return undefined;
      case 5:
        this.streamsById?.get(message.invocationId)?.abort();
        return undefined;
      default:
        return undefined;
    }
  }

  /**
   * An arriving invocation: refused at once (rate limit, unknown method, stream limits) without opening any
   * stream, else its upload streams are registered and it waits for a slot.
   */
  private accept(message: InvocationMessage | StreamInvocationMessage): void {
    const { target, invocationId } = message;
    const streamIds = message.streamIds ?? [];
    if (!this.bucket.take()) {
      this.refused('rate limit', { target });
      this.completeWithError(
        invocationId,
        `Failed to invoke '${target}' because the invocation rate limit was exceeded.`,
      );
      return;
    }
    const method = this.hub.methods.get(target.toLowerCase());
    if (method === undefined) {
      this.completeWithError(invocationId, `Unknown hub method '${target}'`);
      return;
    }
    const { maxStreamIdsPerInvocation, maxStreamsPerClient } = this.limits;
    if (streamIds.length > maxStreamIdsPerInvocation) {
      this.refused('stream limit', { target });
      this.completeWithError(
        invocationId,
        `Failed to invoke '${target}' because it carries more than ${maxStreamIdsPerInvocation} upload streams.`,
      );
      return;
    }
    const opening = streamIds.length + (message.type === 4 ? 1 : 0);
    if (this.uploads.size + this.serverStreams + opening > maxStreamsPerClient) {
      this.refused('stream limit', { target });
      this.completeWithError(
        invocationId,
        `Failed to invoke '${target}' because the connection has too many open streams (${maxStreamsPerClient}).`,
      );
      return;
    }
    if (this.queue.length >= this.limits.maxQueuedInvocations) {
      this.logger.warn('hub connection closed: too many queued invocations', {
        connectionId: this.connectionId,
      });
      this.connection.close(GENERIC_CLOSE_ERROR, false);
      return;
    }
    if (streamIds.some((id, index) => this.uploads.has(id) || streamIds.indexOf(id) !== index)) {
      this.logger.warn('hub connection closed: stream id already in use', {
        connectionId: this.connectionId,
      });
      this.connection.close(GENERIC_CLOSE_ERROR, false);
      return;
    }
    const uploads = streamIds.map((id) => {
      const upload = new UploadStream(this.limits.streamBufferCapacity);
      this.uploads.set(id, upload);
      return upload;
    });
    if (message.type === 4) this.serverStreams++;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      if (message.type === 4) this.serverStreams--;
      streamIds.forEach((id, index) => {
        const upload = uploads[index];
        if (upload === undefined) return;
        upload.complete();
        if (this.uploads.get(id) === upload) this.uploads.delete(id);
      });
    };
    this.queue.push(() => this.invoke(message, method, uploads, release));
    this.pump();
  }

  /** Logs the first refusal of a kind on this connection; later ones are counted (logged when it ends). */
  private refused(kind: RefusalKind, fields: Record<string, unknown>): void {
    const count = (this.refusals.get(kind) ?? 0) + 1;
    this.refusals.set(kind, count);
    if (count === 1) {
      this.logger.warn(`hub invocation refused: ${kind}`, { connectionId: this.connectionId, ...fields });
    }
  }

  private pump(): void {
    while (this.running < this.limits.maxParallelInvocations && (this.queued?.length ?? 0) > 0) {
      const next = this.queue.shift();
      if (next === undefined) return;
      this.running++;
      void next().finally(() => {
        this.running--;
        // Let I/O run between queued invocations: a client's burst must not starve socket writes and reads.
        if ((this.queued?.length ?? 0) > 0)
          setImmediate(() => {
            this.pump();
          });
      });
    }
  }

  /**
   * Runs an invocation in its slot. Resolves when the slot can be given to the next one: at once for a server
   * stream, which runs outside it as in ASP.NET (its streams are released when it ends).
   */
  private async invoke(
    message: InvocationMessage | StreamInvocationMessage,
    method: ResolvedMethod,
    uploads: UploadStream[],
    release: () => void,
  ): Promise<void> {
    let streamRunning = false;
    try {
      streamRunning = await this.run(message, method, uploads, release);
    } finally {
      if (!streamRunning) release();
    }
  }

  /** @returns true when a server stream was started (it calls `release` when it ends). */
  private async run(
    message: InvocationMessage | StreamInvocationMessage,
    method: ResolvedMethod,
    uploads: UploadStream[],
    release: () => void,
  ): Promise<boolean> {
    if (!this.connection.open) return false;
    const { target, invocationId } = message;
    const nowMs = Date.now();
    const expiresAtMs = this.connection.user.expiresAtMs;
    if (expiresAtMs !== undefined && nowMs >= expiresAtMs) {
      // Queued before the token's exp, run after it: refused. With stateful reconnect the Completion is replayed
      // once the client re-attaches with a fresh token; without, the Close tells the client.
      this.completeWithError(
        invocationId,
        `Failed to invoke '${target}' because the access token has expired.`,
      );
      this.connection.expireIfDue(nowMs);
      return false;
    }
    if (!(await this.authorized(method))) {
      this.refused('unauthorized', { target });
      this.completeWithError(invocationId, unauthorizedMessage(target));
      return false;
    }
    const expected = method.parameterCount;
    if (expected !== undefined && message.arguments.length + uploads.length !== expected) {
      const expectedArguments = expected - uploads.length;
      this.completeWithError(
        invocationId,
        expectedArguments >= 0
          ? argumentCountMessage(target, message.arguments.length, expectedArguments)
          : streamCountMessage(target, uploads.length, Math.max(0, expected - message.arguments.length)),
      );
      return false;
    }
    const streaming = message.type === 4;
    const cancel = new AbortController();
    const onLifetimeAbort = () => {
      cancel.abort();
    };
    this.lifetime.signal.addEventListener('abort', onLifetimeAbort, { once: true });
    if (streaming) this.streams.set(message.invocationId, cancel);
    const cleanup = () => {
      this.lifetime.signal.removeEventListener('abort', onLifetimeAbort);
      if (streaming && this.streams.get(message.invocationId) === cancel)
        this.streams.delete(message.invocationId);
    };
    let result: unknown;
    try {
      result = await method.invoke(this.withSignal(cancel.signal), [...message.arguments, ...uploads]);
    } catch (error) {
      cleanup();
      this.reportFailure(method, invocationId, error);
      return false;
    }
    const iterable = isAsyncIterable(result);
    if (!streaming) {
      cleanup();
      if (iterable) {
        this.completeWithError(
          invocationId,
          `The client attempted to invoke the streaming '${target}' method with a non-streaming invocation.`,
        );
        return false;
      }
      if (
        invocationId === undefined ||
        this.sendOrFail(method, invocationId, {
          type: 3,
          invocationId,
          hasResult: result !== undefined,
          result,
        })
      ) {
        this.counted('completed');
      }
      return false;
    }
    if (!isAsyncIterable(result)) {
      cleanup();
      this.completeWithError(
        invocationId,
        `The client attempted to invoke the non-streaming '${target}' method with a streaming invocation.`,
      );
      return false;
    }
    // The stream runs outside the invocation slot, as in ASP.NET; what it holds is released when it ends.
    void this.pumpStream(message, method, result, cancel.signal).finally(() => {
      cleanup();
      release();
    });
    return true;
  }

  private async pumpStream(
    message: StreamInvocationMessage,
    method: ResolvedMethod,
    iterable: AsyncIterable<unknown>,
    signal: AbortSignal,
  ): Promise<void> {
    const { invocationId } = message;
    const iterator = iterable[Symbol.asyncIterator]();
    const aborted = new Promise<'aborted'>((resolve) => {
      if (signal.aborted) resolve('aborted');
      signal.addEventListener(
        'abort',
        () => {
          resolve('aborted');
        },
        { once: true },
      );
    });
    try {
      for (;;) {
        const next = await Promise.race([iterator.next(), aborted]);
        if (next === 'aborted') {
          void iterator.return?.().catch(() => undefined);
          if (this.connection.open) this.connection.send({ type: 3, invocationId });
          this.counted('cancelled');
          return;
        }
        if (next.done === true) break;
        if (!this.sendOrFail(method, invocationId, { type: 2, invocationId, item: next.value })) {
          void iterator.return?.().catch(() => undefined);
          return;
        }
      }
      this.connection.send({ type: 3, invocationId });
      this.counted('completed');
    } catch (error) {
      this.reportFailure(method, invocationId, error);
    }
  }

  /**
   * Sends a result or a stream item, which may hold what the client sent (a method returning its argument). The
   * protocol's writer refuses some values (deeper than the MessagePack encoder's 100 levels or JSON.stringify's
   * stack, cycles, BigInts): then the invocation fails with the generic server error instead of the write
   * throwing out of the dispatcher (an unhandled rejection ends the process).
   *
   * @returns false when the message could not be written (the error Completion was sent instead).
   */
  private sendOrFail(method: ResolvedMethod, invocationId: string, message: HubMessage): boolean {
    try {
      this.connection.send(message);
      return true;
    } catch (error) {
      this.logger.error('hub result could not be serialized', {
        connectionId: this.connectionId,
        target: method.name,
        error: error instanceof Error ? error.message : 'unknown',
      });
      this.completeWithError(invocationId, unexpectedErrorMessage(method.name), 'failed');
      return false;
    }
  }

  private complete(message: CompletionMessage): void {
    const upload = this.uploads.get(message.invocationId);
    if (upload !== undefined) {
      // The client ended the stream: the method reads what was buffered, then the end (or the client's error).
      upload.complete(message.error);
      this.uploads.delete(message.invocationId);
      return;
    }
    const result = this.clientResults.get(message.invocationId);
    if (result === undefined) return;
    this.clientResults.delete(message.invocationId);
    clearTimeout(result.timer);
    if (message.error !== undefined) result.reject(new HubError(message.error));
    else result.resolve(message.result);
  }

  private async authorized(method: ResolvedMethod): Promise<boolean> {
    const user: HubUser = { ...this.user, claims: this.claims };
    if (user.claims === undefined)
      return method.allowAnonymous && this.hub.definition.policy === undefined && method.policy === undefined;
    return (
      (await satisfiesPolicy(this.hub.definition.policy, user)) &&
      (await satisfiesPolicy(method.policy, user))
    );
  }

  private reportFailure(method: ResolvedMethod, invocationId: string | undefined, error: unknown): void {
    if (error instanceof HubError) {
      this.completeWithError(invocationId, error.message, 'failed');
      return;
    }
    this.logger.error('hub method failed', {
      connectionId: this.connectionId,
      target: method.name,
      error: error instanceof Error ? (error.stack ?? error.message) : String(error),
    });
    this.completeWithError(invocationId, unexpectedErrorMessage(method.name), 'failed');
  }

  /** Counts an invocation's end for the hub's metrics. */
  private counted(outcome: InvocationOutcome): void {
    if (this.metrics !== undefined) this.metrics.invocations[outcome]++;
  }

  /** Ends an invocation with an error Completion (none for a non-blocking invocation); `refused` by default. */
  private completeWithError(
    invocationId: string | undefined,
    error: string,
    outcome: InvocationOutcome = 'refused',
  ): void {
    this.counted(outcome);
    if (invocationId !== undefined) this.connection.send({ type: 3, invocationId, error });
  }

  private async runHook(hook: () => void | Promise<void>, name: string): Promise<void> {
    try {
      await hook();
    } catch (error) {
      this.logger.error(`hub ${name} failed`, {
        connectionId: this.connectionId,
        error: error instanceof Error ? (error.stack ?? error.message) : String(error),
      });
      if (name === 'onConnected') this.connection.close(GENERIC_CLOSE_ERROR, false);
    }
  }

  private withSignal(signal: AbortSignal): HubCallerContext {
    return Object.create(this.context, { signal: { value: signal } }) as HubCallerContext;
  }
}

/** One group manager per hub: it does not depend on the connection. */
const groupManagers = new WeakMap<HubRuntime, GroupManager>();

/**
 * The context hub methods and hooks receive: one per connection, with its caller clients, `items` and `signal`
 * made on first use (an idle connection makes none of them).
 */
class CallerContext implements HubCallerContext {
  readonly connectionId: string;
  readonly userIdentifier: string | undefined;

  // An invocation's context is an object inheriting from this one (its own `signal`): what is made on first use is
  // kept on the dispatcher, not on `this`, so that every invocation sees the same `items` and clients.
  constructor(
    private readonly dispatcher: InvocationDispatcher,
    private readonly runtime: HubRuntime,
    private readonly hubClients: HubClients,
  ) {
    this.connectionId = dispatcher.connectionId;
    this.userIdentifier = dispatcher.user.userIdentifier;
  }

  get user(): AccessTokenClaims | undefined {
    return this.dispatcher.connection.user.claims;
  }

  get items(): Map<string, unknown> {
    return (this.dispatcher.contextItems ??= new Map());
  }

  get clients(): HubCallerClients {
    return (this.dispatcher.contextClients ??= createCallerClients(
      this.runtime,
      this.hubClients,
      this.connectionId,
    ));
  }

  get groups(): GroupManager {
    let groups = groupManagers.get(this.runtime);
    if (groups === undefined) {
      groups = createGroupManager(this.runtime);
      groupManagers.set(this.runtime, groups);
    }
    return groups;
  }

  get signal(): AbortSignal {
    return this.dispatcher.lifetime.signal;
  }

  abort(): void {
    this.dispatcher.connection.close(undefined, false);
  }
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Partial<AsyncIterable<unknown>>)[Symbol.asyncIterator] === 'function'
  );
}
