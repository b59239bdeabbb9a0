import { copyBytes, Decoded, fail, ok, readI8, readU16LE, readU32LE, writeU16LE, writeU32LE } from "./bytes";
import { crc8 } from "./record";

/**
 * The provisioning record the flasher writes to the band's Storage (file PROVISIONING_FILE) over USB.
 * It is the band's whole identity: without it the band advertises nothing but a "needs provisioning" discovery
 * advert and its public status says so.
 *
 * Layout (64 bytes, little-endian):
 *   0  "TLP"            magic
 *   3  version          1
 *   4  band id          8 B (also in the authority's band registry)
 *   12 band secret      16 B (escrow TEK derivation, see escrow.ts; kept by the authority in escrow deployments)
 *   28 sync key         16 B (kiosk authentication and discovery tokens; kept in the clinic kiosks' registry)
 *   44 mode             0 = private (random TEKs), 1 = escrow (TEKs derived from the band secret)
 *   45 retention days   1..60 (0 = default 21)
 *   46 tx calibration   int8 dBm carried in the AEM metadata; 127 = use the board profile's value
 *   47 flags            bit 0: provisioning time (bytes 56-59) vouches for the clock set over USB
 *   48 scan period      uint16 seconds between scan windows (0 = firmware default)
 *   50 scan window      uint16 milliseconds (0 = firmware default)
 *   52 rssi floor       int8 dBm: sightings weaker than this are not logged (0 = firmware default)
 *   53 low battery      percent below which the scan period doubles (0 = firmware default)
 *   54 reserved         2 B, zero
 *   56 provisioned at   uint32 Unix seconds (informational; see flags bit 0)
 *   60 reserved         3 B, zero
 *   63 CRC-8            of bytes 0-62 (polynomial 0x07, as record.ts)
 */
export const PROVISIONING_FILE = "tl.prov";
export const PROVISIONING_BYTES = 64;
export const PROVISIONING_VERSION = 1;
export const MODE_PRIVATE = 0;
export const MODE_ESCROW = 1;
export const TX_FROM_BOARD = 127;
export const PROV_FLAG_CLOCK_SET_BY_FLASHER = 1;
export const DEFAULT_RETENTION_DAYS = 21;
/** A clock set over USB is trusted at first boot only if it reads within this window after `provisionedAt`. */
export const FLASHER_CLOCK_WINDOW_S = 3600;

export interface Provisioning {
  bandId: Uint8Array;
  bandSecret: Uint8Array;
  syncKey: Uint8Array;
  mode: "private" | "escrow";
  retentionDays: number;
  /** dBm, or TX_FROM_BOARD to use the board profile's calibration. */
  txCalibrationDbm: number;
  flags: number;
  scanPeriodS: number;
  scanWindowMs: number;
  rssiFloorDbm: number;
  lowBatteryPercent: number;
  provisionedAt: number;
}

export function encodeProvisioning(p: Provisioning): Uint8Array {
  const b = new Uint8Array(PROVISIONING_BYTES);
  b[0] = 0x54;
  b[1] = 0x4c;
  b[2] = 0x50;
  b[3] = PROVISIONING_VERSION;
  b.set(p.bandId, 4);
  b.set(p.bandSecret, 12);
  b.set(p.syncKey, 28);
  b[44] = p.mode === "escrow" ? MODE_ESCROW : MODE_PRIVATE;
  b[45] = p.retentionDays;
  b[46] = p.txCalibrationDbm & 255;
  b[47] = p.flags;
  writeU16LE(b, 48, p.scanPeriodS);
  writeU16LE(b, 50, p.scanWindowMs);
  b[52] = p.rssiFloorDbm & 255;
  b[53] = p.lowBatteryPercent;
  writeU32LE(b, 56, p.provisionedAt);
  b[63] = crc8(b, 0, 63);
  return b;
}

/** Decodes and validates a provisioning record, saying what is wrong. Never throws. */
export function decodeProvisioning(b: Uint8Array): Decoded<Provisioning> {
  if (!b || b.length < PROVISIONING_BYTES) return fail("provisioning record shorter than 64 bytes");
  if (b[0] !== 0x54 || b[1] !== 0x4c || b[2] !== 0x50) return fail("bad provisioning magic (expected TLP)");
  if (b[3] !== PROVISIONING_VERSION) return fail("unsupported provisioning version " + b[3]);
  if (crc8(b, 0, 63) !== b[63]) return fail("provisioning checksum mismatch");
  if (b[44] > MODE_ESCROW) return fail("unknown deployment mode " + b[44]);
  if (b[45] > 60) return fail("retention days out of range: " + b[45]);
  return ok(readProvisioning(b) as Provisioning);
}

/** The band's decoder: the same checks without the reasons (its bundle counts every byte). */
export function readProvisioning(b: Uint8Array): Provisioning | undefined {
  if (
    !b ||
    b.length < PROVISIONING_BYTES ||
    b[0] !== 0x54 ||
    b[1] !== 0x4c ||
    b[2] !== 0x50 ||
    b[3] !== PROVISIONING_VERSION ||
    crc8(b, 0, 63) !== b[63] ||
    b[44] > MODE_ESCROW ||
    b[45] > 60
  ) {
    return undefined;
  }
  return {
    bandId: copyBytes(b, 4, 8),
    bandSecret: copyBytes(b, 12, 16),
    syncKey: copyBytes(b, 28, 16),
    mode: b[44] === MODE_ESCROW ? "escrow" : "private",
    retentionDays: b[45] || DEFAULT_RETENTION_DAYS,
    txCalibrationDbm: readI8(b, 46),
    flags: b[47],
    scanPeriodS: readU16LE(b, 48),
    scanWindowMs: readU16LE(b, 50),
    rssiFloorDbm: readI8(b, 52),
    lowBatteryPercent: b[53],
    provisionedAt: readU32LE(b, 56),
  };
}
