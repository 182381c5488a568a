/**
 * @module sql
 * The structural SQL port the storage engine runs on: synchronous exec and a
 * synchronous transaction. The Durable Object implementation wraps
 * `ctx.storage.sql`; nothing else in the engine knows about Durable Objects.
 */
import { utf8Length } from "../lib/utf8";

export type SqlValue = string | number | null | ArrayBuffer;
export type Row = Record<string, SqlValue>;

export interface SqlPort {
  /** Runs one statement; returns its rows (empty for writes). */
  all<T extends Row = Row>(query: string, ...bindings: SqlValue[]): T[];
  /**
   * Runs one statement; yields its rows as they are read (stop early to read
   * no more), each as an array of its columns in order: no keyed object per
   * row, for the statements that read thousands (listings).
   */
  each(query: string, ...bindings: SqlValue[]): Iterable<SqlValue[]>;
  /** Runs one statement; returns the first row or null. */
  one<T extends Row = Row>(query: string, ...bindings: SqlValue[]): T | null;
  /** Runs one statement; returns the number of rows it wrote. */
  run(query: string, ...bindings: SqlValue[]): number;
  /** Runs `fn` atomically: all of its writes land, or none. `fn` must be synchronous. */
  transaction<T>(fn: () => T): T;
}

/** Characters SQLite's JSON reader and a direct binding may store differently: NUL and surrogates. */
const NOT_VIA_JSON = /[\u0000\ud800-\udfff]/;

/**
 * Whether a value bound as an element of a JSON text (read back with `->>`)
 * is stored exactly as the value bound directly: null, a string free of
 * {@link NOT_VIA_JSON}, or a safe integer.
 */
export function passesJson(v: SqlValue): boolean {
  if (typeof v === "string") return !NOT_VIA_JSON.test(v);
  return v === null || (typeof v === "number" && Number.isSafeInteger(v));
}

/**
 * Most UTF-8 bytes of one JSON text of rows bound as one value: well under
 * the largest string a Durable Object's SQLite takes (2 MB).
 */
export const JSON_ROWS_MAX_BYTES = 1_000_000;

/**
 * Rows in their order, as runs to bind as one JSON text each (`json`, at
 * most {@link JSON_ROWS_MAX_BYTES}); a row whose own text is larger comes
 * alone as `row`, to be bound value by value.
 */
export function* jsonRuns(rows: readonly SqlValue[][]): Generator<{ json: string } | { row: readonly SqlValue[] }> {
  let parts: string[] = [];
  let bytes = 2;
  for (const row of rows) {
    const text = JSON.stringify(row);
    const size = utf8Length(text) + 1;
    if (parts.length > 0 && bytes + size > JSON_ROWS_MAX_BYTES) {
      yield { json: `[${parts.join(",")}]` };
      parts = [];
      bytes = 2;
    }
    if (size + 2 > JSON_ROWS_MAX_BYTES) {
      yield { row };
      continue;
    }
    parts.push(text);
    bytes += size;
  }
  if (parts.length > 0) yield { json: `[${parts.join(",")}]` };
}

/** A SQL failure carrying the statement text (never the bound values, which may hold user data). */
export class SqlError extends Error {
  constructor(
    readonly query: string,
    override readonly cause: unknown,
  ) {
    super(`${cause instanceof Error ? cause.message : String(cause)} [in: ${query.replace(/\s+/g, " ").trim()}]`);
    this.name = "SqlError";
  }
}

/** SqlPort over a SQLite-backed Durable Object's storage. */
export function durableObjectSql(storage: DurableObjectStorage): SqlPort {
  const sql = storage.sql;
  const exec = (query: string, bindings: SqlValue[]) => {
    try {
      return sql.exec(query, ...bindings);
    } catch (err) {
      throw new SqlError(query, err);
    }
  };
  return {
    all<T extends Row>(query: string, ...bindings: SqlValue[]): T[] {
      return exec(query, bindings).toArray() as T[];
    },
    each(query: string, ...bindings: SqlValue[]): Iterable<SqlValue[]> {
      return exec(query, bindings).raw() as Iterable<SqlValue[]>;
    },
    one<T extends Row>(query: string, ...bindings: SqlValue[]): T | null {
      const rows = exec(query, bindings).toArray();
      return (rows[0] as T | undefined) ?? null;
    },
    run(query: string, ...bindings: SqlValue[]): number {
      const cursor = exec(query, bindings);
      // Drain the cursor so that rowsWritten is final.
      for (const _ of cursor) void _;
      return cursor.rowsWritten;
    },
    transaction<T>(fn: () => T): T {
      return storage.transactionSync(() => {
        const r = fn();
        if (r instanceof Promise) throw new Error("transaction callbacks must be synchronous");
        return r;
      });
    },
  };
}
