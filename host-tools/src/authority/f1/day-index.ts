import { paddedBlocks } from "./escrow-rpis";
import { Sighting } from "./sightings";

/**
 * The per-day partition of F1 resolution. A registered band's RPIs for TEK-day D can only match sightings
 * within the tolerance of D's 144 intervals, so for each day the log touches we keep:
 * - the intervals of D that some sighting could match (only those RPIs are computed),
 * - a 2^16-bit filter on the first 16 bits of those sightings' RPI prefixes (one bit test per computed RPI
 *   rejects almost every non-match without a hash lookup),
 * - a map from the first 4 prefix bytes to the sightings (the caller compares the other 4).
 * Work per log is then (registered bands) x (days touched) x (needed intervals per day), and days are
 * independent: each can be resolved by a different worker or machine.
 */
/** The filter is indexed by the first two RPI bytes: 8 KB per day stays in cache while all days are probed. */
export const FILTER_BITS = 16;

export interface DayIndex {
  day: number;
  /** ENINs whose RPIs are computed for this day, and their padded-data blocks. */
  enins: Int32Array;
  padded: Buffer;
  filter: Uint32Array;
  /** Sightings by the first 4 bytes of their RPI prefix (as an unsigned integer). */
  byHi: Map<number, Sighting[]>;
}

export function buildDayIndexes(sightings: readonly Sighting[], tolerance: number): DayIndex[] {
  const days = new Map<number, { needed: Uint8Array; sightings: Sighting[] }>();
  for (const s of sightings) {
    const from = s.rpiFirst - tolerance;
    const to = s.rpiLast + tolerance;
    for (let d = Math.floor(from / 144); d <= Math.floor(to / 144); d++) {
      let e = days.get(d);
      if (!e) {
        e = { needed: new Uint8Array(144), sightings: [] };
        days.set(d, e);
      }
      e.sightings.push(s);
      const lo = Math.max(from, d * 144);
      const hi = Math.min(to, d * 144 + 143);
      for (let i = lo; i <= hi; i++) e.needed[i - d * 144] = 1;
    }
  }
  const out: DayIndex[] = [];
  for (const [day, e] of [...days.entries()].sort((a, b) => a[0] - b[0])) {
    const enins: number[] = [];
    for (let i = 0; i < 144; i++) if (e.needed[i]) enins.push(day * 144 + i);
    const filter = new Uint32Array(1 << (FILTER_BITS - 5));
    const byHi = new Map<number, Sighting[]>();
    for (const s of e.sightings) {
      const bit = s.hi >>> (32 - FILTER_BITS);
      filter[bit >>> 5] |= 1 << (bit & 31);
      const list = byHi.get(s.hi);
      if (list) {
        if (!list.includes(s)) list.push(s);
      } else byHi.set(s.hi, [s]);
    }
    out.push({ day, enins: Int32Array.from(enins), padded: paddedBlocks(enins), filter, byHi });
  }
  return out;
}
