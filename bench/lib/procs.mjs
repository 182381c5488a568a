/**
 * @module bench/lib/procs
 * Everything the benchmark starts, and how it stops it: each child runs in its
 * own process group (detached), so stopping kills the group (wrangler, its
 * esbuild and its workerd processes together). Also reads server CPU time
 * from /proc: utime + stime of a process tree, split into workerd and the rest.
 */
import { spawn, spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import net from "node:net";
import path from "node:path";

const WRANGLER_JS = path.join(path.dirname(createRequire(import.meta.url).resolve("wrangler/package.json")), "bin", "wrangler.js");

/**
 * Bundles the Worker of checkout `root` as `wrangler deploy` would
 * (`--dry-run --outdir`), optionally with another wrangler config or entry
 * module; returns the path of the bundled script.
 */
export function bundleWorker(root, outdir, { config = null, entry = null } = {}) {
  const args = [WRANGLER_JS, "deploy", "--dry-run", "--outdir", outdir, ...(config ? ["-c", config] : []), ...(entry ? [entry] : [])];
  const built = spawnSync(process.execPath, args, {
    cwd: root,
    encoding: "utf8",
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "1" },
  });
  if (built.status !== 0) throw new Error(`bundle of ${root} failed: ${(built.stderr || built.stdout).slice(-800)}`);
  return path.join(outdir, readdirSync(outdir).find((f) => f.endsWith(".js")));
}

const started = new Set();

/** Spawns a child in its own process group and remembers it for cleanup. */
export function spawnGroup(cmd, args, opts = {}) {
  const child = spawn(cmd, args, { ...opts, detached: true, stdio: opts.stdio ?? ["pipe", "pipe", "pipe"] });
  started.add(child);
  child.on("exit", () => started.delete(child));
  return child;
}

function killGroup(child, signal) {
  try {
    process.kill(-child.pid, signal);
  } catch {
    /* already gone */
  }
}

/** SIGTERM the group, wait up to `graceMs`, then SIGKILL whatever is left. */
export async function stopGroup(child, graceMs = 3000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) {
    killGroup(child, "SIGKILL"); // grandchildren may outlive their parent
    return;
  }
  const exited = new Promise((r) => child.once("exit", r));
  killGroup(child, "SIGTERM");
  const t = setTimeout(() => killGroup(child, "SIGKILL"), graceMs);
  await exited;
  clearTimeout(t);
  killGroup(child, "SIGKILL");
}

/**
 * Starts bench/serve.mjs (path `serveScript`) with its JSON options `opts`
 * in its own process group and waits for its `READY` line. Returns the child
 * and the URL it serves.
 */
export async function startServe(serveScript, opts) {
  const child = spawnGroup(process.execPath, [serveScript, JSON.stringify(opts)]);
  const url = await new Promise((resolve, reject) => {
    let buf = "";
    child.stdout.on("data", (d) => {
      buf += d;
      const line = buf.split("\n").find((l) => l.startsWith("READY "));
      if (line) resolve(JSON.parse(line.slice(6)).url);
    });
    child.on("exit", (c) => reject(new Error(`server exited ${c}`)));
  });
  return { child, url };
}

export async function stopAll() {
  await Promise.all([...started].map((c) => stopGroup(c)));
}

/** Last resort from a synchronous 'exit' handler. */
export function killAllSync() {
  for (const c of started) killGroup(c, "SIGKILL");
}

const CLK_TCK = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

function readStat(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, "utf8");
    const close = s.lastIndexOf(")");
    const comm = s.slice(s.indexOf("(") + 1, close);
    const f = s.slice(close + 2).split(" ");
    // fields after ")": state(0) ppid(1) ... utime(11) stime(12)
    return { pid, comm, ppid: Number(f[1]), cpu: (Number(f[11]) + Number(f[12])) / CLK_TCK };
  } catch {
    return null;
  }
}

/** All live descendants of `rootPid` (inclusive). */
export function processTree(rootPid) {
  const all = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    const st = readStat(Number(d));
    if (st) all.push(st);
  }
  const byParent = new Map();
  for (const p of all) {
    if (!byParent.has(p.ppid)) byParent.set(p.ppid, []);
    byParent.get(p.ppid).push(p);
  }
  const out = [];
  const root = all.find((p) => p.pid === rootPid);
  const stack = root ? [root] : [];
  while (stack.length) {
    const p = stack.pop();
    out.push(p);
    for (const c of byParent.get(p.pid) ?? []) stack.push(c);
  }
  return out;
}

/**
 * CPU seconds used so far by a process tree: `workerd` (processes named
 * workerd) and `all` (the whole tree, e.g. wrangler's node process too).
 * Compare two samples of the same tree; processes are keyed by pid.
 */
export function cpuSample(rootPid) {
  const tree = processTree(rootPid);
  const per = new Map(tree.map((p) => [p.pid, p]));
  return { per };
}

export function cpuDelta(a, b) {
  let workerd = 0;
  let all = 0;
  for (const [pid, p] of b.per) {
    const before = a.per.get(pid)?.cpu ?? 0;
    const d = Math.max(0, p.cpu - before);
    all += d;
    if (p.comm === "workerd") workerd += d;
  }
  return { workerd, all };
}

/** A free TCP port on 127.0.0.1 (closed again before returning). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * CPU seconds per thread of the workerd processes under `rootPid`
 * (/proc/<pid>/task/<tid>/stat), keyed "pid/tid", with the thread's name:
 * shows whether one thread does all the JavaScript work.
 */
export function threadSample(rootPid) {
  const out = new Map();
  for (const p of processTree(rootPid)) {
    if (p.comm !== "workerd") continue;
    let tids = [];
    try {
      tids = readdirSync(`/proc/${p.pid}/task`);
    } catch {}
    for (const tid of tids) {
      const st = readStat(`${p.pid}/task/${tid}`);
      if (st) out.set(`${p.pid}/${tid}`, st);
    }
  }
  return out;
}

/** Per-thread CPU seconds between two thread samples, busiest first. */
export function threadDelta(a, b) {
  return [...b.entries()]
    .map(([k, t]) => ({ thread: k, name: t.comm, cpu: Math.max(0, t.cpu - (a.get(k)?.cpu ?? 0)) }))
    .sort((x, y) => y.cpu - x.cpu);
}
