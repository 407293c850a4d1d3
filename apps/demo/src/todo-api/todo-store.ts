import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';

/** A todo of one user (`tid` + `oid`: the same person is another owner in another tenant). */
export interface Todo {
  readonly id: string;
  readonly title: string;
  readonly done: boolean;
  /** ISO 8601 creation time. */
  readonly createdAt: string;
}

/** A chat message of a tenant's team (kept so that a restart keeps the history). */
export interface ChatMessage {
  readonly id: string;
  /** `oid` of the author. */
  readonly userId: string;
  readonly userName: string;
  readonly text: string;
  /** ISO 8601 time it was sent. */
  readonly sentAt: string;
}

interface TodoTable {
  id: string;
  tenant_id: string;
  user_id: string;
  title: string;
  done: number;
  created_at: string;
}

interface MessageTable {
  id: string;
  tenant_id: string;
  user_id: string;
  user_name: string;
  text: string;
  sent_at: string;
}

interface TodoDatabase {
  todos: TodoTable;
  chat_messages: MessageTable;
}

/** Longest todo title, in characters. */
export const MAX_TITLE_CHARS = 200;
/** Most todos one user may hold. */
export const MAX_TODOS_PER_USER = 500;
/** Chat messages kept per tenant (older ones are deleted as new ones arrive). */
export const CHAT_HISTORY_PER_TENANT = 100;

/**
 * The Todo API's own data, in its own SQLite file (not the identity server's database): todos per user and the
 * team chat's history per tenant. Every query is scoped by the caller's `tid` (and `oid` for todos), taken from
 * a validated access token, never from the request.
 */
export class TodoStore {
  private constructor(private readonly db: Kysely<TodoDatabase>) {}

  /** Opens (creating when missing) the database file and its tables. */
  static async open(file: string): Promise<TodoStore> {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    const database = new SQLite(file);
    database.pragma('journal_mode = WAL');
    const db = new Kysely<TodoDatabase>({ dialect: new SqliteDialect({ database }) });
    await db.schema
      .createTable('todos')
      .ifNotExists()
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('tenant_id', 'text', (c) => c.notNull())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('title', 'text', (c) => c.notNull())
      .addColumn('done', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('todos_owner')
      .ifNotExists()
      .on('todos')
      .columns(['tenant_id', 'user_id', 'created_at'])
      .execute();
    await db.schema
      .createTable('chat_messages')
      .ifNotExists()
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('tenant_id', 'text', (c) => c.notNull())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('user_name', 'text', (c) => c.notNull())
      .addColumn('text', 'text', (c) => c.notNull())
      .addColumn('sent_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('chat_messages_tenant')
      .ifNotExists()
      .on('chat_messages')
      .columns(['tenant_id', 'sent_at'])
      .execute();
    return new TodoStore(db);
  }

  /** The user's todos, oldest first. */
  async list(tenantId: string, userId: string): Promise<Todo[]> {
    const rows = await this.db
      .selectFrom('todos')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('user_id', '=', userId)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(toTodo);
  }

  /**
   * Adds a todo.
   *
   * @returns the todo, or undefined when the user already holds {@link MAX_TODOS_PER_USER}.
   */
  async add(tenantId: string, userId: string, title: string): Promise<Todo | undefined> {
    return this.db.transaction().execute(async (trx) => {
      const count = await trx
        .selectFrom('todos')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('tenant_id', '=', tenantId)
        .where('user_id', '=', userId)
        .executeTakeFirstOrThrow();
      if (count.n >= MAX_TODOS_PER_USER) return undefined;
      const row: TodoTable = {
        id: randomUUID(),
        tenant_id: tenantId,
        user_id: userId,
        title,
        done: 0,
        created_at: new Date().toISOString(),
      };
      await trx.insertInto('todos').values(row).execute();
      return toTodo(row);
    });
  }

  /** Marks a todo of the user done or not; undefined when the user has no such todo. */
  async setDone(tenantId: string, userId: string, id: string, done: boolean): Promise<Todo | undefined> {
    const row = await this.db
      .updateTable('todos')
      .set({ done: done ? 1 : 0 })
      .where('id', '=', id)
      .where('tenant_id', '=', tenantId)
      .where('user_id', '=', userId)
      .returningAll()
      .executeTakeFirst();
    return row === undefined ? undefined : toTodo(row);
  }

  /** Deletes a todo of the user; false when the user has no such todo. */
  async remove(tenantId: string, userId: string, id: string): Promise<boolean> {
    const result = await this.db
      .deleteFrom('todos')
      .where('id', '=', id)
      .where('tenant_id', '=', tenantId)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  /** How many todos a tenant holds, open and done (the report daemon's figure). */
  async tenantSummary(tenantId: string): Promise<{ users: number; open: number; done: number }> {
    const row = await this.db
      .selectFrom('todos')
      .select([
        sql<number>`count(distinct user_id)`.as('users'),
        sql<number>`coalesce(sum(case when done = 0 then 1 else 0 end), 0)`.as('open'),
        sql<number>`coalesce(sum(done), 0)`.as('done'),
      ])
      .where('tenant_id', '=', tenantId)
      .executeTakeFirstOrThrow();
    return { users: row.users, open: row.open, done: row.done };
  }

  /** Appends a chat message and trims the tenant's history to {@link CHAT_HISTORY_PER_TENANT}. */
  async addMessage(tenantId: string, message: Omit<ChatMessage, 'id' | 'sentAt'>): Promise<ChatMessage> {
    const row: MessageTable = {
      id: randomUUID(),
      tenant_id: tenantId,
      user_id: message.userId,
      user_name: message.userName,
      text: message.text,
      sent_at: new Date().toISOString(),
    };
    await this.db.transaction().execute(async (trx) => {
      await trx.insertInto('chat_messages').values(row).execute();
      const keep = trx
        .selectFrom('chat_messages')
        .select('id')
        .where('tenant_id', '=', tenantId)
        .orderBy('sent_at', 'desc')
        .orderBy('id', 'desc')
        .limit(CHAT_HISTORY_PER_TENANT);
      await trx
        .deleteFrom('chat_messages')
        .where('tenant_id', '=', tenantId)
        .where('id', 'not in', keep)
        .execute();
    });
    return toMessage(row);
  }

  /** The tenant's chat history, oldest first. */
  async messages(tenantId: string): Promise<ChatMessage[]> {
    const rows = await this.db
      .selectFrom('chat_messages')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .orderBy('sent_at')
      .orderBy('id')
      .execute();
    return rows.map(toMessage);
  }

  /** Deletes the tenant's chat history (the moderator's action); returns how many messages went. */
  async clearMessages(tenantId: string): Promise<number> {
    const result = await this.db
      .deleteFrom('chat_messages')
      .where('tenant_id', '=', tenantId)
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }
}

function toTodo(row: TodoTable): Todo {
  return { id: row.id, title: row.title, done: row.done !== 0, createdAt: row.created_at };
}

function toMessage(row: MessageTable): ChatMessage {
  return { id: row.id, userId: row.user_id, userName: row.user_name, text: row.text, sentAt: row.sent_at };
}
