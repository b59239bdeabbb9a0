import { copyBytes, Decoded, fail, newBytes, ok, readI8, readU16LE, readU32LE } from "./bytes";
import {
  crc8,
  decodeRecord,
  DecodedUnit,
  EncounterRecord,
  EPOCH_MODULUS,
  ExportSegment,
  RECORD_MAX_START,
  RECORD_SIZE,
  RECORD_START_S,
  writeRecord,
} from "./record";

/**
 * Encounter log format 2 (12-byte units), as bands before log format 3 wrote it: decoded by hosts only (the
 * authority re-reading an upload whose unit size is 12, the flasher migrating a band's log on upgrade), and converted to format 3's segments and records, which is all the rest of the host code knows. The
 * band never imports this module.
 *
 *   segment header: 'S' | version 2 | flags (bit 0 monotonic) | boot epoch u8 | seq u24 | base u32 (seconds) | CRC-8
 *   record:         kind (bit 0) | duration minutes << 2 | id 6 B | start minute u16 | RSSI i8 | AEM byte 1 | CRC-8
 */
export const V2_UNIT_SIZE = 12;
export const V2_FILE_BYTES = 4056;
const V2_MAGIC = 0x53;

export interface V2Header {
  seq: number;
  /** Seconds (Unix, or uptime when monotonic). */
  baseTime: number;
  monotonic: boolean;
  /** The full 8-bit power-on count. */
  bootEpoch: number;
}

/** A format 2 record: the fields of format 3's, with a 6-byte id and minute / dBm precision. */
export type V2Record = EncounterRecord;

export function isV2Unwritten(b: Uint8Array, o: number): boolean {
  for (let i = 0; i < V2_UNIT_SIZE; i++) if (b[o + i] !== 0xff) return false;
  return true;
}

export function decodeV2Header(b: Uint8Array, o: number): Decoded<V2Header> {
  if (b.length < o + V2_UNIT_SIZE) return fail("segment header truncated");
  if (b[o] !== V2_MAGIC || b[o + 1] !== 2) return fail("not a format 2 segment header");
  if (crc8(b, o, 11) !== b[o + 11]) return fail("segment header checksum mismatch");
  if (b[o + 2] & ~1) return fail("unknown segment flags");
  return ok({
    seq: readU32LE(b, o + 3) >>> 8,
    baseTime: readU32LE(b, o + 7),
    monotonic: (b[o + 2] & 1) !== 0,
    bootEpoch: b[o + 3],
  });
}

export function decodeV2Record(b: Uint8Array, o: number): Decoded<V2Record> {
  if (b.length < o + V2_UNIT_SIZE) return fail("record truncated");
  if (isV2Unwritten(b, o)) return fail("unwritten record");
  if (crc8(b, o, 11) !== b[o + 11]) return fail("record checksum mismatch");
  if (b[o] & 2) return fail("reserved record bit set");
  return ok({
    kind: b[o] & 1,
    id: copyBytes(b, o + 1, 6),
    startMinute: readU16LE(b, o + 7),
    durationMinutes: b[o] >> 2,
    rssiMean: readI8(b, o + 9),
    aemTx: b[o + 10],
  });
}

/** One format-2 unit: a header if it is one, else a record (an error says why it is neither). */
export function decodeV2Unit(b: Uint8Array, o: number): DecodedUnit<V2Header, V2Record> {
  const h = decodeV2Header(b, o);
  if (h.ok) return ok({ header: h.value });
  const r = decodeV2Record(b, o);
  return r.ok ? ok({ record: r.value }) : r;
}

/** Format 2 segments as decoded from units: headers with the records after each. */
export interface V2Segment {
  header: V2Header;
  records: V2Record[];
}

/**
 * Segments with records timed to the minute and the dBm (format 2's, or a host's own) as format 3 ones: each record
 * keeps the interval of its first sighting (its start rounded down to 10 minutes), 5 id bytes, its duration in
 * 4-minute steps (over 24 minutes it saturates: format 3 splits longer encounters), its RSSI to 2 dB; a segment is
 * split where starts would pass 127 intervals after its base, and records before their segment's base (the clock
 * went back) start a segment of their own. Boot epochs are kept mod 15, as format 3 headers carry them. `firstSeq`
 * numbers the new segments from it (format 3 cursors must grow past every format 2 cursor the band gave out);
 * without it every piece of a segment keeps that segment's seq.
 */
export function v3OfV2(segments: V2Segment[], firstSeq?: number): ExportSegment[] {
  const out: ExportSegment[] = [];
  let seq = firstSeq;
  for (const s of segments) {
    const base0 = Math.floor(s.header.baseTime / RECORD_START_S);
    const piece = (base: number): ExportSegment => ({
      header: {
        seq: seq === undefined ? s.header.seq : seq++,
        baseTime: base * RECORD_START_S,
        monotonic: s.header.monotonic,
        bootEpoch: s.header.bootEpoch % EPOCH_MODULUS,
      },
      records: [],
    });
    let cur: ExportSegment | undefined;
    for (const r of s.records) {
      const interval = Math.floor((s.header.baseTime + r.startMinute * 60) / RECORD_START_S);
      const curBase = cur ? cur.header.baseTime / RECORD_START_S : -1;
      if (!cur || interval < curBase || interval - curBase > RECORD_MAX_START) {
        cur = piece(interval >= base0 && interval - base0 <= RECORD_MAX_START ? base0 : interval);
        out.push(cur);
      }
      cur.records.push(v3Record(r, interval - cur.header.baseTime / RECORD_START_S));
    }
    if (!cur) out.push(piece(base0));
  }
  return out;
}

/** A record as format 3 holds it: written and read back with the band's own codec (record.ts). */
function v3Record(r: V2Record, start: number): EncounterRecord {
  const u = newBytes(RECORD_SIZE);
  writeRecord(u, 0, r.kind, r.id, 0, start, r.durationMinutes * 60, r.rssiMean, r.aemTx);
  const d = decodeRecord(u, 0);
  if (!d.ok) throw new Error("format 3 refused a converted record: " + d.error);
  return d.value;
}
