/**
 * @module timestamp
 * Sync timestamps: integer milliseconds (always a multiple of 10) inside,
 * decimal seconds with exactly two fractional digits on the wire
 * (storage-1.1 §6, storage-1.5 §5.1). Formatting happens only at the edge.
 */

/** Current wall clock rounded half-to-even to 10 ms, as the 1.1 reference does. */
export function nowTick(nowMs: number = Date.now()): number {
  const cs = Math.floor(nowMs / 10);
  const rem = nowMs - cs * 10;
  if (rem > 5 || (rem === 5 && cs % 2 === 1)) return (cs + 1) * 10;
  return cs * 10;
}

/** "1300000000.10" from 1300000000100. */
export function formatTs(ms: number): string {
  const cs = Math.round(ms / 10);
  const neg = cs < 0;
  const a = Math.abs(cs);
  return `${neg ? "-" : ""}${Math.floor(a / 100)}.${String(a % 100).padStart(2, "0")}`;
}

const DECIMAL = /^\s*([+-]?)(\d+(?:\.\d*)?|\.\d+)(?:[eE]([+-]?\d+))?\s*$/;
const LIMIT_CS = 10n ** 15n;

/**
 * Parses a client timestamp with Python Decimal syntax and quantizes it to
 * hundredths with half-even rounding (storage-1.1 §6). Returns milliseconds,
 * or null when the text is not a finite decimal. Magnitudes beyond 10^13 s
 * are clamped (they compare like infinity against any stored time).
 */
export function parseTs11(text: string): number | null {
  const m = DECIMAL.exec(text);
  if (!m) return null;
  const sign = m[1] === "-" ? -1n : 1n;
  const [intPart, fracPart = ""] = (m[2] as string).split(".") as [string, string?];
  const digits = BigInt((intPart || "0") + fracPart);
  let exp = (m[3] ? Number(m[3]) : 0) - fracPart.length + 2; // scale to hundredths
  if (exp > 40) exp = 40; // far beyond the clamp anyway
  let cs: bigint;
  if (exp >= 0) {
    cs = digits * 10n ** BigInt(exp);
  } else if (-exp > digits.toString().length + 1) {
    cs = 0n; // digits < 10^(-exp) / 10: below half a hundredth
  } else {
    const div = 10n ** BigInt(-exp);
    const q = digits / div;
    const r = digits % div;
    const twice = r * 2n;
    cs = twice > div || (twice === div && q % 2n === 1n) ? q + 1n : q;
  }
  if (cs > LIMIT_CS) cs = LIMIT_CS;
  return Number(sign * cs) * 10;
}
