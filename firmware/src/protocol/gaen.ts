import { asciiBytes, writeU32LE } from "./bytes";
import { CryptoPrims } from "./crypto";
import { hkdfSha256 } from "./hmac";

/**
 * Exposure Notification (Google/Apple, v1.2) key schedule, as in shared/PROTOCOLS.md:
 * TEK -> RPIK -> RPI(ENIN), TEK -> AEMK -> AEM(RPI, metadata).
 */

/** Seconds in one ENInterval. */
export const EN_INTERVAL_SECONDS = 600;
/** Intervals one TEK covers. */
export const EN_TEK_ROLLING_PERIOD = 144;
/** Metadata version byte: major 1, minor 0. */
export const EN_METADATA_VERSION = 0x40;

export function enIntervalNumber(unixSeconds: number): number {
  return Math.floor(unixSeconds / EN_INTERVAL_SECONDS);
}

/** The first interval of the day that contains `enin` (TEKs roll at UTC midnight). */
export function rollingStartNumber(enin: number): number {
  return Math.floor(enin / EN_TEK_ROLLING_PERIOD) * EN_TEK_ROLLING_PERIOD;
}

export function deriveRpik(c: CryptoPrims, tek: Uint8Array): Uint8Array {
  return hkdfSha256(c.sha256, tek, new Uint8Array(0), "EN-RPIK", 16);
}

export function deriveAemk(c: CryptoPrims, tek: Uint8Array): Uint8Array {
  return hkdfSha256(c.sha256, tek, new Uint8Array(0), "EN-AEMK", 16);
}

/** PaddedData = "EN-RPI" || 6 zero bytes || ENIN (uint32 little-endian). */
export function rpiPaddedData(enin: number): Uint8Array {
  const block = new Uint8Array(16);
  block.set(asciiBytes("EN-RPI"), 0);
  writeU32LE(block, 12, enin);
  return block;
}

export function computeRpi(c: CryptoPrims, rpik: Uint8Array, enin: number): Uint8Array {
  return c.aesEcb(rpik, rpiPaddedData(enin));
}

/**
 * AEM = AES-128-CTR(AEMK, IV = RPI, metadata). Only four bytes are encrypted, so this is the metadata XOR the
 * first four bytes of AES-128-ECB(AEMK, RPI); it is its own inverse, so it also decrypts.
 */
export function computeAem(c: CryptoPrims, aemk: Uint8Array, rpi: Uint8Array, metadata: Uint8Array): Uint8Array {
  const keystream = c.aesEcb(aemk, rpi);
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) out[i] = metadata[i] ^ keystream[i];
  return out;
}

/** Metadata bytes: version 0x40, tx power (int8 dBm), two reserved zero bytes. */
export function enMetadata(txPowerDbm: number): Uint8Array {
  const m = new Uint8Array(4);
  m[0] = EN_METADATA_VERSION;
  m[1] = txPowerDbm & 255;
  return m;
}
