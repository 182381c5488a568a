#!/usr/bin/env node
/**
 * Rewrites old-style citations of specification sections in test/
 * ("storage-1.1 §8.7", "hawk §6 / §7", a bare "§9.2" in a file about one
 * protocol, "§8.9-8.11", "Appendix B") into the rule ids of docs/protocol/
 * (S11-8.7, HAWK-6 / HAWK-7, U10-9.2, "S11-8.9 to S11-8.11", S11-B), and
 * "hawk.md" into "docs/protocol/hawk.md". Only citation text changes.
 *
 *   node test/docs/rewrite-citations.mjs [--check] [dir…]
 *
 * Directories default to `test`; `src` works too (comments there cite the
 * same sections). --check lists what would change and exits 1 if anything
 * would. A bare "§N" in a file whose protocol cannot be told from its path is
 * left alone and listed. Run it after merging code written against the old
 * citations; then test/docs/rule-ids.test.ts tells whether every cited rule
 * exists.
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const PREFIX = { "storage-1.1": "S11", "storage-1.5": "S15", "user-1.0": "U10", "tokenserver-1.0": "TS10", tokenserver: "TS10", hawk: "HAWK" };
/** The protocol a bare "§N" refers to, by file path prefix. */
const DEFAULT = [
  ["test/conformance/storage-1.1/", "storage-1.1"],
  ["test/conformance/v1_5", "storage-1.5"],
  ["test/recovery/", "user-1.0"],
  ["test/routes/user", "user-1.0"],
  ["test/lib/usernames", "user-1.0"],
  ["test/tokenserver/", "tokenserver"],
  ["test/auth/hawk", "hawk"],
  ["test/auth/tokenlib", "tokenserver"],
  ["test/auth/password", "user-1.0"],
  ["test/e2e/account-pages", "user-1.0"],
  ["test/e2e/reset-flow", "user-1.0"],
  ["test/helpers/recovery", "user-1.0"],
  ["test/e2e/support/recovery", "user-1.0"],
  ["src/protocol/v1_1", "storage-1.1"],
  ["src/routes/storage-1.1", "storage-1.1"],
  ["src/routes/legacy-router", "storage-1.1"],
  ["src/protocol/v1_5", "storage-1.5"],
  ["src/routes/storage-1.5", "storage-1.5"],
  ["src/routes/user", "user-1.0"],
  ["src/routes/recovery", "user-1.0"],
  ["src/recovery/", "user-1.0"],
  ["src/lib/usernames", "user-1.0"],
  ["src/auth/password", "user-1.0"],
  ["src/tokenserver/", "tokenserver"],
  ["src/auth/tokenlib", "tokenserver"],
  ["src/auth/hawk", "hawk"],
];
const unresolved = [];
const SPEC = String.raw`storage-1\.1|storage-1\.5|user-1\.0|tokenserver-1\.0|tokenserver|hawk`;
const TOKEN = new RegExp(String.raw`(?:(?<spec>${SPEC})(?:\.md)?\s*)?§\s?(?<sec>\d+(?:\.\d+)*)(?:[-–](?<end>\d+(?:\.\d+)*))?`, "g");
const FILE_NAME = new RegExp(String.raw`(?<![\w/])((?:storage-1\.1|storage-1\.5|user-1\.0|tokenserver-1\.0|hawk)\.md)`, "g");

function endId(sec, end) {
  if (end.includes(".") || !sec.includes(".")) return end;
  return `${sec.slice(0, sec.lastIndexOf("."))}.${end}`;
}

function rewriteLine(line, dflt, rel) {
  const orig = line;
  // A citation that named the wrong document.
  line = line.replace("hawk §9.5 / tokenserver §9.2", "tokenserver §9.5 / §9.2");
  if (line.includes("§")) {
    let cur = null;
    line = line.replace(TOKEN, (...args) => {
      const m = args.at(-1);
      const offset = args.at(-3);
      if (/RFC \d+\s*$/.test(line.slice(0, offset))) return args[0];
      if (m.spec) cur = m.spec;
      const spec = m.spec ?? cur ?? dflt;
      if (!spec) {
        unresolved.push(`${rel}: ${orig.trim()}`);
        return args[0];
      }
      const p = PREFIX[spec];
      return m.end ? `${p}-${m.sec} to ${p}-${endId(m.sec, m.end)}` : `${p}-${m.sec}`;
    });
  }
  if (line.includes("Appendix") && (dflt === "storage-1.1" || orig.includes("storage-1.1"))) {
    line = line.replace(/(?:storage-1\.1 )?Appendix ([AB])/g, "S11-$1");
  }
  return line.replace(FILE_NAME, "docs/protocol/$1");
}

function* walk(dir) {
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) yield* walk(p);
    else if (/\.(ts|mjs)$/.test(name)) yield p;
  }
}

const check = process.argv.includes("--check");
const dirs = process.argv.slice(2).filter((a) => !a.startsWith("--"));
let changed = 0;
for (const file of (dirs.length ? dirs : ["test"]).flatMap((d) => [...walk(path.resolve(ROOT, d))])) {
  const rel = path.relative(ROOT, file).split(path.sep).join("/");
  if (rel.startsWith("test/docs/")) continue;
  const dflt = DEFAULT.find(([prefix]) => rel.startsWith(prefix))?.[1] ?? null;
  const text = readFileSync(file, "utf8");
  const next = text
    .split("\n")
    .map((l) => rewriteLine(l, dflt, rel))
    .join("\n");
  if (next === text) continue;
  changed += 1;
  console.log(`${check ? "would rewrite" : "rewrote"} ${rel}`);
  if (!check) writeFileSync(file, next);
}
console.log(`${changed} file(s)${check ? " to rewrite" : " rewritten"}`);
if (unresolved.length) console.log(`left alone (protocol unknown from the path; cite it by rule id by hand):\n  ${unresolved.join("\n  ")}`);
if (check && changed) process.exitCode = 1;
