/**
 * Compact pure AES-128 block encryption (FIPS-197), encrypt direction only: Exposure Notification needs
 * AES-128-ECB for RPIs and the AEM keystream, never decryption. The S-box is generated at first use from the
 * GF(2^8) inverse and affine map instead of being stored, to keep the firmware bundle small.
 */
let SBOX: Uint8Array | undefined;

function xtime(x: number): number {
  return ((x << 1) ^ (x & 0x80 ? 0x1b : 0)) & 255;
}

function buildSbox(): Uint8Array {
  const sbox = new Uint8Array(256);
  // Walk p over the multiplicative group with generator 3 and q over its inverse (generator 3^-1), so q = p^-1.
  let p = 1;
  let q = 1;
  do {
    p = p ^ xtime(p);
    q ^= q << 1;
    q ^= q << 2;
    q ^= q << 4;
    q &= 255;
    if (q & 0x80) q ^= 0x09;
    const x = q ^ rotl8(q, 1) ^ rotl8(q, 2) ^ rotl8(q, 3) ^ rotl8(q, 4);
    sbox[p] = (x ^ 0x63) & 255;
  } while (p !== 1);
  sbox[0] = 0x63;
  return sbox;
}

function rotl8(x: number, s: number): number {
  return ((x << s) | (x >> (8 - s))) & 255;
}

/** Expands a 16-byte key into the 176-byte AES-128 round-key schedule. */
export function aes128ExpandKey(key: Uint8Array): Uint8Array {
  if (!SBOX) SBOX = buildSbox();
  const s = SBOX;
  const rk = new Uint8Array(176);
  rk.set(key.length === 16 ? key : new Uint8Array(16), 0);
  let rcon = 1;
  for (let i = 16; i < 176; i += 4) {
    let t0 = rk[i - 4];
    let t1 = rk[i - 3];
    let t2 = rk[i - 2];
    let t3 = rk[i - 1];
    if (i % 16 === 0) {
      const tmp = t0;
      t0 = s[t1] ^ rcon;
      t1 = s[t2];
      t2 = s[t3];
      t3 = s[tmp];
      rcon = xtime(rcon);
    }
    rk[i] = rk[i - 16] ^ t0;
    rk[i + 1] = rk[i - 15] ^ t1;
    rk[i + 2] = rk[i - 14] ^ t2;
    rk[i + 3] = rk[i - 13] ^ t3;
  }
  return rk;
}

/** Encrypts one 16-byte block with an expanded key. */
export function aes128EncryptBlock(rk: Uint8Array, input: Uint8Array): Uint8Array {
  if (!SBOX) SBOX = buildSbox();
  const s = SBOX;
  const st = new Uint8Array(16);
  for (let i = 0; i < 16; i++) st[i] = input[i] ^ rk[i];
  const t = new Uint8Array(16);
  for (let round = 1; round <= 10; round++) {
    // SubBytes + ShiftRows: output byte (col c, row r) comes from column (c + r) mod 4.
    for (let c = 0; c < 4; c++) {
      for (let r = 0; r < 4; r++) t[4 * c + r] = s[st[4 * ((c + r) & 3) + r]];
    }
    if (round < 10) {
      for (let c = 0; c < 4; c++) {
        const a0 = t[4 * c];
        const a1 = t[4 * c + 1];
        const a2 = t[4 * c + 2];
        const a3 = t[4 * c + 3];
        const all = a0 ^ a1 ^ a2 ^ a3;
        st[4 * c] = a0 ^ all ^ xtime(a0 ^ a1);
        st[4 * c + 1] = a1 ^ all ^ xtime(a1 ^ a2);
        st[4 * c + 2] = a2 ^ all ^ xtime(a2 ^ a3);
        st[4 * c + 3] = a3 ^ all ^ xtime(a3 ^ a0);
      }
    } else {
      st.set(t, 0);
    }
    const base = 16 * round;
    for (let i = 0; i < 16; i++) st[i] ^= rk[base + i];
  }
  return st;
}

/** One-shot AES-128-ECB of a single block. */
export function aes128Ecb(key: Uint8Array, block: Uint8Array): Uint8Array {
  return aes128EncryptBlock(aes128ExpandKey(key), block);
}
