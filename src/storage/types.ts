/**
 * @module types
 * The vocabulary both protocol adapters share with the storage engine:
 * parameters in, results out, and expected failures as data (they cross the
 * Durable Object RPC boundary, which keeps only an Error's message).
 * All times are integer milliseconds, multiples of 10. Nothing here names a
 * protocol: where the protocols differ, the store's profile decides
 * (src/storage/profile.ts).
 */

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

/** Record selection shared by listings and deletions of a collection. */
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
  /** Rows to skip. */
  offset?: number;
}

/**
 * Conditions checked against the last-modified time of the resource the
 * operation addresses (the storage, a collection or a record; which level
 * answers for a record is the profile's), inside the operation's transaction.
 */
export interface Preconditions {
  /** Fail with "precondition-failed" when the resource changed after this time. */
  ifUnmodifiedSince?: number;
  /** Fail with "not-modified" when the resource did not change after this time. */
  ifModifiedSince?: number;
}

export interface QuotaParams {
  /**
   * Refuse writes once stored units reach this many (profile units; records
   * staged in open batches count as stored). Null: no quota.
   */
  quota: number | null;
}

export interface ListParams extends RecordFilter, Preconditions {
  /** Return whole records, not only ids. */
  full: boolean;
  /**
   * Most rows one answer may hold; when more match, the result says where
   * the next page starts (`nextOffset`). Absent: no cap.
   */
  pageCap?: number;
  /**
   * Stop the page once the units its records occupy (full: payload, ids,
   * overhead, `recordSize` in schema.ts; ids only: id and overhead) would
   * exceed this (at least one record is always returned), so that an answer
   * fits the Durable Object RPC and Worker memory. Absent: no cap.
   */
  pageBytes?: number;
  /**
   * From a `ms:n` offset token: keep rows with modified <= ms (newest and
   * default order) or >= ms (oldest); ignored for sort=index.
   */
  offsetBound?: number;
  /**
   * Continue after this row of an earlier page (its `cursor`), in the same
   * order: unlike an offset, rows deleted or added before it meanwhile do not
   * shift the page. Use without `offset`.
   */
  after?: ListCursor;
  /** When the listing does not fit one page, also count every row it selects (`total`). */
  count?: boolean;
}

/** Where a listing stopped: the last row's sort value and tie-break. */
export interface ListCursor {
  key: number | null;
  tie: number | string;
}

export interface RecordParams extends Preconditions {
  collection: string;
  id: string;
}

export interface PutParams extends Preconditions, QuotaParams {
  collection: string;
  record: RecordFields;
  /**
   * A body problem the adapter found, reported as "rejected" at its place in
   * the profile's check order (1.1 checks quota and preconditions first,
   * storage-1.1 §8.7).
   */
  rejectAfterChecks?: number;
  /**
   * Check the precondition before everything else (a 1.1 POST of a lone
   * object checks its precondition before handing over to PUT:
   * storage-1.1 §8.8 step 1, then §8.7).
   */
  preconditionFirst?: boolean;
}

export interface PostParams extends Preconditions, QuotaParams {
  collection: string;
  /** Valid records in request order. */
  records: RecordFields[];
  rejectAfterChecks?: number;
  /**
   * Batch upload (storage-1.5 §9). Absent: an ordinary POST (also
   * `{ id: null, commit: true }`). `id: null` starts a new batch.
   */
  batch?: { id: string | null; commit: boolean };
  /**
   * Most records and payload units one batch may accumulate over all its
   * requests (storage-1.5 §9.5); a request that would pass either is refused
   * with "too-large" and stages nothing. Absent: no limit.
   */
  batchLimits?: { records: number; bytes: number };
}

export interface DeleteParams extends RecordFilter, Preconditions {}

export type InfoView = "collections" | "counts" | "usage" | "quota";

/** Storage-level reads: `info/*`. */
export interface InfoParams extends Preconditions {
  view: InfoView;
}

export type Failure =
  | { kind: "precondition-failed"; lastModified: number }
  /** X-If-Modified-Since: the resource did not change (304). */
  | { kind: "not-modified"; lastModified: number }
  | { kind: "over-quota" }
  | { kind: "rejected"; code: number }
  | { kind: "not-found" }
  /** The batch id is unknown, expired, committed, or belongs to another collection. */
  | { kind: "batch-not-found" }
  /** A batch would exceed its totals (PostParams.batchLimits). */
  | { kind: "too-large" };

export type Result<T> = ({ ok: true } & T) | { ok: false; failure: Failure; ts: number };

/** Every successful result: the request's timestamp and its resource's last-modified. */
export interface Stamped {
  /** The request's timestamp: every write of the request carries it. */
  ts: number;
  /**
   * Reads and refused writes: the last-modified of the resource the
   * preconditions were checked against (X-Last-Modified, storage-1.5 §5.5).
   * Writes: T, except where the operation says otherwise.
   */
  lastModified: number;
}

export interface InfoResult extends Stamped {
  /**
   * view "collections": name and timestamp per collection (storage-1.1 §8.1:
   * newest record, expired included, null when no record has one;
   * storage-1.5 §6.1: the collection's own timestamp).
   */
  collections?: Array<[string, number | null]>;
  /** views "counts" and "usage": live records and payload units per collection. */
  totals?: Array<{ name: string; records: number; bytes: number }>;
  /** view "quota": units of all live records. */
  used?: number;
}

export interface ListResult extends Stamped {
  records: StoredRecord[];
  /** Rows to skip for the next page, when there is one. */
  nextOffset?: number;
  /** Where the next page starts (ListParams.after), when there is one. */
  cursor?: ListCursor;
  /** With ListParams.count, when there is a next page: rows the listing selects in all (limit and offset applied). */
  total?: number;
}

export interface GetResult extends Stamped {
  record: StoredRecord;
}

export interface PutResult extends Stamped {
  /** The record's modified after the write (null for a 1.1 payload-less insert). */
  modified: number | null;
  /** Stored units before the write, when a quota applies. */
  usedBefore?: number;
}

export interface PostResult extends Stamped {
  /** Ids written (or staged), in request order. */
  success: string[];
  usedBefore?: number;
  /**
   * Set when the records were staged into this batch (not yet visible, 202);
   * `lastModified` is then the collection's unchanged timestamp.
   */
  batch?: string;
}

export type DeleteResult = Stamped;
