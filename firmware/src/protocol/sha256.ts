import { floor, newBytes, newU32 } from "./bytes";
/**
 * Pure SHA-256 (FIPS 180-4) for boards without native hashing (Pixl.js, Bangle.js 1) and for host tools.
 * Round constants are computed at first use (fractional parts of cube roots of the first 64 primes) rather than
 * stored, which keeps the firmware bundle small.
 */
let K: Uint32Array | undefined;
let H0: Uint32Array | undefined;

function fracBits(x: number): number {
  return ((x - floor(x)) * 4294967296) >>> 0;
}

/** Round constants K and initial hash H0, computed at first use. */
function constants(): Uint32Array[] {
  if (!K || !H0) {
    K = newU32(64);
    H0 = newU32(8);
    for (let n = 0, candidate = 2; n < 64; candidate++) {
      let prime = true;
      for (let d = 2; d * d <= candidate; d++) if (candidate % d === 0) prime = false;
      if (prime) {
        if (n < 8) H0[n] = fracBits(Math.sqrt(candidate));
        K[n++] = fracBits(Math.pow(candidate, 1 / 3));
      }
    }
  }
  return [K, H0];
}

function rotr(x: number, n: number): number {
  return (x >>> n) | (x << (32 - n));
}

export function sha256(data: Uint8Array): Uint8Array {
  const kh = constants();
  const k = kh[0];
  const h = newU32(kh[1]);
  const len = data.length;
  const padded = newBytes(((len + 9 + 63) >> 6) << 6);
  padded.set(data, 0);
  padded[len] = 0x80;
  // Length in bits, big-endian, in the last 4 bytes (messages here are far below 2^32 bits).
  for (let i = 1; i <= 4; i++) padded[padded.length - i] = ((len * 8) >>> (8 * i - 8)) & 255;
  const w = newU32(64);
  // Working variables a..h as v[0..7]: each round shifts them down one place.
  const v = newU32(8);
  for (let off = 0; off < padded.length; off += 64) {
    for (let i = 0; i < 64; i++) {
      if (i < 16) {
        const j = off + 4 * i;
        w[i] = (padded[j] << 24) | (padded[j + 1] << 16) | (padded[j + 2] << 8) | padded[j + 3];
      } else {
        const a = w[i - 15];
        const b = w[i - 2];
        w[i] = w[i - 16] + (rotr(a, 7) ^ rotr(a, 18) ^ (a >>> 3)) + w[i - 7] + (rotr(b, 17) ^ rotr(b, 19) ^ (b >>> 10));
      }
    }
    v.set(h, 0);
    for (let i = 0; i < 64; i++) {
      const a = v[0];
      const e = v[4];
      const t1 = v[7] + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & v[5]) ^ (~e & v[6])) + k[i] + w[i];
      const t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & v[1]) ^ (a & v[2]) ^ (v[1] & v[2]));
      for (let j = 7; j > 0; j--) v[j] = v[j - 1];
      v[4] += t1;
      v[0] = t1 + t2;
    }
    for (let i = 0; i < 8; i++) h[i] += v[i];
  }
  const out = newBytes(32);
  for (let i = 0; i < 32; i++) out[i] = h[i >> 2] >>> (24 - 8 * (i & 3));
  return out;
}
