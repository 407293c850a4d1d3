import type { TestServer } from '@tessera/testkit';
import { expect } from 'vitest';

/**
 * The server's database statements so far, from its `/metrics`: `tessera_db_query_duration_seconds_count` by
 * `kind/outcome` (for example `insert/ok`, `select/ok`). Tests take the difference of two readings to see which
 * statements a request ran.
 */
export async function statementCounts(server: TestServer): Promise<Map<string, number>> {
  const answer = await server.server.app.inject({ method: 'GET', url: '/metrics' });
  expect(answer.statusCode).toBe(200);
  const counts = new Map<string, number>();
  for (const match of answer.body.matchAll(
    /^tessera_db_query_duration_seconds_count\{kind="([a-z]+)",outcome="([a-z]+)"\} (\d+)$/gm,
  )) {
    counts.set(`${match[1]}/${match[2]}`, Number(match[3]));
  }
  return counts;
}
