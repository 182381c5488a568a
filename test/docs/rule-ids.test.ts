/**
 * Every protocol rule id cited under test/ (S11-8.7, U10-7.5.3, HAWK-6, …)
 * names a rule of docs/protocol/, so a reader can open any test's citation;
 * and no test still cites the section numbers of specifications that are not
 * in this repository ("storage-1.1 §8.7"). Files are read through Vite's
 * import.meta.glob, so this runs inside workerd like every other test.
 * Tests written with the old citations are converted by
 * test/docs/rewrite-citations.mjs.
 */
import { describe, expect, it } from "vitest";

const docs = import.meta.glob("/docs/protocol/*.md", { query: "?raw", import: "default", eager: true }) as Record<string, string>;
const tests = import.meta.glob(["/test/**/*.ts", "/test/**/*.mjs", "!/test/docs/**"], {
  query: "?raw",
  import: "default",
  eager: true,
}) as Record<string, string>;

const sources = import.meta.glob("/src/**/*.ts", { query: "?raw", import: "default", eager: true }) as Record<string, string>;

const PREFIXES = "S11|S15|U10|TS10|HAWK";
/** A rule heading: `### S11-8.7 PUT storage/<c>/<id>`. */
const HEADING = new RegExp(`^#{2,4} ((?:${PREFIXES})-(?:\\d+(?:\\.\\d+)*|[A-Z]))\\b`, "gm");
/** A citation: the id must stand alone (not inside a longer word or number). */
const CITATION = new RegExp(`(?<![\\w.-])((?:${PREFIXES})-(?:\\d+(?:\\.\\d+)*|[A-Z]))(?![\\w-]|\\.\\d)`, "g");
/** An old-style citation of a specification section that is not in the repository. */
const OLD_CITATION = /(?:storage-1\.[15]|user-1\.0|tokenserver(?:-1\.0)?|hawk)(?:\.md)?\s*§/;

function rulesIn(files: Record<string, string>): Map<string, string> {
  const ids = new Map<string, string>();
  for (const [path, text] of Object.entries(files)) for (const m of text.matchAll(HEADING)) ids.set(m[1]!, path);
  return ids;
}

describe("protocol rule ids (docs/protocol/)", () => {
  const rules = rulesIn(docs);

  it("the five protocol files and the index are there, each with rules", () => {
    expect(Object.keys(docs).sort()).toEqual(
      ["README", "hawk", "storage-1.1", "storage-1.5", "tokenserver-1.0", "user-1.0"].map((n) => `/docs/protocol/${n}.md`),
    );
    for (const prefix of PREFIXES.split("|")) expect([...rules.keys()].some((id) => id.startsWith(`${prefix}-`)), prefix).toBe(true);
  });

  it("every rule id is defined once, in the file of its protocol", () => {
    const seen = new Map<string, number>();
    for (const [path, text] of Object.entries(docs)) {
      for (const m of text.matchAll(HEADING)) {
        seen.set(m[1]!, (seen.get(m[1]!) ?? 0) + 1);
        const file = { S11: "storage-1.1", S15: "storage-1.5", U10: "user-1.0", TS10: "tokenserver-1.0", HAWK: "hawk" }[m[1]!.split("-")[0]!];
        expect(path, m[1]).toBe(`/docs/protocol/${file}.md`);
      }
    }
    expect([...seen].filter(([, n]) => n > 1)).toEqual([]);
  });

  it("every rule id cited by a test exists", () => {
    const missing: string[] = [];
    let cited = 0;
    for (const [path, text] of Object.entries(tests)) {
      for (const m of text.matchAll(CITATION)) {
        cited += 1;
        if (!rules.has(m[1]!)) missing.push(`${path}: ${m[1]}`);
      }
    }
    expect(cited).toBeGreaterThan(100);
    expect(missing).toEqual([]);
  });

  it("every rule id cited in src/ exists", () => {
    const missing = Object.entries(sources).flatMap(([path, text]) =>
      [...text.matchAll(CITATION)].filter((m) => !rules.has(m[1]!)).map((m) => `${path}: ${m[1]}`),
    );
    expect(missing).toEqual([]);
  });

  it("every rule id cited inside the protocol files exists", () => {
    const missing: string[] = [];
    for (const [path, text] of Object.entries(docs)) {
      for (const m of text.replace(HEADING, "").matchAll(CITATION)) if (!rules.has(m[1]!)) missing.push(`${path}: ${m[1]}`);
    }
    expect(missing).toEqual([]);
  });

  it("no test cites a section of a specification that is not in the repository", () => {
    const old = Object.entries(tests).flatMap(([path, text]) =>
      text.split("\n").flatMap((line, i) => (OLD_CITATION.test(line) ? [`${path}:${i + 1}: ${line.trim()}`] : [])),
    );
    // Fix: `node test/docs/rewrite-citations.mjs` (rewrites them into rule ids).
    expect(old, "old-style citations; run node test/docs/rewrite-citations.mjs").toEqual([]);
  });
});
