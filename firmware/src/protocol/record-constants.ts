/**
 * Encounter log format constants (protocol/record.ts). This file imports nothing, so esbuild inlines each constant
 * where it is used (it keeps a variable for constants of modules that import). Re-exported by the owning module.
 */

/** Log format 3: 8-byte units (format 2, 12-byte units, is read by hosts for migration: record-v2.ts). */
export const SEGMENT_HEADER_SIZE = 8;
export const RECORD_SIZE = 8;
/**
 * Bytes of a beacon id kept per record. 5 bytes (40 bits) plus the AEM check (protocol/record.ts): a matcher
 * compares a record only with the RPIs of the +-2 h around its time, and the tx power it decrypts must be plausible
 * (docs/protocol.md section 5.1 has the false-match arithmetic; a test computes it from the match rule).
 */
export const RECORD_ID_BYTES = 5;
/**
 * The AEM check of a match (kiosk and authority matchers): the tx power a record's AEM byte decrypts to under the
 * matched key must lie in this range, 48 of 256 values (2.4 bits of check on top of the 40-bit prefix). It holds
 * the official test vectors' +8 dBm (gaen-v1.2.json), Tracelet's boards (-8 to -4 dBm) and phones' calibrated
 * radiated powers; a deployment's own calibration is held to it.
 */
export const TX_PLAUSIBLE_MIN_DBM = -37;
export const TX_PLAUSIBLE_MAX_DBM = 10;
/** Byte 7 of a unit: records keep its top 3 bits below 0b111; 0xE0-0xFE are segment headers; 0xFF unwritten. */
export const UNIT_HEADER_MIN = 0xe0;
/** A record's start: 10-minute intervals (one Exposure Notification interval) after its segment's base. */
export const RECORD_START_S = 600;
/** The start field's largest value (7 bits): a segment spans at most 21 h 10 min of starts. */
export const RECORD_MAX_START = 127;
/** A record's duration: steps of 4 minutes (one default scan period), 0-6. */
export const RECORD_STEP_S = 240;
export const RECORD_MAX_STEPS = 6;
/** Largest duration a record carries, minutes (24). */
export const RECORD_MAX_MINUTES = (RECORD_MAX_STEPS * RECORD_STEP_S) / 60;
/** RSSI code v (5 bits) stands for RSSI_BASE_DBM + 2v dBm: -95 to -33 dBm. */
export const RSSI_BASE_DBM = -95;
export const RSSI_MAX_CODE = 31;
/** Boot epochs are kept modulo this in a segment header (4 bits that never make byte 7 0xFF). */
export const EPOCH_MODULUS = 15;
/** Byte 7 of a segment header: this bit set when the segment is timed by uptime (no valid clock). */
export const SEGMENT_MONOTONIC_BIT = 16;
export const KIND_EN = 0;
export const KIND_BLUEZONE = 1;
/**
 * Log export ("TLX" v3, protocol/log-mac.ts): how a band's log reaches the authority, as the band signed it.
 *   header 16 B: "TLX" 0x03 | band id 8 B | page count uint16 | unit size | CRC-8 of bytes 0-14
 *   then per page (one READ): body length uint16 | DATA payloads | next cursor uint32 | page MAC 16 B
 * Unit size 8 is log format 3; 12 is format 2 (bands not yet upgraded), still accepted.
 * (v2 exports carried unsigned segments; they are refused.)
 */
export const EXPORT_MAGIC = "TLX";
export const EXPORT_VERSION = 3;
export const BAND_ID_BYTES = 8;
