/**
 * Sightings aggregated in preallocated typed arrays (no objects per beacon): the scan callback only finds or
 * adds the id's row and updates counters. At the end of each scan window `endScan` decides, per id, whether the
 * encounter goes on (seen in this scan, or missed only one scan) or is finished and handed to `emit` as one
 * record: consecutive sightings of an id merge into one record with a duration.
 */
export const ID_BYTES = 8;
/** An encounter missing from this many consecutive scans is finished. */
const MISSES_TO_CLOSE = 2;
/** Records cap scans at 31 and duration at 255 minutes: close the encounter before either saturates. */
const MAX_SCANS = 31;
const MAX_SPAN_S = 250 * 60;

export type EmitFn = (t: EncounterTable, row: number) => void;

export class EncounterTable {
  n = 0;
  /** Log time of the current scan window (set by the owner before the window opens). */
  now = 0;
  /** Sightings dropped because the table was full. */
  full = 0;
  ids: Uint8Array;
  kind: Uint8Array;
  /** Scans in which the id was seen. */
  scans: Uint8Array;
  /** Consecutive scans missed. */
  miss: Uint8Array;
  /** Seen in the current scan window. */
  seen: Uint8Array;
  rmax: Int8Array;
  aem: Uint8Array;
  cnt: Uint16Array;
  rsum: Int32Array;
  first: Uint32Array;
  last: Uint32Array;

  constructor(public cap: number) {
    this.ids = new Uint8Array(cap * ID_BYTES);
    this.kind = new Uint8Array(cap);
    this.scans = new Uint8Array(cap);
    this.miss = new Uint8Array(cap);
    this.seen = new Uint8Array(cap);
    this.rmax = new Int8Array(cap);
    this.aem = new Uint8Array(cap);
    this.cnt = new Uint16Array(cap);
    this.rsum = new Int32Array(cap);
    this.first = new Uint32Array(cap);
    this.last = new Uint32Array(cap);
  }

  /** One sighting: `src[off..off+8]` is the id prefix. Allocation-free; called from the radio callback. */
  sight(kind: number, src: Uint8Array, off: number, rssi: number, aem: number): void {
    const ids = this.ids;
    let i = 0;
    for (; i < this.n; i++) {
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
        this.kind[i] === kind
      ) {
        break;
      }
    }
    if (i === this.n) {
      if (i >= this.cap) {
        this.full++;
        return;
      }
      const o = i * ID_BYTES;
      for (let k = 0; k < ID_BYTES; k++) ids[o + k] = src[off + k];
      this.kind[i] = kind;
      this.scans[i] = 0;
      this.miss[i] = 0;
      this.rmax[i] = -128;
      this.cnt[i] = 0;
      this.rsum[i] = 0;
      this.first[i] = this.now;
      this.n++;
    }
    if (rssi > this.rmax[i]) this.rmax[i] = rssi;
    if (this.cnt[i] < 65535) {
      this.cnt[i]++;
      this.rsum[i] += rssi;
    }
    this.aem[i] = aem;
    this.last[i] = this.now;
    this.seen[i] = 1;
  }

  /** Mean RSSI of a row, rounded. */
  mean(i: number): number {
    return this.cnt[i] ? Math.round(this.rsum[i] / this.cnt[i]) : -128;
  }

  /** Closes the scan window: counts scans, finishes encounters that ended or would saturate a record. */
  endScan(emit: EmitFn): void {
    let i = 0;
    while (i < this.n) {
      if (this.seen[i]) {
        this.scans[i]++;
        this.miss[i] = 0;
        this.seen[i] = 0;
      } else {
        this.miss[i]++;
      }
      if (this.miss[i] >= MISSES_TO_CLOSE || this.scans[i] >= MAX_SCANS || this.last[i] - this.first[i] >= MAX_SPAN_S) {
        this.close(i, emit);
      } else {
        i++;
      }
    }
  }

  /** Finishes every open encounter (before a sync, a new time base or a wipe). */
  flush(emit: EmitFn): void {
    while (this.n > 0) {
      if (this.seen[0]) this.scans[0]++;
      this.close(0, emit);
    }
  }

  /** Emits row i (if it was seen in at least one finished scan) and removes it by moving the last row into it. */
  close(i: number, emit: EmitFn): void {
    if (this.scans[i] > 0) emit(this, i);
    const j = this.n - 1;
    if (i !== j) {
      this.ids.set(this.ids.subarray(j * ID_BYTES, j * ID_BYTES + ID_BYTES), i * ID_BYTES);
      this.kind[i] = this.kind[j];
      this.scans[i] = this.scans[j];
      this.miss[i] = this.miss[j];
      this.seen[i] = this.seen[j];
      this.rmax[i] = this.rmax[j];
      this.aem[i] = this.aem[j];
      this.cnt[i] = this.cnt[j];
      this.rsum[i] = this.rsum[j];
      this.first[i] = this.first[j];
      this.last[i] = this.last[j];
    }
    this.n = j;
  }
}
