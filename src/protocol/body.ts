/**
 * @module body
 * The one request-body reader of every API. A body is read from its stream
 * chunk by chunk and reading stops as soon as more than the endpoint's cap
 * has arrived (the stream is cancelled), so an oversized body costs at most
 * the cap plus one chunk, whatever its declared or real length. A declared
 * `Content-Length` over the cap is refused before reading anything; a body
 * that declares one within the cap (the HTTP framing holds it to that
 * length) is read in one native call, and still refused if it turns out
 * longer.
 *
 * Each family renders {@link BodyTooLarge} as its protocol's error (1.1 and
 * the User API: 400 / 17; 1.5: 413 / 17; account pages: 400).
 */

/** The body is larger than the endpoint accepts (`limit` bytes). */
export class BodyTooLarge extends Error {
  constructor(readonly limit: number) {
    super(`request body larger than ${limit} bytes`);
    this.name = "BodyTooLarge";
  }
}

const EMPTY = new Uint8Array(0);

/**
 * Reads at most `max` bytes of `req`'s body; throws {@link BodyTooLarge} once
 * more arrive (or when Content-Length announces more). The request's body is
 * consumed.
 */
export async function readCapped(req: Request, max: number): Promise<Uint8Array> {
  const declared = req.headers.get("Content-Length");
  const length = declared !== null && /^\d+$/.test(declared.trim()) ? Number(declared.trim()) : null;
  if (length !== null && length > max) throw new BodyTooLarge(max);
  const stream = req.body;
  if (stream === null) return EMPTY;
  if (length !== null) {
    const whole = new Uint8Array(await req.arrayBuffer());
    if (whole.byteLength > max) throw new BodyTooLarge(max);
    return whole;
  }
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel().catch(() => {});
      throw new BodyTooLarge(max);
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0] as Uint8Array;
  const out = new Uint8Array(total);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.byteLength;
  }
  return out;
}

/** A view as a standalone ArrayBuffer (for parsers that take one). */
export function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
    ? (bytes.buffer as ArrayBuffer)
    : (bytes.slice().buffer as ArrayBuffer);
}

/** Caps of the endpoints that are not Storage (which have their own settings). */
export const BODY_LIMITS = {
  /** User API 1.0 bodies: a JSON object with an e-mail, a password and a captcha token, or one of them bare. */
  userApi: 8 * 1024,
  /** Account-page forms: a few short fields. */
  form: 16 * 1024,
  /** Storage 1.1 PUT/POST (the reference's 16 MiB). */
  storage11: 16 * 1024 * 1024,
} as const;
