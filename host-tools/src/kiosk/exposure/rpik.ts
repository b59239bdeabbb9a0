import { hkdfSync } from "crypto";
import { hmacKeyState, hmacKeyStateFromWords, hmacWords } from "../../authority/f1/hmac-state";

/**
 * RPIK = HKDF-SHA256(TEK, no salt, "EN-RPIK", 16) (docs/protocol.md section 1), at matcher speed.
 *
 * Node's hkdfSync costs ~10 us per call on the 2-core development machine (bench section
 * kiosk-match reports it in the same run): 10 s for a million keys before a single RPI is computed. HKDF with a
 * 16-byte output is two HMACs (PRK = HMAC(32 zero bytes, TEK); RPIK = HMAC(PRK, "EN-RPIK" || 0x01)[0..16]); with
 * the zero-salt key state computed once and the authority's precomputed-state HMAC (authority/f1/hmac-state.ts,
 * which the F1 resolution uses for the same derivation), a key costs 6 SHA-256 compressions and no allocation
 * (~1.3 us). test/kiosk/exposure.test.ts checks it against hkdfSync and the official vectors.
 */
export class RpikDeriver {
  private readonly zeroSaltState = hmacKeyState(new Uint8Array(32));
  private readonly infoWords = new Int32Array(16);
  private readonly tekWords = new Int32Array(16);
  private readonly prkWords = new Int32Array(16);
  private readonly prkState = new Int32Array(16);
  private readonly mac = new Int32Array(8);

  constructor() {
    const info = Buffer.from("EN-RPIK\x01", "latin1");
    for (let i = 0; i < info.length; i++) this.infoWords[i >> 2] |= info[i] << (24 - 8 * (i & 3));
  }

  /** Writes the RPIK of the 16-byte TEK at tek[off..off+16] into out[0..16]. */
  derive(tek: Uint8Array, off: number, out: Uint8Array): void {
    const w = this.tekWords;
    for (let i = 0; i < 4; i++) {
      const o = off + 4 * i;
      w[i] = (tek[o] << 24) | (tek[o + 1] << 16) | (tek[o + 2] << 8) | tek[o + 3];
    }
    hmacWords(this.zeroSaltState, w, 16, this.mac, 0);
    for (let i = 0; i < 8; i++) this.prkWords[i] = this.mac[i];
    hmacKeyStateFromWords(this.prkWords, 8, this.prkState);
    hmacWords(this.prkState, this.infoWords, 8, this.mac, 0);
    for (let i = 0; i < 4; i++) {
      const v = this.mac[i];
      out[4 * i] = v >>> 24;
      out[4 * i + 1] = (v >>> 16) & 255;
      out[4 * i + 2] = (v >>> 8) & 255;
      out[4 * i + 3] = v & 255;
    }
  }
}

/** AEMK = HKDF-SHA256(TEK, no salt, "EN-AEMK", 16): only derived for the few keys that matched. */
export function deriveAemkNative(tek: Uint8Array): Buffer {
  return Buffer.from(hkdfSync("sha256", tek, Buffer.alloc(0), "EN-AEMK", 16));
}

/** RPIK with Node's hkdfSync: the reference the bench and tests compare RpikDeriver with. */
export function deriveRpikNative(tek: Uint8Array): Buffer {
  return Buffer.from(hkdfSync("sha256", tek, Buffer.alloc(0), "EN-RPIK", 16));
}
