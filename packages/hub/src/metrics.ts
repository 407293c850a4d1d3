import { Counter, Gauge, type Registry } from 'prom-client';
import type { TransportKind } from './transports/transport.js';

/** How an invocation ended, as `tessera_hub_invocations_total` counts it. */
export type InvocationOutcome = 'completed' | 'failed' | 'refused' | 'cancelled';

/**
 * What one hub counts. The hot paths (messages, invocations) only add to plain numbers here; the registry's
 * counters read them when scraped (prom-client's `collect`), so a broadcast to 100,000 connections costs 100,000
 * additions, not 100,000 label lookups.
 */
export class HubMetrics {
  messagesIn = 0;
  messagesOut = 0;
  readonly invocations: Record<InvocationOutcome, number> = {
    completed: 0,
    failed: 0,
    refused: 0,
    cancelled: 0,
  };
  /** Open connections (handshake done) by transport. */
  readonly connections: Record<TransportKind, number> = {
    WebSockets: 0,
    ServerSentEvents: 0,
    LongPolling: 0,
  };
  /** Refusals by reason (the name in the refusal catalogue of docs/hub-protocol.md). */
  readonly refused = new Map<string, number>();
  /** What the registry's counters have been given so far. */
  readonly reported = {
    messagesIn: 0,
    messagesOut: 0,
    invocations: { completed: 0, failed: 0, refused: 0, cancelled: 0 } as Record<InvocationOutcome, number>,
    refused: new Map<string, number>(),
  };

  constructor(
    /** The `hub` label: the hub's path. */
    readonly hub: string,
  ) {}

  refusal(reason: string): void {
    this.refused.set(reason, (this.refused.get(reason) ?? 0) + 1);
  }
}

interface RegistryMetrics {
  readonly hubs: Set<HubMetrics>;
  readonly connections: Gauge;
  readonly messages: Counter;
  readonly invocations: Counter;
  readonly refused: Counter;
}

const byRegistry = new WeakMap<Registry, RegistryMetrics>();

/**
 * Registers the hub metrics on `registry` (once per registry, shared by every hub that uses it) and returns the
 * counts of one hub, which are reported under `hub` = its path until {@link releaseHubMetrics}.
 *
 * Metrics (Prometheus text exposition format):
 * - `tessera_hub_connections{hub,transport}` (gauge): connections past the handshake, on this node;
 * - `tessera_hub_messages_total{hub,direction}` (counter): hub protocol messages received (`in`) and sent
 *   (`out`), pings and Close included; a broadcast counts one per recipient;
 * - `tessera_hub_invocations_total{hub,outcome}` (counter): `completed`, `failed` (the method threw or its result
 *   could not be written), `refused` (rate limit, unknown method, stream limits, policy, argument count, expired
 *   token), `cancelled` (a server stream the client or the connection's end cancelled);
 * - `tessera_hub_connections_refused_total{hub,reason}` (counter): negotiate and connection requests refused, by the
 *   refusal's name (`authenticationFailed`, `originNotAllowed`, `connectionNotFound`, …).
 *
 * @throws Error from prom-client when `registry` already holds a metric of one of these names that this function
 *   did not register.
 * @see docs/hub.md "Metrics"
 */
export function createHubMetrics(registry: Registry, hub: string): HubMetrics {
  let shared = byRegistry.get(registry);
  if (shared === undefined) {
    shared = register(registry);
    byRegistry.set(registry, shared);
  }
  const metrics = new HubMetrics(hub);
  shared.hubs.add(metrics);
  return metrics;
}

/** Stops reporting a closed hub's gauge; what its counters counted stays in the registry. */
export function releaseHubMetrics(registry: Registry, metrics: HubMetrics): void {
  const shared = byRegistry.get(registry);
  if (shared === undefined || !shared.hubs.has(metrics)) return;
  reportMessages(shared.messages, metrics);
  reportInvocations(shared.invocations, metrics);
  reportRefusals(shared.refused, metrics);
  shared.hubs.delete(metrics);
  for (const transport of Object.keys(metrics.connections)) {
    shared.connections.remove({ hub: metrics.hub, transport });
  }
}

function register(registry: Registry): RegistryMetrics {
  const hubs = new Set<HubMetrics>();
  const connections = new Gauge({
    name: 'tessera_hub_connections',
    help: 'Hub connections open on this node (handshake done), by hub and transport.',
    labelNames: ['hub', 'transport'],
    registers: [registry],
    collect() {
      for (const metrics of hubs) {
        for (const [transport, count] of Object.entries(metrics.connections)) {
          this.set({ hub: metrics.hub, transport }, count);
        }
      }
    },
  });
  const messages = new Counter({
    name: 'tessera_hub_messages_total',
    help: 'Hub protocol messages received (in) and sent (out), by hub.',
    labelNames: ['hub', 'direction'],
    registers: [registry],
    collect() {
      for (const metrics of hubs) reportMessages(this, metrics);
    },
  });
  const invocations = new Counter({
    name: 'tessera_hub_invocations_total',
    help: 'Hub method invocations by hub and outcome (completed, failed, refused, cancelled).',
    labelNames: ['hub', 'outcome'],
    registers: [registry],
    collect() {
      for (const metrics of hubs) reportInvocations(this, metrics);
    },
  });
  const refused = new Counter({
    name: 'tessera_hub_connections_refused_total',
    help: 'Hub negotiate and connection requests refused, by hub and reason.',
    labelNames: ['hub', 'reason'],
    registers: [registry],
    collect() {
      for (const metrics of hubs) reportRefusals(this, metrics);
    },
  });
  return { hubs, connections, messages, invocations, refused };
}

function reportMessages(counter: Counter, metrics: HubMetrics): void {
  const { reported } = metrics;
  counter.inc({ hub: metrics.hub, direction: 'in' }, metrics.messagesIn - reported.messagesIn);
  counter.inc({ hub: metrics.hub, direction: 'out' }, metrics.messagesOut - reported.messagesOut);
  reported.messagesIn = metrics.messagesIn;
  reported.messagesOut = metrics.messagesOut;
}

function reportInvocations(counter: Counter, metrics: HubMetrics): void {
  for (const outcome of Object.keys(metrics.invocations) as InvocationOutcome[]) {
    const count = metrics.invocations[outcome];
    counter.inc({ hub: metrics.hub, outcome }, count - metrics.reported.invocations[outcome]);
    metrics.reported.invocations[outcome] = count;
  }
}

function reportRefusals(counter: Counter, metrics: HubMetrics): void {
  for (const [reason, count] of metrics.refused) {
    const delta = count - (metrics.reported.refused.get(reason) ?? 0);
    if (delta > 0) counter.inc({ hub: metrics.hub, reason }, delta);
    metrics.reported.refused.set(reason, count);
  }
}
