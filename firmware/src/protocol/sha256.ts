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
  // Espruino interprets the source as it runs: a function call per rotation and a loop shifting eight array
  // cells a round were most of a block's time, so rotations are written out and a..h are plain variables
  // (sums wrap with |0 and in the Uint32Arrays; the bit operations read them as 32-bit words either way).
  for (let off = 0; off < padded.length; off += 64) {
    for (let i = 0; i < 64; i++) {
      if (i < 16) {
        const j = off + 4 * i;
        w[i] = (padded[j] << 24) | (padded[j + 1] << 16) | (padded[j + 2] << 8) | padded[j + 3];
      } else {
        const x = w[i - 15];
        const y = w[i - 2];
        w[i] =
          w[i - 16] +
          (((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3)) +
          w[i - 7] +
          (((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10));
      }
    }
    let a = h[0];
    let b = h[1];
    let c = h[2];
    let d = h[3];
    let e = h[4];
    let f = h[5];
    let g = h[6];
    let v = h[7];
    for (let i = 0; i < 64; i++) {
      const t1 =
        v +
        (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))) +
        ((e & f) ^ (~e & g)) +
        k[i] +
        w[i];
      const t2 =
        (((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))) + ((a & b) ^ (a & c) ^ (b & c));
      v = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) | 0;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += v;
  }
  const out = newBytes(32);
  for (let i = 0; i < 32; i++) out[i] = h[i >> 2] >>> (24 - 8 * (i & 3));
  return out;
}
