import {
  decodeRecord,
  decodeSegmentHeader,
  EncounterRecord,
  isUnwritten,
  RECORD_SIZE,
  SegmentHeader,
} from "../../../firmware/src/protocol/record";
import { EspruinoDevice } from "./device";

/**
 * Reads a band's encounter log straight out of its simulated Storage, in the format of docs/protocol.md
 * section 5.1 (firmware/src/protocol/record.ts): files `tl.e<i>`, 8-byte units, unit 0 a segment header, later units
 * records or further headers, the first all-0xFF unit ends a file, torn units are skipped.
 */
export const LOG_FILE_PATTERN = /^tl\.e\d+$/;

export interface LoggedEncounter extends EncounterRecord {
  /** Absolute Unix seconds of the first sighting (undefined if it cannot be placed in time). */
  startUnix: number | undefined;
  monotonic: boolean;
}

export interface BandLog {
  files: number;
  /** Bytes of log units written (headers, records and torn units). */
  bytesUsed: number;
  segments: number;
  torn: number;
  records: LoggedEncounter[];
}

/**
 * `placeMonotonic(uptime, epoch)` turns a monotonic base time (seconds of uptime) into Unix seconds, when the
 * caller knows (the simulator knows when each power-on happened).
 */
export function readBandLog(
  band: EspruinoDevice,
  placeMonotonic?: (uptime: number, epoch: number) => number | undefined,
): BandLog {
  const out: BandLog = { files: 0, bytesUsed: 0, segments: 0, torn: 0, records: [] };
  const files = band.storage.files().filter((f) => LOG_FILE_PATTERN.test(f.name));
  for (const f of files) {
    out.files++;
    const b = f.data;
    let seg: SegmentHeader | undefined;
    for (let pos = 0; pos + RECORD_SIZE <= b.length; pos += RECORD_SIZE) {
      if (isUnwritten(b, pos)) break;
      out.bytesUsed += RECORD_SIZE;
      const h = decodeSegmentHeader(b, pos);
      if (h.ok) {
        seg = h.value;
        out.segments++;
        continue;
      }
      const r = decodeRecord(b, pos);
      if (!r.ok || !seg) {
        out.torn++;
        continue;
      }
      let base: number | undefined = seg.baseTime;
      if (seg.monotonic) base = placeMonotonic ? placeMonotonic(seg.baseTime, seg.bootEpoch) : undefined;
      out.records.push({
        ...r.value,
        monotonic: seg.monotonic,
        startUnix: base === undefined ? undefined : base + r.value.startMinute * 60,
      });
    }
  }
  return out;
}
