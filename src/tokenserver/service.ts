/**
 * @module tokenserver/service
 * The token exchange of tokenserver-1.0 §7: from verified request values to
 * the token response. No HTTP here: input is typed, output is the response
 * body or a {@link TokenserverError}.
 */
import { makeToken, randomSalt, type TokenPayload } from "../auth/tokenlib";
import type { TokenserverConfig } from "../config";
import { allocateUser, ensureSelfNode, loadSelfAndUser, markReplaced, MAX_GENERATION, replaceUser, updateUser, type UserRow } from "./db";
import { formatFxaKid } from "./derive";
import { TsErrors } from "./errors";

export interface TokenRequest {
  fxaUid: string;
  /** null = absent or 0. */
  generation: number | null;
  keysChangedAt: number | null;
  clientState: string;
  hashedFxaUid: string;
  hashedDeviceId: string;
  duration: number;
  /** Public base URL of this Worker, no trailing slash. */
  nodeUrl: string;
  nowMs: number;
}

export interface TokenResponse {
  id: string;
  key: string;
  uid: number;
  api_endpoint: string;
  duration: number;
  hashed_fxa_uid: string;
  hashalg: "sha256";
  node_type: string;
}

interface Current {
  row: UserRow;
  oldClientStates: Set<string>;
}

/** a > b, false when either is absent (§7.2 notation). */
const gt = (a: number | null, b: number | null) => a !== null && b !== null && a > b;
const le = (a: number | null, b: number | null) => a !== null && b !== null && a <= b;

/** §7.1 */
async function getOrCreateUser(db: D1Database, cfg: TokenserverConfig, email: string, req: TokenRequest, rows: UserRow[], serviceId: number, nodeId: number): Promise<Current> {
  const alloc = async (generation: number, clientState: string, keysChangedAt: number | null): Promise<UserRow> => {
    const uid = await allocateUser(db, { serviceId, nodeId, email, generation, clientState, keysChangedAt, createdAt: req.nowMs });
    return { uid, generation, client_state: clientState, created_at: req.nowMs, replaced_at: null, nodeid: nodeId, keys_changed_at: keysChangedAt, node: req.nodeUrl };
  };
  if (rows.length === 0) {
    if (!cfg.allowNewUsers) throw TsErrors.newUsersDisabled();
    return { row: await alloc(req.generation ?? 0, req.clientState, req.keysChangedAt), oldClientStates: new Set() };
  }
  // Array.prototype.sort is stable: equal keys keep the uid DESC order of the query.
  const sorted = [...rows].sort((a, b) => b.generation - a.generation || b.created_at - a.created_at);
  const current = sorted[0] as UserRow;
  const others = sorted.slice(1);
  const oldClientStates = new Set(others.map((r) => r.client_state).filter((cs) => cs !== current.client_state));
  await markReplaced(
    db,
    others.filter((r) => r.replaced_at === null).map((r) => r.uid),
    current.created_at,
  );
  if ((current.replaced_at !== null || current.node === null) && current.generation < MAX_GENERATION) {
    return { row: await alloc(current.generation, current.client_state, current.keys_changed_at), oldClientStates };
  }
  if (current.node !== null) return { row: current, oldClientStates };
  throw TsErrors.internal();
}

/** §7.2, first failure wins. */
function validate(req: TokenRequest, cur: Current): void {
  const rG = req.generation;
  const rK = req.keysChangedAt;
  const rC = req.clientState;
  const uG = cur.row.generation;
  const uK = cur.row.keys_changed_at;
  const uC = cur.row.client_state;
  if (gt(rK, uK) && rK !== null && rG !== null && rG < rK) throw TsErrors.invalidKeysChangedAt(); // 1
  if (uC !== "" && rC === "") throw TsErrors.invalidClientState("empty string"); // 2
  if (cur.oldClientStates.has(rC)) throw TsErrors.invalidClientState("stale value"); // 3
  if (rC !== uC && le(rG, uG)) throw TsErrors.invalidClientState("new value with no generation change"); // 4
  if (rC !== uC && le(rK, uK)) throw TsErrors.invalidClientState("new value with no keys_changed_at change"); // 5
  if (gt(uG, rG)) throw TsErrors.invalidGeneration(); // 6
  if (gt(uK, rK)) throw TsErrors.invalidKeysChangedAt(); // 7
  if (rK === null && uK !== null && uK !== 0) throw TsErrors.invalidKeysChangedAt(); // 8
}

/** §7 steps 6–10 for an authenticated, validated request. */
export async function issueToken(db: D1Database, cfg: TokenserverConfig, req: TokenRequest): Promise<TokenResponse> {
  const email = `${req.fxaUid}@${cfg.emailDomain}`;
  // One round trip for a returning user: node ids and user rows together;
  // a second only before this node has registered itself (first request).
  const first = await loadSelfAndUser(db, req.nodeUrl, email);
  // D22: an account the operator disabled gets no token (403, like the allow-list).
  if (first.disabled) throw TsErrors.accountDisabled();
  const { serviceId, nodeId } = first.self ?? (await ensureSelfNode(db, req.nodeUrl));
  const cur = await getOrCreateUser(db, cfg, email, req, first.rows, serviceId, nodeId);
  validate(req, cur);

  const u = cur.row;
  const rK = req.keysChangedAt;
  const rG = req.generation;
  const newK = rK !== null ? rK : u.keys_changed_at === 0 ? 0 : null;
  const newG = rG !== null ? rG : rK !== null && rK > u.generation && (u.keys_changed_at === null || rK > u.keys_changed_at) ? rK : u.generation;

  let uid = u.uid;
  if (req.clientState !== u.client_state) {
    uid = await replaceUser(db, {
      serviceId,
      nodeId: u.nodeid,
      email,
      generation: newG,
      clientState: req.clientState,
      keysChangedAt: newK,
      createdAt: req.nowMs,
    });
  } else if (newG !== u.generation || newK !== u.keys_changed_at) {
    await updateUser(db, serviceId, email, newG, newK);
  }

  const salt = randomSalt();
  // Reference field order (§9.2).
  const { token, key } = await makeToken(
    {
      node: req.nodeUrl,
      fxa_kid: formatFxaKid(newK ?? newG, req.clientState),
      fxa_uid: req.fxaUid,
      hashed_device_id: req.hashedDeviceId,
      hashed_fxa_uid: req.hashedFxaUid,
      expires: Math.floor(req.nowMs / 1000) + req.duration,
      uid,
      tokenserver_origin: "rust",
      salt,
    } satisfies TokenPayload,
    cfg.masterSecrets[0] as string,
  );
  return {
    id: token,
    key,
    uid,
    api_endpoint: `${req.nodeUrl}/1.5/${uid}`,
    duration: req.duration,
    hashed_fxa_uid: req.hashedFxaUid,
    hashalg: "sha256",
    node_type: cfg.nodeType,
  };
}
