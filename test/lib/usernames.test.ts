import { describe, expect, it } from "vitest";
import { base32, clientUsername, serverUsername, validEmail, validPassword } from "../../src/lib/usernames";

describe("U10-3.1 client username derivation", () => {
  it.each([
    ["foobar@baz.com", "xee7ffonluzpdp66l6xgpyh2v2w6ojkc"],
    ["FooBar@Baz.com", "xee7ffonluzpdp66l6xgpyh2v2w6ojkc"],
    ["xee7ffonluzpdp66l6xgpyh2v2w6ojkc", "xee7ffonluzpdp66l6xgpyh2v2w6ojkc"],
    ["FOOBAr", "foobar"],
  ])("U10-3.1 test vector %s → %s", async (account, expected) => {
    expect(await clientUsername(account)).toBe(expected);
  });

  it("U10-3.1: the hash matches [a-z2-7]{32}", async () => {
    expect(await clientUsername("someone+tag@example.org")).toMatch(/^[a-z2-7]{32}$/);
  });

  it("RFC 4648 base32 vectors", () => {
    const enc = (s: string) => base32(new TextEncoder().encode(s));
    expect(enc("")).toBe("");
    expect(enc("f")).toBe("MY");
    expect(enc("fo")).toBe("MZXQ");
    expect(enc("foo")).toBe("MZXW6");
    expect(enc("foob")).toBe("MZXW6YQ");
    expect(enc("fooba")).toBe("MZXW6YTB");
    expect(enc("foobar")).toBe("MZXW6YTBOI");
  });
});

describe("U10-3.2 server e-mail → username", () => {
  it("U10-3.2: ASCII addresses equal the client rule", async () => {
    expect(await serverUsername("foobar@baz.com")).toBe("xee7ffonluzpdp66l6xgpyh2v2w6ojkc");
    expect(await serverUsername("FooBar@Baz.com")).toBe("xee7ffonluzpdp66l6xgpyh2v2w6ojkc");
  });
  it("U10-3.2 step 1: no @ → returned unchanged if URL-safe, else null", async () => {
    expect(await serverUsername("SomeName_1.x-y")).toBe("SomeName_1.x-y");
    expect(await serverUsername("bad name")).toBeNull();
    expect(await serverUsername("foobar%40baz.com")).toBeNull();
    expect(await serverUsername("")).toBeNull();
  });
  it("U10-3.2 step 2: percent-escapes are decoded before hashing", async () => {
    expect(await serverUsername("foo%62ar@baz.com")).toBe("xee7ffonluzpdp66l6xgpyh2v2w6ojkc");
    expect(await serverUsername("foobar@baz%2Ecom")).toBe("xee7ffonluzpdp66l6xgpyh2v2w6ojkc");
    expect(await serverUsername("a%2Bb@c.com")).toBe(await clientUsername("a+b@c.com"));
  });
  it("U10-3.2 step 3: an empty or >63-character ASCII label is refused", async () => {
    expect(await serverUsername("a..b@baz.com")).toBeNull();
    expect(await serverUsername(`foo@${"a".repeat(64)}.com`)).toBeNull();
    expect(await serverUsername(`foo@${"a".repeat(63)}.com`)).toMatch(/^[a-z2-7]{32}$/);
    expect(await serverUsername("foo@baz.com.")).toMatch(/^[a-z2-7]{32}$/);
  });
  it("U10-3.2 REF-BUG: non-ASCII address hashed like the client", async () => {
    expect(await serverUsername("Jörg@Example.com")).toBe(await clientUsername("Jörg@Example.com"));
    expect(await serverUsername("J%C3%B6rg@example.com")).toBe(await clientUsername("jörg@example.com"));
  });
});

describe("U10-4.1 password strength", () => {
  it("U10-4.1: 'tarek2' (6 bytes) is weak", () => expect(validPassword("tarek", "tarek2")).toBe(false));
  it("U10-4.1: é×9 (18 bytes) is fine", () => expect(validPassword("tarek", "é".repeat(9))).toBe(true));
  it("U10-4.1: length counts UTF-8 bytes (4 × é = 8 bytes)", () => expect(validPassword("u", "éééé")).toBe(true));
  it("U10-4.1: 7 bytes weak, 8 bytes fine", () => {
    expect(validPassword("u", "1234567")).toBe(false);
    expect(validPassword("u", "12345678")).toBe(true);
  });
  it("U10-4.1: missing / empty password is weak", () => {
    expect(validPassword("u", "")).toBe(false);
    expect(validPassword("u", undefined)).toBe(false);
  });
  it("U10-4.1: the username (stripped, ASCII-lowercased) is weak", () => {
    expect(validPassword("weaveunittest", "WeaveUnitTest")).toBe(false);
    expect(validPassword("weaveunittest", "  weaveunittest\t\n")).toBe(false);
    expect(validPassword(" weaveunittest ", "weaveunittest")).toBe(false);
    expect(validPassword("weaveunittest", "weaveunittest1")).toBe(true);
  });
});

describe("U10-5 e-mail validation", () => {
  it.each([
    "a@b.com",
    "first.last@example.co.uk",
    "a+b@example.org",
    '"quoted string"@example.com',
    "a@1.2.3.4",
    "jörg@example.com",
    "a@b.com\n",
    "a-b_c@sub-domain.example-1.com",
  ])("U10-5: valid %j", (e) => expect(validEmail(e)).toBe(true));
  it.each([
    "",
    "a",
    "a@b",
    "a@b.c",
    "a@@b.com",
    "a b@c.com",
    "a..b@c.com",
    ".a@c.com",
    "a.@c.com",
    "a@b.com\n\n",
    "a@b.com ",
    "a@jörg.com",
    "a@b.c0m",
    "a(b)@c.com",
    "a,b@c.com",
    '"a\nb"@c.com',
    "a@1.2.3.4567",
  ])("U10-5: invalid %j", (e) => expect(validEmail(e)).toBe(false));
  it("U10-5 (decision): more than 255 characters is invalid", () => {
    expect(validEmail(`${"a".repeat(240)}@example.com`)).toBe(true);
    expect(validEmail(`${"a".repeat(250)}@example.com`)).toBe(false);
  });
});
