import { toHex } from "../../../../firmware/src/protocol/bytes";
import { EncounterRecord, KIND_EN, LogExport } from "../../../../firmware/src/protocol/record";
import { ROTATE_MIN_MS, ROTATE_SPAN_MS } from "../../../../firmware/src/tuning";

/**
 * How long one RPI can be on air: a band rotates every 10-20 minutes (tuning.ts), later only while a kiosk is
 * connected (the rotation waits for the disconnect; a sync takes well under 5 minutes). A record that claims
 * one RPI for longer is impossible for a band: its span is capped to this (and counted in `cappedSpans`).
 */
export const RPI_MAX_ON_AIR_S = (ROTATE_MIN_MS + ROTATE_SPAN_MS) / 1000 + 5 * 60;

/**
 * The Exposure Notification sightings of a positive band's log, placed in time. Records of monotonic segments
 * (logged while the band had no valid clock and not re-based by the kiosk) cannot be placed and are counted,
 * as are Bluezone records (they are not derived from escrow keys) and records outside the plausible window.
 */
export interface Sighting {
  record: EncounterRecord;
  /** First 4 bytes of the 5-byte RPI prefix (RECORD_ID_BYTES) as an unsigned big-endian integer, and byte 4. */
  hi: number;
  lo: number;
  prefixHex: string;
  /** Unix seconds of the first and last sighting (the span capped to RPI_MAX_ON_AIR_S). */
  start: number;
  end: number;
  /** Minutes from first to last sighting, capped. */
  minutes: number;
  /** ENIN of the first and last sighting. */
  enin0: number;
  enin1: number;
  /**
   * The intervals the sighted RPI can belong to, before clock tolerance: it went on air at most RPI_MAX_ON_AIR_S
   * before its first sighting, and not after it.
   */
  rpiFirst: number;
  rpiLast: number;
}

export interface SightingSet {
  sightings: Sighting[];
  skipped: { monotonic: number; bluezone: number; outOfRange: number };
  /** Records whose span exceeded RPI_MAX_ON_AIR_S (capped). */
  cappedSpans: number;
}

export function placeSightings(log: LogExport, now: number, maxAgeDays: number): SightingSet {
  const out: SightingSet = { sightings: [], skipped: { monotonic: 0, bluezone: 0, outOfRange: 0 }, cappedSpans: 0 };
  const oldest = now - maxAgeDays * 86400;
  const newest = now + 3600;
  for (const seg of log.segments) {
    for (const r of seg.records) {
      if (r.kind !== KIND_EN) {
        out.skipped.bluezone++;
        continue;
      }
      if (seg.header.monotonic) {
        out.skipped.monotonic++;
        continue;
      }
      const start = seg.header.baseTime + r.startMinute * 60;
      const maxMinutes = Math.floor(RPI_MAX_ON_AIR_S / 60);
      const minutes = r.durationMinutes > maxMinutes ? maxMinutes : r.durationMinutes;
      if (minutes < r.durationMinutes) out.cappedSpans++;
      const end = start + minutes * 60;
      if (start < oldest || start > newest) {
        out.skipped.outOfRange++;
        continue;
      }
      const id = r.id;
      out.sightings.push({
        record: r,
        hi: ((id[0] << 24) | (id[1] << 16) | (id[2] << 8) | id[3]) >>> 0,
        lo: id[4],
        prefixHex: toHex(id),
        start,
        end,
        minutes,
        enin0: Math.floor(start / 600),
        enin1: Math.floor(end / 600),
        rpiFirst: Math.floor((start - RPI_MAX_ON_AIR_S) / 600),
        rpiLast: Math.floor(start / 600),
      });
    }
  }
  return out;
}
