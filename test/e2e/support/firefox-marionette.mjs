// A small Marionette client and a headless Firefox launcher for the real-Firefox
// end-to-end suite (no driver package: Marionette is JSON over TCP).
//
// Wire format: every message is `<byte length>:<JSON>`. The server greets with
// {"applicationType": "gecko", "marionetteProtocol": 3}; a command is
// [0, id, "Name", params] and its reply [1, id, error|null, result|null].
//
//   const ff = await launchFirefox({ name: "A", prefs, env, log });
//   const value = await ff.chrome(`return Services.prefs.getIntPref("x")`);   // chrome context
//   await ff.quit();                                // kills the process group, removes the profile
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../harness.mjs";

/** Where Debian's package puts Firefox ESR (FIREFOX_PATH overrides). */
export function firefoxBinary() {
  if (process.env.FIREFOX_PATH) return existsSync(process.env.FIREFOX_PATH) ? process.env.FIREFOX_PATH : null;
  for (const p of ["/usr/bin/firefox-esr", "/usr/lib/firefox-esr/firefox-esr"]) if (existsSync(p)) return p;
  return null;
}

export const FIREFOX_INSTALL_HINT = "apt-get install -y firefox-esr (Debian; as root or with sudo), or set FIREFOX_PATH";

/** Serialises a pref value for user.js. */
function prefLine(name, value) {
  return `user_pref(${JSON.stringify(name)}, ${JSON.stringify(value)});\n`;
}

class MarionetteClient {
  /** @param {net.Socket} socket */
  constructor(socket, label) {
    this.socket = socket;
    this.label = label;
    this.buffer = Buffer.alloc(0);
    this.nextId = 1;
    /** id → { resolve, reject, name } */
    this.pending = new Map();
    this.greeting = null;
    this.greeted = new Promise((resolve) => (this.onGreeting = resolve));
    socket.on("data", (chunk) => this.onData(chunk));
    socket.on("close", () => this.failAll(new Error(`${label}: Marionette connection closed`)));
    socket.on("error", (err) => this.failAll(new Error(`${label}: Marionette socket error: ${err.message}`)));
  }

  failAll(err) {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  onData(chunk) {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const colon = this.buffer.indexOf(0x3a);
      if (colon < 0) return;
      const length = Number(this.buffer.subarray(0, colon).toString("ascii"));
      if (!Number.isInteger(length)) {
        this.failAll(new Error(`${this.label}: bad Marionette frame header`));
        this.socket.destroy();
        return;
      }
      if (this.buffer.length < colon + 1 + length) return;
      const body = this.buffer.subarray(colon + 1, colon + 1 + length).toString("utf8");
      this.buffer = this.buffer.subarray(colon + 1 + length);
      const msg = JSON.parse(body);
      if (!Array.isArray(msg)) {
        this.greeting = msg;
        this.onGreeting(msg);
        continue;
      }
      const [, id, error, result] = msg;
      const p = this.pending.get(id);
      if (!p) continue;
      this.pending.delete(id);
      if (error) {
        const e = new Error(`${this.label}: ${p.name} failed: ${error.error}: ${error.message}${error.stacktrace ? `\n${error.stacktrace}` : ""}`);
        p.reject(e);
      } else p.resolve(result);
    }
  }

  /** Sends one command; rejects after timeoutMs with the command's name. */
  send(name, params = {}, timeoutMs = 60_000) {
    const id = this.nextId++;
    const json = Buffer.from(JSON.stringify([0, id, name, params]), "utf8");
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.label}: ${name} got no answer within ${Math.round(timeoutMs / 1000)} s`));
      }, timeoutMs);
      this.pending.set(id, {
        name,
        resolve: (v) => (clearTimeout(timer), resolve(v)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      this.socket.write(Buffer.concat([Buffer.from(`${json.length}:`, "ascii"), json]));
    });
  }

  close() {
    this.socket.destroy();
  }
}

async function connect(port, label, deadline, isAlive) {
  for (;;) {
    if (!isAlive()) throw new Error(`${label}: Firefox exited before Marionette answered`);
    try {
      const socket = await new Promise((resolve, reject) => {
        const s = net.connect(port, "127.0.0.1");
        s.once("connect", () => resolve(s));
        s.once("error", reject);
      });
      const client = new MarionetteClient(socket, label);
      const greeting = await Promise.race([client.greeted, new Promise((r) => setTimeout(() => r(null), 5000))]);
      if (greeting?.marionetteProtocol) return client;
      client.close();
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) throw new Error(`${label}: Marionette did not answer on port ${port} within the start timeout`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * Starts a headless Firefox on a fresh temporary profile with Marionette on a
 * free port, opens a session and switches to the chrome context.
 * @param {{ name: string, prefs: Record<string, string|number|boolean>, env?: Record<string,string>,
 *   log?: (m: string) => void, startTimeoutMs?: number }} o
 */
export async function launchFirefox({ name, prefs, env = {}, log = () => {}, startTimeoutMs = 150_000 }) {
  const binary = firefoxBinary();
  if (!binary) throw new Error(`Firefox not found: ${FIREFOX_INSTALL_HINT}`);
  const profile = mkdtempSync(join(tmpdir(), `weave-firefox-${name}-`));
  const port = await freePort();
  let userJs = "";
  for (const [k, v] of Object.entries({ ...prefs, "marionette.port": port })) userJs += prefLine(k, v);
  writeFileSync(join(profile, "user.js"), userJs);

  const child = spawn(binary, ["--marionette", "--remote-allow-system-access", "--headless", "--no-remote", "--profile", profile, "about:blank"], {
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, MOZ_HEADLESS: "1", MOZ_DISABLE_NONLOCAL_CONNECTIONS: "1", MOZ_CRASHREPORTER_DISABLE: "1", ...env },
  });
  let output = "";
  const keep = (d) => {
    output += d;
    if (output.length > 200_000) output = output.slice(-100_000);
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  const exited = new Promise((resolve) => child.once("exit", resolve));

  let client = null;
  let stopped = false;
  // If the runner dies first (an exception, Ctrl-C), still take Firefox and its profile with it.
  const onExit = () => {
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {
      /* gone */
    }
    rmSync(profile, { recursive: true, force: true });
  };
  process.once("exit", onExit);
  const kill = async () => {
    if (stopped) return;
    stopped = true;
    process.removeListener("exit", onExit);
    client?.close();
    try {
      process.kill(-child.pid, "SIGTERM");
    } catch {
      /* gone */
    }
    const gone = await Promise.race([exited.then(() => true), new Promise((r) => setTimeout(() => r(false), 5000))]);
    if (!gone) {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        /* gone */
      }
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
    }
    rmSync(profile, { recursive: true, force: true });
  };

  try {
    client = await connect(port, `Firefox ${name}`, Date.now() + startTimeoutMs, () => child.exitCode === null && child.signalCode === null);
    // Scripts may run long (a large sync); each call's own deadline is enforced on this side (chrome()).
    await client.send("WebDriver:NewSession", { capabilities: { alwaysMatch: { timeouts: { script: 900_000 } } } }, startTimeoutMs);
    await client.send("Marionette:SetContext", { value: "chrome" });
  } catch (err) {
    await kill();
    throw new Error(`${err.message}\n--- Firefox ${name} output (tail) ---\n${output.slice(-4000)}`);
  }
  log(`Firefox ${name} up (pid ${child.pid}, Marionette port ${port})`);

  return {
    name,
    profile,
    pid: child.pid,
    output: () => output,
    /**
     * Runs `body` as an async function in chrome context and returns its
     * value (JSON-serialisable). `args` are available as `args`. A thrown
     * error comes back as a rejected promise with its message and stack.
     */
    async chrome(body, args = [], timeoutMs = 120_000) {
      const script = `
        const [args, resolve] = [arguments[0], arguments[arguments.length - 1]];
        (async () => { ${body} })().then(
          (value) => resolve({ ok: true, value: value === undefined ? null : value }),
          (e) => resolve({ ok: false, error: String(e && e.message || e), stack: String(e && e.stack || "") }),
        );`;
      // The "system" sandbox (system principal, kept across calls): XPCOM constructors such as
      // nsILoginInfo's fail with "Unexpected error in XPConnect" in the default one.
      const r = await client.send(
        "WebDriver:ExecuteAsyncScript",
        { script, args: [args], sandbox: "system", newSandbox: false },
        timeoutMs,
      );
      const out = r?.value;
      if (!out || typeof out !== "object") throw new Error(`Firefox ${name}: unexpected script result ${JSON.stringify(r)}`);
      if (!out.ok) throw new Error(`Firefox ${name}: ${out.error}\n${out.stack}`);
      return out.value;
    },
    async quit() {
      if (client && !stopped) {
        try {
          await client.send("Marionette:Quit", { flags: ["eForceQuit"] }, 10_000);
        } catch {
          /* killed below */
        }
      }
      await kill();
    },
  };
}
