import { asciiBytes, floor, newBytes, writeU32LE } from "./bytes";
import { CryptoPrims } from "./crypto";
import { hmacSha256 } from "./hmac";
import { EN_INTERVAL_SECONDS, EN_METADATA_VERSION, EN_TEK_ROLLING_PERIOD } from "./gaen-constants";

export * from "./gaen-constants";

/**
 * Exposure Notification (Google/Apple, v1.2) key schedule, as in shared/PROTOCOLS.md:
 * TEK -> RPIK -> RPI(ENIN), TEK -> AEMK -> AEM(RPI, metadata).
 */

export function enIntervalNumber(unixSeconds: number): number {
  return floor(unixSeconds / EN_INTERVAL_SECONDS);
}

/** The first interval of the day that contains `enin` (TEKs roll at UTC midnight). */
export function rollingStartNumber(enin: number): number {
  return floor(enin / EN_TEK_ROLLING_PERIOD) * EN_TEK_ROLLING_PERIOD;
}

/**
 * HKDF-SHA256(ikm = TEK, no salt, info, 16 bytes): one output block is enough for 16 bytes, so this is
 * T(1) = HMAC(PRK, info || 0x01) with PRK = HMAC(32 zero bytes, TEK), truncated. hmac.ts hkdfSha256 is the
 * general form (same bytes; the tests check both against the official vectors).
 */
function hkdf16(c: CryptoPrims, tek: Uint8Array, info: string): Uint8Array {
  const prk = hmacSha256(c.sha256, newBytes(32), tek);
  return hmacSha256(c.sha256, prk, asciiBytes(info + "\x01")).subarray(0, 16);
}

export function deriveRpik(c: CryptoPrims, tek: Uint8Array): Uint8Array {
  return hkdf16(c, tek, "EN-RPIK");
}

export function deriveAemk(c: CryptoPrims, tek: Uint8Array): Uint8Array {
  return hkdf16(c, tek, "EN-AEMK");
}

/** PaddedData = "EN-RPI" || 6 zero bytes || ENIN (uint32 little-endian). */
export function rpiPaddedData(enin: number): Uint8Array {
  const block = newBytes(16);
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
  const out = newBytes(4);
  for (let i = 0; i < 4; i++) out[i] = metadata[i] ^ keystream[i];
  return out;
}

/** Metadata bytes: version 0x40, tx power (int8 dBm), two reserved zero bytes. */
export function enMetadata(txPowerDbm: number): Uint8Array {
  const m = newBytes(4);
  m[0] = EN_METADATA_VERSION;
  m[1] = txPowerDbm & 255;
  return m;
}
