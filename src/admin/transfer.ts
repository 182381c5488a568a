/**
 * @module admin/transfer
 * The Worker side of export and import (format: docs/export-format.md; the
 * store side is src/storage/transfer.ts).
 *
 * Export is a ReadableStream pulling one bounded page of records from the
 * user's Durable Object per read, so neither the Worker nor the object ever
 * holds more than a page.
 *
 * Import is a session of several requests, so that no request body has to
 * hold a whole user: `begin` (the file's first three lines) picks or creates
 * the target and starts staging inside its object; `stage` forwards chunks of
 * collection and record lines; `commit` (the end line) swaps the staged data
 * in with one transaction; `abort` drops it. A newly created account is
 * disabled (accountStatus 0) until the commit, and removed again by an
 * abort, so a failed import leaves the target as it was.
 */
import { getConfig } from "../config";
import type { Principal } from "../env";
import { userStoreFor, type StoreApi } from "../storage/stub";
import type { StoreState, TransferCollection, TransferRecord, CommitResult, AdminStoreOp, ExportCursor } from "../storage/transfer";
import { ensureSelfNode } from "../tokenserver/db";
import * as db from "./db";
import { toBase64UrlNoPad, fromBase64Url, utf8 } from "../auth/encoding";

export const FORMAT = "weave-edge-export";
export const FORMAT_VERSION = 1;

/** Records per export page and per RPC when staging, and their payload budget. */
export const PAGE_RECORDS = 1000;
export const PAGE_BYTES = 4 * 1024 * 1024;

export type Kind = "1.1" | "1.5";

/** A user as the admin API names it: `acct:<username>` or `uid:<uid>`. */
export type Subject = { kind: "1.1"; account: db.AdminAccount } | { kind: "1.5"; user: db.AdminTokenUser };

/** An operator-facing failure: HTTP status and a message for the JSON body. */
export class AdminError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = "AdminError";
  }
}

export function principalOf(s: Subject): Principal {
  return s.kind === "1.1"
    ? { kind: "account", userid: s.account.userid, username: s.account.username }
    : { kind: "token", uid: s.user.uid, fxaUid: "", expired: false };
}

export function storeOf(env: Env, s: Subject): StoreApi {
  return userStoreFor(env, principalOf(s));
}

/** One store operation; an expected failure becomes an AdminError (409). */
export async function storeOp<T>(store: StoreApi, op: AdminStoreOp): Promise<T> {
  const r = await store.admin(op);
  if (!r.ok) throw new AdminError(409, r.error);
  return r.value as T;
}

// ------------------------------------------------------------------ export

const enc = new TextEncoder();
const line = (v: unknown) => `${JSON.stringify(v)}\n`;

export function subjectLine(s: Subject): Record<string, unknown> {
  if (s.kind === "1.1") {
    const a = s.account;
    return { type: "account", username: a.username, mail: a.mail, password: a.password, status: a.accountStatus };
  }
  const u = s.user;
  return {
    type: "token_user",
    uid: u.uid,
    email: u.email,
    generation: u.generation,
    client_state: u.client_state,
    keys_changed_at: u.keys_changed_at,
    created_at: u.created_at,
  };
}

export function recordLine(r: TransferRecord, kind: Kind): Record<string, unknown> {
  const o: Record<string, unknown> = {
    type: "record",
    collection: r.collection,
    id: r.id,
    modified: r.modified,
    sortindex: r.sortindex,
    expiry: r.expiry,
    payload: r.payload,
  };
  if (kind === "1.1") {
    o.parentid = r.parentid;
    o.predecessorid = r.predecessorid;
  }
  return o;
}

/** The user's whole data as NDJSON, one page per pull. */
export function exportStream(env: Env, s: Subject, source: string): ReadableStream<Uint8Array> {
  const store = storeOf(env, s);
  let state: StoreState | null = null;
  // undefined: the records are done; null: from the start.
  let cursor: ExportCursor | undefined = null;
  let records = 0;
  let done = false;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          if (done) return;
          if (state === null) {
            state = await storeOp<StoreState>(store, { op: "export-state" });
            let head = line({
              format: FORMAT,
              version: FORMAT_VERSION,
              kind: s.kind,
              exported_at: Date.now(),
              source,
              schema_version: state.schemaVersion,
            });
            head += line(subjectLine(s));
            head += line({ type: "store", last_modified: state.lastModified, storage_tombstone: state.storageTombstone });
            for (const c of state.collections) head += line({ type: "collection", name: c.name, modified: c.modified });
            controller.enqueue(enc.encode(head));
            return;
          }
          if (cursor !== undefined) {
            const page = await storeOp<{ records: TransferRecord[]; next: ExportCursor }>(store, {
              op: "export-page",
              after: cursor,
              maxRecords: PAGE_RECORDS,
              maxBytes: PAGE_BYTES,
            });
            let text = "";
            for (const r of page.records) text += line(recordLine(r, s.kind));
            records += page.records.length;
            cursor = page.next ?? undefined;
            if (text) controller.enqueue(enc.encode(text));
            if (cursor !== undefined) return;
          }
          controller.enqueue(enc.encode(line({ type: "end", collections: state.collections.length, records })));
          done = true;
          controller.close();
        } catch (err) {
          // The missing end line tells any reader the file is incomplete.
          console.error("admin export failed:", err instanceof Error ? err.message : err);
          controller.error(err);
        }
      },
    },
    { highWaterMark: 0 },
  );
}

// ------------------------------------------------------------------ import

/** What a session id carries between the requests of one import. */
interface Session {
  v: 1;
  kind: Kind;
  /** acct:<userid> / uid:<uid> target. */
  userid?: number;
  username?: string;
  uid?: number;
  token: string;
  /** The D1 row was created by this import (removed on abort). */
  created: boolean;
  /** accountStatus to set at commit (created 1.1 accounts). */
  status: number;
  lastModified: number;
  storageTombstone: number;
}

export function encodeSession(s: Session): string {
  return toBase64UrlNoPad(utf8(JSON.stringify(s)));
}

export function decodeSession(id: string): Session {
  const bytes = fromBase64Url(id);
  let s: Session | null = null;
  try {
    s = bytes ? (JSON.parse(new TextDecoder().decode(bytes)) as Session) : null;
  } catch {
    s = null;
  }
  if (!s || s.v !== 1 || (s.kind !== "1.1" && s.kind !== "1.5") || typeof s.token !== "string") {
    throw new AdminError(404, "unknown import session");
  }
  return s;
}

function sessionStore(env: Env, s: Session): StoreApi {
  return s.kind === "1.1"
    ? userStoreFor(env, { kind: "account", userid: s.userid ?? -1, username: s.username ?? "" })
    : userStoreFor(env, { kind: "token", uid: s.uid ?? -1, fxaUid: "", expired: false });
}

function parseLine(text: string, n: number): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new AdminError(400, `line ${n}: not JSON`);
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new AdminError(400, `line ${n}: not a JSON object`);
  return v as Record<string, unknown>;
}

const int = (v: unknown) => typeof v === "number" && Number.isSafeInteger(v);
const intOrNull = (v: unknown): number | null => (int(v) ? (v as number) : null);
const strOrNull = (v: unknown): string | null => (typeof v === "string" ? v : null);

export interface BeginOptions {
  /** Import as this user instead of the one in the file: a 1.1 name, or a 1.5 uid. */
  as?: string;
  /** Allowed to replace the data of an existing user that holds records. */
  replace: boolean;
  /** The node URL for new tokenserver rows (this server). */
  nodeUrl: string;
}

/** Starts an import from the file's header, subject and store lines. */
export async function beginImport(env: Env, head: string[], o: BeginOptions): Promise<{ session: string; target: string; created: boolean }> {
  if (head.length < 3) throw new AdminError(400, "an import starts with the header, account (or token_user) and store lines");
  const header = parseLine(head[0] as string, 1);
  if (header.format !== FORMAT) throw new AdminError(400, `line 1: not a ${FORMAT} file`);
  if (header.version !== FORMAT_VERSION) throw new AdminError(400, `line 1: format version ${String(header.version)} is not supported (this server reads ${FORMAT_VERSION})`);
  const kind = header.kind;
  if (kind !== "1.1" && kind !== "1.5") throw new AdminError(400, `line 1: kind must be "1.1" or "1.5"`);
  const subj = parseLine(head[1] as string, 2);
  const store = parseLine(head[2] as string, 3);
  if (store.type !== "store") throw new AdminError(400, `line 3: expected the store line`);
  const lastModified = intOrNull(store.last_modified) ?? 0;
  const storageTombstone = intOrNull(store.storage_tombstone) ?? 0;
  const token = crypto.randomUUID();
  const base = { v: 1 as const, token, lastModified, storageTombstone };

  if (kind === "1.1") {
    if (subj.type !== "account" || typeof subj.username !== "string") throw new AdminError(400, "line 2: expected an account line");
    const name = o.as ?? subj.username;
    if (!/^[a-zA-Z0-9._-]{1,32}$/.test(name)) throw new AdminError(400, `not a valid user name: ${JSON.stringify(name)}`);
    let acct = await db.accountByName(env.DB, name);
    let created = false;
    const status = int(subj.status) ? (subj.status as number) : 1;
    if (acct) {
      const stats = await refuseUnlessReplace(env, { kind: "1.1", account: acct }, o.replace, `acct:${name}`);
      // An account an abandoned import created (still disabled, staging left behind): this import takes it over.
      if (acct.accountStatus === 0 && stats.importPending && stats.records === 0) created = true;
    } else {
      const userid = await db.insertAccount(env.DB, {
        username: name,
        password: strOrNull(subj.password),
        mail: strOrNull(subj.mail),
        accountStatus: 0,
      });
      if (userid === null) throw new AdminError(409, `acct:${name} was created meanwhile; run the import again`);
      acct = { userid, username: name, password: strOrNull(subj.password), mail: strOrNull(subj.mail), accountStatus: 0 };
      created = true;
    }
    const s: Session = { ...base, kind, userid: acct.userid, username: name, created, status: created ? status : acct.accountStatus };
    await beginStaging(env, s, created);
    return { session: encodeSession(s), target: `acct:${name}`, created };
  }

  if (subj.type !== "token_user" || typeof subj.email !== "string" || !int(subj.generation) || typeof subj.client_state !== "string") {
    throw new AdminError(400, "line 2: expected a token_user line with email, generation and client_state");
  }
  let user: db.AdminTokenUser | null;
  let created = false;
  if (o.as !== undefined) {
    if (!/^\d{1,15}$/.test(o.as)) throw new AdminError(400, "a Sync 1.5 import target is a uid (uid:<number>)");
    user = await db.tokenUserByUid(env.DB, Number(o.as));
    if (!user) throw new AdminError(404, `unknown user uid:${o.as}`);
  } else {
    user = await db.currentTokenUser(env.DB, subj.email);
  }
  if (user) {
    await refuseUnlessReplace(env, { kind: "1.5", user }, o.replace, `uid:${user.uid}`);
  } else {
    const node = await ensureSelfNode(env.DB, o.nodeUrl);
    const uid = await db.insertTokenUser(env.DB, node.nodeId, node.serviceId, {
      uid: int(subj.uid) ? (subj.uid as number) : 0,
      email: subj.email,
      generation: subj.generation as number,
      client_state: subj.client_state,
      created_at: intOrNull(subj.created_at) ?? Date.now(),
      keys_changed_at: intOrNull(subj.keys_changed_at),
    });
    user = await db.tokenUserByUid(env.DB, uid);
    if (!user) throw new AdminError(500, "the new tokenserver row vanished");
    created = true;
  }
  const s: Session = { ...base, kind: "1.5", uid: user.uid, created, status: 1 };
  await beginStaging(env, s, created);
  return { session: encodeSession(s), target: `uid:${user.uid}`, created };
}

async function refuseUnlessReplace(env: Env, s: Subject, replace: boolean, name: string): Promise<{ records: number; importPending: boolean }> {
  const stats = await storeOp<{ records: number; importPending: boolean }>(storeOf(env, s), { op: "stats", now: Date.now() });
  if (!replace && stats.records > 0) throw new AdminError(409, `${name} already holds ${stats.records} records; pass replace=1 (--replace) to overwrite them`);
  return stats;
}

async function beginStaging(env: Env, s: Session, created: boolean): Promise<void> {
  try {
    await storeOp(sessionStore(env, s), { op: "import-begin", token: s.token, dialect: s.kind });
  } catch (err) {
    if (created) await undoCreated(env, s);
    throw err;
  }
}

async function undoCreated(env: Env, s: Session): Promise<void> {
  if (s.kind === "1.1" && s.userid !== undefined) await db.deleteAccountRow(env.DB, s.userid);
  if (s.kind === "1.5" && s.uid !== undefined) await db.deleteTokenUserRow(env.DB, s.uid);
}

/** Stages a chunk of NDJSON (collection and record lines). Returns records staged so far. */
export async function stageImport(env: Env, id: string, body: string, firstLine: number): Promise<number> {
  const s = decodeSession(id);
  const store = sessionStore(env, s);
  let collections: TransferCollection[] = [];
  let records: TransferRecord[] = [];
  let bytes = 0;
  let staged = 0;
  const flush = async () => {
    if (collections.length === 0 && records.length === 0) return;
    staged = await storeOp<number>(store, { op: "import-stage", token: s.token, collections, records });
    collections = [];
    records = [];
    bytes = 0;
  };
  let n = firstLine - 1;
  for (const text of body.split("\n")) {
    n++;
    if (text.trim() === "") continue;
    const o = parseLine(text, n);
    if (o.type === "collection") {
      if (typeof o.name !== "string" || !int(o.modified)) throw new AdminError(400, `line ${n}: a collection line needs name and modified`);
      collections.push({ name: o.name, modified: o.modified as number });
    } else if (o.type === "record") {
      const payload = strOrNull(o.payload);
      records.push({
        collection: o.collection as string,
        id: o.id as string,
        payload,
        sortindex: (o.sortindex ?? null) as number | null,
        modified: (o.modified ?? null) as number | null,
        expiry: (o.expiry ?? null) as number | null,
        parentid: (o.parentid ?? null) as string | null,
        predecessorid: (o.predecessorid ?? null) as string | null,
      });
      bytes += payload?.length ?? 0;
    } else {
      throw new AdminError(400, `line ${n}: unexpected line type ${JSON.stringify(o.type)} (collection and record lines only here)`);
    }
    if (records.length >= PAGE_RECORDS || bytes >= PAGE_BYTES) await flush();
  }
  await flush();
  return staged;
}

/** Commits the import: checks the end line's count, swaps the data in, activates a created account. */
export async function commitImport(env: Env, id: string, endText: string): Promise<CommitResult & { target: string }> {
  const s = decodeSession(id);
  const end = parseLine(endText, 0);
  if (end.type !== "end" || !int(end.records)) throw new AdminError(400, "commit needs the file's end line");
  const result = await storeOp<CommitResult>(sessionStore(env, s), {
    op: "import-commit",
    dialect: s.kind,
    token: s.token,
    expectRecords: end.records as number,
    lastModified: s.lastModified,
    storageTombstone: s.storageTombstone,
  });
  if (s.kind === "1.1" && s.created && s.userid !== undefined) await db.setAccountStatus(env.DB, s.userid, s.status);
  return { ...result, target: s.kind === "1.1" ? `acct:${s.username}` : `uid:${s.uid}` };
}

/** Drops a session's staged data and the row it created, if any. */
export async function abortImport(env: Env, id: string): Promise<void> {
  const s = decodeSession(id);
  const r = await sessionStore(env, s).admin({ op: "import-abort", token: s.token });
  // Only when this session's staging was still there: after a commit, or
  // when another import took over the user, its rows are not ours to remove.
  if (r.ok && r.value === true && s.created) await undoCreated(env, s);
}

export function nodeUrlFor(env: Env, requestUrl: string): string {
  const pub = getConfig(env).publicUrl;
  return (pub ?? new URL(requestUrl).origin).replace(/\/+$/, "");
}
