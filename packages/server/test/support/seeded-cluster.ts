import {
  createPostgresSchema,
  startCluster,
  startTestServer,
  type Cluster,
  type ClusterOptions,
  type PostgresSchema,
  type TestServer,
} from '@tessera/testkit';

/** A cluster of `tessera serve` processes on a PostgreSQL schema of its own, with what the test seeded. */
export interface SeededCluster<T> {
  readonly schema: PostgresSchema;
  readonly cluster: Cluster;
  readonly seeded: T;
  /** Stops every node, then drops the schema. */
  close(): Promise<void>;
}

/**
 * Creates a schema, starts the cluster on it ({@link startCluster}; `databaseUrl` is the schema's), then seeds it
 * through a server in this process on the same schema — the nodes see the seed at their next directory poll.
 * Whatever fails on the way is cleaned up before the error is rethrown.
 */
export async function startSeededCluster<T>(
  options: Omit<ClusterOptions, 'databaseUrl'>,
  seed: (seeder: TestServer) => Promise<T>,
): Promise<SeededCluster<T>> {
  const schema = await createPostgresSchema();
  let cluster: Cluster | undefined;
  try {
    cluster = await startCluster({ ...options, databaseUrl: schema.url });
    const seeder = await startTestServer({ databaseUrl: schema.url });
    let seeded: T;
    try {
      seeded = await seed(seeder);
    } finally {
      await seeder.close();
    }
    const started = cluster;
    return {
      schema,
      cluster: started,
      seeded,
      async close() {
        await started.close();
        await schema.drop();
      },
    };
  } catch (error) {
    await cluster?.close();
    await schema.drop();
    throw error;
  }
}
