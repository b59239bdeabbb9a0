/**
 * Pure SHA-256 (FIPS 180-4) for boards without native hashing (Pixl.js, Bangle.js 1) and for host tools.
 * Round constants are computed at first use (fractional parts of cube roots of the first 64 primes) rather than
 * stored, which keeps the firmware bundle small.
 */
let K: Uint32Array | undefined;
let H0: Uint32Array | undefined;

function fracBits(x: number): number {
  return ((x - Math.floor(x)) * 4294967296) >>> 0;
}

function initConstants(): void {
  const k = new Uint32Array(64);
  const h = new Uint32Array(8);
  let n = 0;
  let candidate = 2;
  while (n < 64) {
    let prime = true;
    for (let d = 2; d * d <= candidate; d++) {
      if (candidate % d === 0) {
        prime = false;
        break;
      }
    }
    if (prime) {
      if (n < 8) h[n] = fracBits(Math.sqrt(candidate));
      k[n] = fracBits(Math.pow(candidate, 1 / 3));
      n++;
    }
    candidate++;
  }
  K = k;
  H0 = h;
}

function rotr(x: number, n: number): number {
  return (x >>> n) | (x << (32 - n));
}

export function sha256(data: Uint8Array): Uint8Array {
  if (!K || !H0) initConstants();
  const k = K as Uint32Array;
  const h = new Uint32Array(H0 as Uint32Array);
  const bitLen = data.length * 8;
  const padded = new Uint8Array(((data.length + 9 + 63) >> 6) << 6);
  padded.set(data, 0);
  padded[data.length] = 0x80;
  // Messages here are far below 2^32 bits: the high word of the length stays zero.
  const end = padded.length;
  padded[end - 4] = (bitLen >>> 24) & 255;
  padded[end - 3] = (bitLen >>> 16) & 255;
  padded[end - 2] = (bitLen >>> 8) & 255;
  padded[end - 1] = bitLen & 255;
  const w = new Uint32Array(64);
  for (let off = 0; off < padded.length; off += 64) {
    for (let i = 0; i < 16; i++) {
      const j = off + 4 * i;
      w[i] = (padded[j] << 24) | (padded[j + 1] << 16) | (padded[j + 2] << 8) | padded[j + 3];
    }
    for (let i = 16; i < 64; i++) {
      const a = w[i - 15];
      const b = w[i - 2];
      const s0 = rotr(a, 7) ^ rotr(a, 18) ^ (a >>> 3);
      const s1 = rotr(b, 17) ^ rotr(b, 19) ^ (b >>> 10);
      w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
    }
    let a = h[0];
    let b = h[1];
    let c = h[2];
    let d = h[3];
    let e = h[4];
    let f = h[5];
    let g = h[6];
    let hh = h[7];
    for (let i = 0; i < 64; i++) {
      const t1 = (hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + k[i] + w[i]) | 0;
      const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) | 0;
      hh = g;
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
    h[7] += hh;
  }
  const out = new Uint8Array(32);
  for (let i = 0; i < 8; i++) {
    out[4 * i] = h[i] >>> 24;
    out[4 * i + 1] = (h[i] >>> 16) & 255;
    out[4 * i + 2] = (h[i] >>> 8) & 255;
    out[4 * i + 3] = h[i] & 255;
  }
  return out;
}
