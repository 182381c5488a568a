/**
 * @module json
 * The JSON reader of request bodies, for every API: strict UTF-8, Python's
 * extra literals, numbers that keep their source text, at a cost linear in
 * the body whatever it holds.
 *
 * Python tells `12` from `12.0` and keeps integers of any size exact
 * (storage-1.1 §5.2), so a number whose text matters is read as a
 * {@link JsonNumber}. One scan over the text (strings are skipped with
 * `indexOf`) finds the tokens that need it: fractions, exponents, integers
 * longer than a double holds exactly, and the bare literals `NaN`,
 * `Infinity`, `-Infinity` that the reference's parser accepts. Those few are
 * rewritten as marked strings, the text is parsed natively without a reviver,
 * and the marked strings are turned back into JsonNumbers. Short integers,
 * which is nearly every number a client sends, stay plain numbers.
 *
 * A number token longer than {@link MAX_NUMBER_CHARS} is no valid value of
 * either protocol (the longest, a 1.1 id given as an integer, has 64
 * digits): the body is refused before anything is converted.
 */

/** A JSON number whose source text matters (Python semantics): fractions, exponents, long integers, NaN/Infinity. */
export class JsonNumber {
  constructor(
    readonly value: number,
    readonly source: string,
  ) {}
  /** A JSON integer token (Python int); fractions, exponents and NaN/Infinity are Python floats. */
  get isInteger(): boolean {
    return /^-?\d+$/.test(this.source);
  }
}

/**
 * A parsed JSON value. A plain `number` is always an integer token of at most
 * {@link MAX_EXACT_DIGITS} digits (exact as a double); every other number is a
 * {@link JsonNumber}.
 */
export type JsonIn = null | boolean | string | number | JsonNumber | JsonIn[] | { [k: string]: JsonIn };

/** Longest number token accepted anywhere in a body. */
export const MAX_NUMBER_CHARS = 100;
/** Integer tokens up to this many digits are exact doubles and stay plain numbers. */
export const MAX_EXACT_DIGITS = 15;

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** A JSON number token, exactly (RFC 8259 §6). */
const NUMBER_TOKEN = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;
const LITERALS: Array<[string, number]> = [
  ["-Infinity", -Infinity],
  ["Infinity", Infinity],
  ["NaN", NaN],
];

/** Index of the unescaped `"` closing a string whose content starts at `from`, or -1. */
function closingQuote(text: string, from: number): number {
  let k = from;
  for (;;) {
    const q = text.indexOf('"', k);
    if (q < 0) return -1;
    let backslashes = 0;
    for (let b = q - 1; b >= from && text.charCodeAt(b) === 0x5c; b--) backslashes++;
    if (backslashes % 2 === 0) return q;
    k = q + 1;
  }
}

function isNumberChar(c: number): boolean {
  // 0-9 . + - e E
  return (c >= 0x30 && c <= 0x39) || c === 0x2e || c === 0x2b || c === 0x2d || c === 0x65 || c === 0x45;
}

interface Marked {
  text: string;
  /** Marker prefix of rewritten tokens (a per-call nonce; a real string cannot guess it). */
  prefix: string;
}

/**
 * Scans outside strings; returns the text with the tokens that need their
 * source rewritten as marked strings, the text itself when none do, or null
 * when a number token is too long to be any valid value.
 */
function markNumbers(text: string): Marked | string | null {
  let prefix: string | null = null;
  const parts: string[] = [];
  let copied = 0;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      const close = closingQuote(text, i + 1);
      if (close < 0) break; // unterminated: JSON.parse refuses it
      i = close + 1;
      continue;
    }
    let literal: [string, number] | undefined;
    if (c === 0x4e || c === 0x49 || (c === 0x2d && text.charCodeAt(i + 1) === 0x49)) {
      literal = LITERALS.find(([lit]) => text.startsWith(lit, i));
    }
    if (literal === undefined && !(c === 0x2d || (c >= 0x30 && c <= 0x39))) {
      i += 1;
      continue;
    }
    let end: number;
    let token: string;
    if (literal !== undefined) {
      end = i + literal[0].length;
      token = literal[0];
    } else {
      end = i + 1;
      while (end < n && isNumberChar(text.charCodeAt(end))) {
        end += 1;
        if (end - i > MAX_NUMBER_CHARS) return null;
      }
      token = text.slice(i, end);
      // Malformed tokens are left for JSON.parse to refuse; plain short integers stay as they are.
      const simple = /^-?\d+$/.test(token) && token.replace("-", "").length <= MAX_EXACT_DIGITS;
      if (simple || !NUMBER_TOKEN.test(token)) {
        i = end;
        continue;
      }
    }
    prefix ??= `\u0000#${crypto.getRandomValues(new Uint32Array(2)).join("")}#`;
    parts.push(text.slice(copied, i), JSON.stringify(prefix + token));
    copied = end;
    i = end;
  }
  if (prefix === null) return text;
  parts.push(text.slice(copied));
  return { text: parts.join(""), prefix };
}

function toJsonNumber(source: string): JsonNumber {
  const lit = LITERALS.find(([l]) => l === source);
  return new JsonNumber(lit ? lit[1] : Number(source), source);
}

/** Replaces the marked strings of a parsed value by JsonNumbers (iteratively: nesting may be deep). */
function unmark(root: JsonIn, prefix: string): JsonIn {
  const revive = (v: JsonIn): JsonIn =>
    typeof v === "string" && v.startsWith(prefix) ? toJsonNumber(v.slice(prefix.length)) : v;
  const top = revive(root);
  const stack: JsonIn[] = [top];
  while (stack.length > 0) {
    const v = stack.pop() as JsonIn;
    if (Array.isArray(v)) {
      for (let k = 0; k < v.length; k++) {
        const x = v[k] as JsonIn;
        if (typeof x === "string") v[k] = revive(x);
        else if (typeof x === "object" && x !== null) stack.push(x);
      }
    } else if (typeof v === "object" && v !== null && !(v instanceof JsonNumber)) {
      for (const key of Object.keys(v)) {
        const x = v[key] as JsonIn;
        if (typeof x === "string") v[key] = revive(x);
        else if (typeof x === "object" && x !== null) stack.push(x);
      }
    }
  }
  return top;
}

/** Parses JSON text; undefined when it is not JSON (or holds a number token longer than any valid value). */
export function parseJsonText(text: string): JsonIn | undefined {
  const marked = markNumbers(text);
  if (marked === null) return undefined;
  try {
    if (typeof marked === "string") return JSON.parse(marked) as JsonIn;
    return unmark(JSON.parse(marked.text) as JsonIn, marked.prefix);
  } catch {
    return undefined;
  }
}

/** The text of a request body; undefined when it is not valid UTF-8. */
export function decodeBody(bytes: ArrayBuffer | Uint8Array): string | undefined {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/** Decodes and parses a request body; undefined when it is not valid UTF-8 JSON (Weave code 6). */
export function parseJsonBody(bytes: ArrayBuffer | Uint8Array): JsonIn | undefined {
  const text = decodeBody(bytes);
  return text === undefined ? undefined : parseJsonText(text);
}

// ------------------------------------------------------------------ arrays element by element

function isJsonSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function skipSpace(text: string, i: number): number {
  while (i < text.length && isJsonSpace(text.charCodeAt(i))) i++;
  return i;
}

/** How {@link forEachElement} ended. */
export type ElementScan = "not-array" | "malformed" | "done" | "stopped";

/**
 * Walks the top-level elements of a JSON array without parsing them: calls
 * `each(start, end)` with the span of each element (blanks around it
 * included) in order, and stops early when `each` returns false. Strings are
 * skipped with `indexOf` and only brackets are counted, so the walk costs one
 * pass over the text and allocates nothing.
 *
 * The walk checks only the array's own frame (the brackets, the commas
 * between elements, nothing after the closing bracket); the caller must check
 * that every span is a JSON value (parsing it, or matching a strict pattern),
 * and then the whole text is JSON exactly when JSON.parse would say so: in a
 * JSON text brackets balance and strings close, so the spans are exactly its
 * elements. "not-array" when the text does not start with `[` (it may still
 * be other JSON), "malformed" when the frame is broken (not JSON).
 */
export function forEachElement(text: string, each: (start: number, end: number) => boolean): ElementScan {
  const n = text.length;
  let i = skipSpace(text, 0);
  if (text.charCodeAt(i) !== 0x5b) return "not-array";
  i += 1;
  const afterOpen = skipSpace(text, i);
  if (text.charCodeAt(afterOpen) === 0x5d) return skipSpace(text, afterOpen + 1) === n ? "done" : "malformed";
  let start = i;
  let depth = 0;
  for (; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      const close = closingQuote(text, i + 1);
      if (close < 0) return "malformed";
      i = close;
    } else if (c === 0x5b || c === 0x7b) {
      depth += 1;
    } else if (c === 0x5d || c === 0x7d) {
      if (depth > 0) {
        depth -= 1;
        continue;
      }
      if (c !== 0x5d) return "malformed";
      if (!each(start, i)) return "stopped";
      return skipSpace(text, i + 1) === n ? "done" : "malformed";
    } else if (c === 0x2c && depth === 0) {
      if (!each(start, i)) return "stopped";
      start = i + 1;
    }
  }
  return "malformed";
}

/** JSON string content (group 1: the text between the quotes, escapes as written). */
const STRING = String.raw`"([^"\\\x00-\x1f]*(?:\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})[^"\\\x00-\x1f]*)*)"`;
/** A number token of RFC 8259, or one of Python's literals. */
const NUMBER = String.raw`(-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|NaN|-?Infinity)`;
const SP = "[ \\t\\n\\r]*";
/** One member of a flat object with its separator: key, then a string, number or literal value, then `,` or `}`. */
const FLAT_MEMBER = new RegExp(`${SP}${STRING}${SP}:${SP}(?:${STRING}|${NUMBER}|(true|false|null))${SP}([,}])`, "y");
const EMPTY_OBJECT = new RegExp(`${SP}\\{${SP}\\}${SP}`, "y");
const PLAIN_INTEGER = /^-?\d+$/;

function stringValue(raw: string): string {
  return raw.includes("\\") ? (JSON.parse(`"${raw}"`) as string) : raw;
}

/** The value {@link parseJsonText} gives a number token (undefined: too long to be any valid value). */
function numberValue(token: string): number | JsonNumber | undefined {
  if (token.length > MAX_NUMBER_CHARS) return undefined;
  if (PLAIN_INTEGER.test(token) && token.length - (token.startsWith("-") ? 1 : 0) <= MAX_EXACT_DIGITS) return Number(token);
  return toJsonNumber(token);
}

/**
 * The members named in `keys` of the JSON text `text[start, end)` when it is
 * a flat object (every value a string, a number or a literal), with the
 * values {@link parseJsonText} gives them (a repeated key: the last one);
 * other members are checked and dropped. Undefined when the text is anything
 * else, which may still be JSON: parse it then. A pattern match over the
 * span, no general parse: this is how a long tail of small elements is
 * examined at the cost of a scan.
 */
export function flatObjectFields(text: string, start: number, end: number, keys: ReadonlySet<string>): { [k: string]: JsonIn } | undefined {
  const out: { [k: string]: JsonIn } = {};
  let i = skipSpace(text, start);
  if (i >= end || text.charCodeAt(i) !== 0x7b) return undefined;
  EMPTY_OBJECT.lastIndex = start;
  if (EMPTY_OBJECT.exec(text) !== null && EMPTY_OBJECT.lastIndex === end) return out;
  i += 1;
  for (;;) {
    FLAT_MEMBER.lastIndex = i;
    const m = FLAT_MEMBER.exec(text);
    if (m === null || FLAT_MEMBER.lastIndex > end) return undefined;
    const key = stringValue(m[1] as string);
    let value: JsonIn | undefined;
    if (m[2] !== undefined) value = stringValue(m[2]);
    else if (m[3] !== undefined) value = numberValue(m[3]);
    else value = m[4] === "null" ? null : m[4] === "true";
    if (value === undefined) return undefined;
    if (keys.has(key)) out[key] = value;
    i = FLAT_MEMBER.lastIndex;
    if (m[5] === "}") return skipSpace(text, i) === end ? out : undefined;
  }
}

export function isJsonObject(v: JsonIn | undefined): v is { [k: string]: JsonIn } {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof JsonNumber);
}

/** A JSON scalar: null, a string, a boolean or a number (either form). */
export function isScalar(v: JsonIn): boolean {
  return v === null || typeof v === "string" || typeof v === "boolean" || typeof v === "number" || v instanceof JsonNumber;
}
