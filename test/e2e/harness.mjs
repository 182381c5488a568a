// Shared helpers for the end-to-end suites: start `wrangler dev` on a free
// loopback port with a fresh persistence directory (D1 migrations applied
// first), wait until it answers, and stop the whole process group afterwards.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const wranglerBin = join(process.cwd(), "node_modules", ".bin", "wrangler");

/**
 * Starts wrangler dev. `vars` are passed with --var (they override wrangler.toml).
 * Returns { baseUrl, port, stop(), logs() }.
 */
export async function startWranglerDev({ vars = {}, config = "wrangler.toml", log = () => {} } = {}) {
  const persist = mkdtempSync(join(tmpdir(), "weave-e2e-"));
  execFileSync(wranglerBin, ["d1", "migrations", "apply", "DB", "--local", "--persist-to", persist, "-c", config], {
    stdio: "pipe",
    env: { ...process.env, CI: "1", WRANGLER_SEND_METRICS: "false" },
  });
  const port = await freePort();
  const args = ["dev", "-c", config, "--ip", "127.0.0.1", "--port", String(port), "--persist-to", persist, "--log-level", "warn", "--inspector-port", String(await freePort())];
  for (const [k, v] of Object.entries(vars)) args.push("--var", `${k}:${v}`);
  const child = spawn(wranglerBin, args, {
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, CI: "1", WRANGLER_SEND_METRICS: "false", NO_COLOR: "1", CLOUDFLARE_CF_FETCH_ENABLED: "false" },
  });
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  const baseUrl = `http://127.0.0.1:${port}`;
  const stop = () => {
    try {
      process.kill(-child.pid, "SIGTERM");
    } catch {
      /* already gone */
    }
    setTimeout(() => {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        /* gone */
      }
    }, 2000).unref();
    try {
      rmSync(persist, { recursive: true, force: true });
    } catch {
      /* best effort */
    }
  };
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited early:\n${output}`);
    try {
      const res = await fetch(`${baseUrl}/__heartbeat__`);
      if (res.status === 200) break;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) {
      stop();
      throw new Error(`wrangler dev did not start within 90 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  log(`wrangler dev up at ${baseUrl}`);
  return { baseUrl, port, pid: child.pid, stop, logs: () => output };
}

export function assert(cond, message) {
  if (!cond) throw new Error(`assertion failed: ${message}`);
}

export function assertEqual(actual, expected, message) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${message}: expected ${e}, got ${a}`);
}
