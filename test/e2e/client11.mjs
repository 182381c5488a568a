// A small Sync 1.1 client for the end-to-end suites, speaking plain HTTP the
// way legacy Firefox / Weave clients do.
import { createHash, randomUUID } from "node:crypto";

const B32 = "abcdefghijklmnopqrstuvwxyz234567";

/** The 1.1 client's username for an e-mail: lowercase(base32(sha1(lowercase(email)))). */
export function usernameFor(email) {
  const digest = createHash("sha1").update(email.toLowerCase(), "utf8").digest();
  let bits = 0;
  let value = 0;
  let out = "";
  for (const byte of digest) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += B32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += B32[(value << (5 - bits)) & 31];
  return out;
}

export class Client11 {
  constructor(baseUrl, email = `e2e.${randomUUID()}@example.com`, password = `pw-${randomUUID()}`) {
    this.baseUrl = baseUrl;
    this.email = email;
    this.password = password;
    this.username = usernameFor(email);
    this.node = null;
  }

  get auth() {
    return `Basic ${Buffer.from(`${this.username}:${this.password}`).toString("base64")}`;
  }

  async request(method, url, { body, raw, headers = {}, auth = true } = {}) {
    const h = { ...headers };
    if (auth && !("Authorization" in h)) h.Authorization = this.auth;
    const res = await fetch(url, { method, headers: h, body: raw ?? (body === undefined ? undefined : JSON.stringify(body)) });
    const buf = Buffer.from(await res.arrayBuffer());
    const text = buf.toString("utf8");
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, text, json, buf };
  }

  user(method, suffix = "", opts = {}) {
    return this.request(method, `${this.baseUrl}/user/1.0/${this.username}${suffix}`, opts);
  }

  storage(method, suffix, opts = {}) {
    if (!this.node) throw new Error("node not looked up");
    return this.request(method, `${this.node}1.1/${this.username}${suffix}`, opts);
  }

  async register() {
    const r = await this.user("PUT", "", { body: { password: this.password, email: this.email }, auth: false });
    if (r.status !== 200 || r.text !== this.username) throw new Error(`register: ${r.status} ${r.text}`);
    return r;
  }

  async lookupNode() {
    const r = await this.user("GET", "/node/weave", { auth: false });
    if (r.status !== 200) throw new Error(`node/weave: ${r.status} ${r.text}`);
    this.node = r.text;
    return r;
  }
}
