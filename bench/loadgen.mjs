/**
 * @module bench/loadgen
 * The load generator, a separate process so that its CPU never counts as the
 * server's and it runs beside the server rather than inside its event loop.
 * Forked by bench/run.mjs; receives jobs over IPC, answers with results.
 *
 * Job: { id, url, flavour, users: [{name,password}], workload, params,
 *        concurrency, durationMs, maxRequests? }
 * Connection i uses users[i % users.length]; each keeps its own keep-alive
 * socket (an http.Agent with maxSockets = concurrency) and issues requests
 * back to back (closed loop). Result: counts, status histogram, latency
 * percentiles (ms) overall and per op tag, bytes received, elapsed seconds.
 */
import http from "node:http";
import { WORKLOADS, toRequest } from "./lib/ops.mjs";

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

function summarise(lat) {
  const s = Float64Array.from(lat).sort();
  return { n: s.length, p50: percentile(s, 50), p95: percentile(s, 95), p99: percentile(s, 99) };
}

function send(agent, url, req, wantBody) {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    const headers = { ...req.headers };
    if (req.body !== undefined) headers["content-length"] = Buffer.byteLength(req.body);
    const r = http.request(
      { agent, host: url.hostname, port: url.port, method: req.method, path: req.path, headers },
      (res) => {
        let bytes = 0;
        const chunks = [];
        const keep = wantBody || res.statusCode >= 400;
        res.on("data", (c) => {
          bytes += c.length;
          if (keep && (wantBody || chunks.length < 4)) chunks.push(c);
        });
        res.on("end", () =>
          resolve({
            status: res.statusCode,
            bytes,
            ms: Number(process.hrtime.bigint() - t0) / 1e6,
            body: keep ? Buffer.concat(chunks).toString("utf8") : undefined,
            headers: res.headers,
          }),
        );
        res.on("error", (e) => resolve({ status: 0, bytes, ms: 0, body: String(e) }));
      },
    );
    r.on("error", (e) => resolve({ status: 0, bytes: 0, ms: Number(process.hrtime.bigint() - t0) / 1e6, body: String(e) }));
    if (req.body !== undefined) r.end(req.body);
    else r.end();
  });
}

async function runJob(job) {
  const url = new URL(job.url);
  const at = { host: url.hostname, port: url.port || (url.protocol === "https:" ? "443" : "80") };
  const agent = new http.Agent({ keepAlive: true, maxSockets: job.concurrency, maxFreeSockets: job.concurrency });
  const gen = WORKLOADS[job.workload];
  const lat = [];
  const byTag = {};
  const statuses = {};
  let errors = 0;
  let bytes = 0;
  let count = 0;
  let sampleError;
  const started = performance.now();
  const deadline = started + job.durationMs;
  const max = job.maxRequests ?? Infinity;
  let issued = 0;
  async function conn(i) {
    const user = job.users[i % job.users.length];
    const st = { n: i * 1000, since: undefined };
    while (performance.now() < deadline && issued < max) {
      issued++;
      const op = gen(job.params ?? {}, st);
      const res = await send(agent, url, toRequest(job.flavour, user, op, at), Boolean(op.parse));
      op.parse?.(res.status, res.body ?? "", res.headers ?? {});
      count++;
      bytes += res.bytes;
      statuses[res.status] = (statuses[res.status] ?? 0) + 1;
      if (res.status < 200 || res.status >= 300) {
        errors++;
        sampleError ??= `${res.status} ${op.kind} ${op.coll ?? ""}: ${(res.body ?? "").slice(0, 300)}`;
      }
      lat.push(res.ms);
      if (op.tag) (byTag[op.tag] ??= []).push(res.ms);
    }
  }
  await Promise.all(Array.from({ length: job.concurrency }, (_, i) => conn(i)));
  const elapsed = (performance.now() - started) / 1000;
  agent.destroy();
  const tags = {};
  for (const [k, v] of Object.entries(byTag)) tags[k] = summarise(v);
  return { count, errors, statuses, bytes, elapsed, rps: count / elapsed, latency: summarise(lat), tags, sampleError };
}

process.on("message", async (job) => {
  try {
    process.send({ id: job.id, ok: true, result: await runJob(job) });
  } catch (err) {
    process.send({ id: job.id, ok: false, error: String(err?.stack ?? err) });
  }
});
process.on("disconnect", () => process.exit(0));
