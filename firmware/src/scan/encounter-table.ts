/**
 * Sightings aggregated in preallocated typed arrays (no objects per beacon): the scan callback only finds or
 * adds the id's row and updates counters. At the end of each scan window `endScan` decides, per id, whether the
 * encounter goes on (seen in this scan, or missed only one scan) or is finished and handed to `emit` as one
 * record: consecutive sightings of an id merge into one record with a duration.
 *
 * Written as a closure rather than a class: the minifier shortens local names but not property names, and the
 * band's bundle budget (16 KB on Puck.js) counts every byte.
 */
export const ID_BYTES = 8;
/** An encounter missing from this many consecutive scans is finished. */
const MISSES_TO_CLOSE = 2;
/** Records cap scans at 31 and duration at 255 minutes: close the encounter before either saturates. */
const MAX_SCANS = 31;
const MAX_SPAN_S = 250 * 60;

/** A finished encounter: `ids[off..off+8]` is the id prefix; times are log times (seconds). */
export type EmitFn = (
  kind: number,
  ids: Uint8Array,
  off: number,
  first: number,
  last: number,
  scans: number,
  rssiMax: number,
  rssiMean: number,
  aem: number,
) => void;

export interface EncounterTable {
  /** One sighting: `src[off..off+8]` is the id prefix. Allocation-free; called from the radio callback. */
  sight(kind: number, src: Uint8Array, off: number, rssi: number, aem: number): void;
  /** Sets the log time of the scan window about to open. */
  begin(now: number): void;
  /** Closes the scan window: counts scans, finishes encounters that ended or would saturate a record. */
  endScan(emit: EmitFn): void;
  /** Finishes every open encounter (before a sync, a new time base or a wipe). */
  flush(emit: EmitFn): void;
  /** Open encounters, and sightings dropped because the table was full. */
  size(): number;
  dropped(): number;
  clear(): void;
}

export function createEncounterTable(cap: number): EncounterTable {
  const ids = new Uint8Array(cap * ID_BYTES);
  const kind = new Uint8Array(cap);
  const scans = new Uint8Array(cap);
  const miss = new Uint8Array(cap);
  const seen = new Uint8Array(cap);
  const rmax = new Int8Array(cap);
  const aem = new Uint8Array(cap);
  const cnt = new Uint16Array(cap);
  const rsum = new Int32Array(cap);
  const first = new Uint32Array(cap);
  const last = new Uint32Array(cap);
  let n = 0;
  let now = 0;
  let full = 0;

  function close(i: number, emit: EmitFn): void {
    if (scans[i] > 0) {
      emit(kind[i], ids, i * ID_BYTES, first[i], last[i], scans[i], rmax[i], Math.round(rsum[i] / cnt[i]), aem[i]);
    }
    const j = --n;
    if (i !== j) {
      ids.set(ids.subarray(j * ID_BYTES, j * ID_BYTES + ID_BYTES), i * ID_BYTES);
      kind[i] = kind[j];
      scans[i] = scans[j];
      miss[i] = miss[j];
      seen[i] = seen[j];
      rmax[i] = rmax[j];
      aem[i] = aem[j];
      cnt[i] = cnt[j];
      rsum[i] = rsum[j];
      first[i] = first[j];
      last[i] = last[j];
    }
  }

  return {
    sight(k, src, off, rssi, a) {
      let i = 0;
      for (; i < n; i++) {
        const o = i * ID_BYTES;
        if (
          ids[o] === src[off] &&
          ids[o + 1] === src[off + 1] &&
          ids[o + 2] === src[off + 2] &&
          ids[o + 3] === src[off + 3] &&
          ids[o + 4] === src[off + 4] &&
          ids[o + 5] === src[off + 5] &&
          ids[o + 6] === src[off + 6] &&
          ids[o + 7] === src[off + 7] &&
          kind[i] === k
        ) {
          break;
        }
      }
      if (i === n) {
        if (i >= cap) {
          full++;
          return;
        }
        for (let b = 0; b < ID_BYTES; b++) ids[i * ID_BYTES + b] = src[off + b];
        kind[i] = k;
        scans[i] = miss[i] = cnt[i] = rsum[i] = 0;
        rmax[i] = -128;
        first[i] = now;
        n++;
      }
      if (rssi > rmax[i]) rmax[i] = rssi;
      if (cnt[i] < 65535) {
        cnt[i]++;
        rsum[i] += rssi;
      }
      aem[i] = a;
      last[i] = now;
      seen[i] = 1;
    },
    begin(t) {
      now = t;
    },
    endScan(emit) {
      let i = 0;
      while (i < n) {
        if (seen[i]) {
          scans[i]++;
          miss[i] = seen[i] = 0;
        } else {
          miss[i]++;
        }
        if (miss[i] >= MISSES_TO_CLOSE || scans[i] >= MAX_SCANS || last[i] - first[i] >= MAX_SPAN_S) close(i, emit);
        else i++;
      }
    },
    flush(emit) {
      while (n > 0) {
        if (seen[0]) scans[0]++;
        close(0, emit);
      }
    },
    size() {
      return n;
    },
    dropped() {
      return full;
    },
    clear() {
      n = 0;
    },
  };
}
