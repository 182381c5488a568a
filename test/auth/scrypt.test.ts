import { describe, expect, it } from "vitest";
import { scrypt } from "../../src/auth/password";

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const bytes = (s: string) => new TextEncoder().encode(s);

// RFC 7914 §12 test vectors.
describe("scrypt (RFC 7914) for imported {SSCRYPT} hashes", () => {
  it("RFC 7914 §12 vector 1: empty password and salt, N=16, r=1, p=1", async () => {
    expect(hex(await scrypt("", new Uint8Array(0), 16, 1, 1, 64))).toBe(
      "77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906",
    );
  });
  it("RFC 7914 §12 vector 2: 'password'/'NaCl', N=1024, r=8, p=16", async () => {
    expect(hex(await scrypt("password", bytes("NaCl"), 1024, 8, 16, 64))).toBe(
      "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b3731622eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640",
    );
  }, 30_000);
  it("RFC 7914 §12 vector 3: 'pleaseletmein'/'SodiumChloride', N=16384, r=8, p=1 (server-full's parameters)", async () => {
    const t0 = performance.now();
    const out = await scrypt("pleaseletmein", bytes("SodiumChloride"), 16384, 8, 1, 64);
    console.log(`scrypt N=16384 r=8 p=1: ${(performance.now() - t0).toFixed(1)} ms`);
    expect(hex(out)).toBe(
      "7023bdcb3afd7348461c06cd81fd38ebfda8fbba904f8e3ea9b543f6545da1f2d5432955613f0fcf62d49705242a9af9e61e85dc0d651e40dfcf017b45575887",
    );
  }, 30_000);
});
