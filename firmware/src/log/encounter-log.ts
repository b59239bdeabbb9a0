import { Flash } from "../hw/types";
import { readU32LE } from "../protocol/bytes";
import {
  isSegmentHeader,
  RECORD_SIZE,
  SEGMENT_FLAG_MONOTONIC,
  writeRecord,
  writeSegmentHeader,
} from "../protocol/record";
import { UNITS_PER_CURSOR_FILE } from "../protocol/sync";

/**
 * The append-only encounter log in Storage (docs/protocol.md section 5.1). Files `tl.l<i>` are preallocated one
 * flash page each and filled unit by unit (16 bytes: segment headers and records); unit 0 of every file is a
 * segment header. Retention drops whole files. Nothing here throws: a write that Storage refuses is counted.
 */
export const LOG_FILE_BYTES = 4064;
export const LOG_FILE_UNITS = LOG_FILE_BYTES / RECORD_SIZE;
const NONE = 0xffffffff;

export interface LogChunk {
  cursor: number;
  bytes: Uint8Array;
}

export interface EncounterLog {
  /** Finds every file's header and end after a boot; discards files whose header is torn. */
  recover(): void;
  /** Starts a segment (boot, clock set): records after it are timed from `base` (log time, seconds). */
  startSegment(base: number, monotonic: boolean, epoch: number): void;
  /** Appends an encounter (first/last sighting in log time; id prefix at `ids[off..off+8]`); false if lost. */
  add(
    kind: number,
    ids: Uint8Array,
    off: number,
    first: number,
    last: number,
    scans: number,
    rssiMax: number,
    rssiMean: number,
    aem: number,
  ): boolean;
  /** Drops whole files whose records are all older than `cutoff` (Unix seconds). */
  expire(cutoff: number): void;
  /** Units before this cursor were acknowledged by a kiosk (dropping later ones sets droppedUnsynced). */
  setSyncCursor(cursor: number): void;
  cursorStart(): number;
  cursorEnd(): number;
  /** Base time of the oldest file when it is Unix time, else 0. */
  oldestTime(): number;
  /** Up to `max` consecutive units from the file holding `cursor` (or the next file), or undefined at the end. */
  read(cursor: number, max: number): LogChunk | undefined;
  /** Cursor of the segment header governing the unit at `cursor` (possibly itself), or -1. */
  headerFor(cursor: number): number;
  /** [records stored, records lost, 1 if unacknowledged units were dropped]. */
  stats(): number[];
  /** Erases every log file (wipe). */
  clear(): void;
}

function fileName(i: number): string {
  return "tl.l" + i;
}

function allErased(u: Uint8Array | undefined): boolean {
  if (!u) return true;
  for (let i = 0; i < u.length; i++) if (u[i] !== 0xff) return false;
  return true;
}

export function createEncounterLog(flash: Flash, budgetBytes: number): EncounterLog {
  let files = Math.floor(budgetBytes / 4096);
  if (files < 2) files = 2;
  /** Seq of each file's unit-0 header (NONE: free slot), units used, unit-0 base time when Unix (else 0). */
  const seq0 = new Uint32Array(files);
  const end = new Uint16Array(files);
  const base0 = new Uint32Array(files);
  let cur = -1;
  let lastSeq = 0;
  let segBase = 0;
  let segMono = true;
  let segEpoch = 0;
  let segOpen = false;
  let syncCursor = 0;
  let droppedUnsynced = 0;
  let lost = 0;
  let records = 0;

  function oldest(): number {
    let o = -1;
    for (let i = 0; i < files; i++) if (seq0[i] !== NONE && (o < 0 || seq0[i] < seq0[o])) o = i;
    return o;
  }

  function drop(slot: number): void {
    if (seq0[slot] * UNITS_PER_CURSOR_FILE + end[slot] > syncCursor) droppedUnsynced = 1;
    records -= end[slot] - 1;
    flash.erase(fileName(slot));
    seq0[slot] = NONE;
    end[slot] = 0;
    if (slot === cur) cur = -1;
  }

  function header(): Uint8Array {
    const h = new Uint8Array(RECORD_SIZE);
    writeSegmentHeader(h, ++lastSeq, segBase, segMono, segEpoch);
    return h;
  }

  /** Opens the next file (dropping the oldest when all are in use) with a header continuing the segment. */
  function openFile(): boolean {
    let slot = -1;
    for (let i = 0; i < files && slot < 0; i++) if (seq0[i] === NONE) slot = i;
    if (slot < 0) slot = oldest();
    if (slot < 0) return false;
    if (seq0[slot] !== NONE) drop(slot);
    const h = header();
    let ok = flash.write(fileName(slot), h, 0, LOG_FILE_BYTES);
    // Storage fuller than the budget assumed (other files, fragmentation): compact, then give up the oldest
    // file (its space comes back with the compaction) rather than stop logging.
    for (let tries = 0; !ok && tries < 2; tries++) {
      const o = oldest();
      if (tries && o >= 0 && o !== slot) drop(o);
      flash.compact();
      ok = flash.write(fileName(slot), h, 0, LOG_FILE_BYTES);
    }
    if (!ok) {
      flash.erase(fileName(slot));
      return false;
    }
    seq0[slot] = lastSeq;
    base0[slot] = segMono ? 0 : segBase;
    end[slot] = 1;
    cur = slot;
    segOpen = true;
    return true;
  }

  function put(u: Uint8Array): void {
    // A refused write still consumes the unit: its bytes may be partly written (a torn unit readers skip).
    flash.write(fileName(cur), u, end[cur] * RECORD_SIZE);
    end[cur]++;
  }

  /** Writes one unit at the end of the current file, opening files and segment headers as needed. */
  function writeUnit(u: Uint8Array): boolean {
    if (cur < 0 || end[cur] >= LOG_FILE_UNITS || (!segOpen && end[cur] + 2 > LOG_FILE_UNITS)) {
      if (!openFile()) return false;
    } else if (!segOpen) {
      // A new time base mid-file: its header goes first.
      put(header());
      segOpen = true;
    }
    put(u);
    return true;
  }

  /** The file holding `cursor` or the first unit after it: [slot, unit], or undefined at the end. */
  function locate(cursor: number): number[] | undefined {
    let best = -1;
    for (let i = 0; i < files; i++) {
      if (seq0[i] === NONE || seq0[i] * UNITS_PER_CURSOR_FILE + end[i] <= cursor) continue;
      if (best < 0 || seq0[i] < seq0[best]) best = i;
    }
    if (best < 0) return undefined;
    const start = seq0[best] * UNITS_PER_CURSOR_FILE;
    return [best, cursor > start ? cursor - start : 0];
  }

  function startSegment(base: number, monotonic: boolean, epoch: number): void {
    segBase = Math.floor(base);
    segMono = monotonic;
    segEpoch = epoch & 255;
    segOpen = false;
  }

  function recover(): void {
    let newest = -1;
    records = 0;
    lastSeq = 0;
    for (let i = 0; i < files; i++) {
      seq0[i] = NONE;
      end[i] = 0;
      const u0 = flash.read(fileName(i), 0, RECORD_SIZE);
      if (!u0) continue;
      if (!isSegmentHeader(u0, 0)) {
        flash.erase(fileName(i));
        continue;
      }
      seq0[i] = readU32LE(u0, 4);
      base0[i] = u0[12] & SEGMENT_FLAG_MONOTONIC ? 0 : readU32LE(u0, 8);
      // Units are written in order, so the erased units form a suffix: binary search for its start.
      let lo = 1;
      let hi = LOG_FILE_UNITS;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (allErased(flash.read(fileName(i), mid * RECORD_SIZE, RECORD_SIZE))) hi = mid;
        else lo = mid + 1;
      }
      end[i] = lo;
      records += lo - 1;
      if (newest < 0 || seq0[i] > seq0[newest]) newest = i;
    }
    cur = newest;
    if (newest < 0) return;
    lastSeq = seq0[newest];
    for (let u = 1; u < end[newest]; u++) {
      const b = flash.read(fileName(newest), u * RECORD_SIZE, RECORD_SIZE);
      if (b && isSegmentHeader(b, 0) && readU32LE(b, 4) > lastSeq) lastSeq = readU32LE(b, 4);
    }
  }

  function cursorEnd(): number {
    return cur < 0 ? (lastSeq + 1) * UNITS_PER_CURSOR_FILE : seq0[cur] * UNITS_PER_CURSOR_FILE + end[cur];
  }

  return {
    recover: recover,
    startSegment: startSegment,
    add(kind, ids, off, first, last, scans, rssiMax, rssiMean, aem) {
      let minute = Math.floor((first - segBase) / 60);
      if (minute < 0 || minute > 65000) {
        // The clock went back, or the segment is 45 days old: a new time base.
        startSegment(first, segMono, segEpoch);
        minute = 0;
      }
      const u = new Uint8Array(RECORD_SIZE);
      writeRecord(u, 0, kind, ids, off, minute, Math.round((last - first) / 60), scans, rssiMax, rssiMean, aem);
      if (!writeUnit(u)) {
        lost++;
        return false;
      }
      records++;
      return true;
    },
    expire(cutoff) {
      for (let i = 0; i < files; i++) {
        if (seq0[i] === NONE || i === cur) continue;
        // The file written after this one began after every record in this one was written.
        let next = -1;
        for (let j = 0; j < files; j++) {
          if (seq0[j] !== NONE && seq0[j] > seq0[i] && (next < 0 || seq0[j] < seq0[next])) next = j;
        }
        if (next >= 0 && base0[next] > 0 && base0[next] < cutoff) drop(i);
      }
    },
    setSyncCursor(c) {
      syncCursor = c;
    },
    cursorStart() {
      const o = oldest();
      return o < 0 ? cursorEnd() : seq0[o] * UNITS_PER_CURSOR_FILE;
    },
    cursorEnd: cursorEnd,
    oldestTime() {
      const o = oldest();
      return o < 0 ? 0 : base0[o];
    },
    read(cursor, max) {
      const at = locate(cursor);
      if (!at) return undefined;
      let n = end[at[0]] - at[1];
      if (n > max) n = max;
      const b = flash.read(fileName(at[0]), at[1] * RECORD_SIZE, n * RECORD_SIZE);
      return b ? { cursor: seq0[at[0]] * UNITS_PER_CURSOR_FILE + at[1], bytes: b } : undefined;
    },
    headerFor(cursor) {
      const at = locate(cursor);
      if (!at) return -1;
      for (let u = at[1]; u >= 0; u--) {
        const b = flash.read(fileName(at[0]), u * RECORD_SIZE, RECORD_SIZE);
        if (b && isSegmentHeader(b, 0)) return seq0[at[0]] * UNITS_PER_CURSOR_FILE + u;
      }
      return -1;
    },
    stats() {
      return [records, lost, droppedUnsynced];
    },
    clear() {
      for (let i = 0; i < files; i++) flash.erase(fileName(i));
      recover();
      segOpen = false;
      droppedUnsynced = lost = 0;
    },
  };
}
