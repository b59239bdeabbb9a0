import { copyBytes, Decoded, fail, newBytes, ok, readI8, readU16LE, readU32LE, writeU16LE, writeU32LE } from "./bytes";
import {
  RECORD_ID_BYTES,
  RECORD_MAX_MINUTES,
  RECORD_SIZE,
  SEGMENT_FLAG_MONOTONIC,
  SEGMENT_HEADER_SIZE,
  SEGMENT_MAGIC,
  SEGMENT_VERSION,
} from "./record-constants";

export * from "./record-constants";

/**
 * Encounter log formats: the flash segment header, the 12-byte encounter record, and the export that carries
 * segments off the band (sync, upload to the authority). One module owns these bytes; firmware and host import it.
 *
 * Flash facts that shaped the layout (shared/ESPRUINO.md): erased flash reads 0xFF and writes only clear bits,
 * 4-byte aligned. Every structure here is a multiple of 4 bytes, and a first byte of 0xFF always means
 * "never written", so a reader finds the end of a log by the first 0xFF record.
 */

/** CRC-8 (polynomial 0x07, initial 0) over `len` bytes from `start`. */
export function crc8(buf: Uint8Array, start: number, len: number): number {
  let crc = 0;
  for (let i = start; i < start + len; i++) {
    crc ^= buf[i];
    for (let b = 0; b < 8; b++) crc = crc & 0x80 ? ((crc << 1) ^ 0x07) & 255 : (crc << 1) & 255;
  }
  return crc;
}

export interface SegmentHeader {
  /** Monotonic sequence of the segment on this band (24 bits); orders segments across files. */
  seq: number;
  /** Unix seconds of minute 0 of this segment, or monotonic seconds since boot when `monotonic`. */
  baseTime: number;
  /** True when the band had no authenticated time: times are seconds since boot `bootEpoch`. */
  monotonic: boolean;
  /** Counts power-ups; lets a kiosk re-base monotonic segments of the current boot only. */
  bootEpoch: number;
}

/**
 * Segment header layout (12 bytes):
 *   0      'S' (SEGMENT_MAGIC)
 *   1      version (2)
 *   2      flags: bit 0 monotonic
 *   3      boot epoch (uint8)
 *   4-6    seq (uint24 LE)
 *   7-10   base time (uint32 LE)
 *   11     CRC-8 of bytes 0-10
 */
export function encodeSegmentHeader(h: SegmentHeader): Uint8Array {
  const b = newBytes(SEGMENT_HEADER_SIZE);
  writeSegmentHeader(b, h.seq, h.baseTime, h.monotonic, h.bootEpoch);
  return b;
}

/** encodeSegmentHeader without the object, for the band (its bundle counts every property name). */
export function writeSegmentHeader(
  b: Uint8Array,
  seq: number,
  baseTime: number,
  monotonic: boolean,
  epoch: number,
): void {
  b[0] = SEGMENT_MAGIC;
  b[1] = SEGMENT_VERSION;
  b[2] = monotonic ? SEGMENT_FLAG_MONOTONIC : 0;
  // Bytes 3-6: epoch, then seq (uint24).
  writeU32LE(b, 3, ((seq << 8) | (epoch & 255)) >>> 0);
  writeU32LE(b, 7, baseTime);
  b[11] = crc8(b, 0, 11);
}

/** The seq of a segment header at `offset` (24 bits). */
export function segmentSeq(b: Uint8Array, offset: number): number {
  return readU32LE(b, offset + 3) >>> 8;
}

/**
 * The band's check that 12 bytes at `offset` are a complete segment header of this version: magic, version
 * and checksum (decodeSegmentHeader also checks the fields and says what is wrong).
 */
export function isSegmentHeader(b: Uint8Array, offset: number): boolean {
  return b[offset] === SEGMENT_MAGIC && b[offset + 1] === SEGMENT_VERSION && crc8(b, offset, 11) === b[offset + 11];
}

export function decodeSegmentHeader(b: Uint8Array, offset: number): Decoded<SegmentHeader> {
  if (b.length < offset + SEGMENT_HEADER_SIZE) return fail("segment header truncated");
  if (b[offset] !== SEGMENT_MAGIC) return fail("bad segment magic");
  if (b[offset + 1] !== SEGMENT_VERSION) return fail("unsupported segment version " + b[offset + 1]);
  if (crc8(b, offset, 11) !== b[offset + 11]) return fail("segment header checksum mismatch");
  if (b[offset + 2] & ~SEGMENT_FLAG_MONOTONIC) return fail("unknown segment flags");
  return ok({
    seq: segmentSeq(b, offset),
    baseTime: readU32LE(b, offset + 7),
    monotonic: (b[offset + 2] & SEGMENT_FLAG_MONOTONIC) !== 0,
    bootEpoch: b[offset + 3],
  });
}

export interface EncounterRecord {
  /** KIND_EN (Exposure Notification RPI, bands and phones) or KIND_BLUEZONE. */
  kind: number;
  /** First RECORD_ID_BYTES of the RPI or BluezoneId. */
  id: Uint8Array;
  /** Minutes since the segment's base time when first seen. */
  startMinute: number;
  /** Minutes between first and last sighting (0-63). */
  durationMinutes: number;
  /** Mean RSSI of the sightings (dBm). */
  rssiMean: number;
  /** Byte 1 of the AEM: the encrypted tx power; a matcher with the TEK decrypts it. 0 for Bluezone. */
  aemTx: number;
}

/**
 * Record layout (12 bytes):
 *   0      bit 0 kind, bit 1 reserved (0: tells records from segment headers), bits 2-7 duration minutes (0-63).
 *          0xFF = unwritten.
 *   1-6    id prefix
 *   7-8    start minute (uint16 LE, from the segment base: 45 days of range)
 *   9      mean RSSI (int8)
 *   10     AEM byte 1
 *   11     CRC-8 of bytes 0-10
 */
export function encodeRecord(r: EncounterRecord, out: Uint8Array, offset: number): void {
  const start = r.startMinute > 65535 ? 65535 : r.startMinute;
  writeRecord(out, offset, r.kind, r.id, 0, start, r.durationMinutes, r.rssiMean, r.aemTx);
}

/**
 * encodeRecord without the object (the band's form): the id prefix is `id[idOff..idOff+6]`, `startMinute`
 * 0-65535 as given; the duration saturates at 63.
 */
export function writeRecord(
  out: Uint8Array,
  offset: number,
  kind: number,
  id: Uint8Array,
  idOff: number,
  startMinute: number,
  durationMinutes: number,
  rssiMean: number,
  aemTx: number,
): void {
  out[offset] = (kind & 1) | ((durationMinutes > RECORD_MAX_MINUTES ? RECORD_MAX_MINUTES : durationMinutes) << 2);
  for (let i = 0; i < RECORD_ID_BYTES; i++) out[offset + 1 + i] = id[idOff + i];
  writeU16LE(out, offset + 7, startMinute);
  out[offset + 9] = rssiMean;
  out[offset + 10] = aemTx;
  out[offset + 11] = crc8(out, offset, 11);
}

export function isUnwritten(b: Uint8Array, offset: number): boolean {
  for (let i = 0; i < RECORD_SIZE; i++) if (b[offset + i] !== 0xff) return false;
  return true;
}

export function decodeRecord(b: Uint8Array, offset: number): Decoded<EncounterRecord> {
  if (b.length < offset + RECORD_SIZE) return fail("record truncated");
  if (isUnwritten(b, offset)) return fail("unwritten record");
  if (crc8(b, offset, 11) !== b[offset + 11]) return fail("record checksum mismatch");
  const head = b[offset];
  if (head & 2) return fail("reserved record bit set");
  return ok({
    kind: head & 1,
    id: copyBytes(b, offset + 1, RECORD_ID_BYTES),
    startMinute: readU16LE(b, offset + 7),
    durationMinutes: head >> 2,
    rssiMean: readI8(b, offset + 9),
    aemTx: b[offset + 10],
  });
}

export interface ExportSegment {
  header: SegmentHeader;
  records: EncounterRecord[];
}

/** A band's log as segments: what the authority assembles from a verified TLX export (protocol/log-mac.ts). */
export interface LogExport {
  bandId: Uint8Array;
  segments: ExportSegment[];
}
