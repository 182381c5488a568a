/**
 * Hostile requests at every endpoint of Storage 1.5 (signed with real Hawk
 * from a tokenserver sign-in, so parsing past authentication is reached) and
 * at the tokenserver (issue 9 item 6). Storage 1.5: below 500, errors as
 * JSON, a refused request changes nothing, another user's data never
 * changes. Tokenserver: below 500, errors as `{status, errors}`.
 */
import fc from "fast-check";
import { beforeAll, describe as suite, expect, it } from "vitest";
import { Client15, hawkAuthorization } from "../helpers/sync15";
import { badAuthorization, describe, hostileBody, hostileQuery, hostileSegment, is15Error, isTokenserverError, junkHeaders } from "./gen";
import { collectionsText, ORIGIN, send, snapshot, type Sent } from "./harness";

const RUNS = 60;
const TIMEOUT = 180_000;

let attacker: Client15;
let victim: Client15;
const get = (c: Client15) => (path: string) => c.get(path);

async function seed(c: Client15) {
  const r = await c.post("/storage/seed", [
    { id: "one", payload: "p1", sortindex: 1 },
    { id: "two", payload: "p2", sortindex: 2 },
    { id: "three", payload: "\u00e9\ud83d\ude00", sortindex: 3 },
  ]);
  expect(r.status).toBe(200);
  expect((await c.put("/storage/meta/global", { payload: "{}" })).status).toBe(200);
}

beforeAll(async () => {
  attacker = await Client15.create();
  victim = await Client15.create();
  await seed(attacker);
  await seed(victim);
});

interface Endpoint {
  method: string;
  path: readonly string[];
}

const endpoints: fc.Arbitrary<Endpoint> = fc.oneof(
  fc.constantFrom("configuration", "collections", "quota", "collection_usage", "collection_counts").map((p) => ({ method: "GET", path: ["info", p] })),
  fc.constantFrom("GET", "POST", "PUT", "DELETE", "PATCH").map((method) => ({ method, path: ["storage", "<c>"] })),
  fc.constantFrom("GET", "PUT", "DELETE", "POST").map((method) => ({ method, path: ["storage", "<c>", "<id>"] })),
  fc.constantFrom<Endpoint>({ method: "DELETE", path: ["storage"] }, { method: "DELETE", path: [] }),
);

const request = fc.record({
  endpoint: endpoints,
  collection: fc.oneof(fc.constantFrom("seed", "meta", "bookmarks", "new"), hostileSegment),
  id: fc.oneof(fc.constantFrom("one", "global", "fresh"), hostileSegment),
  uid: fc.oneof({ weight: 5, arbitrary: fc.constant("<self>") }, { weight: 1, arbitrary: hostileSegment }),
  batch: fc.constantFrom("", "batch=true", "batch=true&commit=true", "batch=%5F%5Fproto%5F%5F&commit=true", "batch=99999999999999999999"),
  query: fc.oneof(fc.constant(""), hostileQuery),
  headers: junkHeaders,
  auth: fc.constantFrom("real", "real", "real", "none", "junk", "victim-path"),
  badAuth: badAuthorization,
  body: fc.option(hostileBody, { nil: undefined, freq: 4 }),
});

suite("hostile Storage 1.5 requests", () => {
  it(
    "never answer 5xx, answer errors as JSON, change nothing when refused, never touch another user",
    async () => {
      const victimBefore = await snapshot(get(victim));
      const before = { text: await collectionsText(get(attacker)) };
      await fc.assert(
        fc.asyncProperty(request, async (r) => {
          const owner = r.auth === "victim-path" ? String(victim.uid) : r.uid === "<self>" ? String(attacker.uid) : r.uid;
          const path = r.endpoint.path.map((p) => (p === "<c>" ? r.collection : p === "<id>" ? r.id : p)).join("/");
          const q = [r.batch, r.query].filter(Boolean).join("&");
          const url = `${ORIGIN}/1.5/${owner}${path ? `/${path}` : ""}${q ? `?${q}` : ""}`;
          const headers: Record<string, string> = { ...r.headers };
          if (r.auth === "real" || r.auth === "victim-path") {
            let normalized: string;
            try {
              normalized = new URL(url).href;
            } catch {
              return;
            }
            headers.Authorization = await hawkAuthorization(attacker.credentials, r.endpoint.method, normalized);
          } else if (r.auth === "junk") headers.Authorization = r.badAuth;
          else delete headers.Authorization;
          const sent: Sent = { method: r.endpoint.method, url, headers, body: r.body };
          const reply = await send(sent);
          if (reply === null) return;
          const what = describe(sent.method, sent.url, reply, sent.body);
          expect(reply.status, what).toBeLessThan(500);
          if (reply.status >= 400) {
            // A path whose dot segments normalise out of /1.5/ (uid "..") is no longer a 1.5 request:
            // it is answered by whatever owns the normalised path (e.g. the 1.x 404).
            if (new URL(sent.url).pathname.startsWith("/1.5/")) expect(is15Error(reply), `not a JSON error: ${what}`).toBe(true);
            expect(await collectionsText(get(attacker)), `a refused request changed stored data: ${what}`).toBe(before.text);
          } else {
            before.text = await collectionsText(get(attacker));
          }
        }),
        { numRuns: RUNS, seed: envSeed(), path: envPath() },
      );
      expect(await snapshot(get(victim))).toBe(victimBefore);
    },
    TIMEOUT,
  );
});

const tokenRequest = fc.record({
  path: fc.oneof(
    fc.constantFrom("/1.0/sync/1.5", "/token/1.0/sync/1.5", "/1.0/sync/1.1", "/1.0/__proto__/1.5", "/1.0/sync/constructor"),
    fc.tuple(hostileSegment, hostileSegment).map(([a, v]) => `/1.0/${a}/${v}`),
  ),
  method: fc.constantFrom("GET", "GET", "GET", "POST", "PUT"),
  query: fc.oneof(fc.constant(""), hostileQuery),
  auth: badAuthorization,
  headers: junkHeaders,
  body: fc.option(hostileBody, { nil: undefined, freq: 4 }),
});

suite("hostile tokenserver requests", () => {
  it(
    "never answer 5xx and answer errors as {status, errors}",
    async () => {
      await fc.assert(
        fc.asyncProperty(tokenRequest, async (r) => {
          const url = `${ORIGIN}${r.path}${r.query ? `?${r.query}` : ""}`;
          const sent: Sent = { method: r.method, url, headers: { ...r.headers, Authorization: r.auth }, body: r.body };
          const reply = await send(sent);
          if (reply === null) return;
          const what = describe(sent.method, sent.url, reply, sent.body);
          expect(reply.status, what).toBeLessThan(500);
          expect(reply.status, what).toBeGreaterThanOrEqual(400);
          // Paths outside the tokenserver's (another application or version) fall to the other routers.
          if (/^\/(token\/)?1\.0\/sync\/1\.5$/.test(new URL(url).pathname) && r.method === "GET") {
            expect(isTokenserverError(reply), `not a tokenserver error: ${what}`).toBe(true);
          }
        }),
        { numRuns: RUNS, seed: envSeed(), path: envPath() },
      );
    },
    TIMEOUT,
  );
});

function envSeed(): number | undefined {
  const s = (globalThis as { process?: { env?: Record<string, string> } }).process?.env?.FC_SEED;
  return s ? Number(s) : undefined;
}
function envPath(): string | undefined {
  return (globalThis as { process?: { env?: Record<string, string> } }).process?.env?.FC_PATH || undefined;
}
