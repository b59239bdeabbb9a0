import fc from "fast-check";
import * as log from "../../firmware/src/log/encounter-log";
import { LOG_FILE_UNITS } from "../../firmware/src/log/encounter-log";
import { isSegmentHeader, KIND_EN, RECORD_SIZE } from "../../firmware/src/protocol/record";
import { assembleLog, LogUnit, UNITS_PER_CURSOR_FILE } from "../../firmware/src/protocol/sync";
import { LOG_FILE_BYTES, LOG_FILE_STRIDE } from "../../firmware/src/tuning";
import { FakeFlash, PowerCut } from "./helpers/fake-flash";

/** On the 10-minute grid, as segment bases are (record.ts). */
const T0 = 1_700_000_400;

function id(n: number): Uint8Array {
  const b = new Uint8Array(8);
  b[0] = n & 255;
  b[1] = (n >> 8) & 255;
  b[2] = (n >> 16) & 255;
  b[7] = 0xaa;
  return b;
}

type Log = typeof log;

function add(log: Log, n: number, t: number): boolean {
  return log.add(KIND_EN, id(n), 0, t, t + 240, -59, 7);
}

/** Reads the whole log as a kiosk would, through the cursor API. */
function readAll(log: Log, from = 0): LogUnit[] {
  const out: LogUnit[] = [];
  let c = from;
  for (let guard = 0; guard < 10000; guard++) {
    const r = log.read(c, 7);
    if (!r) break;
    for (let i = 0; i < r.bytes.length / RECORD_SIZE; i++) {
      out.push({ cursor: r.cursor + i, bytes: r.bytes.slice(i * RECORD_SIZE, (i + 1) * RECORD_SIZE) });
    }
    c = r.cursor + r.bytes.length / RECORD_SIZE;
  }
  return out;
}

function idsOf(units: LogUnit[]): number[] {
  const a = assembleLog(units);
  const out: number[] = [];
  for (const s of a.segments) for (const r of s.records) out.push(r.id[0] | (r.id[1] << 8) | (r.id[2] << 16));
  return out;
}

/** (Re)boots the log module on this flash. */
function fresh(flash: FakeFlash, budget = 20480): Log {
  log.init(flash, budget);
  log.recover();
  return log;
}

describe("encounter log", () => {
  it("fills a log file with whole units: LOG_FILE_UNITS (tuning.ts) is LOG_FILE_BYTES / RECORD_SIZE", () => {
    expect(LOG_FILE_UNITS * RECORD_SIZE).toBe(LOG_FILE_BYTES);
    expect(Number.isInteger(LOG_FILE_UNITS)).toBe(true);
  });

  it("writes a segment header then records, and reads them back in order after a reboot", () => {
    const flash = new FakeFlash();
    let log = fresh(flash);
    log.startSegment(T0, false, 1);
    for (let i = 0; i < 10; i++) expect(add(log, i, T0 + i * 600)).toBe(true);
    log = fresh(flash);
    const units = readAll(log);
    expect(units.length).toBe(11);
    const a = assembleLog(units);
    expect(a.segments[0].header.baseTime).toBe(T0);
    expect(a.segments[0].records.map((r) => r.startMinute)).toEqual([0, 10, 20, 30, 40, 50, 60, 70, 80, 90]);
    expect(a.segments[0].records[0]).toMatchObject({ durationMinutes: 4, rssiMean: -59, aemTx: 7 });
    // A new boot continues the same file with a new segment header.
    log.startSegment(1200, true, 2);
    add(log, 99, 1860);
    const again = assembleLog(readAll(fresh(flash)));
    expect(again.segments.length).toBe(2);
    expect(again.segments[1].header).toMatchObject({ monotonic: true, bootEpoch: 2, baseTime: 1200 });
    expect(again.segments[1].records[0].startMinute).toBe(10);
    expect(again.segments[1].header.seq).toBeGreaterThan(again.segments[0].header.seq);
  });

  it("a write the flash refuses without writing leaves no blank unit: the next record takes it, recovery sees all", () => {
    const flash = new FakeFlash();
    let log = fresh(flash);
    log.startSegment(T0, false, 1);
    for (let i = 0; i < 3; i++) add(log, i, T0 + i * 600);
    // Storage refuses the next write (an exception the hardware layer caught): nothing reaches the flash.
    const write = flash.write.bind(flash);
    flash.write = () => {
      flash.write = write;
      return false;
    };
    add(log, 3, T0 + 1800);
    for (let i = 4; i < 8; i++) add(log, i, T0 + i * 600);
    log = fresh(flash);
    const starts = assembleLog(readAll(log)).segments[0].records.map((r) => r.startMinute);
    // Record 3 is lost (counted as a fault by the hardware layer); every later one is there after a reboot.
    expect(starts).toEqual([0, 10, 20, 40, 50, 60, 70]);
    // No blank unit before the written ones (the header and 7 records fill units 0-7): byte 7 of a written unit is
    // never 0xFF.
    const file = [...flash.files.values()][0];
    const typeBytes = Array.from({ length: 8 }, (_, u) => file[u * RECORD_SIZE + 7]);
    expect(typeBytes).not.toContain(0xff);
    expect(file.subarray(8 * RECORD_SIZE, 9 * RECORD_SIZE).every((b) => b === 0xff)).toBe(true);
  });

  it("stays within its budget when full: drops whole oldest files, never throws, keeps the newest records", () => {
    const flash = new FakeFlash();
    const log = fresh(flash, 20480);
    log.startSegment(T0, false, 1);
    const total = LOG_FILE_UNITS * 24;
    for (let i = 0; i < total; i++) add(log, i, T0 + i * 60);
    // 20 KB of budget: twenty 1 KB files.
    expect(LOG_FILE_STRIDE).toBe(1024);
    expect(flash.files.size).toBe(20480 / LOG_FILE_STRIDE);
    for (const f of flash.files.values()) expect(f.length).toBe(LOG_FILE_BYTES);
    const ids = idsOf(readAll(log));
    expect(ids[ids.length - 1]).toBe(total - 1);
    // Twenty files of LOG_FILE_UNITS units, a header in each (and one every 21 h of starts), the oldest dropped.
    expect(ids.length).toBeGreaterThan(19 * (LOG_FILE_UNITS - 2));
    expect(log.stats()[2]).toBe(1);
    // Cursors keep growing across the recycled files.
    const units = readAll(log);
    for (let i = 1; i < units.length; i++) expect(units[i].cursor).toBeGreaterThan(units[i - 1].cursor);
  });

  it("never throws when Storage is fuller than the budget: gives up old files, then counts lost records", () => {
    const flash = new FakeFlash(3 * LOG_FILE_STRIDE + 100);
    const log = fresh(flash, 20480);
    log.startSegment(T0, false, 1);
    const total = LOG_FILE_UNITS * 6;
    for (let i = 0; i < total; i++) add(log, i, T0 + i);
    expect(flash.files.size).toBeLessThanOrEqual(3);
    const ids = idsOf(readAll(log));
    expect(ids[ids.length - 1]).toBe(total - 1);
    flash.capacity = 0;
    for (let i = 0; i < LOG_FILE_UNITS * 4; i++) add(log, i, T0 + i);
    expect(log.stats()[1]).toBeGreaterThan(0);
  });

  it("drops files older than the retention period by whole files", () => {
    const flash = new FakeFlash();
    const log = fresh(flash, 20480);
    const day = 86400;
    log.startSegment(T0, false, 1);
    for (let d = 0; d < 4; d++) {
      log.startSegment(T0 + d * day, false, 1);
      // Each day fills more than a file, so the next day starts in a new file.
      for (let i = 0; i < LOG_FILE_UNITS; i++) add(log, d * 1000 + i, T0 + d * day + i);
    }
    const before = log.cursorStart();
    log.expire(T0 + 2 * day);
    expect(log.cursorStart()).toBeGreaterThan(before);
    // Day 0 is gone; day 1 (its last records share a file with day 2) may stay; days 2 and 3 all stay.
    const a = assembleLog(readAll(log));
    const times = a.segments.flatMap((s) => s.records.map((r) => s.header.baseTime + r.startMinute * 60));
    expect(Math.min(...times)).toBeGreaterThanOrEqual(T0 + day);
    expect(times.filter((t) => t >= T0 + 2 * day).length).toBe(2 * LOG_FILE_UNITS);
  });

  it("keeps every file holding records within retention when one segment runs for weeks", () => {
    // No reboot and no clock set for 30 days: the files' own headers, not the segment's start, decide.
    const flash = new FakeFlash();
    const log = fresh(flash, 20480);
    const day = 86400;
    log.startSegment(T0, false, 1);
    const perDay = 150;
    for (let d = 0; d < 30; d++)
      for (let i = 0; i < perDay; i++) add(log, d * 1000 + i, T0 + d * day + (i * day) / perDay);
    const now = T0 + 30 * day;
    log.expire(now - 21 * day);
    const a = assembleLog(readAll(log));
    const times = a.segments.flatMap((s) => s.records.map((r) => s.header.baseTime + r.startMinute * 60));
    // Twenty files of 123 records hold ~16.4 days at 150 a day: none of them is past the 21 days.
    expect(times.length).toBeGreaterThan(19 * (LOG_FILE_UNITS - 3));
    expect(Math.min(...times)).toBeGreaterThan(now - 17 * day);
    // With retention at 7 days, files whose every record is older go; the rest stay.
    log.expire(now - 7 * day);
    const b = assembleLog(readAll(log));
    const kept = b.segments.flatMap((s) => s.records.map((r) => s.header.baseTime + r.startMinute * 60));
    expect(Math.max(...kept)).toBe(Math.max(...times));
    expect(kept.filter((t) => t >= now - 7 * day).length).toBe(times.filter((t) => t >= now - 7 * day).length);
    expect(Math.min(...kept)).toBeLessThan(now - 7 * day);
    expect(Math.min(...kept)).toBeGreaterThan(now - 7 * day - 3 * day);
  });

  it("starts a new segment when the clock goes back or a start would not fit its 7 bits (21 h)", () => {
    const flash = new FakeFlash();
    const log = fresh(flash);
    log.startSegment(T0, false, 1);
    add(log, 1, T0 + 600);
    add(log, 2, T0 - 600);
    add(log, 3, T0 - 600 + 70000 * 60);
    const a = assembleLog(readAll(log));
    expect(a.segments.length).toBe(3);
    // Each new base lies two hours (FILE_BASE_LEAD_S) before the record that needed it.
    expect(a.segments[1].header.baseTime).toBe(T0 - 600 - 7200);
    expect(a.segments[2].header.baseTime).toBe(T0 - 600 + 70000 * 60 - 7200);
  });

  it("puts a segment header at unit 0 of every file (where a kiosk without context starts reading)", () => {
    const flash = new FakeFlash();
    const log = fresh(flash);
    log.startSegment(T0, false, 1);
    for (let i = 0; i < LOG_FILE_UNITS * 2; i++) add(log, i, T0 + i);
    const units = readAll(log);
    for (const u of units) if (u.cursor % UNITS_PER_CURSOR_FILE === 0) expect(isSegmentHeader(u.bytes, 0)).toBe(true);
    const mid = units[units.length - 5].cursor;
    const fromFile = readAll(log, mid - (mid % UNITS_PER_CURSOR_FILE));
    expect(isSegmentHeader(fromFile[0].bytes, 0)).toBe(true);
  });

  it("recovers after a power cut at any byte: only the record being written can be lost", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 700 * RECORD_SIZE }), fc.integer({ min: 0, max: 3 }), (cut, reboots) => {
        const flash = new FakeFlash();
        let log = fresh(flash, 8192);
        log.startSegment(T0, false, 1);
        const written: number[] = [];
        let inFlight = -1;
        let n = 0;
        for (let r = 0; r <= reboots; r++) {
          flash.cutAfter = r === 0 ? cut : -1;
          try {
            for (let i = 0; i < 150; i++, n++) {
              if (add(log, n, T0 + n)) written.push(n);
            }
          } catch (e) {
            expect(e).toBeInstanceOf(PowerCut);
            inFlight = n;
            n++;
          }
          flash.cutAfter = -1;
          log = fresh(flash, 8192);
          log.startSegment(T0 + n, false, 1);
        }
        const ids = idsOf(readAll(log));
        // Everything acknowledged as written and still within the two files of budget is there, in order.
        // The record being written at the cut may have landed whole (the cut hit its last bits) or not at all.
        const kept = written.filter((x) => x >= ids[0]);
        const withInFlight = kept.concat(inFlight >= ids[0] ? [inFlight] : []).sort((x, y) => x - y);
        expect([JSON.stringify(kept), JSON.stringify(withInFlight)]).toContain(JSON.stringify(ids));
        // Everything decodes or is a single torn unit per cut.
        const a = assembleLog(readAll(log));
        expect(a.skipped.length).toBeLessThanOrEqual(1);
        for (const s of a.skipped) expect(s.reason).toBeTruthy();
      }),
      { numRuns: 150 },
    );
  });
});
