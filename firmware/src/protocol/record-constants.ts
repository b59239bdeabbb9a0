/**
 * Encounter log format constants (protocol/record.ts). This file imports nothing, so esbuild inlines each constant
 * where it is used (it keeps a variable for constants of modules that import). Re-exported by the owning module.
 */

/** Byte 0 of a segment header: 'S', with bit 1 set, which no record's byte 0 has. */
export const SEGMENT_MAGIC = 0x53;
/** Version 2: 12-byte units (version 1, 16-byte units with 8-byte id prefixes, was never deployed). */
export const SEGMENT_VERSION = 2;
export const SEGMENT_HEADER_SIZE = 12;
export const RECORD_SIZE = 12;
/**
 * Bytes of a beacon id kept per record. 6 bytes (48 bits): a matcher compares a record only with the RPIs of the
 * +-2 h around its time, so even 100,000 published keys a day give ~3e-5 accidental matches in a band's 21 days
 * (docs/protocol.md section 5.1).
 */
export const RECORD_ID_BYTES = 6;
/** A record's duration field holds 0-63 minutes; the band closes an encounter before it spans an hour. */
export const RECORD_MAX_MINUTES = 63;
export const SEGMENT_FLAG_MONOTONIC = 1;
export const KIND_EN = 0;
export const KIND_BLUEZONE = 1;
/**
 * Log export ("TLX" v3, protocol/log-mac.ts): how a band's log reaches the authority, as the band signed it.
 *   header 16 B: "TLX" 0x03 | band id 8 B | page count uint16 | record size | CRC-8 of bytes 0-14
 *   then per page (one READ): body length uint16 | DATA payloads | next cursor uint32 | page MAC 16 B
 * (v2 carried unsigned segments; it is refused.)
 */
export const EXPORT_MAGIC = "TLX";
export const EXPORT_VERSION = 3;
export const BAND_ID_BYTES = 8;
