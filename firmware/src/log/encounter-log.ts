import { Flash } from "../hw/types";
import { floor, newBytes, newU32 } from "../protocol/bytes";
import {
  isSegmentHeader,
  isUnwritten,
  RECORD_MAX_START,
  RECORD_SIZE,
  RECORD_START_S,
  segmentBase,
  SEGMENT_MONOTONIC_BIT,
  segmentSeq,
  writeRecord,
  writeSegmentHeader,
} from "../protocol/record";
import { UNITS_PER_CURSOR_FILE } from "../protocol/sync";
import { FILE_BASE_LEAD_S, LOG_FILE_BYTES, LOG_FILE_STRIDE, LOG_FILE_UNITS } from "../tuning";

/**
 * The append-only encounter log in Storage (docs/protocol.md section 5.1). Files `tl.e<i>` are preallocated (1 KB
 * with Storage's header) and filled unit by unit (8 bytes: segment headers and records, log format 3); unit 0 of
 * every file is a segment header. (Format 2 files were `tl.l<i>`: the flasher converts them on upgrade.) Retention drops whole files. Nothing here throws: a write that Storage refuses is counted.
 * A module-level singleton (`init` resets it), like the other stateful firmware modules: see scan/encounter-table.ts.
 */

export { LOG_FILE_UNITS };

export interface LogChunk {
  cursor: number;
  bytes: Uint8Array;
}

function fileName(i: number): string {
  return "tl.e" + i;
}

/** A unit all of whose bytes read 0xFF was never started (byte 7 of a written unit is never 0xFF: record.ts). */
function unwritten(i: number, unit: number): boolean {
  const b = flash.read(fileName(i), unit * RECORD_SIZE, RECORD_SIZE);
  return !b || isUnwritten(b, 0);
}

let flash: Flash;
let files = 0;
/**
 * Seq of each file's unit-0 header (0: free slot; seqs start at 1), units used, unit-0 base time when Unix
 * (seconds, else 0). The open segment's base is in 10-minute intervals (record.ts).
 */
let seq0: Uint32Array;
let end: Uint16Array;
let base0: Uint32Array;
let cur = -1;
let lastSeq = 0;
let segBase = 0;
let segMono = true;
let segEpoch = 0;
let segOpen = false;
let syncCursor = 0;
let droppedUnsynced = 0;
let lost = 0;

/** Sets the flash and the budget (whole 1 KB files, LOG_FILE_STRIDE, at least two); call recover() next. */
export function init(f: Flash, budgetBytes: number): void {
  flash = f;
  files = floor(budgetBytes / LOG_FILE_STRIDE);
  if (files < 2) files = 2;
  seq0 = newU32(files);
  end = new Uint16Array(files);
  base0 = newU32(files);
  syncCursor = droppedUnsynced = lost = 0;
  segOpen = false;
}

function oldest(): number {
  let o = -1;
  for (let i = 0; i < files; i++) if (seq0[i] && (o < 0 || seq0[i] < seq0[o])) o = i;
  return o;
}

function drop(slot: number): void {
  if (seq0[slot] * UNITS_PER_CURSOR_FILE + end[slot] > syncCursor) droppedUnsynced = 1;
  flash.erase(fileName(slot));
  seq0[slot] = end[slot] = 0;
  if (slot === cur) cur = -1;
}

function header(): Uint8Array {
  const h = newBytes(RECORD_SIZE);
  writeSegmentHeader(h, ++lastSeq, segBase, segMono, segEpoch);
  return h;
}

/** Opens the next file (dropping the oldest when all are in use) with a header continuing the segment. */
function openFile(): boolean {
  let slot = -1;
  for (let i = 0; i < files && slot < 0; i++) if (!seq0[i]) slot = i;
  if (slot < 0) slot = oldest();
  if (slot < 0) return false;
  if (seq0[slot]) drop(slot);
  const h = header();
  let ok = flash.write(fileName(slot), h, 0, LOG_FILE_BYTES);
  // Storage fuller than the budget assumed (other files): give up the oldest file rather than stop logging
  // (Flash.write compacts before it fails, which brings the erased file's space back).
  const o = oldest();
  if (!ok && o >= 0) {
    drop(o);
    ok = flash.write(fileName(slot), h, 0, LOG_FILE_BYTES);
  }
  if (!ok) {
    flash.erase(fileName(slot));
    return false;
  }
  seq0[slot] = lastSeq;
  base0[slot] = segMono ? 0 : segBase * RECORD_START_S;
  end[slot] = 1;
  cur = slot;
  segOpen = true;
  return true;
}

function put(u: Uint8Array): void {
  // A refused write consumes the unit only if it left bytes behind (a torn unit readers skip): a unit it left blank
  // takes the next write, so no blank unit ever sits before written ones (recovery's search relies on that).
  if (flash.write(fileName(cur), u, end[cur] * RECORD_SIZE) || !unwritten(cur, end[cur])) end[cur]++;
}

/** The file holding `cursor` or the first unit after it: [slot, unit], or undefined at the end. */
function locate(cursor: number): number[] | undefined {
  let best = -1;
  for (let i = 0; i < files; i++) {
    if (!seq0[i] || seq0[i] * UNITS_PER_CURSOR_FILE + end[i] <= cursor) continue;
    if (best < 0 || seq0[i] < seq0[best]) best = i;
  }
  if (best < 0) return undefined;
  const start = seq0[best] * UNITS_PER_CURSOR_FILE;
  return [best, cursor > start ? cursor - start : 0];
}

/** Starts a segment (boot, clock set): records after it are timed from `base` (log time, seconds). */
export function startSegment(base: number, monotonic: boolean, epoch: number): void {
  segBase = floor(base / RECORD_START_S);
  segMono = monotonic;
  segEpoch = epoch & 255;
  segOpen = false;
}

/** Finds every file's header and end after a boot; discards files whose header is torn. */
export function recover(): void {
  let newest = -1;
  lastSeq = 0;
  for (let i = 0; i < files; i++) {
    seq0[i] = end[i] = 0;
    const u0 = flash.read(fileName(i), 0, RECORD_SIZE);
    if (!u0) continue;
    if (!isSegmentHeader(u0, 0)) {
      flash.erase(fileName(i));
      continue;
    }
    seq0[i] = segmentSeq(u0, 0);
    base0[i] = u0[7] & SEGMENT_MONOTONIC_BIT ? 0 : segmentBase(u0, 0) * RECORD_START_S;
    // Units are written in order, so the erased units form a suffix: binary search for its start.
    let lo = 1;
    let hi = LOG_FILE_UNITS;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (unwritten(i, mid)) hi = mid;
      else lo = mid + 1;
    }
    end[i] = lo;
    if (newest < 0 || seq0[i] > seq0[newest]) newest = i;
  }
  cur = newest;
  // Seqs only need to grow: the newest file holds at most one header per unit.
  if (newest >= 0) lastSeq = seq0[newest] + end[newest];
}

/** Appends an encounter (first/last sighting in log time; id prefix at `ids[off..off+5]`); false if lost. */
export function add(
  kind: number,
  ids: Uint8Array,
  off: number,
  first: number,
  last: number,
  rssiMean: number,
  aem: number,
): boolean {
  let start = floor(first / RECORD_START_S) - segBase;
  if (start < 0 || start > RECORD_MAX_START) {
    // The clock went back, or the start no longer fits the record's 7 bits (21 h): a new time base, as early as
    // for a new file, so that encounters still open (first seen before this one) fit it too.
    startSegment(first > FILE_BASE_LEAD_S ? first - FILE_BASE_LEAD_S : 0, segMono, segEpoch);
  }
  if (cur < 0 || end[cur] >= LOG_FILE_UNITS || (!segOpen && end[cur] + 2 > LOG_FILE_UNITS)) {
    // Every file's unit-0 header dates it for retention: a segment that continues from the previous file gets a
    // new base (FILE_BASE_LEAD_S); a fresh one (boot, clock set) already precedes every record after it.
    if (segOpen) startSegment(first > FILE_BASE_LEAD_S ? first - FILE_BASE_LEAD_S : 0, segMono, segEpoch);
    if (!openFile()) {
      lost++;
      return false;
    }
  } else if (!segOpen) {
    // A new time base mid-file: its header goes first.
    put(header());
    segOpen = true;
  }
  start = floor(first / RECORD_START_S) - segBase;
  const u = newBytes(RECORD_SIZE);
  writeRecord(u, 0, kind, ids, off, start, last - first, rssiMean, aem);
  put(u);
  return true;
}

/**
 * Drops whole files whose records are all older than `cutoff` (Unix seconds): the oldest file goes while the
 * file written after it is based (its unit-0 header, Unix time) two FILE_BASE_LEAD_S before the cutoff. Then
 * compacts Storage if a file went: an erased file's records (other people's ids, where and when this band met them)
 * would otherwise stay readable in flash past retention. (Files the budget drops go at the next compaction.)
 */
export function expire(cutoff: number): void {
  let dropped = false;
  for (let o = oldest(); o >= 0 && o !== cur; o = oldest()) {
    let next = -1;
    for (let j = 0; j < files; j++) {
      if (seq0[j] > seq0[o] && (next < 0 || seq0[j] < seq0[next])) next = j;
    }
    if (next < 0 || !base0[next] || base0[next] + 2 * FILE_BASE_LEAD_S >= cutoff) break;
    drop(o);
    dropped = true;
  }
  if (dropped) flash.compact();
}

/** Units before this cursor were acknowledged by a kiosk (dropping later ones sets droppedUnsynced). */
export function setSyncCursor(c: number): void {
  syncCursor = c;
}

export function cursorEnd(): number {
  return cur < 0 ? (lastSeq + 1) * UNITS_PER_CURSOR_FILE : seq0[cur] * UNITS_PER_CURSOR_FILE + end[cur];
}

export function cursorStart(): number {
  const o = oldest();
  return o < 0 ? cursorEnd() : seq0[o] * UNITS_PER_CURSOR_FILE;
}

/** Base time of the oldest file when it is Unix time, else 0. */
export function oldestTime(): number {
  const o = oldest();
  return o < 0 ? 0 : base0[o];
}

/** Up to `max` consecutive units from the file holding `cursor` (or the next file), or undefined at the end. */
export function read(cursor: number, max: number): LogChunk | undefined {
  const at = locate(cursor);
  if (!at) return undefined;
  let count = end[at[0]] - at[1];
  if (count > max) count = max;
  const b = flash.read(fileName(at[0]), at[1] * RECORD_SIZE, count * RECORD_SIZE);
  return b ? { cursor: seq0[at[0]] * UNITS_PER_CURSOR_FILE + at[1], bytes: b } : undefined;
}

/** [units stored (records and segment headers), records lost, 1 if unacknowledged units were dropped]. */
export function stats(): number[] {
  let units = 0;
  for (let i = 0; i < files; i++) units += end[i];
  return [units, lost, droppedUnsynced];
}

/** Erases every log file (wipe; the caller compacts Storage). */
export function clear(): void {
  for (let i = 0; i < files; i++) flash.erase(fileName(i));
  recover();
  segOpen = false;
  droppedUnsynced = lost = 0;
}
