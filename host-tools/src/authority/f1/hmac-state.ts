import { compress } from "./sha256-compress.generated";

/**
 * HMAC-SHA256 for short messages with precomputed key states, for the F1 resolution hot loop.
 *
 * Resolution derives, for every registered band and day, TEK = HMAC(secret, ...), then the HKDF steps
 * PRK = HMAC(zeros, TEK) and RPIK = HMAC(PRK, "EN-RPIK" || 1). Node's createHmac costs ~3 us per call in object
 * set-up alone; here a key's inner and outer SHA-256 states are computed once (2 compressions) and each MAC of a
 * message of at most 55 bytes is exactly 2 more compressions, with no allocation. Output is checked against
 * the protocol core's pure HMAC and Node's crypto in test/authority/f1-engine.test.ts. The compression function is
 * generated, fully unrolled (gen-sha256-compress.ts).
 */

const IV = new Int32Array([
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
]);

const block = new Int32Array(16);
const inner = new Int32Array(8);

/**
 * Key state: 16 words, the inner (key XOR ipad) then outer (key XOR opad) SHA-256 states.
 * `key` is given as big-endian words (at most 16, i.e. keys up to 64 bytes; shorter keys are zero-padded).
 */
export function hmacKeyStateFromWords(keyWords: Int32Array, keyWordCount: number, out: Int32Array): void {
  for (let i = 0; i < 16; i++) block[i] = (i < keyWordCount ? keyWords[i] : 0) ^ 0x36363636;
  compress(IV, 0, block, out, 0);
  for (let i = 0; i < 16; i++) block[i] = (i < keyWordCount ? keyWords[i] : 0) ^ 0x5c5c5c5c;
  compress(IV, 0, block, out, 8);
}

export function hmacKeyState(key: Uint8Array): Int32Array {
  if (key.length > 64) throw new Error("hmacKeyState: keys longer than 64 bytes are not supported");
  const words = new Int32Array(16);
  for (let i = 0; i < key.length; i++) words[i >> 2] |= key[i] << (24 - 8 * (i & 3));
  const st = new Int32Array(16);
  hmacKeyStateFromWords(words, 16, st);
  return st;
}

/**
 * HMAC of a message of `msgLen` (<= 55) bytes given as big-endian words in msgWords (bytes past msgLen must be
 * zero), under key state `ks`. The 32-byte MAC is written as 8 words to out[outOff..].
 */
export function hmacWords(ks: Int32Array, msgWords: Int32Array, msgLen: number, out: Int32Array, outOff: number): void {
  // Inner: one block holding the message, the 0x80 terminator and the bit length of ipad block + message.
  const n = msgLen >> 2;
  for (let i = 0; i < 16; i++) block[i] = i <= n ? msgWords[i] : 0;
  block[n] |= 0x80 << (24 - 8 * (msgLen & 3));
  block[15] = (64 + msgLen) * 8;
  compress(ks, 0, block, inner, 0);
  // Outer: the 32-byte inner digest, terminator, length 64 + 32 bytes.
  for (let i = 0; i < 8; i++) block[i] = inner[i];
  block[8] = 0x80000000;
  for (let i = 9; i < 15; i++) block[i] = 0;
  block[15] = (64 + 32) * 8;
  compress(ks, 8, block, out, outOff);
}
