/**
 * @module profile
 * What differs between the two protocols, as data fixed once per store.
 *
 * Each user's Durable Object serves exactly one protocol family for its whole
 * life (1.1 accounts are named `acct:<userid>`, 1.5 token users `uid:<uid>`;
 * see `storageName` in src/env.ts), so the engine is built with one
 * {@link Profile} and never asks which protocol it serves. The profile is
 * derived from the object's name on first use and recorded in `meta.protocol`
 * (docs/storage-schema.md); a recorded profile always wins, and a name that
 * disagrees with it is a bug, refused loudly.
 */
import { utf8Length } from "../lib/utf8";

export type Protocol = "1.1" | "1.5";

/** Checks an operation may run before its writes; their order is part of the protocol. */
export type CheckName = "precondition" | "quota" | "verdict" | "batch";

/** A listing's order by name (no `sort`: "default"). */
export type SortKey = "oldest" | "newest" | "index" | "default";

/**
 * A listing order: a column (none: the tie-break alone) and a unique
 * tie-break. SQLite puts NULLs first in ascending and last in descending order.
 */
export interface Order {
  column: "modified" | "sortindex" | null;
  dir: "ASC" | "DESC";
  tie: "seq" | "id";
  tieDir: "ASC" | "DESC";
}

export interface Profile {
  readonly protocol: Protocol;
  /** `meta.protocol` value recorded for this profile (meta holds integers). */
  readonly code: number;

  /** Size of a payload in quota units: 1.1 counts characters (UTF-16 units), 1.5 UTF-8 bytes. */
  payloadSize(payload: string): number;
  /**
   * What the quota counts (and `info/quota` reports): `payload` (1.5, as
   * syncstorage-rs: payload bytes) or `record` (1.1: what a record really
   * occupies, its payload plus its id, parentid, predecessorid and a fixed
   * overhead; see `recordSize` in src/storage/schema.ts), so that records
   * with empty payloads cannot fill a store for free.
   */
  readonly quotaCounts: "payload" | "record";
  /**
   * The instant TTLs count from and visibility is judged at, for a request
   * stamped `ts` arriving at wall clock `wallMs`: 1.1 uses whole seconds of
   * wall clock (storage-1.1 §12), 1.5 the request's timestamp (storage-1.5 §4.2).
   */
  visibleAt(ts: number, wallMs: number): number;

  /**
   * Timestamp levels. `true` (1.5, storage-1.5 §5.3): a collection has its own
   * timestamp, set by every write that touches it and kept after its records
   * go; deletions of collections or of the storage leave a tombstone; record
   * operations check preconditions against the record. `false` (1.1,
   * storage-1.1 §8.1, §10): a collection's timestamp is its newest record,
   * expired ones included, and every precondition is checked against it.
   */
  readonly collectionStamps: boolean;

  /**
   * Upsert of absent fields. 1.1 (storage-1.1 §8.7): an expired row is
   * updated in place, an insert leaves unsupplied fields NULL, the expiry is
   * recomputed from `ttl` on every write (absent: never), and `modified` moves
   * only with a payload (PUT) or always (POST). 1.5 (storage-1.5 §8.1): an
   * expired row counts as absent and is recreated from defaults (payload "",
   * modified T), a live one keeps unsupplied fields including its expiry, and
   * `modified` moves with a payload or sortindex.
   */
  readonly upsert: {
    replaceExpired: boolean;
    defaultPayload: string | null;
    /** Whether the write sets `modified` to T on an existing record. */
    stamps(fields: { payload?: unknown; sortindex?: unknown }, op: "put" | "post"): boolean;
    /** Whether an insert sets `modified` to T even when `stamps` says no. */
    stampsInserts: boolean;
    /** Whether a write without `ttl` makes the record permanent again. */
    resetsExpiry: boolean;
  };

  /** Each listing order, tie-break included. */
  readonly order: Record<SortKey, Order>;

  /** Check order of a PUT and of a POST (storage-1.1 §8.7, §8.8; storage-1.5 §8.1, §8.2, §9). */
  readonly checks: { put: readonly CheckName[]; post: readonly CheckName[] };

  /**
   * Expired rows: 1.1 keeps them present for info/collections, preconditions
   * and deletes until purged (the reference never purged); 1.5 treats them as
   * gone everywhere and purges them by alarm.
   */
  readonly expiredCountAsPresent: boolean;
  /** DELETE of a record that is not there: 1.1 succeeds, 1.5 answers not-found. */
  readonly absentDeleteFails: boolean;
  /** Expired records are physically removed by the object's alarm. */
  readonly purgesExpired: boolean;
}

/** POST always stamps (storage-1.1 §8.8 step 6); PUT only with a payload (§8.7). */
const stamps11 = (f: { payload?: unknown }, op: "put" | "post") => op === "post" || f.payload !== undefined;
/** A ttl-only update keeps `modified` (storage-1.5 §4.2). */
const stamps15 = (f: { payload?: unknown; sortindex?: unknown }) => f.payload !== undefined || f.sortindex !== undefined;

export const PROFILE_1_1: Profile = {
  protocol: "1.1",
  code: 11,
  payloadSize: (payload) => payload.length,
  quotaCounts: "record",
  visibleAt: (_ts, wallMs) => Math.floor(wallMs / 1000) * 1000,
  collectionStamps: false,
  upsert: { replaceExpired: false, defaultPayload: null, stamps: stamps11, stampsInserts: false, resetsExpiry: true },
  // Ties in first-insertion order (`bso.seq`, once the rowid), as the SQLite reference returned rows.
  order: {
    oldest: { column: "modified", dir: "ASC", tie: "seq", tieDir: "ASC" },
    newest: { column: "modified", dir: "DESC", tie: "seq", tieDir: "ASC" },
    index: { column: "sortindex", dir: "DESC", tie: "seq", tieDir: "ASC" },
    default: { column: null, dir: "ASC", tie: "seq", tieDir: "ASC" },
  },
  checks: { put: ["quota", "precondition", "verdict"], post: ["precondition", "verdict", "quota"] },
  expiredCountAsPresent: true,
  absentDeleteFails: false,
  purgesExpired: false,
};

export const PROFILE_1_5: Profile = {
  protocol: "1.5",
  code: 15,
  payloadSize: utf8Length,
  quotaCounts: "payload",
  visibleAt: (ts) => ts,
  collectionStamps: true,
  upsert: { replaceExpired: true, defaultPayload: "", stamps: stamps15, stampsInserts: true, resetsExpiry: false },
  // Ties by id, as syncstorage-rs orders them; the default order is newest first.
  order: {
    oldest: { column: "modified", dir: "ASC", tie: "id", tieDir: "ASC" },
    newest: { column: "modified", dir: "DESC", tie: "id", tieDir: "DESC" },
    index: { column: "sortindex", dir: "DESC", tie: "id", tieDir: "ASC" },
    default: { column: "modified", dir: "DESC", tie: "id", tieDir: "DESC" },
  },
  checks: { put: ["precondition", "quota", "verdict"], post: ["precondition", "verdict", "batch", "quota"] },
  expiredCountAsPresent: false,
  absentDeleteFails: true,
  purgesExpired: true,
};

const BY_CODE = new Map<number, Profile>([PROFILE_1_1, PROFILE_1_5].map((p) => [p.code, p]));

/** The profile a store name implies: `acct:` → 1.1, `uid:` → 1.5; null for any other name. */
export function profileForName(name: string | undefined): Profile | null {
  if (name?.startsWith("acct:")) return PROFILE_1_1;
  if (name?.startsWith("uid:")) return PROFILE_1_5;
  return null;
}

/** The profile recorded under `code` in `meta.protocol`. */
export function profileForCode(code: number): Profile | null {
  return BY_CODE.get(code) ?? null;
}
