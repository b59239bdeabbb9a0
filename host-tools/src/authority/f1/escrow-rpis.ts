import { createCipheriv } from "crypto";
import { hmacKeyState, hmacKeyStateFromWords, hmacWords } from "./hmac-state";

/**
 * Escrow-band RPIs at server speed: the same values as protocol/escrow.ts (escrowTek) and protocol/gaen.ts
 * (deriveRpik, computeRpi), computed with precomputed HMAC states and Node's AES-128-ECB over all needed
 * intervals of a day in one call. test/authority/f1-engine.test.ts checks it against the pure protocol core.
 */
const TEK_LABEL = "TL-ESCROW-TEK";
const ZERO_SALT_STATE = hmacKeyState(new Uint8Array(32));
// "EN-RPIK" || 0x01, the only HKDF-Expand block a 16-byte RPIK needs.
const RPIK_INFO = wordsOf(Buffer.concat([Buffer.from("EN-RPIK", "latin1"), Buffer.from([1])]));

export class EscrowRpiEngine {
  private readonly bandState = new Int32Array(16);
  private readonly secretWords = new Int32Array(16);
  private readonly tekMsg = new Int32Array(16);
  private readonly mac = new Int32Array(8);
  private readonly prkState = new Int32Array(16);
  private readonly tekWords = new Int32Array(16);
  /** The current day's TEK and RPIK (valid after deriveDay). */
  readonly tek = Buffer.alloc(16);
  readonly rpik = Buffer.alloc(16);

  constructor() {
    const label = Buffer.from(TEK_LABEL, "latin1");
    for (let i = 0; i < label.length; i++) this.tekMsg[i >> 2] |= label[i] << (24 - 8 * (i & 3));
  }

  /** Sets the 16-byte band secret whose days are derived next. */
  setBand(secret: Uint8Array): void {
    this.secretWords.fill(0);
    for (let i = 0; i < secret.length; i++) this.secretWords[i >> 2] |= secret[i] << (24 - 8 * (i & 3));
    hmacKeyStateFromWords(this.secretWords, 16, this.bandState);
  }

  /** TEK(day) = HMAC(secret, label || day LE)[0..16]; RPIK = HKDF(TEK, zeros, "EN-RPIK", 16). */
  deriveDay(day: number): void {
    // Message bytes 13..16 hold the day, little-endian; word 3 is bytes 12..15 (byte 12 is the label's "K").
    const m = this.tekMsg;
    m[3] = (m[3] & 0xff000000) | ((day & 0xff) << 16) | (((day >>> 8) & 0xff) << 8) | ((day >>> 16) & 0xff);
    m[4] = ((day >>> 24) & 0xff) << 24;
    hmacWords(this.bandState, m, 17, this.mac, 0);
    const tw = this.tekWords;
    for (let i = 0; i < 4; i++) tw[i] = this.mac[i];
    for (let i = 4; i < 16; i++) tw[i] = 0;
    writeWords(this.mac, 4, this.tek);
    // HKDF-Extract: PRK = HMAC(32 zero bytes, TEK); Expand: RPIK = HMAC(PRK, "EN-RPIK" || 1)[0..16].
    hmacWords(ZERO_SALT_STATE, tw, 16, this.mac, 0);
    hmacKeyStateFromWords(this.mac, 8, this.prkState);
    hmacWords(this.prkState, RPIK_INFO, 8, this.mac, 0);
    writeWords(this.mac, 4, this.rpik);
  }

  /** AES-128-ECB(RPIK) over a buffer of padded-data blocks ("EN-RPI" || 0^6 || ENIN LE), one RPI per block. */
  rpis(padded: Buffer): Buffer {
    const c = createCipheriv("aes-128-ecb", this.rpik, null);
    c.setAutoPadding(false);
    return c.update(padded);
  }
}

/** Padded-data blocks for the given ENINs, back to back. */
export function paddedBlocks(enins: ArrayLike<number>): Buffer {
  const out = Buffer.alloc(enins.length * 16);
  for (let i = 0; i < enins.length; i++) {
    out.write("EN-RPI", i * 16, "latin1");
    out.writeUInt32LE(enins[i] >>> 0, i * 16 + 12);
  }
  return out;
}

function wordsOf(bytes: Uint8Array): Int32Array {
  const w = new Int32Array(16);
  for (let i = 0; i < bytes.length; i++) w[i >> 2] |= bytes[i] << (24 - 8 * (i & 3));
  return w;
}

function writeWords(words: Int32Array, count: number, out: Buffer): void {
  for (let i = 0; i < count; i++) out.writeInt32BE(words[i], i * 4);
}
