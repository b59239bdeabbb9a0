import { newBytes } from "./bytes";
/**
 * Compact pure AES-128 block encryption (FIPS-197), encrypt direction only: Exposure Notification needs
 * AES-128-ECB for RPIs and the AEM keystream, never decryption. The S-box is generated at first use from the
 * GF(2^8) inverse and affine map instead of being stored, to keep the firmware bundle small.
 */
let SBOX: Uint8Array | undefined;

function xtime(x: number): number {
  return ((x << 1) ^ (x & 0x80 ? 0x1b : 0)) & 255;
}

function sbox(): Uint8Array {
  if (!SBOX) {
    const s = newBytes(256);
    // Walk p over the multiplicative group with generator 3 and q over its inverse (generator 3^-1), so q = p^-1.
    let p = 1;
    let q = 1;
    do {
      p ^= xtime(p);
      q ^= q << 1;
      q ^= q << 2;
      q ^= q << 4;
      q &= 255;
      if (q & 0x80) q ^= 0x09;
      // Affine map: q XOR q rotated left by 1, 2, 3 and 4, XOR 0x63.
      let x = q ^ 0x63;
      for (let r = 1; r < 5; r++) x ^= ((q << r) | (q >> (8 - r))) & 255;
      s[p] = x;
    } while (p !== 1);
    s[0] = 0x63;
    SBOX = s;
  }
  return SBOX;
}

/** Expands a 16-byte key into the 176-byte AES-128 round-key schedule. */
export function aes128ExpandKey(key: Uint8Array): Uint8Array {
  const s = sbox();
  const rk = newBytes(176);
  rk.set(key.length === 16 ? key : newBytes(16), 0);
  let rcon = 1;
  for (let i = 16; i < 176; i += 4) {
    const first = i % 16 === 0;
    for (let j = 0; j < 4; j++) {
      // The previous word; at the start of each round key: RotWord, SubWord and the round constant.
      let t = rk[i - 4 + (first ? (j + 1) & 3 : j)];
      if (first) t = s[t] ^ (j ? 0 : rcon);
      rk[i + j] = rk[i - 16 + j] ^ t;
    }
    if (first) rcon = xtime(rcon);
  }
  return rk;
}

/** Encrypts one 16-byte block with an expanded key. */
export function aes128EncryptBlock(rk: Uint8Array, input: Uint8Array): Uint8Array {
  const s = sbox();
  const st = newBytes(16);
  const t = newBytes(16);
  for (let i = 0; i < 16; i++) st[i] = input[i] ^ rk[i];
  for (let round = 1; round <= 10; round++) {
    // SubBytes + ShiftRows: byte (column c, row r) = i = 4c + r comes from column c + r: index (i + 4r) mod 16.
    for (let i = 0; i < 16; i++) t[i] = s[st[(i + 4 * (i & 3)) & 15]];
    // MixColumns (not in the last round): b_j = a_j ^ (a0 ^ a1 ^ a2 ^ a3) ^ xtime(a_j ^ a_j+1); AddRoundKey.
    for (let i = 0; i < 16; i++) {
      const c = i & 12;
      const mixed = t[i] ^ t[c] ^ t[c + 1] ^ t[c + 2] ^ t[c + 3] ^ xtime(t[i] ^ t[c + ((i + 1) & 3)]);
      st[i] = (round < 10 ? mixed : t[i]) ^ rk[16 * round + i];
    }
  }
  return st;
}

/**
 * One-shot AES-128-ECB of a single block, deriving each round key as it goes (the band's form: one function,
 * no 176-byte schedule; same bytes as aes128EncryptBlock(aes128ExpandKey(key), block)).
 */
export function aes128Ecb(key: Uint8Array, block: Uint8Array): Uint8Array {
  const s = sbox();
  const k = newBytes(16);
  const st = newBytes(16);
  const t = newBytes(16);
  k.set(key, 0);
  for (let i = 0; i < 16; i++) st[i] = block[i] ^ k[i];
  let rcon = 1;
  for (let round = 1; round <= 10; round++) {
    // Next round key: w0 ^= SubWord(RotWord(w3)) ^ rcon, then each word ^= the previous one.
    for (let j = 0; j < 16; j++) k[j] ^= j < 4 ? s[k[12 + ((j + 1) & 3)]] ^ (j ? 0 : rcon) : k[j - 4];
    rcon = xtime(rcon);
    for (let i = 0; i < 16; i++) t[i] = s[st[(i + 4 * (i & 3)) & 15]];
    for (let i = 0; i < 16; i++) {
      const c = i & 12;
      const mixed = t[i] ^ t[c] ^ t[c + 1] ^ t[c + 2] ^ t[c + 3] ^ xtime(t[i] ^ t[c + ((i + 1) & 3)]);
      st[i] = (round < 10 ? mixed : t[i]) ^ k[i];
    }
  }
  return st;
}
