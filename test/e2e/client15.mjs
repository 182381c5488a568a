// A Sync 1.5 client for the end-to-end suites, doing what Firefox does: get a
// token from the tokenserver with a Mozilla-account OAuth token (here from
// the mock account server), then sign every storage request with Hawk.
import { createHash, createHmac, randomBytes } from "node:crypto";

export class Client15 {
  /**
   * @param {string} baseUrl   the Worker (tokenserver at /1.0/sync/1.5)
   * @param {object} fxa       the mock account server (startMockFxa())
   * @param {{fxaUid?: string, generation?: number, keysChangedAt?: number, clientState?: string}} [account]
   */
  constructor(baseUrl, fxa, account = {}) {
    this.baseUrl = baseUrl;
    this.fxa = fxa;
    this.fxaUid = account.fxaUid ?? fxa.randomUid();
    this.generation = account.generation ?? 1_700_000_000_000;
    this.keysChangedAt = account.keysChangedAt ?? 1_700_000_000_000;
    this.clientState = account.clientState ?? randomBytes(16).toString("hex");
    this.token = null;
  }

  async fetchToken() {
    const access = this.fxa.mintToken({ uid: this.fxaUid, generation: this.generation });
    const res = await fetch(`${this.baseUrl}/1.0/sync/1.5`, {
      headers: { Authorization: `Bearer ${access}`, "X-KeyID": this.fxa.keyId(this.keysChangedAt, this.clientState) },
    });
    const body = await res.json().catch(() => null);
    if (res.status === 200) this.token = body;
    return { status: res.status, body };
  }

  /** The Hawk Authorization header for a request (HAWK-2 to HAWK-4). */
  hawkHeader(method, url, { ts = Math.floor(Date.now() / 1000), nonce = randomBytes(8).toString("base64url") } = {}) {
    const u = new URL(url);
    const port = u.port || (u.protocol === "https:" ? "443" : "80");
    const normalized = ["hawk.1.header", ts, nonce, method.toUpperCase(), u.pathname + u.search, u.hostname.toLowerCase(), port, "", ""].join("\n") + "\n";
    const mac = createHmac("sha256", Buffer.from(this.token.key, "ascii")).update(normalized).digest("base64");
    return `Hawk id="${this.token.id}", ts="${ts}", nonce="${nonce}", mac="${mac}"`;
  }

  /** A signed storage request; `path` is appended to api_endpoint. */
  async storage(method, path, { body, raw, headers = {}, sign = {} } = {}) {
    const url = `${this.token.api_endpoint}${path}`;
    const h = { Authorization: this.hawkHeader(method, url, sign), ...headers };
    let payload = raw;
    if (body !== undefined) {
      payload = JSON.stringify(body);
      h["Content-Type"] ??= "application/json";
    }
    const res = await fetch(url, { method, headers: h, body: payload });
    const text = await res.text();
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, text, json, url };
  }
}

export function sha256hex(s) {
  return createHash("sha256").update(s).digest("hex");
}
