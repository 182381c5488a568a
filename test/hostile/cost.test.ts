/**
 * Cost counted as work, not time (issue 9 item 6): how many bytes of an
 * oversized request body the Worker pulls before it answers. The body is a
 * ReadableStream with no Content-Length that makes its chunks on demand and
 * counts what is pulled, so an endpoint that reads everything would pull
 * all of it. Each endpoint must stop near its cap (the cap plus what the
 * transport buffers ahead, a few chunks) and answer its protocol's error,
 * with nothing stored.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { SELF } from "cloudflare:test";
import { readReply } from "../helpers/reply";
import { basic, call, register, type Account } from "../helpers/sync11";
import { Client15, hawkAuthorization } from "../helpers/sync15";
import { is15Error, is1xError } from "./gen";
import { ORIGIN, snapshot } from "./harness";

const CHUNK = 64 * 1024;
const TOTAL = 64 * 1024 * 1024;
/** What the transport may pull ahead of the reader (chunks in flight between the test and the Worker). */
const SLACK = 16 * CHUNK;

/** A body of `total` bytes of `fill` (JSON-ish: an array of numbers), made on demand; `pulled` counts the bytes handed out. */
function countingBody(total = TOTAL) {
  const counter = { pulled: 0 };
  const chunk = new TextEncoder().encode("1,".repeat(CHUNK / 2));
  let first = true;
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (counter.pulled >= total) return controller.close();
        const c = first ? new Uint8Array([0x5b, ...chunk.subarray(1)]) : chunk; // "[" then "1,1,…"
        first = false;
        counter.pulled += c.byteLength;
        controller.enqueue(c);
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, counter };
}

async function sendStreamed(url: string, method: string, headers: Record<string, string>) {
  const { stream, counter } = countingBody();
  const res = await SELF.fetch(url, { method, headers, body: stream, duplex: "half" } as RequestInit);
  const reply = await readReply(res);
  return { reply, pulled: counter.pulled };
}

let account: Account;
let client: Client15;

beforeAll(async () => {
  account = await register("cost");
  client = await Client15.create();
  expect((await call(account, "PUT", "/storage/keep/one", { body: { payload: "k" } })).status).toBe(200);
  expect((await client.put("/storage/keep/one", { payload: "k" })).status).toBe(200);
});

const USER_CAP = 8 * 1024;
const S11_CAP = 16 * 1024 * 1024;

describe("bytes read from an oversized body stop at the endpoint's cap", () => {
  const cases11: Array<[string, string, string, number, boolean]> = [
    ["User API account creation (unauthenticated)", "PUT", "/user/1.0/costnewaccountxxxxxxxxxxxxxxxxx", USER_CAP, false],
    ["User API password change (unauthenticated)", "POST", "/user/1.0/<user>/password", USER_CAP, false],
    ["User API e-mail change", "POST", "/user/1.0/<user>/email", USER_CAP, true],
    ["Storage 1.1 POST", "POST", "/1.1/<user>/storage/keep", S11_CAP, true],
    ["Storage 1.1 PUT", "PUT", "/1.1/<user>/storage/keep/one", S11_CAP, true],
  ];
  it.each(cases11)("%s", async (_name, method, path, cap, auth) => {
    const before = await snapshot((p) => call(account, "GET", p));
    const headers: Record<string, string> = auth ? { Authorization: account.auth } : {};
    const { reply, pulled } = await sendStreamed(`${ORIGIN}${path.replace("<user>", account.username)}`, method, headers);
    expect(reply.status, reply.text.slice(0, 200)).toBeGreaterThanOrEqual(400);
    expect(reply.status).toBeLessThan(500);
    expect(is1xError(reply), reply.text.slice(0, 200)).toBe(true);
    expect(pulled, `pulled ${pulled} bytes for a cap of ${cap}`).toBeGreaterThan(cap);
    expect(pulled, `pulled ${pulled} bytes for a cap of ${cap}`).toBeLessThanOrEqual(cap + SLACK);
    expect(await snapshot((p) => call(account, "GET", p))).toBe(before);
    // The password (and so the account) still works.
    expect((await call(account, "GET", "/info/collections", { headers: { Authorization: basic(account.username, account.password) } })).status).toBe(200);
  }, 60_000);

  it.each([
    ["Storage 1.5 POST", "POST", "/storage/keep"],
    ["Storage 1.5 PUT", "PUT", "/storage/keep/one"],
    ["Storage 1.5 batch append", "POST", "/storage/keep?batch=true"],
  ])("%s", async (_name, method, path) => {
    const conf = (await client.get("/info/configuration")).json as { max_request_bytes: number };
    const cap = conf.max_request_bytes;
    const before = await snapshot((p) => client.get(p));
    const url = `${ORIGIN}${client.base}${path}`;
    const headers = { Authorization: await hawkAuthorization(client.credentials, method, url), "Content-Type": "application/json" };
    const { reply, pulled } = await sendStreamed(url, method, headers);
    expect(reply.status, reply.text.slice(0, 200)).toBeGreaterThanOrEqual(400);
    expect(reply.status).toBeLessThan(500);
    expect(is15Error(reply), reply.text.slice(0, 200)).toBe(true);
    expect(pulled, `pulled ${pulled} bytes for a cap of ${cap}`).toBeGreaterThan(cap);
    expect(pulled, `pulled ${pulled} bytes for a cap of ${cap}`).toBeLessThanOrEqual(cap + SLACK);
    expect(await snapshot((p) => client.get(p))).toBe(before);
  }, 60_000);
});
