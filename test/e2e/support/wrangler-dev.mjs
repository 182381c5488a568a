// Starts `wrangler dev` for one end-to-end script: free ports, a fresh
// persistence directory with the D1 migrations applied, the given vars, and
// a stop() that ends exactly the process group it started.
import { spawn, execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";

const ROOT = resolve(fileURLToPath(new URL("../../..", import.meta.url)));
const WRANGLER = join(ROOT, "node_modules", ".bin", "wrangler");

export function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

/** Development vars for the reset flow: the outbox transport and the route that reads it. */
export const DEV_VARS = { MAIL_TRANSPORT: "outbox", MAIL_FROM: "sync@example.test", DEV_MODE: "true" };

/**
 * @param {{ vars?: Record<string,string>, log?: (m: string) => void }} opts
 * @returns {Promise<{ baseUrl: string, stop: () => Promise<void>, output: () => string }>}
 */
export async function startWranglerDev({ vars = {}, log = () => {} } = {}) {
  const dir = await mkdtemp(join(tmpdir(), "weave-e2e-"));
  // node_modules/.bin first: wrangler needs the Node 22 that the project installs as a devDependency.
  const PATH = `${join(ROOT, "node_modules", ".bin")}:${process.env.PATH ?? ""}`;
  const env = { ...process.env, PATH, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1", CI: process.env.CI ?? "true" };
  await promisify(execFile)(WRANGLER, ["d1", "migrations", "apply", "DB", "--local", "--persist-to", dir], {
    cwd: ROOT,
    env,
    timeout: 120_000,
  });
  const port = await freePort();
  const inspector = await freePort();
  const args = ["dev", "--port", String(port), "--ip", "127.0.0.1", "--inspector-port", String(inspector), "--persist-to", dir, "--log-level", "warn"];
  for (const [k, v] of Object.entries(vars)) args.push("--var", `${k}:${v}`);
  const child = spawn(WRANGLER, args, { cwd: ROOT, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (out += d));
  let exited = false;
  const exitedP = new Promise((res) => child.once("exit", () => ((exited = true), res())));

  const stop = async () => {
    if (!exited) {
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {
        /* already gone */
      }
      const t = setTimeout(() => {
        try {
          process.kill(-child.pid, "SIGKILL");
        } catch {
          /* gone */
        }
      }, 5000);
      await exitedP;
      clearTimeout(t);
    }
    await rm(dir, { recursive: true, force: true });
  };

  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (exited) {
      await stop();
      throw new Error(`wrangler dev exited early:\n${out}`);
    }
    try {
      const r = await fetch(`${baseUrl}/__heartbeat__`);
      if (r.status === 200) break;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`wrangler dev did not start within 90 s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  log(`wrangler dev up at ${baseUrl}`);
  return { baseUrl, stop, output: () => out };
}

/** Runs `fn` when this file is the script node was started with; exits 0/1. */
export function runIfMain(importMetaUrl, fn) {
  if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(importMetaUrl)) {
    fn({ log: (m) => console.log(m) }).then(
      () => process.exit(0),
      (err) => {
        console.error(err);
        process.exit(1);
      },
    );
  }
}

export function basic(user, password) {
  return `Basic ${Buffer.from(`${user}:${password}`, "utf8").toString("base64")}`;
}

/** lowercase(base32(sha1(lowercase(email)))) — the legacy client's user name (user-1.0 §3.1). */
export async function clientUsername(email) {
  const { createHash } = await import("node:crypto");
  const digest = createHash("sha1").update(email.toLowerCase(), "utf8").digest();
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = 0, acc = 0, out = "";
  for (const b of digest) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += alphabet[(acc >>> bits) & 31];
    }
    acc &= (1 << bits) - 1;
  }
  return out.toLowerCase();
}

export function assert(cond, message) {
  if (!cond) throw new Error(`assertion failed: ${message}`);
}
