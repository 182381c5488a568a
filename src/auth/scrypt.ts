/**
 * @module scrypt
 * scrypt (RFC 7914) in TypeScript, for verifying `{SSCRYPT}` hashes imported
 * from a server-full database (user-1.0 §4.2). WebCrypto has no scrypt; the
 * two PBKDF2-HMAC-SHA256 passes (one iteration each) use WebCrypto, the
 * memory-hard ROMix with Salsa20/8 is done here.
 *
 * Cost: N=16384, r=8 needs 16 MiB and on the order of 100 ms of CPU, more
 * than the Free plan's 10 ms. It runs at most once per imported account:
 * after a successful login the password is re-hashed to PBKDF2
 * (src/auth/accounts.ts), and the credential cache memoizes the outcome.
 */

const utf8 = new TextEncoder();

/**
 * PBKDF2-HMAC-SHA256 with one iteration, built from HMAC block by block
 * (T_i = HMAC(P, S ‖ INT(i))) because workerd limits the output length of
 * PBKDF2 deriveBits. An empty password is passed as one zero byte, which
 * HMAC pads to the same 64-byte key.
 */
async function pbkdf2Once(password: Uint8Array, salt: Uint8Array, bytes: number): Promise<Uint8Array> {
  const keyBytes = password.length === 0 ? new Uint8Array(1) : password;
  const key = await crypto.subtle.importKey("raw", keyBytes, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const out = new Uint8Array(Math.ceil(bytes / 32) * 32);
  const msg = new Uint8Array(salt.length + 4);
  msg.set(salt);
  const view = new DataView(msg.buffer);
  for (let i = 0; i * 32 < bytes; i++) {
    view.setUint32(salt.length, i + 1, false);
    out.set(new Uint8Array(await crypto.subtle.sign("HMAC", key, msg)), i * 32);
  }
  return out.subarray(0, bytes);
}

/** Salsa20/8 core over the 16 words B[off..off+16), in place. */
function salsa208(B: Uint32Array, off: number): void {
  const j0 = B[off] as number, j1 = B[off + 1] as number, j2 = B[off + 2] as number, j3 = B[off + 3] as number;
  const j4 = B[off + 4] as number, j5 = B[off + 5] as number, j6 = B[off + 6] as number, j7 = B[off + 7] as number;
  const j8 = B[off + 8] as number, j9 = B[off + 9] as number, j10 = B[off + 10] as number, j11 = B[off + 11] as number;
  const j12 = B[off + 12] as number, j13 = B[off + 13] as number, j14 = B[off + 14] as number, j15 = B[off + 15] as number;
  let x0 = j0, x1 = j1, x2 = j2, x3 = j3, x4 = j4, x5 = j5, x6 = j6, x7 = j7;
  let x8 = j8, x9 = j9, x10 = j10, x11 = j11, x12 = j12, x13 = j13, x14 = j14, x15 = j15;
  let u: number;
  for (let i = 0; i < 8; i += 2) {
    // columns
    u = (x0 + x12) | 0; x4 ^= (u << 7) | (u >>> 25);
    u = (x4 + x0) | 0; x8 ^= (u << 9) | (u >>> 23);
    u = (x8 + x4) | 0; x12 ^= (u << 13) | (u >>> 19);
    u = (x12 + x8) | 0; x0 ^= (u << 18) | (u >>> 14);
    u = (x5 + x1) | 0; x9 ^= (u << 7) | (u >>> 25);
    u = (x9 + x5) | 0; x13 ^= (u << 9) | (u >>> 23);
    u = (x13 + x9) | 0; x1 ^= (u << 13) | (u >>> 19);
    u = (x1 + x13) | 0; x5 ^= (u << 18) | (u >>> 14);
    u = (x10 + x6) | 0; x14 ^= (u << 7) | (u >>> 25);
    u = (x14 + x10) | 0; x2 ^= (u << 9) | (u >>> 23);
    u = (x2 + x14) | 0; x6 ^= (u << 13) | (u >>> 19);
    u = (x6 + x2) | 0; x10 ^= (u << 18) | (u >>> 14);
    u = (x15 + x11) | 0; x3 ^= (u << 7) | (u >>> 25);
    u = (x3 + x15) | 0; x7 ^= (u << 9) | (u >>> 23);
    u = (x7 + x3) | 0; x11 ^= (u << 13) | (u >>> 19);
    u = (x11 + x7) | 0; x15 ^= (u << 18) | (u >>> 14);
    // rows
    u = (x0 + x3) | 0; x1 ^= (u << 7) | (u >>> 25);
    u = (x1 + x0) | 0; x2 ^= (u << 9) | (u >>> 23);
    u = (x2 + x1) | 0; x3 ^= (u << 13) | (u >>> 19);
    u = (x3 + x2) | 0; x0 ^= (u << 18) | (u >>> 14);
    u = (x5 + x4) | 0; x6 ^= (u << 7) | (u >>> 25);
    u = (x6 + x5) | 0; x7 ^= (u << 9) | (u >>> 23);
    u = (x7 + x6) | 0; x4 ^= (u << 13) | (u >>> 19);
    u = (x4 + x7) | 0; x5 ^= (u << 18) | (u >>> 14);
    u = (x10 + x9) | 0; x11 ^= (u << 7) | (u >>> 25);
    u = (x11 + x10) | 0; x8 ^= (u << 9) | (u >>> 23);
    u = (x8 + x11) | 0; x9 ^= (u << 13) | (u >>> 19);
    u = (x9 + x8) | 0; x10 ^= (u << 18) | (u >>> 14);
    u = (x15 + x14) | 0; x12 ^= (u << 7) | (u >>> 25);
    u = (x12 + x15) | 0; x13 ^= (u << 9) | (u >>> 23);
    u = (x13 + x12) | 0; x14 ^= (u << 13) | (u >>> 19);
    u = (x14 + x13) | 0; x15 ^= (u << 18) | (u >>> 14);
  }
  B[off] = j0 + x0; B[off + 1] = j1 + x1; B[off + 2] = j2 + x2; B[off + 3] = j3 + x3;
  B[off + 4] = j4 + x4; B[off + 5] = j5 + x5; B[off + 6] = j6 + x6; B[off + 7] = j7 + x7;
  B[off + 8] = j8 + x8; B[off + 9] = j9 + x9; B[off + 10] = j10 + x10; B[off + 11] = j11 + x11;
  B[off + 12] = j12 + x12; B[off + 13] = j13 + x13; B[off + 14] = j14 + x14; B[off + 15] = j15 + x15;
}

/** BlockMix_{Salsa20/8, r}: B (32r words) → Y, shuffled (even blocks first). */
function blockMix(B: Uint32Array, Y: Uint32Array, r: number, X: Uint32Array): void {
  X.set(B.subarray((2 * r - 1) * 16, 2 * r * 16));
  for (let i = 0; i < 2 * r; i++) {
    for (let k = 0; k < 16; k++) X[k] = (X[k] as number) ^ (B[i * 16 + k] as number);
    salsa208(X, 0);
    const dest = ((i & 1) === 0 ? i / 2 : r + (i - 1) / 2) * 16;
    Y.set(X, dest);
  }
}

function roMix(B: Uint32Array, N: number, r: number): void {
  const words = 32 * r;
  const V = new Uint32Array(N * words);
  const Y = new Uint32Array(words);
  const X = new Uint32Array(16);
  for (let i = 0; i < N; i++) {
    V.set(B, i * words);
    blockMix(B, Y, r, X);
    B.set(Y);
  }
  for (let i = 0; i < N; i++) {
    const j = (B[(2 * r - 1) * 16] as number) & (N - 1);
    for (let k = 0; k < words; k++) B[k] = (B[k] as number) ^ (V[j * words + k] as number);
    blockMix(B, Y, r, X);
    B.set(Y);
  }
}

/** scrypt(P, S, N, r, p, dkLen) per RFC 7914. N must be a power of two > 1. */
export async function scrypt(
  password: string | Uint8Array,
  salt: Uint8Array,
  N: number,
  r: number,
  p: number,
  dkLen: number,
): Promise<Uint8Array> {
  if (N < 2 || (N & (N - 1)) !== 0) throw new RangeError("scrypt: N must be a power of two > 1");
  const P = typeof password === "string" ? utf8.encode(password) : password;
  const blockBytes = 128 * r;
  const B = await pbkdf2Once(P, salt, p * blockBytes);
  const dv = new DataView(B.buffer, B.byteOffset, B.byteLength);
  const words = new Uint32Array(32 * r);
  for (let i = 0; i < p; i++) {
    const base = i * blockBytes;
    for (let k = 0; k < words.length; k++) words[k] = dv.getUint32(base + k * 4, true);
    roMix(words, N, r);
    for (let k = 0; k < words.length; k++) dv.setUint32(base + k * 4, words[k] as number, true);
  }
  return pbkdf2Once(P, B, dkLen);
}
