/**
 * The two references of the paging benchmark. Raw SQL in process: the keyset query a `/v1.0/users?$top=100` page
 * needs, straight through the driver Tessera uses (better-sqlite3, or pg with one connection and a named
 * statement), on the same data, with nothing around it:
 * `SELECT <the page's columns> FROM users WHERE tenant_id = ? AND id > ? ORDER BY id LIMIT 101` (the columns
 * Tessera's page query reads, profile columns included where the table has them), the cursor of the next page
 * being the 100th row's id. Run pinned to the server core by run.mjs.
 *
 * With `httpPort` in the job it also serves the same pages over plain `node:http` (the bare endpoint: the most an
 * HTTP API of this page can reach, the benchmark's target for Tessera): `GET /v1.0/users?$top=N[&$skiptoken=…]` with `Authorization: Bearer`, the token's RS256/ES256
 * signature and lifetime checked by jose against `jwks` (Tessera's published keys) the first time the token is
 * seen and its `exp` on every later request (as Tessera remembers verified tokens), each row mapped to Graph's
 * default user properties, `JSON.stringify`, and a base64url keyset `$skiptoken` in `@odata.nextLink`. No
 * framework, no permission rules, no audit: what any HTTP endpoint of this page would at least cost.
 *
 * Protocol: argv[2] is a JSON job `{ dialect, sqlitePath | postgresUrl, tenantId, top, httpPort?, jwks? }`. It
 * prints `ready` and then, for every `pass` line on stdin, pages through the whole tenant once and prints one JSON
 * line `{ pageMs: number[], wallMs, rows }`; `explain` prints the query plan as one JSON line; stdin's end exits.
 */
import { Buffer } from 'node:buffer';
import { createServer } from 'node:http';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import Database from 'better-sqlite3';
import { createLocalJWKSet, jwtVerify } from 'jose';
import pg from 'pg';
import { USER_COLUMNS, USER_PROFILE_COLUMNS } from './seed.mjs';

const job = JSON.parse(process.argv[2]);
const limit = job.top + 1;
let columns = USER_COLUMNS.join(', ');

/** Adds the profile columns the `users` table has to the selected ones, as Tessera's page query reads them. */
function selectProfileColumns(present) {
  const profile = USER_PROFILE_COLUMNS.filter((column) => present.includes(column));
  columns = [...USER_COLUMNS, ...profile].join(', ');
}

/**
 * `query(after, rows = top + 1)` → rows of one page (the first page has no `id >` condition, as Tessera's first
 * page).
 */
async function openDriver() {
  if (job.dialect === 'sqlite') {
    const db = new Database(job.sqlitePath, { readonly: true });
    selectProfileColumns(db.pragma('table_info(users)').map((column) => column.name));
    const first = db.prepare(`select ${columns} from users where tenant_id = ? order by id limit ?`);
    const next = db.prepare(
      `select ${columns} from users where tenant_id = ? and id > ? order by id limit ?`,
    );
    return {
      query: async (after, rows = limit) =>
        after === undefined ? first.all(job.tenantId, rows) : next.all(job.tenantId, after, rows),
      explain: async () =>
        db
          .prepare(
            `explain query plan select ${columns} from users where tenant_id = ? and id > ? order by id limit ?`,
          )
          .all(job.tenantId, '', limit)
          .map((row) => row.detail),
    };
  }
  const client = new pg.Client({ connectionString: job.postgresUrl });
  await client.connect();
  const present = await client.query(
    "select column_name from information_schema.columns where table_name = 'users' and table_schema = current_schema()",
  );
  selectProfileColumns(present.rows.map((row) => row.column_name));
  const first = `select ${columns} from users where tenant_id = $1 order by id limit $2`;
  const next = `select ${columns} from users where tenant_id = $1 and id > $2 order by id limit $3`;
  return {
    query: async (after, rows = limit) =>
      (after === undefined
        ? await client.query({ name: 'first', text: first, values: [job.tenantId, rows] })
        : await client.query({ name: 'next', text: next, values: [job.tenantId, after, rows] })
      ).rows,
    explain: async () =>
      (await client.query(`explain ${next}`, [job.tenantId, '', limit])).rows.map((row) => row['QUERY PLAN']),
  };
}

const driver = await openDriver();

async function pass() {
  const pageMs = [];
  let rows = 0;
  let after;
  const started = performance.now();
  for (;;) {
    const pageStarted = performance.now();
    const page = await driver.query(after);
    const items = page.slice(0, job.top);
    after = page.length > job.top ? items.at(-1).id : undefined;
    pageMs.push(performance.now() - pageStarted);
    rows += items.length;
    if (after === undefined) break;
  }
  return { pageMs, wallMs: performance.now() - started, rows };
}

/** Graph's default properties of a user, from a row (what Tessera does not keep is null). */
function graphUser(row) {
  return {
    businessPhones: [],
    displayName: row.display_name,
    givenName: row.given_name ?? null,
    jobTitle: row.job_title ?? null,
    mail: row.mail ?? null,
    mobilePhone: null,
    officeLocation: null,
    preferredLanguage: null,
    surname: row.surname ?? null,
    userPrincipalName: row.user_principal_name,
    id: row.id,
  };
}

function serveHttp() {
  const keys = createLocalJWKSet(job.jwks);
  /** Tokens whose signature verified → their `exp` (seconds). */
  const verified = new Map();
  const base = `http://127.0.0.1:${job.httpPort}`;
  const send = (res, status, body) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };
  const server = createServer(async (req, res) => {
    try {
      const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      if (token === undefined) return send(res, 401, { error: { code: 'InvalidAuthenticationToken' } });
      const exp = verified.get(token);
      if (exp === undefined || exp <= Date.now() / 1000) {
        const { payload } = await jwtVerify(token, keys, { algorithms: ['RS256', 'ES256'] });
        verified.set(token, payload.exp ?? Number.POSITIVE_INFINITY);
      }
      const url = new URL(req.url, base);
      const top = Number(url.searchParams.get('$top') ?? 100);
      const skiptoken = url.searchParams.get('$skiptoken');
      const after = skiptoken === null ? undefined : Buffer.from(skiptoken, 'base64url').toString('utf8');
      const rows = await driver.query(after, top + 1);
      const items = rows.slice(0, top);
      const body = { '@odata.context': `${base}/v1.0/$metadata#users`, value: items.map(graphUser) };
      if (rows.length > top) {
        const next = new URL('/v1.0/users', base);
        next.searchParams.set('$top', String(top));
        next.searchParams.set('$skiptoken', Buffer.from(items.at(-1).id, 'utf8').toString('base64url'));
        body['@odata.nextLink'] = next.toString();
      }
      send(res, 200, body);
    } catch (error) {
      send(res, 500, { error: { code: 'generalException', message: String(error) } });
    }
  });
  // Idle between passes for longer than Node's default 5 s: keep the connection, as Tessera does (72 s).
  server.keepAliveTimeout = 120_000;
  return new Promise((resolve) => server.listen(job.httpPort, '127.0.0.1', resolve));
}

if (job.httpPort !== undefined) await serveHttp();
process.stdout.write('ready\n');
for await (const line of createInterface({ input: process.stdin })) {
  if (line === 'pass') process.stdout.write(`${JSON.stringify(await pass())}\n`);
  else if (line === 'explain') process.stdout.write(`${JSON.stringify(await driver.explain())}\n`);
}
process.exit(0);
