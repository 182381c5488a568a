/** Reset codes (U10-8) at the module level: format, storage at rest, use, expiry. */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import {
  clearResetCodes,
  consumeResetCode,
  generateResetCode,
  issueResetCode,
  RESET_CODE_FORMAT,
  RESET_CODES_PER_ACCOUNT,
} from "../../src/recovery/reset-codes";

let uid = 900_000;
const nextUser = () => ++uid;

describe("U10-8 reset codes", () => {
  it("U10-8 format: four groups of four A-Z0-9, all characters used, no repeats in practice", () => {
    const seen = new Set<string>();
    const counts = new Map<string, number>();
    for (let i = 0; i < 2000; i++) {
      const c = generateResetCode();
      expect(c).toMatch(RESET_CODE_FORMAT);
      seen.add(c);
      for (const ch of c.replace(/-/g, "")) counts.set(ch, (counts.get(ch) ?? 0) + 1);
    }
    expect(seen.size).toBe(2000);
    expect(counts.size).toBe(36);
    // 32000 characters over 36 symbols: ~889 each; a biased generator (b % 36 without rejection) skews the first ones.
    for (const n of counts.values()) expect(Math.abs(n - 32000 / 36)).toBeLessThan(200);
  });

  it("U10-8 (at rest) only a keyed hash is stored, never the code", async () => {
    const u = nextUser();
    const code = await issueResetCode(env, u, 3600);
    const rows = await env.DB.prepare(`SELECT * FROM reset_codes WHERE userid = ?1`).bind(u).all<Record<string, unknown>>();
    expect(rows.results).toHaveLength(1);
    const stored = JSON.stringify(rows.results);
    expect(stored).not.toContain(code);
    expect(stored).not.toContain(code.replace(/-/g, ""));
    expect(rows.results[0]?.code_hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it("U10-8 single use, bound to its account, case-sensitive, whitespace-tolerant", async () => {
    const u = nextUser();
    const other = nextUser();
    const code = await issueResetCode(env, u, 3600);
    expect(await consumeResetCode(env, other, code)).toBe(false);
    expect(await consumeResetCode(env, u, code.toLowerCase())).toBe(false);
    expect(await consumeResetCode(env, u, `${code}X`)).toBe(false);
    expect(await consumeResetCode(env, u, `  ${code}\n`)).toBe(true);
    expect(await consumeResetCode(env, u, code)).toBe(false);
  });

  it("U10-8 concurrent uses: exactly one succeeds", async () => {
    const u = nextUser();
    const code = await issueResetCode(env, u, 3600);
    const results = await Promise.all(Array.from({ length: 5 }, () => consumeResetCode(env, u, code)));
    expect(results.filter(Boolean)).toHaveLength(1);
  });

  it("U10-8 expiry: refused at and after expires_at", async () => {
    const u = nextUser();
    const t0 = 1_800_000_000_000;
    const code = await issueResetCode(env, u, 60, t0);
    expect(await consumeResetCode(env, u, code, t0 + 60_000)).toBe(false);
    const code2 = await issueResetCode(env, u, 60, t0);
    expect(await consumeResetCode(env, u, code2, t0 + 59_999)).toBe(true);
  });

  it(`U10-8 only the newest ${RESET_CODES_PER_ACCOUNT} codes of an account stay valid; clear cancels all`, async () => {
    const u = nextUser();
    const codes: string[] = [];
    for (let i = 0; i < 4; i++) codes.push(await issueResetCode(env, u, 3600, Date.now() + i));
    expect(await consumeResetCode(env, u, codes[0] as string)).toBe(false);
    expect(await consumeResetCode(env, u, codes[3] as string)).toBe(true);
    await clearResetCodes(env, u);
    expect(await consumeResetCode(env, u, codes[1] as string)).toBe(false);
    expect(await consumeResetCode(env, u, codes[2] as string)).toBe(false);
  });
});
