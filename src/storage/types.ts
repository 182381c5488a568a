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
  /**
   * 1.5 only: fail with "not-modified" when the resource did not change after
   * this time (storage-1.5 §12.1). The resource (BSO, collection or storage)
   * is implied by the operation.
   */
  ifModifiedSince?: number;
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
  /**
   * Check the precondition before the quota (1.1 checks the quota first for
   * a PUT, but a POST of a lone object checks its precondition before
   * handing over to PUT: storage-1.1 §8.8 step 1, then §8.7).
   */
  preconditionFirst?: boolean;
}

export interface PostParams extends Preconditions, QuotaParams {
  dialect: Dialect;
  collection: string;
  /** Valid records in request order. */
  records: RecordFields[];
  /** Per-id failures found by the adapter, reported as given. */
  failed: Record<string, string[]>;
  rejectAfterChecks?: number;
  /**
   * 1.5 batch upload (storage-1.5 §9). Absent: an ordinary POST (also for
   * `batch=true&commit=true`). `id: null` starts a new batch.
   */
  batch?: { id: string | null; commit: boolean };
}

export interface DeleteParams extends RecordFilter, Preconditions {
  dialect: Dialect;
}

export type Failure =
  | { kind: "precondition-failed"; lastModified: number }
  /** 1.5 X-If-Modified-Since: the resource did not change (304). */
  | { kind: "not-modified"; lastModified: number }
  | { kind: "over-quota" }
  | { kind: "rejected"; code: number }
  | { kind: "not-found" }
  /** 1.5: the batch id is unknown, expired, committed, or belongs to another collection. */
  | { kind: "batch-not-found" };

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
  /** 1.5: set when the records were staged into this batch (not yet visible, 202). */
  batch?: string;
  /**
   * 1.5: the collection's last-modified after the request: T for a write or
   * commit, the unchanged value when only staging (storage-1.5 §5.5).
   */
  lastModified?: number;
}

// ------------------------------------------------------------------ 1.5 additions

/**
 * 1.5 read results carry the last-modified time of the resource the
 * preconditions were checked against (X-Last-Modified, storage-1.5 §5.5).
 */
export interface LastModified {
  lastModified: number;
}

export type InfoView = "collections" | "counts" | "usage" | "quota";

/** 1.5 storage-level reads: `info/*` (storage-1.5 §6.1-6.4). */
export interface InfoParams extends Preconditions {
  view: InfoView;
}

export interface InfoResult extends Stamped, LastModified {
  /** view "collections": name and collection timestamp, tombstones excluded. */
  collections?: Array<[string, number]>;
  /** views "counts" and "usage": live records and payload bytes per collection. */
  totals?: Array<{ name: string; records: number; bytes: number }>;
  /** view "quota": payload bytes of all live records. */
  used?: number;
}

/** 1.5 collection listing (storage-1.5 §7). */
export interface QueryParams extends RecordFilter, Preconditions {
  full: boolean;
  /**
   * Most rows one answer may hold; when more match, the result says where
   * the next page starts (X-Weave-Next-Offset, storage-1.5 §7.3).
   */
  pageCap: number;
  /**
   * Full listings only: stop the page once the payload bytes of its records
   * would exceed this (at least one record is always returned), so that an
   * answer fits the Durable Object RPC and Worker memory. Absent: no cap.
   */
  pageBytes?: number;
  /**
   * From a `ms:n` offset token: keep rows with modified <= ms (newest and
   * default order) or >= ms (oldest); ignored for sort=index.
   */
  offsetBound?: number;
}

export interface QueryResult extends Stamped, LastModified {
  records: StoredRecord[];
  /** Rows to skip for the next page, when there is one. */
  nextOffset?: number;
}

export interface GetParams extends Preconditions {
  collection: string;
  id: string;
}

export interface GetResult extends Stamped, LastModified {
  record: StoredRecord;
}

/** 1.5 DELETE of a collection (no `ids`) or of some of its records (storage-1.5 §10.1). */
export interface DeleteCollectionParams extends Preconditions {
  collection: string;
  ids?: string[];
}

export interface DeleteResult extends Stamped, LastModified {}
