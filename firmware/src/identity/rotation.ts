import { CryptoPrims } from "../protocol/crypto";
import { computeAem, computeRpi, enIntervalNumber, enMetadata, EN_TEK_ROLLING_PERIOD } from "../protocol/gaen";
import { discoveryToken } from "../protocol/sync";

/** What the band shows on air until the next rotation. */
export interface Identity {
  /** Random static address, as NRF.setAddress takes it. */
  address: string;
  /** RPI and AEM for the ENIN at rotation; undefined without valid time (no Exposure Notification advert then). */
  rpi: Uint8Array | undefined;
  aem: Uint8Array | undefined;
  /** Discovery advert nonce and token (zeros when unprovisioned). */
  nonce: Uint8Array;
  token: Uint8Array;
  /** Milliseconds until the next rotation: uniform in [10, 20] minutes. */
  nextMs: number;
}

export const ROTATE_MIN_MS = 10 * 60 * 1000;
export const ROTATE_SPAN_MS = 10 * 60 * 1000;

const HEX = "0123456789abcdef";

/** A random static address: the two top bits of the most significant byte set, the rest neither all 0 nor all 1. */
export function randomStaticAddress(rand32: () => number): string {
  const b = new Uint8Array(6);
  let r = rand32();
  for (let i = 0; i < 6; i++) {
    if (i === 4) r = rand32();
    b[i] = r & 255;
    r = r >>> 8;
  }
  b[0] |= 0xc0;
  // All-ones or all-zeros random parts are reserved: nudge one bit.
  if (b[0] === 0xff && b[1] === 0xff && b[2] === 0xff && b[3] === 0xff && b[4] === 0xff && b[5] === 0xff) b[5] = 0xfe;
  if (b[0] === 0xc0 && !(b[1] | b[2] | b[3] | b[4] | b[5])) b[5] = 1;
  let s = "";
  for (let i = 0; i < 6; i++) s += (i ? ":" : "") + HEX.charAt(b[i] >> 4) + HEX.charAt(b[i] & 15);
  return s + " random";
}

/** The per-day keys rotation needs: [TEK, RPIK, AEMK] (keys/tek-store.ts provides them). */
export type DayKeys = (day: number) => Uint8Array[];

/**
 * A new identity: address, RPI/AEM for the ENIN at `unix` (skipped when `unix` < 0), discovery nonce/token.
 * Address and RPI always change together (the caller applies both at once).
 */
export function rotateIdentity(
  c: CryptoPrims,
  keys: DayKeys,
  unix: number,
  txPowerDbm: number,
  syncKey: Uint8Array | undefined,
  rand32: () => number,
): Identity {
  let rpi: Uint8Array | undefined;
  let aem: Uint8Array | undefined;
  if (unix >= 0) {
    const enin = enIntervalNumber(unix);
    const k = keys(Math.floor(enin / EN_TEK_ROLLING_PERIOD));
    rpi = computeRpi(c, k[1], enin);
    aem = computeAem(c, k[2], rpi, enMetadata(txPowerDbm));
  }
  const nonce = new Uint8Array(4);
  let token: Uint8Array = new Uint8Array(6);
  if (syncKey) {
    const r = rand32();
    nonce[0] = r & 255;
    nonce[1] = (r >>> 8) & 255;
    nonce[2] = (r >>> 16) & 255;
    nonce[3] = (r >>> 24) | 1; // never all zero: that marks an unprovisioned band
    token = discoveryToken(c, syncKey, nonce);
  }
  return {
    address: randomStaticAddress(rand32),
    rpi: rpi,
    aem: aem,
    nonce: nonce,
    token: token,
    nextMs: ROTATE_MIN_MS + ((rand32() >>> 0) % (ROTATE_SPAN_MS + 1)),
  };
}
