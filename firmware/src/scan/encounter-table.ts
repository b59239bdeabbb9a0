import { newBytes, newU32 } from "../protocol/bytes";
import { RECORD_ID_BYTES as ID_BYTES } from "../protocol/record-constants";
import { MAX_ENCOUNTER_S, MISSES_TO_CLOSE } from "../tuning";

/**
 * Sightings aggregated in preallocated typed arrays (no objects per beacon): the scan callback only finds or
 * adds the id's row (a keyed lookup: `slot` maps the id's first two bytes, random in RPIs and Bluezone ids, to its
 * row, open addressing) and updates counters. A linear search cost the callback ~40 bytes of interpreted code a
 * row (measured, host-tools/src/sim/cpu-cost.ts): half of it with 20 ids open. At the end of each scan window `endScan` decides, per id, whether the
 * encounter goes on (seen in this scan, or missed only one scan) or is finished and handed to `emit` as one
 * record: consecutive sightings of an id merge into one record with a duration.
 *
 * Like every stateful firmware module this is a module-level singleton (`init` resets it): esbuild shortens
 * module-level names but not property names, and the band's bundle budget (16 KB) counts every byte.
 */

/** A finished encounter: `ids[off..off+ID_BYTES]` is the id prefix; times are log times (seconds). */
export type EmitFn = (
  kind: number,
  ids: Uint8Array,
  off: number,
  first: number,
  last: number,
  rssiMean: number,
  aem: number,
) => void;

let cap = 0;
/** Per row: id prefix, kind, AEM byte, sightings, RSSI sum, first/last log time, and the number of the last scan
 * window the id was seen in. */
let ids: Uint8Array;
let kind: Uint8Array;
let aem: Uint8Array;
let cnt: Uint16Array;
let rsum: Int32Array;
let first: Uint32Array;
let last: Uint32Array;
let seenIn: Uint32Array;
let n = 0;
/** Row + 1 per hash slot (0: empty); twice the rows or more, a power of two. Rebuilt when rows move. */
let slot: Uint8Array;
let mask = 0;
/** The current scan window's number and log time. */
let scanNo = 1;
let now = 0;
let full = 0;

/** Allocates a table of `rows` ids (the most distinct ids one scan can hold) and empties it. */
export function init(rows: number): void {
  cap = rows;
  ids = newBytes(rows * ID_BYTES);
  kind = newBytes(rows);
  aem = newBytes(rows);
  cnt = new Uint16Array(rows);
  rsum = new Int32Array(rows);
  first = newU32(rows);
  last = newU32(rows);
  seenIn = newU32(rows);
  let h = 4;
  while (h < rows * 2) h <<= 1;
  slot = newBytes(h);
  mask = h - 1;
  n = full = 0;
}

/** The slot of the id at `src[off..]`: where it is, or the empty slot where it goes. */
function find(k: number, src: Uint8Array, off: number): number {
  let h = (src[off] | (src[off + 1] << 8)) & mask;
  for (let i = slot[h] - 1; i >= 0; i = slot[h] - 1) {
    let b = 0;
    for (; b < ID_BYTES && ids[i * ID_BYTES + b] === src[off + b]; b++);
    if (b === ID_BYTES && kind[i] === k) break;
    h = (h + 1) & mask;
  }
  return h;
}

/** Rebuilds the slots after rows moved (closing encounters packs the rows). */
function reindex(): void {
  slot.fill(0);
  for (let i = 0; i < n; i++) slot[find(kind[i], ids, i * ID_BYTES)] = i + 1;
}

const COLUMNS = () => [kind, aem, cnt, rsum, first, last, seenIn];

function close(i: number, emit: EmitFn): void {
  // The mean rounded half up. Not Math.round: Espruino's rounds halves away from zero (-68.5 to -69), V8's up (-68).
  emit(kind[i], ids, i * ID_BYTES, first[i], last[i], Math.floor(rsum[i] / cnt[i] + 0.5), aem[i]);
  const j = --n;
  // Keep rows packed: the last row moves into the freed one.
  ids.set(ids.subarray(j * ID_BYTES, j * ID_BYTES + ID_BYTES), i * ID_BYTES);
  const cols = COLUMNS();
  for (let k = 0; k < cols.length; k++) cols[k][i] = cols[k][j];
}

/** One sighting: `src[off..off+ID_BYTES]` is the id prefix. Allocation-free; called from the radio callback. */
export function sight(k: number, src: Uint8Array, off: number, rssi: number, a: number): void {
  const h = find(k, src, off);
  let i = slot[h] - 1;
  if (i < 0) {
    if (n >= cap) {
      full++;
      return;
    }
    i = n;
    for (let b = 0; b < ID_BYTES; b++) ids[i * ID_BYTES + b] = src[off + b];
    kind[i] = k;
    cnt[i] = rsum[i] = 0;
    first[i] = now;
    slot[h] = ++n;
  }
  seenIn[i] = scanNo;
  if (cnt[i] < 65535) {
    cnt[i]++;
    rsum[i] += rssi;
  }
  aem[i] = a;
  last[i] = now;
}

/** Opens a scan window at log time `t`. */
export function begin(t: number): void {
  now = t;
  scanNo++;
}

/**
 * Closes the scan window: finishes encounters missing from MISSES_TO_CLOSE consecutive windows, and those that
 * span MAX_ENCOUNTER_S (a record's duration field holds up to 63 minutes).
 */
export function endScan(emit: EmitFn): void {
  const was = n;
  try {
    for (let i = 0; i < n;) {
      if (scanNo - seenIn[i] >= MISSES_TO_CLOSE || last[i] - first[i] >= MAX_ENCOUNTER_S) {
        close(i, emit);
      } else i++;
    }
  } finally {
    // Also when `emit` threw half-way: the slots must follow the rows that moved.
    if (n !== was) reindex();
  }
}

/** Finishes every open encounter (before a sync, a new time base or a wipe). */
export function flush(emit: EmitFn): void {
  try {
    while (n > 0) close(0, emit);
  } finally {
    reindex();
  }
}

/** Open encounters. */
export function size(): number {
  return n;
}

/** Sightings dropped because the table was full. */
export function dropped(): number {
  return full;
}

export function clear(): void {
  n = 0;
  slot.fill(0);
}
