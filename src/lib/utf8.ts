/**
 * @module utf8
 * UTF-8 byte length of a string without encoding it: ASCII text (the usual
 * encrypted payload) by one native test, other text by a count over its
 * UTF-16 units (a lone surrogate counts as the 3 bytes of U+FFFD, as
 * TextEncoder writes it).
 */

const ASCII_ONLY = /^[\x00-\x7f]*$/;

export function utf8Length(s: string): number {
  if (ASCII_ONLY.test(s)) return s.length;
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}
