/**
 * Benchmark group `hostile` (issue 9 "Done when"): for the worst input of each
 * class in issue 9's "Why" list, the CPU the Worker spends on one request and
 * the peak memory of its workerd process while it runs, beside a normal
 * request of the same size. Run with `node bench/run.mjs --only=hostile`
 * (hooked in from bench/run.mjs; everything else lives here).
 *
 * CPU: the workerd process's utime+stime from /proc before and after each
 * request (median of the repetitions). Memory: VmRSS of the workerd process
 * sampled every 2 ms while the request runs; reported as the peak and as the
 * rise over the RSS just before the request.
 */
import { readFileSync } from "node:fs";
import { cpuSample, cpuDelta, processTree } from "./lib/procs.mjs";
import { basicAuth, hawkHeader } from "./lib/ops.mjs";

const MB = 1024 * 1024;

function rssBytes(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Sends one request and measures it. `body`: a Buffer, or a function giving a ReadableStream (chunked, no Content-Length). */
async function measureOne(server, workerdPid, { method, path, headers = {}, body }) {
  const rss0 = rssBytes(workerdPid);
  let peak = rss0;
  const timer = setInterval(() => {
    const r = rssBytes(workerdPid);
    if (r > peak) peak = r;
  }, 2);
  const c0 = cpuSample(server.child.pid);
  const t0 = performance.now();
  let status;
  try {
    const init = { method, headers: typeof headers === "function" ? headers() : headers };
    if (typeof body === "function") Object.assign(init, { body: body(), duplex: "half" });
    else if (body !== undefined) init.body = body;
    const res = await fetch(new URL(typeof path === "function" ? path() : path, server.url), init);
    await res.arrayBuffer();
    status = res.status;
  } catch (e) {
    status = `error: ${e.cause?.code ?? e.message}`;
  }
  const ms = performance.now() - t0;
  // Let the last CPU ticks land in /proc (10 ms resolution) before sampling.
  await new Promise((r) => setTimeout(r, 30));
  clearInterval(timer);
  const cpu = cpuDelta(c0, cpuSample(server.child.pid)).workerd * 1000;
  return { status, cpuMs: cpu, wallMs: ms, peakRss: peak, rssRise: Math.max(0, peak - rss0) };
}

const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function numbersArray(bytes) {
  return Buffer.from("[" + "1,".repeat(Math.floor(bytes / 2) - 1) + "1]");
}
function records(count, payloadBytes, prefix = "r") {
  const payload = "x".repeat(payloadBytes);
  return Buffer.from(JSON.stringify(Array.from({ length: count }, (_, i) => ({ id: `${prefix}${i}`, payload }))));
}
function streamOf(total, chunk = 64 * 1024) {
  return () => {
    let sent = 0;
    const c = new Uint8Array(chunk).fill(0x61);
    return new ReadableStream({
      pull(ctl) {
        if (sent >= total) return ctl.close();
        sent += chunk;
        ctl.enqueue(c);
      },
    });
  };
}

/**
 * Runs the group on a direct server of our production Worker.
 * ctx: { startDirect, stopGroup, buildOursAsync, clientFor, rows, notes, log, QUICK, config, migrations, vars }
 */
export async function runHostile(ctx) {
  const { rows, notes, log } = ctx;
  let server = null;
  try {
    const script = await ctx.buildOursAsync(null, "bundle-hostile");
    server = await ctx.startDirect("ours-hostile", { config: ctx.config, script, vars: { ...ctx.vars, USE_QUOTA: "false" }, migrations: ctx.migrations });
    const wd = processTree(server.child.pid).find((p) => p.comm === "workerd");
    if (!wd) throw new Error("no workerd process under the server");
    const u11 = { name: "hostile11", password: "bench-password-0123" };
    const r11 = await ctx.clientFor({ ...server, flavour: "sync11" }).register(u11);
    if (!r11.ok) throw new Error(`1.1 account: ${r11.why}`);
    const u15 = { name: "hostile15" };
    const r15 = await ctx.clientFor({ ...server, flavour: "sync15" }).register(u15);
    if (!r15.ok) throw new Error(`1.5 token: ${r15.why}`);
    const url = new URL(server.url);
    const b11 = { authorization: basicAuth(u11.name, u11.password), "content-type": "application/json" };
    const hawk = (method, p, extra = {}) => () => ({ authorization: hawkHeader(u15, method, p, url.hostname, url.port || "80"), "content-type": "application/json", ...extra });
    const p11 = `/1.1/${u11.name}/storage/bench`;
    const p15 = `/1.5/${u15.uid}/storage/bench`;
    const cap15 = 2_600_000;
    let accounts = 0; // a new name per repetition of the normal account creation

    // [class, hostile request, normal request of the same size]
    const cases = [
      ["1.1 POST 2 MB: array of numbers", { method: "POST", path: p11, headers: b11, body: numbersArray(2 * MB) }, { method: "POST", path: p11, headers: b11, body: records(100, 20_000) }],
      ["1.1 POST 2 MB: one id of 2M digits", { method: "POST", path: p11, headers: b11, body: Buffer.from(`[{"id":${"1".repeat(2 * MB)},"payload":"x"}]`) }, { method: "POST", path: p11, headers: b11, body: records(100, 20_000) }],
      ["1.1 POST 15 MB: 1M items", { method: "POST", path: p11, headers: b11, body: Buffer.from(JSON.stringify(Array.from({ length: 1_000_000 }, (_, i) => ({ id: i.toString(36) })))) }, { method: "POST", path: p11, headers: b11, body: records(100, 150_000) }],
      ["1.1 POST 15 MB: 700k items with a float ttl", { method: "POST", path: p11, headers: b11, body: Buffer.from(JSON.stringify(Array.from({ length: 700_000 }, (_, i) => ({ id: i.toString(36), ttl: 1.5 })))) }, { method: "POST", path: p11, headers: b11, body: records(100, 150_000) }],
      ["1.1 POST 15 MB: 5M empty lists", { method: "POST", path: p11, headers: b11, body: Buffer.from(`[${"[],".repeat(5_000_000)}[]]`) }, { method: "POST", path: p11, headers: b11, body: records(100, 150_000) }],
      ["1.5 POST at the cap: 180k items", { method: "POST", path: p15, headers: hawk("POST", p15), body: Buffer.from(JSON.stringify(Array.from({ length: 180_000 }, (_, i) => ({ id: i.toString(36) })))) }, { method: "POST", path: p15, headers: hawk("POST", p15), body: records(100, 25_000) }],
      ["1.5 POST at the cap: array of numbers", { method: "POST", path: p15, headers: hawk("POST", p15), body: numbersArray(cap15) }, { method: "POST", path: p15, headers: hawk("POST", p15), body: records(100, 25_000) }],
      ["1.5 POST: failing __proto__ items", { method: "POST", path: p15, headers: hawk("POST", p15), body: Buffer.from(JSON.stringify([{ id: "__proto__", payload: 5 }, { id: "constructor", payload: [] }, ...JSON.parse(records(98, 100).toString())])) }, { method: "POST", path: p15, headers: hawk("POST", p15), body: records(100, 100) }],
      ["1.5 PUT: lone surrogate payload", { method: "PUT", path: `${p15}/s1`, headers: hawk("PUT", `${p15}/s1`), body: Buffer.from(`{"payload":"${"a".repeat(1000)}\\ud800"}`) }, { method: "PUT", path: `${p15}/s1`, headers: hawk("PUT", `${p15}/s1`), body: Buffer.from(`{"payload":"${"a".repeat(1006)}"}`) }],
      ["1.5 GET: 60 KB Hawk nonce", { method: "GET", path: `/1.5/${u15.uid}/info/collections`, headers: () => ({ authorization: hawkHeader(u15, "GET", `/1.5/${u15.uid}/info/collections`, url.hostname, url.port || "80", undefined, "n".repeat(60_000)) }) }, { method: "GET", path: `/1.5/${u15.uid}/info/collections`, headers: hawk("GET", `/1.5/${u15.uid}/info/collections`) }],
      ["User API PUT 64 MB (streamed, no auth)", { method: "PUT", path: "/user/1.0/hostilebig", body: streamOf(64 * MB) }, { method: "PUT", path: () => `/user/1.0/hostilenormal${++accounts}`, headers: { "content-type": "application/json" }, body: Buffer.from(JSON.stringify({ password: "pw-normal-0123456789", email: "n@example.com" })) }],
      ["1.1 POST 64 MB (streamed)", { method: "POST", path: p11, headers: b11, body: streamOf(64 * MB) }, { method: "POST", path: p11, headers: b11, body: records(100, 150_000) }],
    ];
    const reps = ctx.QUICK ? 1 : 3;
    // HOSTILE_ONLY=<text>: only the cases whose label contains it (case-insensitive).
    const only = (process.env.HOSTILE_ONLY ?? "").toLowerCase();
    for (const [label, bad, good] of cases.filter(([l]) => l.toLowerCase().includes(only))) {
      const size = (r) => (typeof r.body === "function" ? "64 MiB stream" : `${((r.body?.length ?? 0) / MB).toFixed(2)} MiB`);
      for (const [kind, req] of [["hostile", bad], ["normal", good]]) {
        const ms = [];
        for (let i = 0; i < reps; i++) ms.push(await measureOne(server, wd.pid, req));
        const row = {
          group: "hostile", workload: label, variant: kind, server: "ours-hostile", mode: "direct", body: size(req),
          status: ms[ms.length - 1].status, cpuMs: median(ms.map((m) => m.cpuMs)), wallMs: median(ms.map((m) => m.wallMs)),
          peakRssMB: Math.max(...ms.map((m) => m.peakRss)) / MB, rssRiseMB: Math.max(...ms.map((m) => m.rssRise)) / MB,
        };
        rows.push(row);
        log(`hostile/${label} [${kind}] ${row.body}: ${row.status} cpu ${row.cpuMs.toFixed(0)} ms wall ${row.wallMs.toFixed(0)} ms peak RSS ${row.peakRssMB.toFixed(0)} MB (+${row.rssRiseMB.toFixed(0)})`);
      }
    }
    printTable(rows.filter((r) => r.group === "hostile"));
  } catch (e) {
    notes.push(`hostile failed: ${e.message.slice(0, 600)}`);
    log(`hostile failed: ${e.stack}`);
  } finally {
    if (server) await ctx.stopGroup(server.child);
  }
}

function printTable(rs) {
  const head = ["input class", "request", "body", "status", "CPU ms", "wall ms", "peak RSS MB", "RSS rise MB"];
  const lines = rs.map((r) => [r.workload, r.variant, r.body, String(r.status), r.cpuMs.toFixed(0), r.wallMs.toFixed(0), r.peakRssMB.toFixed(0), r.rssRiseMB.toFixed(0)]);
  const w = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (l) => l.map((c, i) => (i < 4 ? c.padEnd(w[i]) : c.padStart(w[i]))).join("  ");
  console.log(`\nhostile inputs (workerd process; CPU from /proc, median of repetitions)\n${fmt(head)}\n${lines.map(fmt).join("\n")}`);
}
