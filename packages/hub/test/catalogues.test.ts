import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  defineHub,
  DEFAULT_MAX_FRAME_MESSAGES,
  DEFAULT_MAX_MESSAGE_BYTES,
  hubRefusals,
  hubServerDefaults,
  refusalText,
  type HubServerOptions,
  type RefusalDefinition,
} from '@tessera/hub';
import { describe, expect, it } from 'vitest';
import { resolveHubServerOptions } from '../src/options/resolve.js';

// What the hub documents and what its code does, kept in step: the option defaults of docs/hub.md and the HTTP
// refusals of docs/hub-protocol.md are tables, each row checked against the exported constants.

const docs = (name: string) => readFileSync(new URL(`../../../docs/${name}`, import.meta.url), 'utf8');

/** The rows of the first Markdown table after `heading`, as trimmed cells keyed by the first cell. */
function tableAfter(markdown: string, heading: string): Map<string, readonly string[]> {
  const from = markdown.indexOf(heading);
  expect(from, heading).toBeGreaterThanOrEqual(0);
  const lines = markdown.slice(from).split('\n');
  const start = lines.findIndex((line) => line.startsWith('|'));
  const rows = new Map<string, readonly string[]>();
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    const [name = '', ...cells] = line
      .slice(1, -1)
      .split(' | ')
      .map((cell) => cell.trim());
    rows.set(name, cells);
  }
  return rows;
}

/** Every option of `HubServerOptions`: the compiler fails this list when an option is added or removed. */
const optionNames = Object.keys({
  path: true,
  hub: true,
  authentication: true,
  allowedOrigins: true,
  transports: true,
  protocols: true,
  allowStatefulReconnects: true,
  keepAliveIntervalMs: true,
  clientTimeoutMs: true,
  handshakeTimeoutMs: true,
  disconnectTimeoutMs: true,
  longPollTimeoutMs: true,
  maxMessageBytes: true,
  maxFrameBytes: true,
  maxParallelInvocationsPerClient: true,
  maxQueuedInvocationsPerClient: true,
  invocationRateLimit: true,
  maxSendBufferBytes: true,
  streamBufferCapacity: true,
  maxStreamIdsPerInvocation: true,
  maxStreamsPerClient: true,
  maxGroupsPerClient: true,
  clientResultTimeoutMs: true,
  backplane: true,
  backplaneChannel: true,
  groupOperationTimeoutMs: true,
  logger: true,
  metricsRegistry: true,
} satisfies Record<keyof HubServerOptions, true>);

/** A default as the options table writes it. */
function documentedDefault(value: unknown): string {
  if (typeof value === 'number') return String(value);
  if (Array.isArray(value)) {
    return value.length === 0 ? '`[]`' : value.map((item) => `\`${String(item)}\``).join(', ');
  }
  if (typeof value === 'object' && value !== null) {
    const fields = Object.entries(value).map(([name, field]) => `${name}: ${String(field)}`);
    return `\`{ ${fields.join(', ')} }\``;
  }
  return `\`${String(value)}\``;
}

describe('option defaults (docs/hub.md "Options")', () => {
  const table = tableAfter(docs('hub.md'), '### Options (`HubServerOptions`)');

  it('documents every option, and nothing else', () => {
    expect([...table.keys()].sort()).toEqual(optionNames.map((name) => `\`${name}\``).sort());
  });

  it.each(Object.entries(hubServerDefaults))(
    'documents the default of %s as the code has it',
    (name, value) => {
      expect(table.get(`\`${name}\``)?.[1]).toBe(documentedDefault(value));
    },
  );

  it('is what the resolver fills in', () => {
    const resolved = resolveHubServerOptions({
      path: '/hub',
      hub: defineHub({ methods: {}, allowAnonymous: true }),
    });
    const { connectionLimits: connection, invocationLimits: invocation } = resolved;
    expect({
      allowedOrigins: [],
      transports: [...resolved.transports],
      protocols: [...resolved.protocols.keys()],
      allowStatefulReconnects: resolved.allowStatefulReconnects,
      keepAliveIntervalMs: connection.keepAliveIntervalMs,
      clientTimeoutMs: connection.clientTimeoutMs,
      handshakeTimeoutMs: connection.handshakeTimeoutMs,
      disconnectTimeoutMs: connection.disconnectTimeoutMs,
      longPollTimeoutMs: resolved.longPollTimeoutMs,
      maxMessageBytes: connection.maxMessageBytes,
      maxParallelInvocationsPerClient: invocation.maxParallelInvocations,
      maxQueuedInvocationsPerClient: invocation.maxQueuedInvocations,
      invocationRateLimit: invocation.rateLimit,
      maxSendBufferBytes: connection.maxSendBufferBytes,
      streamBufferCapacity: invocation.streamBufferCapacity,
      maxStreamIdsPerInvocation: invocation.maxStreamIdsPerInvocation,
      maxStreamsPerClient: invocation.maxStreamsPerClient,
      maxGroupsPerClient: resolved.maxGroupsPerClient,
      clientResultTimeoutMs: invocation.clientResultTimeoutMs,
      groupOperationTimeoutMs: resolved.groupOperationTimeoutMs,
    }).toEqual(hubServerDefaults);
    expect(resolved.origins.hasAllowList).toBe(false);
    expect(connection.maxFrameBytes).toBe(DEFAULT_MAX_FRAME_MESSAGES * DEFAULT_MAX_MESSAGE_BYTES);
  });

  it('documents the derived default of maxFrameBytes', () => {
    expect(table.get('`maxFrameBytes`')?.[1]).toBe(
      `${DEFAULT_MAX_FRAME_MESSAGES} × \`maxMessageBytes\` (${DEFAULT_MAX_FRAME_MESSAGES * DEFAULT_MAX_MESSAGE_BYTES})`,
    );
  });
});

/** A refusal's status and body cells as the refusals table writes them. */
function documentedRefusal(refusal: RefusalDefinition): readonly [string, string] {
  switch (refusal.kind) {
    case 'challenge':
      return [refusal.statuses.join(' / '), 'empty'];
    case 'negotiate-error':
      return [String(refusal.status), `JSON \`{"error": "${refusal.text}"}\``];
    case 'text':
      return [String(refusal.status), refusal.text === '' ? 'empty' : `\`${refusal.text}\``];
  }
}

describe('HTTP refusals (docs/hub-protocol.md "HTTP refusals")', () => {
  const table = tableAfter(docs('hub-protocol.md'), '## HTTP refusals');

  it('documents every refusal of the catalogue, and nothing else', () => {
    expect([...table.keys()].sort()).toEqual(
      Object.keys(hubRefusals)
        .map((name) => `\`${name}\``)
        .sort(),
    );
  });

  it.each(Object.entries(hubRefusals))('documents the status and body of %s', (name, refusal) => {
    expect(table.get(`\`${name}\``)?.slice(0, 2)).toEqual(documentedRefusal(refusal));
  });

  it('keeps the texts the official client and the tests see', () => {
    expect(refusalText('connectionNotFound', {})).toBe('No Connection with that ID');
    expect(refusalText('negotiateVersionUnsupported', { version: '0' })).toBe(
      "The client requested version '0', but the server does not support this version.",
    );
    // @ts-expect-error a refusal with a placeholder needs its value
    refusalText('negotiateVersionUnsupported', {});
  });
});

describe('composition root', () => {
  const src = fileURLToPath(new URL('../src', import.meta.url));
  const sources = readdirSync(src, { recursive: true, encoding: 'utf8' }).filter((path) =>
    path.endsWith('.ts'),
  );

  it('leaves the environment to the application: no process.env in the hub library', () => {
    expect(sources.length).toBeGreaterThan(20);
    const reading = sources.filter((path) => readFileSync(join(src, path), 'utf8').includes('process.env'));
    expect(reading).toEqual([]);
  });
});
