import { copyBytes, Decoded, fail, newBytes, ok, readI8, readU16LE, readU32LE, writeU16LE, writeU32LE } from "./bytes";
import { crc8 } from "./record";
import {
  DEFAULT_RETENTION_DAYS,
  MODE_ESCROW,
  MODE_PRIVATE,
  PROV_AT,
  PROV_BAND_ID,
  PROV_BAND_SECRET,
  PROV_FLAGS,
  PROV_LOW_BATTERY,
  PROV_MODE,
  PROV_RETENTION,
  PROV_RSSI_FLOOR,
  PROV_SCAN_PERIOD,
  PROV_SCAN_WINDOW,
  PROV_SYNC_KEY,
  PROV_TX,
  PROVISIONING_BYTES,
  PROVISIONING_VERSION,
} from "./provisioning-constants";

export * from "./provisioning-constants";

/**
 * The provisioning record the flasher writes to the band's Storage (PROVISIONING_FILE) over USB: the band's whole
 * identity and deployment settings. Its layout is documented with its offsets in provisioning-constants.ts and in
 * docs/protocol.md section 3.
 */

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

/**
 * A private-deployment record with every setting at the firmware default (0, or the board's tx calibration) and
 * the clock set by the flasher (flags bit 0): what tests, the simulator and the bench provision bands with.
 */
export function defaultProvisioning(
  bandId: Uint8Array,
  bandSecret: Uint8Array,
  syncKey: Uint8Array,
  provisionedAt: number,
): Provisioning {
  return {
    bandId,
    bandSecret,
    syncKey,
    mode: "private",
    retentionDays: 21,
    txCalibrationDbm: 127,
    flags: 1,
    scanPeriodS: 0,
    scanWindowMs: 0,
    rssiFloorDbm: 0,
    lowBatteryPercent: 0,
    provisionedAt,
  };
}

export function encodeProvisioning(p: Provisioning): Uint8Array {
  const b = newBytes(PROVISIONING_BYTES);
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

/** The checks decodeProvisioning makes, without the reasons (the band's form: its bundle counts every byte). */
export function provisioningValid(b: Uint8Array): boolean {
  return (
    b.length >= PROVISIONING_BYTES &&
    b[0] === 0x54 &&
    b[1] === 0x4c &&
    b[2] === 0x50 &&
    b[3] === PROVISIONING_VERSION &&
    crc8(b, 0, 63) === b[63] &&
    b[PROV_MODE] <= MODE_ESCROW &&
    b[PROV_RETENTION] <= 60
  );
}

export function readProvisioning(b: Uint8Array): Provisioning | undefined {
  if (!b || !provisioningValid(b)) return undefined;
  return {
    bandId: copyBytes(b, PROV_BAND_ID, 8),
    bandSecret: copyBytes(b, PROV_BAND_SECRET, 16),
    syncKey: copyBytes(b, PROV_SYNC_KEY, 16),
    mode: b[PROV_MODE] === MODE_ESCROW ? "escrow" : "private",
    retentionDays: b[PROV_RETENTION] || DEFAULT_RETENTION_DAYS,
    txCalibrationDbm: readI8(b, PROV_TX),
    flags: b[PROV_FLAGS],
    scanPeriodS: readU16LE(b, PROV_SCAN_PERIOD),
    scanWindowMs: readU16LE(b, PROV_SCAN_WINDOW),
    rssiFloorDbm: readI8(b, PROV_RSSI_FLOOR),
    lowBatteryPercent: b[PROV_LOW_BATTERY],
    provisionedAt: readU32LE(b, PROV_AT),
  };
}
