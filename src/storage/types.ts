/**
 * @module types
 * The vocabulary both protocol adapters share with the storage engine:
 * parameters in, results out, and expected failures as data (they cross the
 * Durable Object RPC boundary, which keeps only an Error's message).
 * All times are integer milliseconds, multiples of 10.
 */

/**
 * Which protocol's rules apply where 1.1 and 1.5 differ: TTL arithmetic
 * (1.1: whole seconds of wall clock; 1.5: the request timestamp), payload
 * size (1.1: characters; 1.5: UTF-8 bytes) and partial-update semantics.
 */
export type Dialect = "1.1" | "1.5";

/** A record's writable fields, already validated and converted by the adapter. */
export interface RecordFields {
  id: string;
  payload?: string;
  sortindex?: number;
  parentid?: string;
  predecessorid?: string;
  /** Seconds to live. */
  ttl?: number;
}

/** A stored record as returned to adapters (never expiry or size). */
export interface StoredRecord {
  id: string;
  modified: number | null;
  payload: string | null;
  sortindex: number | null;
  parentid: string | null;
  predecessorid: string | null;
}

export type SortOrder = "oldest" | "newest" | "index";

/** Record selection shared by GET and DELETE of a collection. */
export interface RecordFilter {
  collection: string;
  ids?: string[];
  parentid?: string;
  predecessorid?: string;
  /** modified > newer */
  newer?: number;
  /** modified < older */
  older?: number;
  /** sortindex > indexAbove */
  indexAbove?: number;
  /** sortindex < indexBelow */
  indexBelow?: number;
  sort?: SortOrder;
  /** Absent: no limit. */
  limit?: number;
  /** Rows to skip (applied only together with a limit or when given explicitly). */
  offset?: number;
}

export interface ListParams extends RecordFilter {
  dialect: Dialect;
  /** Return whole records, not only ids. */
  full: boolean;
}

export interface Preconditions {
  /** Fail with "precondition-failed" when the resource changed after this time. */
  ifUnmodifiedSince?: number;
}

export interface QuotaParams {
  /** Refuse writes once stored payload reaches this many units (characters or bytes). Null: no quota. */
  quota: number | null;
}

export interface PutParams extends Preconditions, QuotaParams {
  dialect: Dialect;
  collection: string;
  record: RecordFields;
  /**
   * A body problem the adapter found, reported only after quota and
   * preconditions pass (1.1 checks them first, storage-1.1 §8.7).
   */
  rejectAfterChecks?: number;
}

export interface PostParams extends Preconditions, QuotaParams {
  dialect: Dialect;
  collection: string;
  /** Valid records in request order. */
  records: RecordFields[];
  /** Per-id failures found by the adapter, reported as given. */
  failed: Record<string, string[]>;
  rejectAfterChecks?: number;
}

export interface DeleteParams extends RecordFilter, Preconditions {
  dialect: Dialect;
}

export type Failure =
  | { kind: "precondition-failed"; lastModified: number }
  | { kind: "over-quota" }
  | { kind: "rejected"; code: number }
  | { kind: "not-found" };

export type Result<T> = ({ ok: true } & T) | { ok: false; failure: Failure; ts: number };

export interface Stamped {
  /** The request's timestamp: every write of the request carries it. */
  ts: number;
}

export interface PutResult extends Stamped {
  /** The record's modified after the write (null for a 1.1 payload-less insert). */
  modified: number | null;
  /** Stored payload units before the write, when a quota applies. */
  usedBefore?: number;
}

export interface PostResult extends Stamped {
  success: string[];
  failed: Record<string, string[]>;
  usedBefore?: number;
}
