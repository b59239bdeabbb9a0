import {
  asciiBytes,
  concatBytes,
  copyBytes,
  Decoded,
  fail,
  newBytes,
  ok,
  readU16LE,
  readU32LE,
  writeU16LE,
  writeU32LE,
} from "./bytes";
import { hmacSha256, Sha256Fn } from "./hmac";
import {
  BAND_ID_BYTES,
  crc8,
  encodeRecord,
  encodeSegmentHeader,
  EXPORT_MAGIC,
  EXPORT_VERSION,
  ExportSegment,
  LogExport,
  RECORD_SIZE,
} from "./record";
import { assembleLog, LogUnit, OP_DATA, OP_READ_END } from "./sync";
import { V2_UNIT_SIZE, v3OfV2 } from "./record-v2";

/**
 * The band's own signature on its log (docs/protocol.md section 7.4): every READ page ends with a MAC under a log
 * key derived from the band secret, and the TLX export (v3) carries the pages as the band sent them, so the
 * authority, which holds every band's secret in escrow deployments, checks that the log is that band's, end to end.
 *
 *   logKey   = HMAC-SHA256(bandSecret, "TL-LOGKEY")[0..16]
 *   page MAC = HMAC-SHA256(logKey, "TL-LOG" || band id 8 || P1 || ... || Pn || next cursor u32 LE)[0..16]
 *
 * P1..Pn are the plaintext DATA payloads of one READ (cursor u32 LE | units), in the order sent.
 * The band uses logKey, pagePrefix and pageMac only; the rest is for kiosks, tests and the authority.
 */
export const LOG_MAC_BYTES = 16;
/** Most units one page may hold (the band's MAX_READ_UNITS, tuning.ts). */
export const PAGE_MAX_UNITS = 32;

export function logKey(sha: Sha256Fn, bandSecret: Uint8Array): Uint8Array {
  return hmacSha256(sha, bandSecret, asciiBytes("TL-LOGKEY")).subarray(0, 16);
}

/** "TL-LOG" || band id: the start of every page MAC's message. */
export function pagePrefix(bandId: Uint8Array): Uint8Array {
  return concatBytes(asciiBytes("TL-LOG"), bandId);
}

/** The page MAC of a message "TL-LOG" || band id || P1..Pn || next cursor (the band builds it in place). */
export function pageMac(sha: Sha256Fn, key: Uint8Array, message: Uint8Array): Uint8Array {
  return hmacSha256(sha, key, message).subarray(0, 16);
}

/** The page MAC's message for a page body (P1..Pn concatenated) and its next cursor. */
export function pageMessage(bandId: Uint8Array, body: Uint8Array, next: number): Uint8Array {
  const m = newBytes(14 + body.length + 4);
  m.set(pagePrefix(bandId), 0);
  m.set(body, 14);
  writeU32LE(m, 14 + body.length, next);
  return m;
}

/** One READ's reply as the band sent it: DATA payloads concatenated, the next cursor and the page MAC. */
export interface LogPage {
  body: Uint8Array;
  next: number;
  mac: Uint8Array;
}

/**
 * Kiosk side: collects pages from the frames of READ commands. Call `start()` when sending a READ, then `frame()`
 * for each authenticated band frame (KioskSession's "frame" events). A page is kept only when every DATA frame of
 * its READ arrived (no sequence gap) followed by READ_END; otherwise `frame` answers `kept: false` and the kiosk
 * reads again from its cursor.
 */
export class LogPages {
  readonly pages: LogPage[] = [];
  private parts: Uint8Array[] = [];
  private broken = false;

  constructor(readonly bandId: Uint8Array) {}

  start(): void {
    this.parts = [];
    this.broken = false;
  }

  frame(op: number, payload: Uint8Array, gap: boolean): { next: number; kept: boolean } | undefined {
    if (op !== OP_DATA && op !== OP_READ_END) return undefined;
    if (gap) this.broken = true;
    if (op === OP_DATA) {
      this.parts.push(copyBytes(payload, 0, payload.length));
      return undefined;
    }
    if (payload.length !== 4 + LOG_MAC_BYTES) this.broken = true;
    const next = payload.length >= 4 ? readU32LE(payload, 0) : -1;
    const kept = !this.broken;
    if (kept) {
      let n = 0;
      for (let i = 0; i < this.parts.length; i++) n += this.parts[i].length;
      const body = newBytes(n);
      n = 0;
      for (let i = 0; i < this.parts.length; i++) {
        body.set(this.parts[i], n);
        n += this.parts[i].length;
      }
      this.pages.push({ body: body, next: next, mac: copyBytes(payload, 4, LOG_MAC_BYTES) });
    }
    this.start();
    return { next: next, kept: kept };
  }

  /** The TLX v3 file of the pages kept so far. */
  encode(): Uint8Array {
    return encodeLogExportV3({ bandId: this.bandId, pages: this.pages });
  }
}

export interface LogExportV3 {
  bandId: Uint8Array;
  pages: LogPage[];
  /** Bytes per log unit: RECORD_SIZE (log format 3) when absent, 12 for a band still on format 2 (record-v2.ts). */
  unitSize?: number;
}

/**
 * TLX v3: header 16 B ("TLX" 3 | band id 8 | page count u16 LE | record size | CRC-8 of bytes 0-14), then per page:
 * body length u16 LE | body | next cursor u32 LE | MAC 16.
 */
export function encodeLogExportV3(x: LogExportV3): Uint8Array {
  let size = 16;
  for (let i = 0; i < x.pages.length; i++) size += 2 + x.pages[i].body.length + 4 + LOG_MAC_BYTES;
  const out = newBytes(size);
  for (let i = 0; i < 3; i++) out[i] = EXPORT_MAGIC.charCodeAt(i);
  out[3] = EXPORT_VERSION;
  out.set(x.bandId, 4);
  writeU16LE(out, 12, x.pages.length);
  out[14] = x.unitSize || RECORD_SIZE;
  out[15] = crc8(out, 0, 15);
  let pos = 16;
  for (let i = 0; i < x.pages.length; i++) {
    const pg = x.pages[i];
    writeU16LE(out, pos, pg.body.length);
    out.set(pg.body, pos + 2);
    pos += 2 + pg.body.length;
    writeU32LE(out, pos, pg.next);
    out.set(pg.mac, pos + 4);
    pos += 4 + LOG_MAC_BYTES;
  }
  return out;
}

export function decodeLogExportV3(b: Uint8Array): Decoded<LogExportV3> {
  if (b.length < 16) return fail("log export shorter than its 16-byte header");
  if (b[0] !== 0x54 || b[1] !== 0x4c || b[2] !== 0x58) return fail("bad log export magic (expected TLX)");
  if (b[3] !== EXPORT_VERSION)
    return fail(
      "unsupported log export version " + b[3] + " (expected " + EXPORT_VERSION + ": pages signed by the band)",
    );
  if (crc8(b, 0, 15) !== b[15]) return fail("log export header checksum mismatch");
  if (b[14] !== RECORD_SIZE && b[14] !== V2_UNIT_SIZE) return fail("unsupported record size " + b[14]);
  const count = readU16LE(b, 12);
  const pages: LogPage[] = [];
  let pos = 16;
  for (let i = 0; i < count; i++) {
    if (b.length < pos + 2) return fail("page " + i + ": truncated");
    const n = readU16LE(b, pos);
    pos += 2;
    if (b.length < pos + n + 4 + LOG_MAC_BYTES) return fail("page " + i + ": truncated");
    pages.push({
      body: copyBytes(b, pos, n),
      next: readU32LE(b, pos + n),
      mac: copyBytes(b, pos + n + 4, LOG_MAC_BYTES),
    });
    pos += n + 4 + LOG_MAC_BYTES;
  }
  if (pos !== b.length) return fail("log export has " + (b.length - pos) + " trailing bytes");
  return ok({ bandId: copyBytes(b, 4, BAND_ID_BYTES), pages: pages, unitSize: b[14] });
}

/** Index of the first page whose MAC is not the band's, or -1 when every page verifies. */
export function firstBadPage(sha: Sha256Fn, key: Uint8Array, x: LogExportV3): number {
  for (let i = 0; i < x.pages.length; i++) {
    const pg = x.pages[i];
    const mac = pageMac(sha, key, pageMessage(x.bandId, pg.body, pg.next));
    let diff = pg.mac.length ^ LOG_MAC_BYTES;
    for (let j = 0; j < LOG_MAC_BYTES; j++) diff |= mac[j] ^ pg.mac[j];
    if (diff) return i;
  }
  return -1;
}

/**
 * The units of a page body. Within a page the band's DATA payloads are contiguous (it ends a page at the end of a
 * log file), so P(k+1)'s cursor is P(k)'s cursor plus its unit count: the body splits where a 4-byte word
 * continues the cursor sequence. Every split that consumes the body exactly is tried (failures memoised, so the
 * search is bounded); the first found is used. Undefined when the body is not such a sequence.
 */
export function pageUnits(body: Uint8Array, unitSize?: number): LogUnit[] | undefined {
  const size = unitSize || RECORD_SIZE;
  const out: LogUnit[] = [];
  if (body.length === 0) return out;
  if (body.length < 4 + size) return undefined;
  const c0 = readU32LE(body, 0);
  const dead: { [k: number]: boolean } = {};
  // A payload starts at `o` after `u` units of the page; true when the rest of the body parses.
  const from = (o: number, u: number): boolean => {
    const k = o * 64 + u;
    if (dead[k] || readU32LE(body, o) !== (c0 + u) >>> 0) return false;
    let p = o + 4;
    for (let j = u; p + size <= body.length && j < PAGE_MAX_UNITS; j++) {
      out[j] = { cursor: c0 + j, bytes: body.subarray(p, p + size) };
      p += size;
      if (p === body.length) {
        out.length = j + 1;
        return true;
      }
      if (p + 4 + size <= body.length && from(p, j + 1)) return true;
    }
    dead[k] = true;
    return false;
  };
  return from(0, 0) ? out : undefined;
}

/**
 * The units of all pages, checked: each page must parse, and a cursor sent in two pages must carry the same bytes.
 * The error names the first bad page.
 */
export function unitsOfPages(x: LogExportV3): Decoded<LogUnit[]> {
  const seen: { [cursor: number]: Uint8Array } = {};
  const all: LogUnit[] = [];
  for (let i = 0; i < x.pages.length; i++) {
    const units = pageUnits(x.pages[i].body, x.unitSize);
    if (!units) return fail("page " + i + ": body is not a sequence of DATA payloads with consecutive cursors");
    for (let j = 0; j < units.length; j++) {
      const u = units[j];
      const prev = seen[u.cursor];
      if (prev) {
        for (let k = 0; k < u.bytes.length; k++)
          if (prev[k] !== u.bytes[k])
            return fail("page " + i + ": cursor " + u.cursor + " differs from an earlier page");
        continue;
      }
      seen[u.cursor] = u.bytes;
      all.push(u);
    }
  }
  return ok(all);
}

/**
 * Signs units as a band would send them (tests, bench, simulated kiosks): pages of at most `perPage` units,
 * DATA payloads of at most `perChunk` units, contiguous cursors from each unit's own cursor.
 */
export function signPages(
  sha: Sha256Fn,
  key: Uint8Array,
  bandId: Uint8Array,
  units: LogUnit[],
  perPage?: number,
  perChunk?: number,
): LogPage[] {
  const pp = perPage || PAGE_MAX_UNITS;
  const pc = perChunk || 3;
  const pages: LogPage[] = [];
  let i = 0;
  while (i < units.length) {
    const parts: Uint8Array[] = [];
    let inPage = 0;
    while (i < units.length && inPage < pp) {
      let n = 1;
      while (n < pc && inPage + n < pp && i + n < units.length && units[i + n].cursor === units[i].cursor + n) n++;
      const size = units[i].bytes.length;
      const p = newBytes(4 + n * size);
      writeU32LE(p, 0, units[i].cursor);
      for (let j = 0; j < n; j++) p.set(units[i + j].bytes, 4 + j * size);
      parts.push(p);
      inPage += n;
      i += n;
      if (i < units.length && units[i].cursor !== units[i - 1].cursor + 1) break;
    }
    const next = units[i - 1].cursor + 1;
    let len = 0;
    for (let j = 0; j < parts.length; j++) len += parts[j].length;
    const body = newBytes(len);
    len = 0;
    for (let j = 0; j < parts.length; j++) {
      body.set(parts[j], len);
      len += parts[j].length;
    }
    pages.push({ body: body, next: next, mac: pageMac(sha, key, pageMessage(bandId, body, next)) });
  }
  return pages;
}

/**
 * Authority side, after the MACs were checked: the log's units assembled into segments (assembleLog), with the
 * count of units that were neither a record nor a segment header.
 */
export function logOfExport(x: LogExportV3): Decoded<{ log: LogExport; skipped: number; orphans: number }> {
  const units = unitsOfPages(x);
  if (!units.ok) return fail(units.error);
  const a = assembleLog(units.value);
  return ok({ log: { bandId: x.bandId, segments: a.segments }, skipped: a.skipped.length, orphans: a.orphans });
}

/** Segments as the units a band's log holds (a header unit, then its records), cursors from `cursor0`. */
export function unitsOfSegments(segments: ExportSegment[], cursor0?: number): LogUnit[] {
  const units: LogUnit[] = [];
  let c = cursor0 || 0;
  for (let i = 0; i < segments.length; i++) {
    units.push({ cursor: c++, bytes: encodeSegmentHeader(segments[i].header) });
    for (let j = 0; j < segments[i].records.length; j++) {
      const b = newBytes(RECORD_SIZE);
      encodeRecord(segments[i].records[j], b, 0);
      units.push({ cursor: c++, bytes: b });
    }
  }
  return units;
}

/**
 * The TLX v3 file a kiosk would upload for these segments of band `bandId` (tests, bench). Segments timed to the
 * minute and the dBm are first put in format 3's grid (record-v2.ts v3OfV2: starts to 10 minutes, durations to
 * 4-minute steps, RSSI to 2 dB, a segment split where starts pass 21 h), as a band would have logged them.
 */
export function signedLogExport(
  sha: Sha256Fn,
  bandSecret: Uint8Array,
  bandId: Uint8Array,
  segments: ExportSegment[],
): Uint8Array {
  const pages = signPages(sha, logKey(sha, bandSecret), bandId, unitsOfSegments(v3OfV2(segments)));
  return encodeLogExportV3({ bandId: bandId, pages: pages });
}
