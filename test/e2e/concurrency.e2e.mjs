// 50 users register and sync at the same time; every write must be there
// afterwards, in each user's own storage only.
import { Client11 } from "./client11.mjs";
import { assertEqual } from "./harness.mjs";

const USERS = 50;
const ROUNDS = 4;
const PER_POST = 25;

export default function suite({ baseUrl, test }) {
  test("50 users registering and syncing concurrently lose nothing", async () => {
    const clients = Array.from({ length: USERS }, () => new Client11(baseUrl));
    await Promise.all(
      clients.map(async (c, u) => {
        await c.register();
        await c.lookupNode();
        for (let round = 0; round < ROUNDS; round++) {
          const records = Array.from({ length: PER_POST }, (_, i) => ({ id: `r${round}-${i}`, payload: `u${u}-r${round}-${i}` }));
          const r = await c.storage("POST", "/storage/history", { body: records });
          assertEqual(r.status, 200, `user ${u} round ${round}`);
          assertEqual(r.json.success.length, PER_POST, `user ${u} round ${round} success`);
          await c.storage("GET", "/info/collections");
        }
        await c.storage("PUT", "/storage/meta/global", { body: { payload: `meta-${u}` } });
      }),
    );
    for (const [u, c] of clients.entries()) {
      const all = (await c.storage("GET", "/storage/history?full=1")).json;
      assertEqual(all.length, ROUNDS * PER_POST, `user ${u} count`);
      const foreign = all.filter((r) => !r.payload.startsWith(`u${u}-`));
      assertEqual(foreign.length, 0, `user ${u} sees only its own records`);
      assertEqual((await c.storage("GET", "/storage/meta/global")).json.payload, `meta-${u}`, `user ${u} meta`);
    }
  });
}
