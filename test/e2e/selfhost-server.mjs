// Starts `npm run serve` (scripts/serve.mjs) for the self-hosting suites: its
// own process group, a given data folder and port, waiting for its READY line.
import { spawn } from "node:child_process";
import { appendFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const tempDir = (prefix) => mkdtempSync(join(tmpdir(), prefix));

/**
 * Runs `npm run serve -- --port <port> --data <data>` in a new process group.
 * `config`: NAME=value lines appended to <data>/config.env before the start
 * (a new file, mode 0600, when there is none yet: the server then adds a
 * random SYNC_MASTER_SECRET to it).
 * Returns { url, ready, child, pid, output(), exited, signalGroup(sig), signalMain(sig) }.
 */
export async function startServe({ port, data, config = {}, timeoutMs = 120_000 }) {
  if (Object.keys(config).length) {
    appendFileSync(join(data, "config.env"), Object.entries(config).map(([k, v]) => `${k}=${v}\n`).join(""), { mode: 0o600 });
  }
  const child = spawn("npm", ["run", "--silent", "serve", "--", "--port", String(port), "--data", data], {
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, NO_COLOR: "1", WRANGLER_SEND_METRICS: "false" },
  });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (out += d));
  const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  const ready = await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`serve not ready after ${timeoutMs} ms:\n${out.slice(-3000)}`)), timeoutMs);
    const check = () => {
      const line = out.split("\n").find((l) => l.startsWith("READY "));
      if (line) {
        clearTimeout(t);
        resolve(JSON.parse(line.slice(6)));
      }
    };
    child.stdout.on("data", check);
    exited.then(({ code, signal }) => {
      clearTimeout(t);
      reject(new Error(`serve exited (${code ?? signal}) before READY:\n${out.slice(-3000)}`));
    });
  });
  const signalGroup = (sig) => {
    try {
      process.kill(-child.pid, sig);
    } catch {
      /* gone */
    }
  };
  return {
    url: `http://127.0.0.1:${port}`,
    ready,
    child,
    pid: child.pid,
    exited,
    output: () => out,
    signalGroup,
    /** Signals the npm process only (what `docker stop` does to PID 1). */
    signalMain: (sig) => child.kill(sig),
    /** Best-effort cleanup: SIGKILL to the whole group. */
    kill: () => signalGroup("SIGKILL"),
  };
}

/** Resolves once nothing accepts connections on `port` (throws after `ms`). */
export async function portClosed(port, ms = 10_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(500) });
    } catch (e) {
      if (e?.cause?.code === "ECONNREFUSED") return;
    }
    if (Date.now() > deadline) throw new Error(`port ${port} still accepts connections after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
