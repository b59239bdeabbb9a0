/**
 * HMAC-SHA256 for short messages with precomputed key states, for the F1 resolution hot loop.
 *
 * Resolution derives, for every registered band and day, TEK = HMAC(secret, ...), then the HKDF steps
 * PRK = HMAC(zeros, TEK) and RPIK = HMAC(PRK, "EN-RPIK" || 1). Node's createHmac costs ~3 us per call in object
 * set-up alone; here a key's inner and outer SHA-256 states are computed once (2 compressions) and each MAC of a
 * message of at most 55 bytes is exactly 2 more compressions, with no allocation. Output is checked against
 * the protocol core's pure HMAC and Node's crypto in test/authority/f1-engine.test.ts.
 */

const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
  0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
  0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
  0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
  0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
  0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
  0xc67178f2,
]);

const IV = new Int32Array([
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
]);

const W = new Int32Array(64);

/** One SHA-256 compression of the 16-word block `w` into state `st` (8 words), written to `out` (may be `st`). */
function compress(st: Int32Array, stOff: number, w: Int32Array, out: Int32Array, outOff: number): void {
  for (let i = 0; i < 16; i++) W[i] = w[i];
  for (let i = 16; i < 64; i++) {
    const x = W[i - 15];
    const y = W[i - 2];
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
    W[i] = (W[i - 16] + s0 + W[i - 7] + s1) | 0;
  }
  let a = st[stOff];
  let b = st[stOff + 1];
  let c = st[stOff + 2];
  let d = st[stOff + 3];
  let e = st[stOff + 4];
  let f = st[stOff + 5];
  let g = st[stOff + 6];
  let h = st[stOff + 7];
  for (let i = 0; i < 64; i++) {
    const s1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (h + s1 + ((e & f) ^ (~e & g)) + K[i] + W[i]) | 0;
    const s0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (s0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  out[outOff] = (st[stOff] + a) | 0;
  out[outOff + 1] = (st[stOff + 1] + b) | 0;
  out[outOff + 2] = (st[stOff + 2] + c) | 0;
  out[outOff + 3] = (st[stOff + 3] + d) | 0;
  out[outOff + 4] = (st[stOff + 4] + e) | 0;
  out[outOff + 5] = (st[stOff + 5] + f) | 0;
  out[outOff + 6] = (st[stOff + 6] + g) | 0;
  out[outOff + 7] = (st[stOff + 7] + h) | 0;
}

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
