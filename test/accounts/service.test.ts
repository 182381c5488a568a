/**
 * The accounts service (src/accounts/service.ts): the operations the User
 * API, the account pages and the operator's tools share, called directly.
 */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { changeEmail, changePassword, createAccount, deleteAccount, setDisabled } from "../../src/accounts/service";
import { credentialCache, findAccount, verifyCredentials } from "../../src/auth/accounts";
import { parseConfig } from "../../src/config";
import { StorageUnavailable } from "../../src/storage/stub";

const config = parseConfig({ PBKDF2_ITERATIONS: "10000" });
let n = 0;
const fresh = () => ({ username: `svc${Date.now()}x${n++}`, password: "a good password", email: "svc@example.com" });

async function login(username: string, password: string): Promise<boolean> {
  const ctx = createExecutionContext();
  const r = await verifyCredentials(env, ctx, username, password);
  await waitOnExecutionContext(ctx);
  return r.ok;
}

describe("accounts service", () => {
  it("create: an active account whose password logs in without a KDF run (remembered); a taken name → null", async () => {
    const a = fresh();
    const ref = await createAccount(env, config, a);
    expect(ref).toMatchObject({ username: a.username });
    const kdf0 = credentialCache.kdfVerifications;
    expect(await login(a.username, a.password)).toBe(true);
    expect(credentialCache.kdfVerifications).toBe(kdf0);
    expect(await createAccount(env, config, a)).toBeNull();
  });

  it("changePassword and changeEmail are compare-and-set on the verified hash", async () => {
    const a = fresh();
    const ref = (await createAccount(env, config, a))!;
    const hash = (await findAccount(env, a.username))!.password!;
    expect(await changePassword(env, config, ref, "{PBKDF2-SHA256}1$stale$stale", "another password")).toBe(false);
    expect(await changePassword(env, config, ref, hash, "another password")).toBe(true);
    expect(await login(a.username, a.password)).toBe(false);
    expect(await login(a.username, "another password")).toBe(true);
    expect(await changeEmail(env, ref, hash, "old-hash@example.com")).toBe(false);
    const now = (await findAccount(env, a.username))!.password!;
    expect(await changeEmail(env, ref, now, "new@example.com")).toBe(true);
    expect((await findAccount(env, a.username))!.mail).toBe("new@example.com");
  });

  it("setDisabled: a disabled account cannot log in (even from the cache) and keeps its row; enabling restores it", async () => {
    const a = fresh();
    const ref = (await createAccount(env, config, a))!;
    expect(await login(a.username, a.password)).toBe(true);
    expect(await setDisabled(env, ref, true)).toBe(true);
    expect(await login(a.username, a.password)).toBe(false);
    expect(await findAccount(env, a.username)).toMatchObject({ accountStatus: 0 });
    expect(await setDisabled(env, ref, false)).toBe(true);
    expect(await login(a.username, a.password)).toBe(true);
    expect(await setDisabled(env, { userid: 2 ** 40, username: "nobody" }, true)).toBe(false);
  });

  it("deleteAccount: stored data first (an unreachable store keeps the account), then the row; null hash (operator) deletes unconditionally", async () => {
    const a = fresh();
    const ref = (await createAccount(env, config, a))!;
    const hash = (await findAccount(env, a.username))!.password!;
    const down = { ...env, USER_STORE: { idFromName: (x: string) => x, get: () => ({ wipe: () => Promise.reject(new Error("overloaded")) }) } } as unknown as Env;
    await expect(deleteAccount(down, ref, hash)).rejects.toBeInstanceOf(StorageUnavailable);
    expect(await findAccount(env, a.username)).not.toBeNull();
    expect(await deleteAccount(env, ref, "{SSHA}not-the-hash")).toBe(false);
    expect(await findAccount(env, a.username)).not.toBeNull();
    expect(await deleteAccount(env, ref, null)).toBe(true);
    expect(await findAccount(env, a.username)).toBeNull();
    expect(await login(a.username, a.password)).toBe(false);
  });
});
