import { asciiBytes, newBytes } from "./bytes";

/** A SHA-256 implementation: native `require("crypto").SHA256` on the band, pure elsewhere. */
export type Sha256Fn = (data: Uint8Array) => Uint8Array;

/** HMAC-SHA256 (RFC 2104), composed from the given SHA-256 because Espruino has no HMAC built in. */
export function hmacSha256(sha256: Sha256Fn, key: Uint8Array, message: Uint8Array): Uint8Array {
  const k = key.length > 64 ? sha256(key) : key;
  // The padded key's inner and outer pads are written straight into the two blocks hashed: no other copy of
  // them, nor a second copy of the message (the band signs whole READ pages during a sync, its memory peak).
  // `outer` is the outer pad and the inner hash: `sha256` must return SHA-256's 32 bytes.
  const inner = newBytes(64 + message.length);
  const outer = newBytes(96);
  for (let i = 0; i < 64; i++) {
    const b = i < k.length ? k[i] : 0;
    inner[i] = b ^ 0x36;
    outer[i] = b ^ 0x5c;
  }
  inner.set(message, 64);
  outer.set(sha256(inner), 64);
  return sha256(outer);
}

/**
 * HKDF-SHA256 (RFC 5869). An empty salt means HashLen zero bytes, as Exposure Notification specifies.
 * `info` is an ASCII label.
 */
export function hkdfSha256(
  sha256: Sha256Fn,
  ikm: Uint8Array,
  salt: Uint8Array,
  info: string,
  length: number,
): Uint8Array {
  const prk = hmacSha256(sha256, salt.length ? salt : newBytes(32), ikm);
  const infoBytes = asciiBytes(info);
  const out = newBytes(length);
  let prev = newBytes(0);
  let pos = 0;
  for (let counter = 1; pos < length; counter++) {
    const block = newBytes(prev.length + infoBytes.length + 1);
    block.set(prev, 0);
    block.set(infoBytes, prev.length);
    block[block.length - 1] = counter;
    prev = hmacSha256(sha256, prk, block);
    for (let i = 0; i < prev.length && pos < length; i++) out[pos++] = prev[i];
  }
  return out;
}
