/**
 * @module pyjson
 * JSON text exactly as the Python reference (simplejson defaults) writes it:
 * ", " and ": " separators, every non-ASCII character escaped as a lowercase
 * \uXXXX, "/" not escaped (storage-1.1 §7.4). Numbers that must keep a fixed
 * text (timestamps with two decimals, Python floats with ".0") are passed as
 * {@link Raw} tokens and spliced in verbatim.
 */

/** A pre-rendered JSON token (number text) inserted as is. */
export class Raw {
  constructor(readonly text: string) {}
}

export type PyValue = null | boolean | number | string | Raw | PyValue[] | { [k: string]: PyValue | undefined };

const ESCAPES: Record<string, string> = {
  '"': '\\"',
  "\\": "\\\\",
  "\b": "\\b",
  "\f": "\\f",
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
};

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/** A JSON string literal with Python's ensure_ascii escaping. */
export function pyString(s: string): string {
  // Printable ASCII needs only `"` and `\` escaped, which JSON.stringify does
  // identically (and natively, several times faster on large payloads).
  if (PRINTABLE_ASCII.test(s)) return JSON.stringify(s);
  // eslint-disable-next-line no-control-regex
  return `"${s.replace(/["\\\u0000-\u001f\u007f-\uffff]/g, (ch) => {
    const e = ESCAPES[ch];
    if (e) return e;
    return `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`;
  })}"`;
}

export function dumps(v: PyValue): string {
  if (v === null) return "null";
  if (v instanceof Raw) return v.text;
  switch (typeof v) {
    case "boolean":
      return v ? "true" : "false";
    case "number":
      return Number.isFinite(v) ? String(v) : "null";
    case "string":
      return pyString(v);
  }
  if (Array.isArray(v)) return `[${v.map(dumps).join(", ")}]`;
  const parts: string[] = [];
  for (const [k, val] of Object.entries(v)) {
    if (val === undefined) continue;
    parts.push(`${pyString(k)}: ${dumps(val)}`);
  }
  return `{${parts.join(", ")}}`;
}

/** Python 2.7 repr() of a float for the values quota/usage produce: shortest round-trip, integral values keep ".0". */
export function pyFloat(x: number): Raw {
  if (Number.isInteger(x) && Math.abs(x) < 1e16) return new Raw(x.toFixed(1));
  return new Raw(String(x));
}

/**
 * Python 2 str(float): 12 significant digits in %g style, then ".0" appended
 * when the text has no ".", "e", "inf" or "nan" (storage-1.1 Appendix A).
 */
export function pyStrFloat(x: number): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? "nan" : x > 0 ? "inf" : "-inf";
  let s: string;
  if (x === 0) {
    s = Object.is(x, -0) ? "-0" : "0";
  } else {
    const exp = Math.floor(Math.log10(Math.abs(Number(x.toPrecision(12)))));
    if (exp < -4 || exp >= 12) {
      const [mant, e] = x.toExponential(11).split("e") as [string, string];
      const m = mant.includes(".") ? mant.replace(/\.?0+$/, "") : mant;
      const en = Number(e);
      s = `${m}e${en < 0 ? "-" : "+"}${String(Math.abs(en)).padStart(2, "0")}`;
    } else {
      s = x.toFixed(Math.max(0, 11 - exp));
      if (s.includes(".")) s = s.replace(/\.?0+$/, "");
    }
  }
  if (!/[.e]|inf|nan/.test(s)) s += ".0";
  return s;
}
