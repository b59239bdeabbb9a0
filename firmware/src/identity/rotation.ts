import { floor, newBytes, writeU32LE } from "../protocol/bytes";
import { CryptoPrims } from "../protocol/crypto";
import { computeAem, computeRpi, enIntervalNumber, enMetadata, EN_TEK_ROLLING_PERIOD } from "../protocol/gaen";
import { encodeEnAdvert } from "../protocol/advert";
import { discoveryToken, encodeDiscoveryAdvert } from "../protocol/sync";
import { ROTATE_MIN_MS, ROTATE_SPAN_MS } from "../tuning";

/** What the band shows on air until the next rotation. */
export interface Identity {
  /** Random static address, as NRF.setAddress takes it. */
  address: string;
  /**
   * The 31-byte Exposure Notification advert (RPI at bytes 11-26, AEM at 27-30) for the ENIN at rotation;
   * undefined without valid time (no Exposure Notification advert then).
   */
  en: Uint8Array | undefined;
  /** The discovery advert with a fresh nonce and its token (zeros when unprovisioned). */
  disc: Uint8Array;
  /** Milliseconds until the next rotation: uniform in [10, 20] minutes. */
  nextMs: number;
}

/**
 * A random static address: the two top bits of the most significant byte set. (The reserved all-0 and all-1
 * random parts, 1 chance in 2^45, are not avoided.)
 */
export function randomStaticAddress(rand32: () => number): string {
  let s = "";
  for (let i = 0; i < 6; i++) {
    const b = (rand32() & 255) | (i ? 0 : 0xc0);
    s += (i ? ":" : "") + (b < 16 ? "0" : "") + b.toString(16);
  }
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
  let en: Uint8Array | undefined;
  if (unix >= 0) {
    const enin = enIntervalNumber(unix);
    const k = keys(floor(enin / EN_TEK_ROLLING_PERIOD));
    const rpi = computeRpi(c, k[1], enin);
    en = encodeEnAdvert(rpi, computeAem(c, k[2], rpi, enMetadata(txPowerDbm)));
  }
  const nonce = newBytes(4);
  // A provisioned band's nonce is never all zero (that marks an unprovisioned band).
  if (syncKey) writeU32LE(nonce, 0, rand32() | 1);
  return {
    address: randomStaticAddress(rand32),
    en: en,
    disc: encodeDiscoveryAdvert(nonce, syncKey ? discoveryToken(c, syncKey, nonce) : newBytes(6)),
    nextMs: ROTATE_MIN_MS + ((rand32() >>> 0) % (ROTATE_SPAN_MS + 1)),
  };
}
