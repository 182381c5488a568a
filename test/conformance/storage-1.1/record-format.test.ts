/** S11-B and S11-7.4: record objects byte for byte, for every combination of present fields. */
import { describe, expect, it } from "vitest";
import { renderRecord } from "../../../src/protocol/v1_1";
import type { StoredRecord } from "../../../src/storage/types";

/** S11-B, as printed in the spec: present keys (besides id) → emitted order. */
const TABLE: Array<[string, string]> = [
  ["—", "id"],
  ["modified", "id, modified"],
  ["payload", "id, payload"],
  ["modified, payload", "payload, id, modified"],
  ["sortindex", "sortindex, id"],
  ["sortindex, payload", "sortindex, id, payload"],
  ["sortindex, modified", "sortindex, id, modified"],
  ["sortindex, modified, payload", "sortindex, payload, id, modified"],
  ["parentid", "id, parentid"],
  ["parentid, modified", "id, modified, parentid"],
  ["parentid, payload", "payload, id, parentid"],
  ["parentid, modified, payload", "payload, id, modified, parentid"],
  ["parentid, sortindex", "sortindex, id, parentid"],
  ["parentid, sortindex, payload", "sortindex, payload, id, parentid"],
  ["parentid, sortindex, modified", "sortindex, id, modified, parentid"],
  ["parentid, sortindex, modified, payload", "sortindex, payload, id, modified, parentid"],
  ["predecessorid", "predecessorid, id"],
  ["predecessorid, modified", "predecessorid, id, modified"],
  ["predecessorid, payload", "predecessorid, id, payload"],
  ["predecessorid, modified, payload", "predecessorid, payload, id, modified"],
  ["predecessorid, sortindex", "predecessorid, id, sortindex"],
  ["predecessorid, sortindex, payload", "predecessorid, payload, id, sortindex"],
  ["predecessorid, sortindex, modified", "predecessorid, id, modified, sortindex"],
  ["predecessorid, sortindex, modified, payload", "predecessorid, payload, id, modified, sortindex"],
  ["predecessorid, parentid", "predecessorid, id, parentid"],
  ["predecessorid, parentid, payload", "predecessorid, payload, id, parentid"],
  ["predecessorid, parentid, modified", "predecessorid, id, modified, parentid"],
  ["predecessorid, parentid, modified, payload", "predecessorid, payload, id, modified, parentid"],
  ["predecessorid, parentid, sortindex", "predecessorid, sortindex, id, parentid"],
  ["predecessorid, parentid, sortindex, payload", "predecessorid, sortindex, payload, id, parentid"],
  ["predecessorid, parentid, sortindex, modified", "predecessorid, sortindex, id, modified, parentid"],
  ["all six", "sortindex, modified, id, predecessorid, parentid, payload"],
];

const VALUES: Record<string, string> = {
  id: '"i"',
  parentid: '"pa"',
  predecessorid: '"pr"',
  sortindex: "-7",
  modified: "1300000000.10",
  payload: '"\\u00e9/x"',
};

describe("record rendering (S11-B)", () => {
  it("S11-B: the table covers all 32 combinations", () => {
    expect(TABLE.length).toBe(32);
  });

  for (const [present, order] of TABLE) {
    it(`S11-B: {id${present === "—" ? "" : `, ${present}`}} → ${order}`, () => {
      const fields = present === "—" ? [] : present === "all six" ? ["parentid", "predecessorid", "sortindex", "modified", "payload"] : present.split(", ");
      const rec: StoredRecord = {
        id: "i",
        parentid: fields.includes("parentid") ? "pa" : null,
        predecessorid: fields.includes("predecessorid") ? "pr" : null,
        sortindex: fields.includes("sortindex") ? -7 : null,
        modified: fields.includes("modified") ? 1300000000100 : null,
        payload: fields.includes("payload") ? "\u00e9/x" : null,
      };
      const expected = `{${order
        .split(", ")
        .map((k) => `"${k}": ${VALUES[k]}`)
        .join(", ")}}`;
      expect(renderRecord(rec)).toBe(expected);
    });
  }
});

describe("JSON text (S11-7.4)", () => {
  it("S11-7.4: strings are ASCII-only with lowercase \\uXXXX, short escapes for \\b \\f \\n \\r \\t, '/' not escaped", async () => {
    const { pyString } = await import("../../../src/protocol/pyjson");
    expect(pyString("a/b")).toBe('"a/b"');
    expect(pyString('"\\')).toBe('"\\"\\\\"');
    expect(pyString("\b\f\n\r\t")).toBe('"\\b\\f\\n\\r\\t"');
    expect(pyString("\u0000\u001f\u007f")).toBe('"\\u0000\\u001f\\u007f"');
    expect(pyString("é€\uABCD")).toBe('"\\u00e9\\u20ac\\uabcd"');
    expect(pyString("😀")).toBe('"\\ud83d\\ude00"');
  });

  it("S11-7.4: Python floats (quota/usage) are shortest round-trip with integral values keeping .0", async () => {
    const { pyFloat } = await import("../../../src/protocol/pyjson");
    expect(pyFloat(0).text).toBe("0.0");
    expect(pyFloat(5).text).toBe("5.0");
    expect(pyFloat(5120).text).toBe("5120.0");
    expect(pyFloat(0.0234375).text).toBe("0.0234375");
    expect(pyFloat(1 / 1024).text).toBe("0.0009765625");
    expect(pyFloat(0.4912109375).text).toBe("0.4912109375");
  });
});
