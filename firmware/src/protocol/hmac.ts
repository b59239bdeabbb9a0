import { asciiBytes, concatBytes, newBytes } from "./bytes";

/** A SHA-256 implementation: native `require("crypto").SHA256` on the band, pure elsewhere. */
export type Sha256Fn = (data: Uint8Array) => Uint8Array;

/** HMAC-SHA256 (RFC 2104), composed from the given SHA-256 because Espruino has no HMAC built in. */
export function hmacSha256(sha256: Sha256Fn, key: Uint8Array, message: Uint8Array): Uint8Array {
  const k = key.length > 64 ? sha256(key) : key;
  const padded = newBytes(64);
  padded.set(k, 0);
  const ipad = newBytes(64);
  const opad = newBytes(64);
  for (let i = 0; i < 64; i++) {
    ipad[i] = padded[i] ^ 0x36;
    opad[i] = padded[i] ^ 0x5c;
  }
  return sha256(concatBytes(opad, sha256(concatBytes(ipad, message))));
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
