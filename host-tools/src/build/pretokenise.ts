import * as acorn from "acorn";

/**
 * Espruino's pretokenised code: the interpreter's lexer (2v29) reads any byte of 0x80 and above in program text as
 * a whole token, so the bundle is stored with reserved words and two-character operators as single bytes, short
 * strings as length-prefixed raw bytes and integers as binary. Function bodies run from flash as stored, so this
 * shrinks both the flashed file and what is lexed, with the same RAM.
 *
 * Token values (Espruino's LEX_TYPES, checked against the real interpreter in test/build/pretokenise.test.ts):
 * two-character operators from 138, reserved words from 163, then `??`, raw strings (8- and 16-bit length) and
 * raw integers (0, int8, int16).
 *
 * `pretokenise(detokenise(x))` is not needed; `detokenise(pretokenise(x)) === x` holds for esbuild's minified
 * output (tests check every bundle): only tokens whose text is their canonical form are replaced (strings with no
 * escapes in double quotes, integers written in decimal), and the whitespace a replaced token makes redundant is
 * the whitespace detokenise puts back.
 */
export const OPERATOR_TOKENS = [
  "==",
  "===",
  "!=",
  "!==",
  "<=",
  "<<",
  "<<=",
  ">=",
  ">>",
  ">>>",
  ">>=",
  ">>>=",
  "+=",
  "-=",
  "++",
  "--",
  "*=",
  "/=",
  "%=",
  "&=",
  "&&",
  "|=",
  "||",
  "^=",
  "=>",
];
export const WORD_TOKENS = [
  "if",
  "else",
  "do",
  "while",
  "for",
  "break",
  "continue",
  "function",
  "return",
  "var",
  "let",
  "const",
  "this",
  "throw",
  "try",
  "catch",
  "finally",
  "true",
  "false",
  "null",
  "undefined",
  "new",
  "in",
  "instanceof",
  "switch",
  "case",
  "default",
  "delete",
  "typeof",
  "void",
  "debugger",
  "class",
  "extends",
  "super",
  "static",
  "of",
];
export const LEX_OPERATOR_START = 138;
export const LEX_WORD_START = LEX_OPERATOR_START + OPERATOR_TOKENS.length;
export const LEX_NULLISH = 0xd0;
export const LEX_RAW_STRING8 = 0xd1;
export const LEX_RAW_STRING16 = 0xd2;
export const LEX_RAW_INT0 = 0xd3;
export const LEX_RAW_INT8 = 0xd4;
export const LEX_RAW_INT16 = 0xd5;

const TOKEN_OF = new Map<string, number>();
OPERATOR_TOKENS.forEach((t, i) => TOKEN_OF.set(t, LEX_OPERATOR_START + i));
WORD_TOKENS.forEach((t, i) => TOKEN_OF.set(t, LEX_WORD_START + i));
TOKEN_OF.set("??", LEX_NULLISH);
const TEXT_OF = new Map<number, string>([...TOKEN_OF].map(([t, b]) => [b, t]));

const isWordChar = (c: number) =>
  (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 36;
/** Character pairs that would read as one longer operator (or a comment) if written together. */
const MERGING = new Set<string>();
for (const op of [...OPERATOR_TOKENS, "??", "?.", "**", "**=", "//", "/*", "&&=", "||=", "??="])
  for (let i = 1; i < op.length; i++) MERGING.add(op.slice(i - 1, i + 1));
/** Whether text ending in character `a` needs a space before text starting with `b`. */
function needsSpace(a: number, b: number): boolean {
  return (isWordChar(a) && isWordChar(b)) || MERGING.has(String.fromCharCode(a, b));
}

/** Program text (ASCII, as esbuild writes it) to pretokenised bytes. */
export function pretokenise(code: string): Uint8Array {
  for (let i = 0; i < code.length; i++)
    if (code.charCodeAt(i) > 127) throw new Error(`pretokenise: non-ASCII character at offset ${i}`);
  const out: number[] = [];
  const text = (s: string) => {
    for (let i = 0; i < s.length; i++) out.push(s.charCodeAt(i));
  };
  let pos = 0;
  let lastWasToken = false;
  const tokens = acorn.tokenizer(code, { ecmaVersion: "latest", allowHashBang: true });
  for (const t of tokens) {
    const raw = code.slice(t.start, t.end);
    const gap = code.slice(pos, t.start);
    const bytes = tokenBytes(t, raw);
    // Whitespace around a token byte is redundant (detokenise restores what identifiers need); newlines stay for
    // automatic semicolon insertion, and anything between two plain tokens stays as it was.
    if (gap) {
      if (bytes || lastWasToken) {
        if (gap.includes("\n")) text("\n");
      } else text(gap);
    }
    if (bytes) out.push(...bytes);
    else text(raw);
    lastWasToken = bytes !== undefined;
    pos = t.end;
  }
  text(code.slice(pos));
  return Uint8Array.from(out);
}

function tokenBytes(t: acorn.Token, raw: string): number[] | undefined {
  const label = t.type.label;
  if (label === "string") {
    const v = (t as unknown as { value: string }).value;
    if (raw !== `"${v}"` || /[\\"\n\r]/.test(v)) return undefined;
    const b = Array.from(v, (c) => c.charCodeAt(0));
    if (b.length < 256) return [LEX_RAW_STRING8, b.length, ...b];
    return [LEX_RAW_STRING16, b.length & 255, b.length >> 8, ...b];
  }
  if (label === "num") {
    const v = (t as unknown as { value: number }).value;
    if (String(v) !== raw || !Number.isInteger(v)) return undefined;
    if (v === 0) return [LEX_RAW_INT0];
    if (v < 128 && raw.length > 2) return [LEX_RAW_INT8, v];
    if (v < 32768 && raw.length > 3) return [LEX_RAW_INT16, v & 255, v >> 8];
    return undefined;
  }
  // Words (keywords and names: Espruino's lexer turns any identifier spelled like a reserved word into its token)
  // and punctuation.
  const tk = TOKEN_OF.get(raw);
  if (tk === undefined) return undefined;
  if (label === "template" || label === "regexp" || label === "invalidTemplate") return undefined;
  return [tk];
}

/** Pretokenised bytes back to the program text they came from (the simulator runs this in V8). */
export function detokenise(bytes: Uint8Array | string): string {
  const b = typeof bytes === "string" ? Uint8Array.from(bytes, (c) => c.charCodeAt(0) & 255) : bytes;
  let out = "";
  const last = () => (out.length ? out.charCodeAt(out.length - 1) : 32);
  let afterToken = false;
  for (let i = 0; i < b.length; i++) {
    const c = b[i];
    if (c < 0x80) {
      if (afterToken && needsSpace(last(), c)) out += " ";
      out += String.fromCharCode(c);
      afterToken = false;
      continue;
    }
    let s: string;
    if (c === LEX_RAW_STRING8 || c === LEX_RAW_STRING16) {
      const n = c === LEX_RAW_STRING8 ? b[i + 1] : b[i + 1] | (b[i + 2] << 8);
      const at = i + (c === LEX_RAW_STRING8 ? 2 : 3);
      s = '"' + String.fromCharCode(...b.subarray(at, at + n)) + '"';
      i = at + n - 1;
    } else if (c === LEX_RAW_INT0) s = "0";
    else if (c === LEX_RAW_INT8) s = String((b[++i] << 24) >> 24);
    else if (c === LEX_RAW_INT16) {
      s = String(((b[i + 1] | (b[i + 2] << 8)) << 16) >> 16);
      i += 2;
    } else {
      const t = TEXT_OF.get(c);
      if (t === undefined) throw new Error(`detokenise: byte 0x${c.toString(16)} at ${i} is not an Espruino token`);
      s = t;
    }
    if (needsSpace(last(), s.charCodeAt(0))) out += " ";
    out += s;
    afterToken = true;
  }
  return out;
}
