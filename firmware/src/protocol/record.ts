import { copyBytes, Decoded, fail, newBytes, ok, readU32LE, writeU32LE } from "./bytes";
import {
  EPOCH_MODULUS,
  RECORD_ID_BYTES,
  RECORD_MAX_START,
  RECORD_MAX_STEPS,
  RECORD_SIZE,
  RECORD_START_S,
  RECORD_STEP_S,
  RSSI_BASE_DBM,
  RSSI_MAX_CODE,
  SEGMENT_MONOTONIC_BIT,
  SEGMENT_HEADER_SIZE,
  UNIT_HEADER_MIN,
} from "./record-constants";

export * from "./record-constants";

/**
 * Encounter log format 3: the flash segment header and the encounter record, 8 bytes each (a *unit*), and the
 * shapes hosts decode them into. One module owns these bytes; firmware and host import it. (Format 2, 12-byte
 * units, is decoded for migration by record-v2.ts, which the band never imports.)
 *
 * Flash facts that shaped the layout (shared/ESPRUINO.md, nRF52 NVMC): erased flash reads 0xFF, writes only clear
 * bits, a whole 32-bit word at a time, and a power cut leaves at most the word in flight undefined. A unit is two
 * words. Byte 7 says what a unit is: below 0xE0 a record (its 3-bit duration never reaches 7), 0xE0-0xFE a
 * segment header, 0xFF a unit never written (all eight bytes 0xFF) or torn in its second word.
 */

/** CRC-8 (polynomial 0x07) over `len` bytes from `start`, continuing from `crc` (0 to start). */
export function crc8(buf: Uint8Array, start: number, len: number, crc?: number): number {
  let c = crc || 0;
  for (let i = start; i < start + len; i++) {
    c ^= buf[i];
    for (let b = 0; b < 8; b++) c = c & 0x80 ? ((c << 1) ^ 0x07) & 255 : (c << 1) & 255;
  }
  return c;
}

/** A header's check byte: CRC-8 of bytes 0-5, then byte 7. */
function headerCrc(b: Uint8Array, o: number): number {
  return crc8(b, o + 7, 1, crc8(b, o, 6));
}

export interface SegmentHeader {
  /** Monotonic sequence of the segment on this band (24 bits); orders segments across files. */
  seq: number;
  /**
   * Start of the segment's interval 0, seconds, a multiple of 600: Unix time, or the band's uptime (seconds since
   * power-on) when `monotonic`.
   */
  baseTime: number;
  /** True when the band had no authenticated time: times are seconds since the power-on numbered `bootEpoch`. */
  monotonic: boolean;
  /** Counts power-ups, modulo 15; lets a kiosk re-base monotonic segments of the current power-on only. */
  bootEpoch: number;
}

/**
 * Segment header layout (8 bytes):
 *   0-2    seq (uint24 LE)
 *   3-5    base (uint24 LE): 10-minute intervals, Unix time / 600 (an Exposure Notification interval number), or
 *          uptime / 600 when monotonic; 24 bits last until the year 2289
 *   6      CRC-8 of bytes 0-5 and 7
 *   7      0xE0 | monotonic << 4 | boot epoch mod 15 (never 0xFF)
 */
export function encodeSegmentHeader(h: SegmentHeader): Uint8Array {
  if (h.baseTime % RECORD_START_S !== 0) throw new Error("segment base " + h.baseTime + " is not a multiple of 600 s");
  const b = newBytes(SEGMENT_HEADER_SIZE);
  writeSegmentHeader(b, h.seq, h.baseTime / RECORD_START_S, h.monotonic, h.bootEpoch);
  return b;
}

/** encodeSegmentHeader without the object, for the band; `base` in 10-minute intervals. */
export function writeSegmentHeader(b: Uint8Array, seq: number, base: number, monotonic: boolean, epoch: number): void {
  writeU32LE(b, 0, seq & 0xffffff);
  writeU32LE(b, 3, base & 0xffffff);
  b[7] = UNIT_HEADER_MIN | (monotonic ? SEGMENT_MONOTONIC_BIT : 0) | (epoch % EPOCH_MODULUS);
  b[6] = headerCrc(b, 0);
}

/** The seq of a segment header at `offset` (24 bits). */
export function segmentSeq(b: Uint8Array, offset: number): number {
  return readU32LE(b, offset) & 0xffffff;
}

/** A segment header's base in 10-minute intervals. */
export function segmentBase(b: Uint8Array, offset: number): number {
  return readU32LE(b, offset + 3) & 0xffffff;
}

/** The band's check that the unit at `offset` is a complete segment header: its type byte and check byte. */
export function isSegmentHeader(b: Uint8Array, offset: number): boolean {
  return b[offset + 7] >= UNIT_HEADER_MIN && b[offset + 7] !== 0xff && headerCrc(b, offset) === b[offset + 6];
}

export function decodeSegmentHeader(b: Uint8Array, offset: number): Decoded<SegmentHeader> {
  if (b.length < offset + SEGMENT_HEADER_SIZE) return fail("segment header truncated");
  const t = b[offset + 7];
  if (t < UNIT_HEADER_MIN || t === 0xff) return fail("not a segment header");
  if (headerCrc(b, offset) !== b[offset + 6]) return fail("segment header checksum mismatch");
  if ((t & 15) >= EPOCH_MODULUS) return fail("segment header boot epoch out of range");
  return ok({
    seq: segmentSeq(b, offset),
    baseTime: segmentBase(b, offset) * RECORD_START_S,
    monotonic: (t & SEGMENT_MONOTONIC_BIT) !== 0,
    bootEpoch: t & 15,
  });
}

export interface EncounterRecord {
  /** KIND_EN (Exposure Notification RPI, bands and phones) or KIND_BLUEZONE. */
  kind: number;
  /** First RECORD_ID_BYTES (5) of the RPI or BluezoneId. */
  id: Uint8Array;
  /** Minutes from the segment's base to the 10-minute interval of the first sighting: a multiple of 10, 0-1270. */
  startMinute: number;
  /** Minutes between first and last sighting, in 4-minute steps: 0-24. */
  durationMinutes: number;
  /** Mean RSSI of the sightings (dBm), to 2 dB: -95 to -33. */
  rssiMean: number;
  /** Byte 1 of the AEM: the encrypted tx power; a matcher with the TEK decrypts it. 0 for Bluezone. */
  aemTx: number;
}

/**
 * Record layout (8 bytes):
 *   0-4    id prefix (RPI or BluezoneId)
 *   5      AEM byte 1 (0 for Bluezone)
 *   6      bit 7 kind, bits 0-6 start: 10-minute intervals after the segment base (0-127)
 *   7      bits 5-7 duration in 4-minute steps (0-6; 7 never occurs), bits 0-4 RSSI code v: -95 + 2v dBm
 */
export function encodeRecord(r: EncounterRecord, out: Uint8Array, offset: number): void {
  const start = r.startMinute / 10;
  if (!(start >= 0 && start <= RECORD_MAX_START && start === Math.floor(start)))
    throw new Error("record start minute " + r.startMinute + " is not a multiple of 10 in 0-1270");
  writeRecord(out, offset, r.kind, r.id, 0, start, r.durationMinutes * 60, r.rssiMean, r.aemTx);
}

/**
 * round(x) (halves up), saturating at 0 and `max`: a record's duration steps and RSSI code. Math.floor(x + 0.5), not
 * Math.round: Espruino's Math.round rounds halves away from zero, V8's up, and band and host must agree.
 */
function clampRound(x: number, max: number): number {
  const v = Math.floor(x + 0.5);
  return v > max ? max : v < 0 ? 0 : v;
}

/**
 * encodeRecord without the object (the band's form): the id prefix is `id[idOff..idOff+5]`, `start` in 10-minute
 * intervals after the segment base (0-127, the caller keeps it in range), `seconds` from first to last sighting.
 */
export function writeRecord(
  out: Uint8Array,
  offset: number,
  kind: number,
  id: Uint8Array,
  idOff: number,
  start: number,
  seconds: number,
  rssiMean: number,
  aemTx: number,
): void {
  for (let i = 0; i < RECORD_ID_BYTES; i++) out[offset + i] = id[idOff + i];
  out[offset + 5] = aemTx;
  out[offset + 6] = ((kind & 1) << 7) | start;
  out[offset + 7] =
    (clampRound(seconds / RECORD_STEP_S, RECORD_MAX_STEPS) << 5) |
    clampRound((rssiMean - RSSI_BASE_DBM) / 2, RSSI_MAX_CODE);
}

/** True when every byte of the unit at `offset` is erased: never written. */
export function isUnwritten(b: Uint8Array, offset: number): boolean {
  for (let i = 0; i < RECORD_SIZE; i++) if (b[offset + i] !== 0xff) return false;
  return true;
}

export function decodeRecord(b: Uint8Array, offset: number): Decoded<EncounterRecord> {
  if (b.length < offset + RECORD_SIZE) return fail("record truncated");
  if (isUnwritten(b, offset)) return fail("unwritten record");
  const t = b[offset + 7];
  if (t === 0xff) return fail("torn unit");
  if (t >= 0xe0) return fail("not a record");
  return ok({
    kind: b[offset + 6] >> 7,
    id: copyBytes(b, offset, RECORD_ID_BYTES),
    startMinute: (b[offset + 6] & 127) * 10,
    durationMinutes: (t >> 5) * 4,
    rssiMean: RSSI_BASE_DBM + 2 * (t & 31),
    aemTx: b[offset + 5],
  });
}

/** One format-3 unit, told apart by byte 7 (a header, or a record; an error says why it is neither). */
export type DecodedUnit<H, R> = Decoded<{ header: H } | { record: R }>;

export function decodeUnit(b: Uint8Array, offset: number): DecodedUnit<SegmentHeader, EncounterRecord> {
  const t = b[offset + 7];
  if (t >= UNIT_HEADER_MIN && t !== 0xff) {
    const h = decodeSegmentHeader(b, offset);
    return h.ok ? ok({ header: h.value }) : h;
  }
  const r = decodeRecord(b, offset);
  return r.ok ? ok({ record: r.value }) : r;
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
