// Throw-away MariaDB and PostgreSQL servers for the importer tests: a fresh
// data directory in /tmp, a free loopback port, started from Debian's
// binaries (`.ci/run` installs `mariadb-server` and `postgresql`) and
// stopped afterwards. Each start returns null with the reason when the
// binaries are missing, so the test can say it was skipped and why.
import { execFileSync, spawn } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../harness.mjs";

const isRoot = process.getuid?.() === 0;

function findBin(names, dirs) {
  for (const d of dirs) for (const n of names) if (existsSync(join(d, n))) return join(d, n);
  return null;
}

function pgBinDir() {
  const base = "/usr/lib/postgresql";
  if (!existsSync(base)) return null;
  const versions = readdirSync(base).sort((a, b) => Number(b) - Number(a));
  for (const v of versions) if (existsSync(join(base, v, "bin", "initdb"))) return join(base, v, "bin");
  return null;
}

async function waitFor(fn, what, ms = 30000) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    try {
      return await fn();
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  throw new Error(`${what} did not come up: ${last?.message ?? last}`);
}

/** Runs a command as `user` when we are root (the servers refuse to run as root). */
function asUser(user, cmd, args) {
  return isRoot ? ["runuser", ["-u", user, "--", cmd, ...args]] : [cmd, args];
}

export async function startPostgres() {
  const bin = pgBinDir();
  if (!bin) return { skipped: "PostgreSQL is not installed (apt-get install postgresql)" };
  const dir = mkdtempSync(join(tmpdir(), "weave-pg-"));
  if (isRoot) chownSync(dir, Number(execFileSync("id", ["-u", "postgres"]).toString()), Number(execFileSync("id", ["-g", "postgres"]).toString()));
  const [c1, a1] = asUser("postgres", join(bin, "initdb"), ["-D", join(dir, "data"), "-A", "trust", "-U", "postgres", "--no-sync"]);
  execFileSync(c1, a1, { stdio: "pipe" });
  const port = await freePort();
  const [c2, a2] = asUser("postgres", join(bin, "postgres"), ["-D", join(dir, "data"), "-p", String(port), "-k", dir, "-h", "127.0.0.1", "-F"]);
  const child = spawn(c2, a2, { stdio: "ignore", detached: true });
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const pg = (await import("pg")).default;
  await waitFor(async () => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    await c.end();
  }, "postgres");
  return {
    url: (db) => `postgres://postgres@127.0.0.1:${port}/${db}`,
    async createDb(name) {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      await c.query(`CREATE DATABASE ${name}`);
      await c.end();
    },
    stop() {
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {
        /* gone */
      }
      setTimeout(() => rmSync(dir, { recursive: true, force: true }), 1500).unref();
    },
  };
}

export async function startMariadb() {
  const server = findBin(["mariadbd", "mysqld"], ["/usr/sbin", "/usr/bin", "/usr/local/bin"]);
  const install = findBin(["mariadb-install-db", "mysql_install_db"], ["/usr/bin", "/usr/sbin", "/usr/local/bin"]);
  if (!server || !install) return { skipped: "MariaDB is not installed (apt-get install mariadb-server)" };
  const dir = mkdtempSync(join(tmpdir(), "weave-mariadb-"));
  const user = isRoot ? ["--user=mysql"] : [];
  if (isRoot) chownSync(dir, Number(execFileSync("id", ["-u", "mysql"]).toString()), Number(execFileSync("id", ["-g", "mysql"]).toString()));
  execFileSync(install, [`--datadir=${join(dir, "data")}`, "--auth-root-authentication-method=normal", "--skip-test-db", ...user], { stdio: "pipe" });
  const port = await freePort();
  const child = spawn(
    server,
    [
      "--no-defaults",
      `--datadir=${join(dir, "data")}`,
      `--socket=${join(dir, "sock")}`,
      `--port=${port}`,
      "--bind-address=127.0.0.1",
      "--skip-grant-tables",
      "--skip-log-bin",
      `--pid-file=${join(dir, "pid")}`,
      ...user,
    ],
    { stdio: "ignore", detached: true },
  );
  const mysql = await import("mysql2/promise");
  const url = (db) => `mysql://root@127.0.0.1:${port}/${db}`;
  await waitFor(async () => {
    const c = await mysql.createConnection({ host: "127.0.0.1", port, user: "root" });
    await c.end();
  }, "mariadb");
  return {
    url,
    async createDb(name) {
      const c = await mysql.createConnection({ host: "127.0.0.1", port, user: "root" });
      await c.query(`CREATE DATABASE ${name}`);
      await c.end();
    },
    stop() {
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {
        /* gone */
      }
      setTimeout(() => rmSync(dir, { recursive: true, force: true }), 1500).unref();
    },
  };
}
