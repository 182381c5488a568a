/**
 * `__proto__`-style ids and collection names, and lone surrogates, in both
 * storage protocols (issue 9 item 6), through the real Worker with real
 * credentials. Each case asserts the exact answer and what is stored after.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { DRIVERS, reason, type Driver, type User } from "../contract/drivers";
import { snapshot } from "./harness";

const NAMES = ["__proto__", "constructor", "prototype", "hasOwnProperty", "toString"];

for (const driver of DRIVERS) {
  describe(`${driver.name}: prototype names and lone surrogates`, () => {
    let user: User;
    const get = (p: string) => user.call("GET", p);
    beforeAll(async () => {
      user = await driver.newUser();
    });
    /**
     * No record stored. 1.1: nothing at all changed. 1.5: a POST whose every
     * item failed still sets the collection's timestamp (S15-5.3), so
     * only the records are compared and "sur" holds none.
     */
    async function expectNothingStored(before: string) {
      const after = await snapshot(get);
      if (driver.prefix === "S11") return expect(after).toBe(before);
      const records = (s: string) => s.split("\n").filter((l) => !l.startsWith("collections ") && !l.startsWith("sur "));
      expect(records(after)).toEqual(records(before));
      const sur = await user.call("GET", "/storage/sur");
      expect([200, 404]).toContain(sur.status);
      if (sur.status === 200) expect(sur.json).toEqual([]);
    }

    it.each(NAMES)("a record and a collection named %s are stored and read back as plain data", async (name) => {
      const put = await user.call("PUT", `/storage/${name}/${name}`, { body: { payload: `p-${name}` } });
      expect(put.status, put.text).toBe(200);
      const one = await user.call("GET", `/storage/${name}/${name}`);
      expect(one.status).toBe(200);
      expect(Object.getOwnPropertyNames(one.json)).toContain("id");
      expect((one.json as { id: string; payload: string }).id).toBe(name);
      expect((one.json as { payload: string }).payload).toBe(`p-${name}`);
      const list = await user.call("GET", `/storage/${name}`);
      expect(list.json).toEqual([name]);
      const info = await user.call("GET", "/info/collections");
      expect(Object.prototype.hasOwnProperty.call(info.json, name), info.text).toBe(true);
      const counts = await user.call("GET", "/info/collection_counts");
      expect((counts.json as Record<string, number>)[name]).toBe(1);
    });

    it("a POST whose failing items are named __proto__ lists them as own keys and stores the good ones", async () => {
      const r = await user.call("POST", "/storage/posted", {
        body: [
          { id: "__proto__", payload: 5 },
          { id: "constructor", payload: ["x"] },
          { id: "good", payload: "g" },
          { id: "toString", payload: "t" },
        ],
      });
      expect(r.status, r.text).toBe(200);
      const body = r.json as { success: string[]; failed: Record<string, unknown> };
      expect(body.success.slice().sort()).toEqual(["good", "toString"]);
      // An own key (JSON.parse makes "__proto__" one); 1.1 lists the "constructor" item under "" (its reference's key for a non-string payload list).
      expect(Object.keys(body.failed)).toContain("__proto__");
      expect(Object.keys(body.failed)).toContain(driver.prefix === "S11" ? "" : "constructor");
      expect(reason(body.failed["__proto__"])).not.toBe("");
      const list = await user.call("GET", "/storage/posted?sort=index");
      expect((list.json as string[]).slice().sort()).toEqual(["good", "toString"]);
    });

    it("a record body with a __proto__ key does not change the record's fields", async () => {
      const before = await snapshot(get);
      const r = await user.call("PUT", "/storage/keys/k1", { body: JSON.parse('{"payload":"k","__proto__":{"sortindex":7,"payload":"evil"}}') });
      // Whether the extra key is refused or ignored, the stored record never takes fields from it.
      if (r.status === 200) {
        const one = await user.call("GET", "/storage/keys/k1");
        expect((one.json as { payload: string }).payload).toBe("k");
        expect((one.json as { sortindex?: number }).sortindex ?? null).toBeNull();
      } else {
        expect(r.status).toBe(400);
        expect(await snapshot(get)).toBe(before);
      }
    });

    it("a payload with a lone surrogate is refused whole and nothing is stored", async () => {
      const before = await snapshot(get);
      for (const s of ["\\ud800", "a\\udfff", "\\ude00\\ud83d"]) {
        const raw = `{"payload":"x${s}y"}`;
        const put = await user.call("PUT", "/storage/sur/one", { body: JSON.parse(raw) });
        expect(put.status, `${raw}: ${put.text}`).toBe(400);
        const post = await user.call("POST", "/storage/sur", { body: [JSON.parse(`{"id":"two","payload":"x${s}y"}`)] });
        expect(post.status, post.text).toBe(200);
        const p = post.json as { success: string[]; failed: Record<string, unknown> };
        expect(p.success).toEqual([]);
        expect(Object.keys(p.failed)).toEqual(["two"]);
      }
      await expectNothingStored(before);
    });

    it("an id with a lone surrogate is refused; a path id of undecodable bytes never stores a surrogate", async () => {
      const r = await user.call("PUT", "/storage/surpath/%ED%A0%80", { body: { payload: "x" } });
      expect(r.status, r.text).toBeLessThan(500);
      if (r.status === 200) {
        // 1.5 takes the undecodable escape literally (its ids are printable ASCII): the id is the text "%ED%A0%80".
        const list = await user.call("GET", "/storage/surpath");
        expect(list.json).toEqual(["%ED%A0%80"]);
        await user.call("DELETE", "/storage/surpath");
      } else {
        expect([400, 404]).toContain(r.status);
      }
      const before = await snapshot(get);
      const post = await user.call("POST", "/storage/sur", { body: [JSON.parse('{"id":"\\ud800","payload":"x"}')] });
      expect(post.status, post.text).toBe(200);
      expect((post.json as { success: string[] }).success).toEqual([]);
      await expectNothingStored(before);
    });
  });
}

export type { Driver };
