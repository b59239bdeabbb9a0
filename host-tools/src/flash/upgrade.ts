import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { crc32 } from "zlib";
import { readU32LE } from "../../../firmware/src/protocol/bytes";
import {
  crc8,
  DecodedUnit,
  decodeUnit,
  decodeSegmentHeader,
  encodeRecord,
  encodeSegmentHeader,
  ExportSegment,
  isUnwritten,
  RECORD_SIZE,
  RECORD_START_S,
} from "../../../firmware/src/protocol/record";
import { decodeV2Unit, isV2Unwritten, V2_UNIT_SIZE, V2Segment, v3OfV2 } from "../../../firmware/src/protocol/record-v2";
import { UNITS_PER_CURSOR_FILE } from "../../../firmware/src/protocol/sync-constants";
import {
  CAPACITY,
  FILE_BASE_LEAD_S,
  J_HEADER,
  J_STATE,
  LOG_FILE_BYTES,
  LOG_FILE_STRIDE,
  LOG_FILE_UNITS,
  SLOT,
  SLOTS,
} from "../../../firmware/src/tuning";
import { ConsoleError, EspruinoConsole } from "./espruino-tools";

/**
 * Upgrading a provisioned band's firmware in place (`tracelet flash --upgrade`, docs/flashing.md): the identity
 * (`tl.prov`) and the journal (sync cursor, TEKs, clock) stay; a log in format 2 (`tl.l<i>`, 12-byte units) is read
 * over the console, its unsynced records converted to format 3 (`tl.e<i>`, 8-byte units, protocol/record-v2.ts
 * `v3OfV2`) with seqs above every seq the band gave out, so cursors only grow past the journal's sync cursor.
 * Everything here but the console helpers is pure: the conversion is decided and checked on the host before
 * anything on the band is written.
 */

export const V2_LOG_PREFIX = "tl.l";
export const V3_LOG_PREFIX = "tl.e";
const JOURNALS = ["tl.j0", "tl.j1"];

/** The sync cursor in the band's journal (the latest state entry of the valid journal), or undefined without one. */
export function journalCursor(journals: (Uint8Array | undefined)[]): number | undefined {
  const valid = (s: Uint8Array) => s.length === SLOT && s[22] === 0 && crc8(s, 0, 23) === s[23];
  let best = -1;
  let bestGen = -1;
  journals.forEach((j, i) => {
    if (!j || j.length < SLOTS * SLOT) return;
    const h = j.subarray((SLOTS - 1) * SLOT, SLOTS * SLOT);
    if (h[0] === J_HEADER && valid(h) && readU32LE(h, 2) > bestGen) {
      best = i;
      bestGen = readU32LE(h, 2);
    }
  });
  if (best < 0) return undefined;
  const j = journals[best] as Uint8Array;
  let cursor: number | undefined;
  for (let i = 0; i < CAPACITY; i++) {
    const s = j.subarray(i * SLOT, (i + 1) * SLOT);
    if (s[0] === 0xff) break;
    if (valid(s) && s[0] === J_STATE) cursor = readU32LE(s, 2);
  }
  return cursor ?? 0;
}

export interface LogRead<S> {
  /** The log format of the files read: 2 (converted by v3OfV2) or 3 (records kept as they are). */
  format: 2 | 3;
  /** Segments holding the units at or after the sync cursor (each with its governing header), oldest first. */
  unsynced: S[];
  /** Records before the sync cursor (acknowledged by a kiosk): not carried over. */
  synced: number;
  /** Units neither unwritten nor valid (torn by a power cut): skipped, as a kiosk skips them. */
  torn: number;
  /** Files whose unit-0 header is torn (the firmware that wrote them would have discarded them). */
  discardedFiles: string[];
  /** The largest seq of any segment header. */
  maxSeq: number;
}

export type V2LogRead = LogRead<V2Segment>;
export type V3LogRead = LogRead<ExportSegment>;

/**
 * Decodes log files (name -> bytes) of one format, `size`-byte units told apart by `decode`, and keeps what the
 * journal's sync cursor says is unsynced (cursor = seq of the file's unit-0 header * UNITS_PER_CURSOR_FILE + unit).
 */
function readLog<H extends { seq: number }, R>(
  files: Map<string, Uint8Array>,
  syncCursor: number,
  format: 2 | 3,
  size: number,
  decode: (b: Uint8Array, o: number) => DecodedUnit<H, R>,
  unwritten: (b: Uint8Array, o: number) => boolean,
): LogRead<{ header: H; records: R[] }> {
  const out: LogRead<{ header: H; records: R[] }> = {
    format,
    unsynced: [],
    synced: 0,
    torn: 0,
    discardedFiles: [],
    maxSeq: 0,
  };
  const ordered: { seq0: number; bytes: Uint8Array }[] = [];
  for (const [name, bytes] of files) {
    const h = bytes.length >= size ? decode(bytes, 0) : undefined;
    if (!h || !h.ok || !("header" in h.value)) out.discardedFiles.push(name);
    else ordered.push({ seq0: h.value.header.seq, bytes });
  }
  ordered.sort((a, b) => a.seq0 - b.seq0);
  for (const f of ordered) {
    let seg: { header: H; records: R[] } | undefined;
    let kept = false;
    const units = Math.min(Math.floor(f.bytes.length / size), UNITS_PER_CURSOR_FILE);
    for (let k = 0; k < units; k++) {
      const o = k * size;
      if (unwritten(f.bytes, o)) break;
      const d = decode(f.bytes, o);
      const v = d.ok ? d.value : undefined;
      if (v && "header" in v) {
        seg = { header: v.header, records: [] };
        kept = false;
        out.maxSeq = Math.max(out.maxSeq, v.header.seq);
        continue;
      }
      if (!v || !seg) {
        out.torn++;
        continue;
      }
      if (f.seq0 * UNITS_PER_CURSOR_FILE + k < syncCursor) {
        out.synced++;
        continue;
      }
      if (!kept) {
        out.unsynced.push(seg);
        kept = true;
      }
      seg.records.push(v.record);
    }
  }
  return out;
}

/** Decodes format-2 log files (`tl.l<i>`, 12-byte units) and keeps what the journal's sync cursor says is unsynced. */
export function readV2Log(files: Map<string, Uint8Array>, syncCursor: number): V2LogRead {
  return readLog(files, syncCursor, 2, V2_UNIT_SIZE, decodeV2Unit, isV2Unwritten);
}

/**
 * Decodes format-3 log files (`tl.e<i>`) of any file size, as a band whose files have another size than
 * LOG_FILE_BYTES left them (2 KB files before 1 KB ones), and keeps what the sync cursor says is unsynced.
 */
export function readV3Log(files: Map<string, Uint8Array>, syncCursor: number): V3LogRead {
  return readLog(files, syncCursor, 3, RECORD_SIZE, decodeUnit, isUnwritten);
}

export interface PackedLog {
  /** Format-3 log files' data, LOG_FILE_BYTES each: units from offset 0, the rest 0xFF (as encounter-log.ts leaves a file). */
  files: Uint8Array[];
  /** Units written in each file. */
  units: number[];
  /** The seq after the last header written. */
  nextSeq: number;
}

/**
 * Lays format-3 segments out in log files as the band's encounter log would hold them: unit 0 of every file is a
 * segment header; a segment that does not fit continues in the next file under a new header, based FILE_BASE_LEAD_S
 * before its next record (never before the segment's own base), so that file's header dates it for retention as the
 * band's own do. Headers are numbered from `firstSeq`, one seq each.
 */
export function packV3(segments: ExportSegment[], firstSeq: number): PackedLog {
  const files: Uint8Array[] = [];
  const units: number[] = [];
  let seq = firstSeq;
  let file: Uint8Array | undefined;
  let used = 0;
  const put = (u: Uint8Array) => {
    (file as Uint8Array).set(u, used * RECORD_SIZE);
    used++;
    units[files.length - 1] = used;
  };
  const open = () => {
    file = new Uint8Array(LOG_FILE_BYTES).fill(0xff);
    files.push(file);
    used = 0;
  };
  const lead = FILE_BASE_LEAD_S / RECORD_START_S;
  for (const s of segments) {
    const segBase = s.header.baseTime / RECORD_START_S;
    const intervals = s.records.map((r) => segBase + r.startMinute / 10);
    let base = segBase;
    const header = (b: number) => encodeSegmentHeader({ ...s.header, seq: seq++, baseTime: b * RECORD_START_S });
    if (!file || used + 2 > LOG_FILE_UNITS) open();
    put(header(base));
    for (let i = 0; i < s.records.length; i++) {
      if (used >= LOG_FILE_UNITS) {
        open();
        base = Math.max(segBase, Math.min(...intervals.slice(i)) - lead);
        put(header(base));
      }
      const u = new Uint8Array(RECORD_SIZE);
      encodeRecord({ ...s.records[i], startMinute: (intervals[i] - base) * 10 }, u, 0);
      put(u);
    }
  }
  return { files, units, nextSeq: seq };
}

/** A record as the matcher sees it: kind, id prefix, absolute interval, duration, RSSI, AEM byte. */
function recordKeys(segments: ExportSegment[]): string[] {
  const out: string[] = [];
  for (const s of segments)
    for (const r of s.records)
      out.push(
        [
          r.kind,
          Buffer.from(r.id).toString("hex"),
          s.header.baseTime / RECORD_START_S + r.startMinute / 10,
          r.durationMinutes,
          r.rssiMean,
          r.aemTx,
          s.header.monotonic ? 1 : 0,
          s.header.bootEpoch,
        ].join(","),
      );
  return out;
}

/**
 * Decodes packed files back as the band and a kiosk would (unit 0 a header, every unit valid) and checks they hold
 * exactly `expected`'s records with the same times; returns what is wrong, or undefined.
 */
export function checkPacked(p: PackedLog, expected: ExportSegment[], firstSeq: number): string | undefined {
  const got: ExportSegment[] = [];
  let lastSeq = firstSeq - 1;
  for (let f = 0; f < p.files.length; f++) {
    const b = p.files[f];
    if (!decodeSegmentHeader(b, 0).ok) return `file ${f} does not start with a segment header`;
    for (let k = 0; k < LOG_FILE_UNITS; k++) {
      const o = k * RECORD_SIZE;
      if (k >= p.units[f]) {
        if (!b.subarray(o, o + RECORD_SIZE).every((x) => x === 0xff)) return `file ${f} unit ${k} is not erased`;
        continue;
      }
      const d = decodeUnit(b, o);
      if (!d.ok) return `file ${f} unit ${k}: ${d.error}`;
      if ("header" in d.value) {
        const seq = d.value.header.seq;
        if (seq !== lastSeq + 1) return `file ${f} unit ${k}: seq ${seq} after ${lastSeq}`;
        lastSeq = seq;
        got.push({ header: d.value.header, records: [] });
        continue;
      }
      got[got.length - 1].records.push(d.value.record);
    }
  }
  const a = recordKeys(got);
  const e = recordKeys(expected);
  if (a.length !== e.length) return `${a.length} records packed, ${e.length} converted`;
  for (let i = 0; i < a.length; i++) if (a[i] !== e[i]) return `record ${i} packed as ${a[i]}, converted as ${e[i]}`;
  return undefined;
}

export interface Migration {
  segments: ExportSegment[];
  packed: PackedLog;
  firstSeq: number;
  /** Unsynced format-2 records carried over. */
  carried: number;
  /** Unsynced records left out to fit the budget (keepNewest), oldest first. */
  dropped: number;
}

/** Unsynced records of a log read without its `n` oldest. */
function withoutOldest(segments: ExportSegment[], n: number): ExportSegment[] {
  const out: ExportSegment[] = [];
  let skip = n;
  for (const s of segments) {
    if (skip >= s.records.length) {
      skip -= s.records.length;
      continue;
    }
    out.push({ header: s.header, records: s.records.slice(skip) });
    skip = 0;
  }
  return out;
}

/**
 * Converts the unsynced records (format 2, or format 3 in files of another size) to format-3 files of
 * LOG_FILE_BYTES that fit `maxFiles`. With `keepNewest`, the oldest records are left out until they fit; otherwise a
 * log that does not fit gives `dropped` > 0 and no files.
 */
export function migrate(
  read: V2LogRead | V3LogRead,
  firstSeq: number,
  maxFiles: number,
  keepNewest: boolean,
): Migration {
  const total = read.unsynced.reduce((n, s) => n + s.records.length, 0);
  // Format 2 segments (V2Segment has ExportSegment's shape, with minute and 6-byte id precision) go through v3OfV2.
  const convert = (drop: number): ExportSegment[] =>
    read.format === 2 ? v3OfV2(withoutOldest(read.unsynced, drop), firstSeq) : withoutOldest(read.unsynced, drop);
  const attempt = (drop: number) => {
    const segments = convert(drop);
    return { segments, packed: packV3(segments, firstSeq) };
  };
  let best = attempt(0);
  let dropped = 0;
  if (best.packed.files.length > maxFiles) {
    if (!keepNewest) return { ...best, firstSeq, carried: 0, dropped: total };
    // The fewest oldest records to leave out (more left out never needs more files).
    let lo = 1;
    let hi = total;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (attempt(mid).packed.files.length <= maxFiles) hi = mid;
      else lo = mid + 1;
    }
    dropped = lo;
    best = attempt(dropped);
  }
  return { ...best, firstSeq, carried: total - dropped, dropped };
}

/** Storage bytes of a file of `data` bytes (protocol of host-tools/src/boards/storage.ts). */
export function storageBytes(data: number): number {
  return 32 + Math.ceil(data / 4) * 4;
}

/** Log file slots the band's firmware uses: whole LOG_FILE_STRIDE files of the budget, at least two (encounter-log init). */
export function logSlots(logBudgetBytes: number): number {
  return Math.max(2, Math.floor(logBudgetBytes / LOG_FILE_STRIDE));
}

// ------------------------------------------------------------------------------------------ over the console

/** Name and size of every Storage file, the free space (after a compaction) in one round trip. */
export async function listFiles(con: EspruinoConsole): Promise<{ sizes: Map<string, number>; free: number }> {
  const r = await con.expr<{ l: [string, number][]; f: number }>(
    "(function(){var S=require('Storage');" +
      "var st=S.getStats?S.getStats():{freeBytes:S.getFree(),trashBytes:0};" +
      "return {l:S.list().map(function(f){return [f,(S.read(f)||'').length]}),f:st.freeBytes+(st.trashBytes||0)};})()",
    20,
  );
  return { sizes: new Map(r.l), free: r.f };
}

const READ_CHUNK = 768;

/** Reads a Storage file in base64 chunks and checks the whole against the band's CRC-32 of it. */
export async function readFile(con: EspruinoConsole, name: string, size: number): Promise<Uint8Array> {
  const n = JSON.stringify(name);
  for (let attempt = 0; attempt < 2; attempt++) {
    const parts: Buffer[] = [];
    for (let off = 0; off < size; off += READ_CHUNK) {
      const b64 = await con.expr<string | null>(
        `(function(){var d=require("Storage").read(${n},${off},${Math.min(READ_CHUNK, size - off)});return d===undefined?null:btoa(d)})()`,
        20,
      );
      if (b64 === null) throw new ConsoleError(`${name} disappeared while it was read`);
      parts.push(Buffer.from(b64, "base64"));
    }
    const data = new Uint8Array(Buffer.concat(parts));
    const want = await con.expr<number | null>(
      `(function(){var f=require("Storage").read(${n});return f===undefined?null:E.CRC32(f)})()`,
      20,
    );
    if (want !== null && data.length === size && crc32(data) === want >>> 0) return data;
  }
  throw new ConsoleError(`${name} read back with a CRC-32 that does not match the band's twice`);
}

const WRITE_CHUNK = 384;

/**
 * Writes a log file as the firmware creates one: preallocated to its full size (`data.length`), its first `used`
 * bytes written from offset 0 in order (the rest stays erased, 0xFF), then checked by the CRC-32 of the whole file.
 */
export async function writeSized(con: EspruinoConsole, name: string, data: Uint8Array, used: number): Promise<void> {
  const n = JSON.stringify(name);
  for (let off = 0; off < used; off += WRITE_CHUNK) {
    const part = Buffer.from(data.subarray(off, Math.min(used, off + WRITE_CHUNK))).toString("base64");
    const ok = await con.expr<number>(
      `(function(){try{return require("Storage").write(${n},atob(${JSON.stringify(part)}),${off}${off === 0 ? "," + data.length : ""})?1:0}catch(e){return 0}})()`,
      20,
    );
    if (ok !== 1) throw new ConsoleError(`Storage refused ${name} at offset ${off}`);
  }
  const got = await con.expr<number | null>(
    `(function(){var f=require("Storage").read(${n});return f===undefined?null:E.CRC32(f)})()`,
    20,
  );
  if (got === null || got >>> 0 !== crc32(data)) throw new ConsoleError(`${name} did not verify (CRC-32)`);
}

export async function eraseFiles(con: EspruinoConsole, names: string[]): Promise<void> {
  if (!names.length) return;
  await con.expr(
    `(function(){var S=require("Storage");${JSON.stringify(names)}.forEach(function(f){S.erase(f)});return 1})()`,
    30,
  );
}

/**
 * Keeps a copy of the band's format-2 log files on this computer (a folder in the temporary directory, 0700) for the
 * moment they are off the band; returns the folder.
 */
export function saveBackup(bandId: string, files: Map<string, Uint8Array>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `tracelet-upgrade-${bandId}-`));
  for (const [name, data] of files) fs.writeFileSync(path.join(dir, name), data, { mode: 0o600 });
  return dir;
}

export { JOURNALS };
