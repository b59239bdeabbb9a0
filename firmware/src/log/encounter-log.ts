import { Flash } from "../hw/types";
import { decodeSegmentHeader, encodeRecord, encodeSegmentHeader, RECORD_SIZE } from "../protocol/record";
import { UNITS_PER_CURSOR_FILE } from "../protocol/sync";

/**
 * The append-only encounter log in Storage (docs/protocol.md section 5.1). Files `tl.l<i>` are preallocated one
 * flash page each and filled unit by unit (16 bytes: segment headers and records); unit 0 of every file is a
 * segment header. Retention drops whole files. Nothing here throws: a write that Storage refuses is counted.
 */
export const LOG_FILE_BYTES = 4064;
export const LOG_FILE_UNITS = LOG_FILE_BYTES / RECORD_SIZE;
const NONE = 0xffffffff;

function fileName(i: number): string {
  return "tl.l" + i;
}

function allErased(u: Uint8Array | undefined): boolean {
  if (!u) return true;
  for (let i = 0; i < u.length; i++) if (u[i] !== 0xff) return false;
  return true;
}

export class EncounterLog {
  files: number;
  /** Seq of each file's unit-0 header, NONE when the file slot is free. */
  seq0: Uint32Array;
  /** Units used in each file (written or torn). */
  end: Uint16Array;
  /** Base time of each file's unit-0 header when it is Unix time, else 0. */
  base0: Uint32Array;
  /** The file being written, -1 before the first. */
  cur = -1;
  lastSeq = 0;
  segBase = 0;
  segMono = true;
  segEpoch = 0;
  segOpen = false;
  /** Units before this cursor were acknowledged by a kiosk (set by the owner). */
  syncCursor = 0;
  droppedUnsynced = false;
  /** Records Storage refused (full and compaction did not help). */
  lost = 0;
  records = 0;

  constructor(
    public flash: Flash,
    budgetBytes: number,
  ) {
    let n = Math.floor(budgetBytes / 4096);
    if (n < 2) n = 2;
    this.files = n;
    this.seq0 = new Uint32Array(n);
    this.end = new Uint16Array(n);
    this.base0 = new Uint32Array(n);
  }

  /** Finds every file's header and end after a boot; discards files whose header is torn. */
  recover(): void {
    const f = this.flash;
    let newest = -1;
    this.records = 0;
    for (let i = 0; i < this.files; i++) {
      this.seq0[i] = NONE;
      this.end[i] = 0;
      const u0 = f.read(fileName(i), 0, RECORD_SIZE);
      if (!u0) continue;
      const h = decodeSegmentHeader(u0, 0);
      if (!h.ok) {
        f.erase(fileName(i));
        continue;
      }
      this.seq0[i] = h.value.seq;
      this.base0[i] = h.value.monotonic ? 0 : h.value.baseTime;
      // Units are written in order, so the erased units form a suffix: binary search for its start.
      let lo = 1;
      let hi = LOG_FILE_UNITS;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (allErased(f.read(fileName(i), mid * RECORD_SIZE, RECORD_SIZE))) hi = mid;
        else lo = mid + 1;
      }
      this.end[i] = lo;
      this.records += lo - 1;
      if (newest < 0 || h.value.seq > this.seq0[newest]) newest = i;
    }
    this.cur = newest;
    this.lastSeq = 0;
    if (newest < 0) return;
    this.lastSeq = this.seq0[newest];
    for (let u = 1; u < this.end[newest]; u++) {
      const b = f.read(fileName(newest), u * RECORD_SIZE, RECORD_SIZE);
      const h = b && b[0] === 0x54 ? decodeSegmentHeader(b, 0) : undefined;
      if (h && h.ok && h.value.seq > this.lastSeq) this.lastSeq = h.value.seq;
    }
  }

  /** Starts a segment (boot, clock set): records after it are timed from `base`. */
  startSegment(base: number, monotonic: boolean, epoch: number): void {
    this.segBase = Math.floor(base);
    this.segMono = monotonic;
    this.segEpoch = epoch & 255;
    this.segOpen = false;
  }

  header(): Uint8Array {
    this.lastSeq++;
    return encodeSegmentHeader({
      seq: this.lastSeq,
      baseTime: this.segBase,
      monotonic: this.segMono,
      bootEpoch: this.segEpoch,
    });
  }

  /** Opens the next file (dropping the oldest when all are in use) with a header continuing the segment. */
  openFile(): boolean {
    const f = this.flash;
    let slot = -1;
    for (let i = 0; i < this.files && slot < 0; i++) if (this.seq0[i] === NONE) slot = i;
    if (slot < 0) slot = this.oldest();
    if (slot < 0) return false;
    if (this.seq0[slot] !== NONE) this.drop(slot);
    const h = this.header();
    let ok = f.write(fileName(slot), h, 0, LOG_FILE_BYTES);
    // Storage is fuller than the budget assumed (other files, fragmentation): compact, then give up the
    // oldest file (its space comes back with the compaction) rather than stop logging.
    for (let tries = 0; !ok && tries < 2; tries++) {
      const o = this.oldest();
      if (tries && o >= 0 && o !== slot) this.drop(o);
      f.compact();
      ok = f.write(fileName(slot), h, 0, LOG_FILE_BYTES);
    }
    if (!ok) {
      f.erase(fileName(slot));
      return false;
    }
    this.seq0[slot] = this.lastSeq;
    this.base0[slot] = this.segMono ? 0 : this.segBase;
    this.end[slot] = 1;
    this.cur = slot;
    this.segOpen = true;
    return true;
  }

  /** The file slot with the lowest seq, or -1. */
  oldest(): number {
    let o = -1;
    for (let i = 0; i < this.files; i++) {
      if (this.seq0[i] !== NONE && (o < 0 || this.seq0[i] < this.seq0[o])) o = i;
    }
    return o;
  }

  drop(slot: number): void {
    if (this.seq0[slot] * UNITS_PER_CURSOR_FILE + this.end[slot] > this.syncCursor) this.droppedUnsynced = true;
    this.records -= this.end[slot] - 1;
    this.flash.erase(fileName(slot));
    this.seq0[slot] = NONE;
    this.end[slot] = 0;
    if (slot === this.cur) this.cur = -1;
  }

  /** Writes one unit at the end of the current file, opening files and segment headers as needed. */
  writeUnit(u: Uint8Array): boolean {
    if (this.cur < 0 || this.end[this.cur] >= LOG_FILE_UNITS) {
      if (!this.openFile()) return false;
    } else if (!this.segOpen) {
      // A new time base mid-file: write its header first (needs room for the header and this unit).
      if (this.end[this.cur] + 2 > LOG_FILE_UNITS) {
        if (!this.openFile()) return false;
      } else {
        this.put(this.header());
        this.segOpen = true;
      }
    }
    if (this.end[this.cur] >= LOG_FILE_UNITS && !this.openFile()) return false;
    this.put(u);
    return true;
  }

  put(u: Uint8Array): void {
    const c = this.cur;
    // A refused write still consumes the unit: the bytes may be partly written (a torn unit readers skip).
    this.flash.write(fileName(c), u, this.end[c] * RECORD_SIZE);
    this.end[c]++;
  }

  /**
   * Appends an encounter: first/last sighting in log time (Unix seconds, or uptime in monotonic segments).
   * `id` holds at least 8 bytes from `off`.
   */
  add(
    kind: number,
    id: Uint8Array,
    first: number,
    last: number,
    scans: number,
    rssiMax: number,
    rssiMean: number,
    aemTx: number,
  ): boolean {
    let minute = Math.floor((first - this.segBase) / 60);
    if (minute < 0 || minute > 65000) {
      // Clock went back or the segment is 45 days old: a new time base.
      this.startSegment(first, this.segMono, this.segEpoch);
      minute = 0;
    }
    const u = new Uint8Array(RECORD_SIZE);
    encodeRecord(
      {
        kind: kind,
        id: id,
        startMinute: minute,
        durationMinutes: Math.round((last - first) / 60),
        scans: scans,
        rssiMax: rssiMax,
        rssiMean: rssiMean,
        aemTx: aemTx,
      },
      u,
      0,
    );
    if (!this.writeUnit(u)) {
      this.lost++;
      return false;
    }
    this.records++;
    return true;
  }

  /** Drops whole files whose records are all older than `cutoff` (Unix seconds): the next file began before it. */
  expire(cutoff: number): void {
    for (let i = 0; i < this.files; i++) {
      if (this.seq0[i] === NONE || i === this.cur) continue;
      // The file written after this one: its unit-0 header time bounds every record in this file.
      let next = -1;
      for (let j = 0; j < this.files; j++) {
        if (this.seq0[j] !== NONE && this.seq0[j] > this.seq0[i] && (next < 0 || this.seq0[j] < this.seq0[next])) {
          next = j;
        }
      }
      if (next >= 0 && this.base0[next] > 0 && this.base0[next] < cutoff) this.drop(i);
    }
  }

  cursorStart(): number {
    const o = this.oldest();
    return o < 0 ? this.cursorEnd() : this.seq0[o] * UNITS_PER_CURSOR_FILE;
  }

  cursorEnd(): number {
    return this.cur < 0
      ? (this.lastSeq + 1) * UNITS_PER_CURSOR_FILE
      : this.seq0[this.cur] * UNITS_PER_CURSOR_FILE + this.end[this.cur];
  }

  /** Base time of the oldest file when it is Unix time, else 0. */
  oldestTime(): number {
    const o = this.oldest();
    return o < 0 ? 0 : this.base0[o];
  }

  /** The file holding `cursor` or the first unit after it: [slot, first unit] or undefined at the end. */
  locate(cursor: number): number[] | undefined {
    let best = -1;
    for (let i = 0; i < this.files; i++) {
      const s = this.seq0[i];
      if (s === NONE || s * UNITS_PER_CURSOR_FILE + this.end[i] <= cursor) continue;
      if (best < 0 || s < this.seq0[best]) best = i;
    }
    if (best < 0) return undefined;
    const first = this.seq0[best] * UNITS_PER_CURSOR_FILE;
    return [best, cursor > first ? cursor - first : 0];
  }

  /** Up to `max` consecutive units from the file holding `cursor` (or the next one): [cursor, bytes]. */
  read(cursor: number, max: number): { cursor: number; bytes: Uint8Array } | undefined {
    const at = this.locate(cursor);
    if (!at) return undefined;
    const slot = at[0];
    let n = this.end[slot] - at[1];
    if (n > max) n = max;
    const b = this.flash.read(fileName(slot), at[1] * RECORD_SIZE, n * RECORD_SIZE);
    if (!b) return undefined;
    return { cursor: this.seq0[slot] * UNITS_PER_CURSOR_FILE + at[1], bytes: b };
  }

  /** Cursor of the segment header that governs the unit at `cursor` (it may be `cursor` itself), or -1. */
  headerFor(cursor: number): number {
    const at = this.locate(cursor);
    if (!at) return -1;
    const name = fileName(at[0]);
    for (let u = at[1]; u >= 0; u--) {
      const b = this.flash.read(name, u * RECORD_SIZE, RECORD_SIZE);
      if (b && b[0] === 0x54 && decodeSegmentHeader(b, 0).ok) return this.seq0[at[0]] * UNITS_PER_CURSOR_FILE + u;
    }
    return -1;
  }

  /** Erases every log file (wipe). */
  clear(): void {
    for (let i = 0; i < this.files; i++) this.flash.erase(fileName(i));
    this.recover();
    this.segOpen = false;
    this.droppedUnsynced = false;
    this.lost = 0;
  }
}
