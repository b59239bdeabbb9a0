/**
 * Encounter log format constants (protocol/record.ts). This file imports nothing, so esbuild inlines each constant
 * where it is used (it keeps a variable for constants of modules that import). Re-exported by the owning module.
 */

export const SEGMENT_MAGIC_0 = 0x54; // 'T'
export const SEGMENT_MAGIC_1 = 0x4c; // 'L'
export const SEGMENT_MAGIC_2 = 0x47; // 'G'
export const SEGMENT_VERSION = 1;
export const SEGMENT_HEADER_SIZE = 16;
export const RECORD_SIZE = 16;
/** Bytes of a beacon id kept per record: 8 bytes make accidental matches against published keys negligible. */
export const RECORD_ID_BYTES = 8;
export const SEGMENT_FLAG_MONOTONIC = 1;
export const KIND_EN = 0;
export const KIND_BLUEZONE = 1;
/**
 * Log export ("TLX" v1): how segments leave the band, over sync and in uploads to the authority.
 *   header 16 B: "TLX" 0x01 | band id 8 B | segment count uint16 | record size | CRC-8 of bytes 0-14
 *   then per segment: segment header (16 B) | record count uint32 | records (16 B each)
 */
export const EXPORT_MAGIC = "TLX";
export const EXPORT_VERSION = 1;
export const BAND_ID_BYTES = 8;
