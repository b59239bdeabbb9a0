/**
 * Byte helpers shared by the band and the host. Written in the Espruino dialect (no spread, no Array.from,
 * no TextEncoder): this file is bundled into the firmware.
 */

/**
 * A zero-filled byte array of `n` bytes. The firmware allocates byte arrays in many places and a call is shorter
 * than the constructor in the minified bundle, whose budget (16 KB on Puck.js) counts every byte.
 */
export function newBytes(n: number): Uint8Array {
  return new Uint8Array(n);
}

/** A Uint32Array of `n` zeros, or a copy of an array of words (shorter than the constructor, as newBytes). */
export function newU32(n: number | Uint32Array): Uint32Array {
  return new Uint32Array(n as number);
}

/** Math.floor, named once for the bundle's sake. */
export const floor = Math.floor;

/** A decoder result: decoders never throw, they say what is wrong. */
export type Decoded<T> = { ok: true; value: T } | { ok: false; error: string };

export function ok<T>(value: T): Decoded<T> {
  return { ok: true, value: value };
}

export function fail<T>(error: string): Decoded<T> {
  return { ok: false, error: error };
}

const HEX = "0123456789abcdef";

export function toHex(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += HEX.charAt(bytes[i] >> 4) + HEX.charAt(bytes[i] & 15);
  return s;
}

/** Parses hex (upper or lower case); `expectLength` in bytes, or -1 for any even length. */
export function fromHex(hex: string, expectLength: number): Decoded<Uint8Array> {
  if (typeof hex !== "string") return fail("hex value must be a string");
  if (hex.length % 2 !== 0) return fail("hex value has an odd number of digits");
  if (expectLength >= 0 && hex.length !== expectLength * 2) {
    return fail("hex value must be " + expectLength * 2 + " digits, got " + hex.length);
  }
  const out = newBytes(hex.length / 2);
  for (let i = 0; i < out.length; i++) {
    const hi = HEX.indexOf(hex.charAt(2 * i).toLowerCase());
    const lo = HEX.indexOf(hex.charAt(2 * i + 1).toLowerCase());
    if (hi < 0 || lo < 0) return fail("hex value has a non-hex character at position " + (2 * i + (hi < 0 ? 0 : 1)));
    out[i] = (hi << 4) | lo;
  }
  return ok(out);
}

/** Latin-1 string to bytes (protocol labels such as "EN-RPIK" are ASCII). */
export function asciiBytes(s: string): Uint8Array {
  const out = newBytes(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 255;
  return out;
}

export function concatBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = newBytes(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/** Copies `len` bytes of `src` from `start` into a new array (a copy, not a view). */
export function copyBytes(src: Uint8Array, start: number, len: number): Uint8Array {
  const out = newBytes(len);
  for (let i = 0; i < len; i++) out[i] = src[start + i];
  return out;
}

export function writeU32LE(buf: Uint8Array, offset: number, v: number): void {
  buf[offset] = v & 255;
  buf[offset + 1] = (v >>> 8) & 255;
  buf[offset + 2] = (v >>> 16) & 255;
  buf[offset + 3] = (v >>> 24) & 255;
}

export function readU32LE(buf: Uint8Array, offset: number): number {
  return (buf[offset] | (buf[offset + 1] << 8) | (buf[offset + 2] << 16) | (buf[offset + 3] << 24)) >>> 0;
}

export function writeU16LE(buf: Uint8Array, offset: number, v: number): void {
  buf[offset] = v & 255;
  buf[offset + 1] = (v >>> 8) & 255;
}

export function readU16LE(buf: Uint8Array, offset: number): number {
  return buf[offset] | (buf[offset + 1] << 8);
}

/** Reads a signed byte. */
export function readI8(buf: Uint8Array, offset: number): number {
  const v = buf[offset];
  return v > 127 ? v - 256 : v;
}
