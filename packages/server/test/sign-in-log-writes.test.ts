import { randomUUID } from 'node:crypto';
import {
  endpointUrl,
  postForm,
  postgresAvailable,
  seedClientCredentialsScenario,
  startTestServer,
  type ClientCredentialsScenario,
  type TestServer,
} from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SignInRecord } from '../src/directory/audit-records.js';
import { SignInLog, timeOrderedId, type NewSignIn } from '../src/directory/audit-sign-ins.js';
import { AuditLogRepository, statementSizes } from '../src/store/repositories/audit-logs.js';
import { statementCounts } from './support/statement-counts.js';

// How the sign-in log reaches storage: one transaction per flush with reused multi-row statements, on SQLite and
// PostgreSQL; flushes by time or by size, a failed write kept and retried by the timer; time-ordered ids; and a
// client credentials request that makes no database query of its own in steady state.

const dialects = [
  { name: 'sqlite', database: 'sqlite' as const },
  ...((await postgresAvailable()) ? [{ name: 'postgres', database: 'postgres' as const }] : []),
];

function newSignIn(tenantId: string, index: number): NewSignIn {
  return {
    tenantId,
    userId: index % 2 === 0 ? randomUUID() : null,
    userPrincipalName: index % 2 === 0 ? `user${index}@example.test` : null,
    userDisplayName: index % 2 === 0 ? `User ${index}` : null,
    appId: randomUUID(),
    appDisplayName: `App ${index}`,
    ipAddress: index % 3 === 0 ? null : '192.0.2.7',
    clientAppUsed: index % 2 === 0 ? 'Browser' : 'Mobile Apps and Desktop clients',
    correlationId: randomUUID(),
    isInteractive: index % 2 === 0,
    resourceId: index % 5 === 0 ? null : randomUUID(),
    resourceDisplayName: index % 5 === 0 ? null : `API ${index}`,
    errorCode: index % 7 === 0 ? 50126 : 0,
    failureReason: index % 7 === 0 ? 'Invalid username or password.' : null,
  };
}

function signInRecord(tenantId: string, index: number, createdMs: number): SignInRecord {
  return { ...newSignIn(tenantId, index), id: timeOrderedId(createdMs), createdMs };
}

/** Every sign-in of a tenant, newest first, through the repository's paging. */
async function allSignIns(repository: AuditLogRepository, tenantId: string): Promise<SignInRecord[]> {
  const items: SignInRecord[] = [];
  let after: { ms: number; id: string } | undefined;
  do {
    const page = await repository.listSignIns({
      tenantId,
      top: 500,
      filter: {},
      ...(after ? { after } : {}),
    });
    items.push(...page.items);
    after = page.next;
  } while (after !== undefined);
  return items;
}

describe.each(dialects)('sign-in log writes on $name', ({ database }) => {
  let server: TestServer;
  let scenario: ClientCredentialsScenario;
  let repository: AuditLogRepository;

  beforeAll(async () => {
    // The directory poll (a background query every directoryPollIntervalMs) kept out of the measured minute.
    server = await startTestServer({ database, config: { directoryPollIntervalMs: 60_000 } });
    scenario = await seedClientCredentialsScenario(server.directory);
    await server.server.refresh();
    repository = server.directory.audits.repository;
  });
  afterAll(async () => {
    await server.close();
  });

  it('1234 sign-ins in one call, 500 rows a statement, read back field for field', async () => {
    const tenantId = randomUUID();
    const base = Date.now();
    const records = Array.from({ length: 1234 }, (_, index) => signInRecord(tenantId, index, base + index));
    await repository.insertSignIns(records, 500);
    const stored = await allSignIns(repository, tenantId);
    expect(stored).toEqual([...records].reverse());
  });

  it('a write is all or nothing: a bad row in its last statement leaves none of its rows', async () => {
    const tenantId = randomUUID();
    const records = Array.from({ length: 700 }, (_, index) => signInRecord(tenantId, index, Date.now()));
    // The 700th row repeats the first one's id: the primary key refuses it, in the write's second statement.
    records[699] = { ...(records[699] as SignInRecord), id: (records[0] as SignInRecord).id };
    await expect(repository.insertSignIns(records, 500)).rejects.toThrow();
    expect(await allSignIns(repository, tenantId)).toEqual([]);
  });

  it('client credentials requests make no database query of their own: only the sign-in log inserts', async () => {
    const request = async () => {
      const answer = await postForm(endpointUrl(server.url, scenario.tenantId, 'token'), {
        grant_type: 'client_credentials',
        client_id: scenario.daemon.appId,
        client_secret: scenario.daemon.secret,
        scope: `${scenario.api.identifierUri}/.default`,
      });
      return { statusCode: answer.status, body: await answer.text() };
    };
    // The first request warms the directory cache and the signing keys.
    const warm = await request();
    expect([warm.statusCode, warm.body]).toEqual([200, warm.body]);
    await server.directory.signIns.flush();
    const before = await statementCounts(server);
    const count = 250;
    for (let at = 0; at < count; at++) {
      const answer = await request();
      expect(answer.statusCode).toBe(200);
    }
    await server.directory.signIns.flush();
    const after = await statementCounts(server);
    // Only the sign-in log wrote meanwhile (by time, every flushIntervalMs): inserts, in transactions of their own.
    const grown = new Map(
      [...after]
        .map(([kind, value]) => [kind, value - (before.get(kind) ?? 0)] as const)
        .filter(([, delta]) => delta !== 0),
    );
    expect(
      [...grown.keys()].filter((kind) => !['insert/ok', 'begin/ok', 'commit/ok'].includes(kind)),
    ).toEqual([]);
    expect(grown.get('begin/ok') ?? 0).toBe(grown.get('commit/ok') ?? 0);
    expect(grown.get('insert/ok')).toBeGreaterThan(0);
    const stored = await allSignIns(repository, scenario.tenantId);
    const latest = stored.slice(0, count);
    expect(latest).toHaveLength(count);
    for (const record of latest) {
      expect(record).toMatchObject({
        tenantId: scenario.tenantId,
        userId: null,
        userPrincipalName: null,
        userDisplayName: null,
        appId: scenario.daemon.appId,
        appDisplayName: expect.any(String) as string,
        resourceId: scenario.api.appId,
        resourceDisplayName: expect.any(String) as string,
        ipAddress: '127.0.0.1',
        clientAppUsed: 'Mobile Apps and Desktop clients',
        isInteractive: false,
        errorCode: 0,
        failureReason: null,
      });
    }
    const daemon = await server.directory.applications.require(scenario.daemon.appId);
    const api = await server.directory.applications.require(scenario.api.appId);
    expect(latest[0]?.appDisplayName).toBe(daemon.displayName);
    expect(latest[0]?.resourceDisplayName).toBe(api.displayName);
  });
});

describe('the sign-in log buffer', () => {
  interface Write {
    readonly records: readonly SignInRecord[];
    readonly rowsPerStatement: number | undefined;
  }
  /** A repository that records each write; `fail(n)` makes the next n writes fail, `hold()` blocks the next. */
  function fakeRepository() {
    const writes: Write[] = [];
    let failures = 0;
    let hold: Promise<void> | undefined;
    const repository = {
      insertSignIns: async (records: readonly SignInRecord[], rowsPerStatement?: number) => {
        if (hold !== undefined) await hold;
        if (failures > 0) {
          failures -= 1;
          throw new Error('storage unavailable');
        }
        writes.push({ records: [...records], rowsPerStatement });
      },
    } as unknown as AuditLogRepository;
    return {
      repository,
      writes,
      sizes: () => writes.map((write) => write.records.length),
      fail: (count: number) => {
        failures = count;
      },
      hold: () => {
        let release: () => void = () => undefined;
        hold = new Promise<void>((resolve) => (release = resolve));
        return () => {
          hold = undefined;
          release();
        };
      },
    };
  }
  const tenantId = randomUUID();
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  it('one flush is one write of every buffered record, batchSize rows a statement', async () => {
    const fake = fakeRepository();
    const log = new SignInLog(fake.repository, Date.now, () => undefined, {
      batchSize: 300,
      flushIntervalMs: 3_600_000,
    });
    for (let at = 0; at < 1200; at++) log.record(newSignIn(tenantId, at));
    await Promise.resolve();
    expect(fake.sizes()).toEqual([]);
    await log.flush();
    expect(fake.sizes()).toEqual([1200]);
    expect(fake.writes[0]?.rowsPerStatement).toBe(300);
    expect(fake.writes[0]?.records.map((record) => record.correlationId)).toEqual(
      Array.from({ length: 1200 }, (_, at) => fake.writes[0]?.records[at]?.correlationId),
    );
  });

  it('writes by time: flushIntervalMs after the first record, not at every few records', async () => {
    const fake = fakeRepository();
    const log = new SignInLog(fake.repository, Date.now, () => undefined, { flushIntervalMs: 40 });
    for (let at = 0; at < 450; at++) log.record(newSignIn(tenantId, at));
    await sleep(5);
    expect(fake.sizes()).toEqual([]);
    await sleep(120);
    expect(fake.sizes()).toEqual([450]);
    await log.close();
    expect(fake.sizes()).toEqual([450]);
  });

  it('flushAtRecords buffered records start a write at once', async () => {
    const fake = fakeRepository();
    const log = new SignInLog(fake.repository, Date.now, () => undefined, {
      flushIntervalMs: 3_600_000,
      flushAtRecords: 4,
    });
    for (let at = 0; at < 3; at++) log.record(newSignIn(tenantId, at));
    await sleep(0);
    expect(fake.sizes()).toEqual([]);
    log.record(newSignIn(tenantId, 3));
    await sleep(0);
    expect(fake.sizes()).toEqual([4]);
    await log.close();
  });

  it('records buffered during a write go in the next one; flushes meanwhile join one queued write', async () => {
    const fake = fakeRepository();
    const log = new SignInLog(fake.repository, Date.now, () => undefined, {
      flushIntervalMs: 3_600_000,
      flushAtRecords: 2,
    });
    const release = fake.hold();
    log.record(newSignIn(tenantId, 0));
    log.record(newSignIn(tenantId, 1));
    await sleep(0);
    for (let at = 2; at < 12; at++) log.record(newSignIn(tenantId, at));
    const first = log.flush();
    const second = log.flush();
    expect(second).toBe(first);
    release();
    await second;
    expect(fake.sizes()).toEqual([2, 10]);
    await log.close();
    expect(fake.sizes()).toEqual([2, 10]);
  });

  it('a failed write keeps its records and is retried by the timer, not by every new record', async () => {
    const fake = fakeRepository();
    const reports: string[] = [];
    const log = new SignInLog(fake.repository, Date.now, (_error, what) => reports.push(what), {
      flushIntervalMs: 50,
      flushAtRecords: 2,
    });
    fake.fail(1);
    let attempts = 0;
    const insert = fake.repository.insertSignIns.bind(fake.repository);
    fake.repository.insertSignIns = (records, rows) => {
      attempts += 1;
      return insert(records, rows);
    };
    log.record(newSignIn(tenantId, 0));
    log.record(newSignIn(tenantId, 1));
    await sleep(0);
    expect(attempts).toBe(1);
    for (let at = 2; at < 40; at++) log.record(newSignIn(tenantId, at));
    await sleep(0);
    expect(attempts).toBe(1);
    expect(reports).toEqual(['write failed']);
    await sleep(150);
    expect(attempts).toBe(2);
    expect(fake.sizes()).toEqual([40]);
    await log.close();
  });

  it('ids are GUIDs that sort by time (version 7, RFC 9562 §5.7), taken from the log clock', async () => {
    const times = [0, 1, 1_700_000_000_000, 1_700_000_000_001, 1_800_000_000_000, 2 ** 48 - 1];
    const ids = times.map((ms) => timeOrderedId(ms));
    for (const [index, id] of ids.entries()) {
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(parseInt(id.replace('-', '').slice(0, 12), 16)).toBe(times[index]);
    }
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(Array.from({ length: 1000 }, () => timeOrderedId(5))).size).toBe(1000);
    const fake = fakeRepository();
    const log = new SignInLog(
      fake.repository,
      () => 1_750_000_000_123,
      () => undefined,
    );
    log.record(newSignIn(tenantId, 0));
    await log.flush();
    const id = fake.writes[0]?.records[0]?.id ?? '';
    expect(parseInt(id.replace('-', '').slice(0, 12), 16)).toBe(1_750_000_000_123);
  });

  it('statement sizes: full statements, then distinct powers of two', () => {
    expect(statementSizes(0, 500)).toEqual([]);
    expect(statementSizes(1, 500)).toEqual([1]);
    expect(statementSizes(37, 500)).toEqual([32, 4, 1]);
    expect(statementSizes(1234, 500)).toEqual([500, 500, 128, 64, 32, 8, 2]);
    expect(statementSizes(6, 1)).toEqual([1, 1, 1, 1, 1, 1]);
    for (const count of [499, 500, 501, 4999]) {
      expect(statementSizes(count, 500).reduce((sum, size) => sum + size, 0)).toBe(count);
    }
  });
});
