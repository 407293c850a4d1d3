import type { HttpConnection } from '../connection/http-connection.js';
import { GENERIC_CLOSE_ERROR } from '../connection/http-connection.js';
import type { HubLogger } from '../logging.js';
import type {
  CompletionMessage,
  HubMessage,
  InvocationMessage,
  StreamInvocationMessage,
} from '../protocol/messages.js';
import { satisfiesPolicy, type HubUser } from '../security/policy.js';
import { TokenBucket, type RateLimit } from '../security/rate-limit.js';
import { createCallerClients, createGroupManager, type HubClients } from './clients.js';
import type { HubCallerContext, ResolvedHub, ResolvedMethod } from './definition.js';
import { HubError, unauthorizedMessage, unexpectedErrorMessage } from './errors.js';
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
}

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
 * @see HubProtocol.md "Invocations", "Streams", "Upload streaming", "Client results"
 */
export class InvocationDispatcher implements LocalConnection {
  readonly connectionId: string;
  readonly groups = new Set<string>();
  readonly user: HubUser;
  private readonly items = new Map<string, unknown>();
  private readonly lifetime = new AbortController();
  private readonly queue: (() => Promise<void>)[] = [];
  private running = 0;
  private readonly streams = new Map<string, AbortController>();
  private readonly uploads = new Map<string, UploadStream>();
  private readonly clientResults = new Map<string, ClientResult>();
  private nextClientInvocationId = 0;
  private readonly bucket: TokenBucket;
  private readonly context: HubCallerContext;
  /** Messages are handled one after another; starts once `onConnected` is done. */
  private chain: Promise<void>;

  constructor(
    readonly connection: HttpConnection,
    private readonly hub: ResolvedHub,
    private readonly runtime: HubRuntime,
    clients: HubClients,
    userIdentifier: string | undefined,
    private readonly limits: InvocationLimits,
    private readonly logger: HubLogger,
  ) {
    this.connectionId = connection.connectionId;
    this.user = { connectionId: this.connectionId, claims: connection.user.claims, userIdentifier };
    this.bucket = new TokenBucket(limits.rateLimit);
    this.context = this.createContext(this.lifetime.signal, clients);
    runtime.register(this);
    this.chain = this.runHook(() => hub.definition.onConnected?.(this.context), 'onConnected');
  }

  /** The connection's current user (refreshed on stateful reconnect with a fresh token). */
  private get claims() {
    return this.connection.user.claims;
  }

  receive(message: HubMessage): void {
    this.chain = this.chain
      .then(() => this.handle(message))
      .catch((error: unknown) => {
        this.logger.error('hub message handling failed', {
          connectionId: this.connectionId,
          reason: error instanceof Error ? error.message : 'unknown',
        });
      });
  }

  /** The connection ended: cancel everything, leave groups, run `onDisconnected`. */
  closed(reason: string | undefined): void {
    this.lifetime.abort();
    this.runtime.unregister(this);
    for (const upload of this.uploads.values()) upload.complete('The connection ended.');
    this.uploads.clear();
    for (const [id, result] of this.clientResults) {
      clearTimeout(result.timer);
      result.reject(new HubError('Connection closed before the client returned a result.'));
      this.clientResults.delete(id);
    }
    this.queue.length = 0;
    void this.chain.then(() =>
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

  private async handle(message: HubMessage): Promise<void> {
    switch (message.type) {
      case 1:
      case 4:
        this.enqueue(message);
        return;
      case 2: {
        const upload = this.uploads.get(message.invocationId);
        if (upload !== undefined) await upload.push(message.item);
        return;
      }
      case 3:
        this.complete(message);
        return;
      case 5:
        this.streams.get(message.invocationId)?.abort();
        return;
      default:
        return;
    }
  }

  private enqueue(message: InvocationMessage | StreamInvocationMessage): void {
    const uploads: UploadStream[] = [];
    for (const streamId of message.streamIds ?? []) {
      if (this.uploads.has(streamId)) {
        this.connection.close(GENERIC_CLOSE_ERROR, false);
        return;
      }
      const upload = new UploadStream(this.limits.streamBufferCapacity);
      this.uploads.set(streamId, upload);
      uploads.push(upload);
    }
    if (!this.bucket.take()) {
      for (const streamId of message.streamIds ?? []) this.uploads.delete(streamId);
      this.logger.warn('hub invocation refused: rate limit', { connectionId: this.connectionId });
      this.completeWithError(
        message.invocationId,
        `Failed to invoke '${message.target}' because the invocation rate limit was exceeded.`,
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
    this.queue.push(() => this.invoke(message, uploads));
    this.pump();
  }

  private pump(): void {
    while (this.running < this.limits.maxParallelInvocations && this.queue.length > 0) {
      const next = this.queue.shift();
      if (next === undefined) return;
      this.running++;
      void next().finally(() => {
        this.running--;
        // Let I/O run between queued invocations: a client's burst must not starve socket writes and reads.
        if (this.queue.length > 0)
          setImmediate(() => {
            this.pump();
          });
      });
    }
  }

  private async invoke(
    message: InvocationMessage | StreamInvocationMessage,
    uploads: UploadStream[],
  ): Promise<void> {
    if (!this.connection.open) return;
    const { target, invocationId } = message;
    const method = this.hub.methods.get(target.toLowerCase());
    if (method === undefined) {
      this.completeWithError(invocationId, `Unknown hub method '${target}'`);
      return;
    }
    if (!(await this.authorized(method))) {
      this.logger.info('hub invocation refused: unauthorized', { connectionId: this.connectionId, target });
      this.completeWithError(invocationId, unauthorizedMessage(target));
      return;
    }
    const streaming = message.type === 4;
    const cancel = new AbortController();
    const onLifetimeAbort = () => {
      cancel.abort();
    };
    this.lifetime.signal.addEventListener('abort', onLifetimeAbort, { once: true });
    if (streaming) this.streams.set(message.invocationId, cancel);
    let result: unknown;
    try {
      result = await method.invoke(this.withSignal(cancel.signal), [...message.arguments, ...uploads]);
    } catch (error) {
      this.cleanupInvocation(message, onLifetimeAbort);
      this.reportFailure(method, invocationId, error);
      return;
    }
    const iterable = isAsyncIterable(result);
    if (!streaming) {
      this.cleanupInvocation(message, onLifetimeAbort);
      if (iterable) {
        this.completeWithError(
          invocationId,
          `The client attempted to invoke the streaming '${target}' method with a non-streaming invocation.`,
        );
        return;
      }
      if (invocationId !== undefined) {
        this.connection.send({ type: 3, invocationId, hasResult: result !== undefined, result });
      }
      return;
    }
    if (!isAsyncIterable(result)) {
      this.cleanupInvocation(message, onLifetimeAbort);
      this.completeWithError(
        invocationId,
        `The client attempted to invoke the non-streaming '${target}' method with a streaming invocation.`,
      );
      return;
    }
    // The stream runs outside the invocation slot, as in ASP.NET.
    void this.pumpStream(message, method, result, cancel.signal).finally(() => {
      this.cleanupInvocation(message, onLifetimeAbort);
    });
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
          return;
        }
        if (next.done === true) break;
        this.connection.send({ type: 2, invocationId, item: next.value });
      }
      this.connection.send({ type: 3, invocationId });
    } catch (error) {
      this.reportFailure(method, invocationId, error);
    }
  }

  private cleanupInvocation(message: InvocationMessage | StreamInvocationMessage, onAbort: () => void): void {
    this.lifetime.signal.removeEventListener('abort', onAbort);
    if (message.type === 4) this.streams.delete(message.invocationId);
    for (const streamId of message.streamIds ?? []) this.uploads.delete(streamId);
  }

  private complete(message: CompletionMessage): void {
    const upload = this.uploads.get(message.invocationId);
    if (upload !== undefined) {
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
      this.completeWithError(invocationId, error.message);
      return;
    }
    this.logger.error('hub method failed', {
      connectionId: this.connectionId,
      target: method.name,
      error: error instanceof Error ? (error.stack ?? error.message) : String(error),
    });
    this.completeWithError(invocationId, unexpectedErrorMessage(method.name));
  }

  private completeWithError(invocationId: string | undefined, error: string): void {
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

  private createContext(signal: AbortSignal, clients: HubClients): HubCallerContext {
    const connection = this.connection;
    const user = this.user;
    return {
      connectionId: this.connectionId,
      get user() {
        return connection.user.claims;
      },
      userIdentifier: user.userIdentifier,
      items: this.items,
      clients: createCallerClients(this.runtime, clients, this.connectionId),
      groups: createGroupManager(this.runtime),
      signal,
      abort: () => {
        connection.close(undefined, false);
      },
    };
  }

  private withSignal(signal: AbortSignal): HubCallerContext {
    return Object.create(this.context, { signal: { value: signal } }) as HubCallerContext;
  }
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Partial<AsyncIterable<unknown>>)[Symbol.asyncIterator] === 'function'
  );
}
