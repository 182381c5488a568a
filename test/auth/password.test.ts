import { describe, expect, it } from "vitest";
import {
  hashPassword,
  hashScheme,
  needsRehash,
  PBKDF2_ITERATIONS,
  timingSafeEqualBytes,
  verifyPassword,
} from "../../src/auth/password";

// Independent vectors, computed with Python's hashlib (U10-4.2 constructions).
const SSHA256 = "{SSHA-256}WoK046h4hsUFsfWZi46mM8/fnt/rKaR92eh/GSb5YrtBYkNkMTIzNA==";
const SSHA1 = "{SSHA}d8/46zzbOaROJxiIvCEFd0qNik5BYkNkMTIzNA==";
const SSHA_PASSWORD = "secret passwörd";
const SSCRYPT = "{SSCRYPT}6hqgBJfuZFzLtl17kUbhfe7z66mbubpOfdDBCAiGSrLUmEeIokqLwYs+PdnScgQcStGcGVeL2peG0YmxfOKsWVh5Wjk4NzY1";
// hashlib.pbkdf2_hmac('sha256', b'hunter2hunter2', b'0123456789abcdef', 1000)
const PBKDF2_1000 = "{PBKDF2-SHA256}1000$MDEyMzQ1Njc4OWFiY2RlZg==$+t0d48AX/+9e4/SD0XcJA4iyKJ4wRa4gFk+sbpzwxjA=";

describe("password hashes at rest (U10-4.2)", () => {
  it("writes the self-describing PBKDF2 format with the current iterations", async () => {
    const h = await hashPassword("correct horse battery");
    expect(h).toMatch(/^\{PBKDF2-SHA256\}100000\$[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=$/);
    expect(h.length).toBeLessThanOrEqual(128); // VARCHAR(128), U10-6
    expect(await verifyPassword("correct horse battery", h)).toBe(true);
    expect(await verifyPassword("correct horse batterY", h)).toBe(false);
    expect(needsRehash(h)).toBe(false);
  });

  it("salts: the same password hashes differently every time", async () => {
    const [a, b] = await Promise.all([hashPassword("same password"), hashPassword("same password")]);
    expect(a).not.toBe(b);
  });

  it("verifies an independently computed PBKDF2 vector and flags it for re-hashing", async () => {
    expect(await verifyPassword("hunter2hunter2", PBKDF2_1000)).toBe(true);
    expect(await verifyPassword("hunter2hunter3", PBKDF2_1000)).toBe(false);
    expect(needsRehash(PBKDF2_1000)).toBe(true);
  });

  it("refuses iterations above the Workers cap of 100000 instead of throwing", async () => {
    const tooMany = PBKDF2_1000.replace("}1000$", "}100001$");
    expect(await verifyPassword("hunter2hunter2", tooMany)).toBe(false);
    await expect(hashPassword("x", PBKDF2_ITERATIONS + 1)).rejects.toThrow(RangeError);
  });

  it("U10-4.2: verifies {SSHA-256} (salt = last 8 bytes, UTF-8 password)", async () => {
    expect(hashScheme(SSHA256)).toBe("ssha-256");
    expect(SSHA256.length).toBe(66);
    expect(await verifyPassword(SSHA_PASSWORD, SSHA256)).toBe(true);
    expect(await verifyPassword("secret passwörD", SSHA256)).toBe(false);
    expect(needsRehash(SSHA256)).toBe(true);
  });

  it("U10-4.2: verifies {SSHA}", async () => {
    expect(hashScheme(SSHA1)).toBe("ssha");
    expect(SSHA1.length).toBe(46);
    expect(await verifyPassword(SSHA_PASSWORD, SSHA1)).toBe(true);
    expect(await verifyPassword("wrong", SSHA1)).toBe(false);
  });

  it("U10-4.2: a value without a known prefix never verifies", async () => {
    expect(await verifyPassword(SSHA_PASSWORD, SSHA1.slice("{SSHA}".length))).toBe(false);
    expect(await verifyPassword("plaintext", "plaintext")).toBe(false);
    expect(await verifyPassword("", "")).toBe(false);
  });

  it("U10-4.2: verifies {SSCRYPT} (scrypt N=16384 r=8 p=1, vector from Python's hashlib.scrypt)", async () => {
    expect(hashScheme(SSCRYPT)).toBe("sscrypt");
    expect(SSCRYPT.length).toBe(105);
    expect(await verifyPassword(SSHA_PASSWORD, SSCRYPT)).toBe(true);
    expect(await verifyPassword("secret passwörD", SSCRYPT)).toBe(false);
    expect(needsRehash(SSCRYPT)).toBe(true);
    expect(await verifyPassword("anything", `{SSCRYPT}${"A".repeat(96)}`)).toBe(false);
  }, 30_000);

  it("malformed stored values do not verify and do not throw", async () => {
    for (const bad of ["{PBKDF2-SHA256}", "{PBKDF2-SHA256}0$AA==$AA==", "{PBKDF2-SHA256}10$!!$AA==", "{SSHA-256}***", "{SSHA}QQ==", "{SSCRYPT}QQ=="]) {
      expect(await verifyPassword("x", bad)).toBe(false);
    }
  });

  it("timingSafeEqualBytes", () => {
    expect(timingSafeEqualBytes(new Uint8Array([1, 2]), new Uint8Array([1, 2]))).toBe(true);
    expect(timingSafeEqualBytes(new Uint8Array([1, 2]), new Uint8Array([1, 3]))).toBe(false);
    expect(timingSafeEqualBytes(new Uint8Array([1]), new Uint8Array([1, 2]))).toBe(false);
  });
});
