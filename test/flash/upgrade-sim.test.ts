import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { defaultProvisioning, encodeProvisioning, PROVISIONING_FILE } from "../../firmware/src/protocol/provisioning";
import { crc8, encodeRecord, encodeSegmentHeader, RECORD_SIZE } from "../../firmware/src/protocol/record";
import { V2_FILE_BYTES, V2_UNIT_SIZE } from "../../firmware/src/protocol/record-v2";
import {
  assembleLog,
  decodeTekPayload,
  OP_READ_TEKS,
  OP_TEK,
  OP_TEKS_END,
  recordTime,
} from "../../firmware/src/protocol/sync";
import { encodeSlot } from "../../firmware/src/state/journal";
import {
  FIRMWARE_VERSION,
  J_HEADER,
  J_STATE,
  J_TEK,
  LOG_FILE_BYTES,
  LOG_FILE_UNITS,
  SLOT,
  SLOTS,
} from "../../firmware/src/tuning";
import { FlashError, flashBand, FlashOptions } from "../../host-tools/src/flash/provision";
import { FileSink, RegistrySink } from "../../host-tools/src/flash/registry";
import { SimStation } from "../../host-tools/src/flash/station";
import { journalCursor, packV3, readV2Log, readV3Log } from "../../host-tools/src/flash/upgrade";
import type { EspruinoDevice } from "../../host-tools/src/sim/device";
import { SimKiosk } from "../firmware/helpers/sim-kiosk";
import { simFlashOptions } from "./helpers";

/**
 * `tracelet flash --upgrade` on a simulated band that ran format-2 firmware: its Storage holds a format-2 log
 * (written here with the format-2 layout of record-v2.ts), a journal whose sync cursor is in the middle of that log,
 * TEKs and a valid clock. The upgrade carries the unsynced records over to format 3; the format-3 firmware boots and a
 * kiosk reads exactly those records, with the same identity and keys.
 */

jest.setTimeout(240_000);

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tracelet-upgrade-"));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

// ---- format 2 on the host (docs/protocol.md 5.1 before format 3; record-v2.ts decodes it)

function v2Header(seq: number, base: number, epoch = 1): Uint8Array {
  const b = new Uint8Array(V2_UNIT_SIZE);
  b[0] = 0x53;
  b[1] = 2;
  b[2] = 0;
  b[3] = epoch;
  b[4] = seq & 255;
  b[5] = (seq >> 8) & 255;
  b[6] = (seq >> 16) & 255;
  Buffer.from(b.buffer).writeUInt32LE(base, 7);
  b[11] = crc8(b, 0, 11);
  return b;
}

interface V2Rec {
  kind: number;
  id: Uint8Array;
  startMinute: number;
  duration: number;
  rssi: number;
  aem: number;
}

function v2Record(r: V2Rec): Uint8Array {
  const b = new Uint8Array(V2_UNIT_SIZE);
  b[0] = (r.kind & 1) | (r.duration << 2);
  b.set(r.id, 1);
  b[7] = r.startMinute & 255;
  b[8] = r.startMinute >> 8;
  b[9] = r.rssi & 255;
  b[10] = r.aem;
  b[11] = crc8(b, 0, 11);
  return b;
}

let idCounter = 0;
function rec(i: number, startMinute: number): V2Rec {
  idCounter++;
  const id = new Uint8Array(6).map((_, k) => (idCounter * 37 + k * 101 + 7) & 255);
  return { kind: i % 5 === 0 ? 1 : 0, id, startMinute, duration: i % 30, rssi: -40 - (i % 50), aem: (i * 13) & 255 };
}

interface Fixture {
  files: Record<string, Uint8Array>;
  syncKey: Uint8Array;
  bandId: string;
  cursor: number;
  teks: string[];
  /** kind,id prefix (hex),time of every unsynced record, as format 3 keeps them. */
  unsynced: string[];
  synced: number;
}

/** A band's Storage after months of format-2 firmware: 3 log files, the sync cursor in the middle of the second. */
function fixture(unix: number, k: number): Fixture {
  const bandId = new Uint8Array(8).fill(0x40 + k);
  const syncKey = new Uint8Array(16).fill(0x60 + k);
  const prov = encodeProvisioning(
    defaultProvisioning(bandId, new Uint8Array(16).fill(0x50 + k), syncKey, unix - 90 * 86400),
  );
  const unsynced: string[] = [];
  let synced = 0;
  const cursor = 41 * 512 + 120;
  const file = (seq0: number, units: { unit: Uint8Array; base: number; r?: V2Rec }[]) => {
    const b = new Uint8Array(V2_FILE_BYTES).fill(0xff);
    units.forEach((u, i) => {
      b.set(u.unit, i * V2_UNIT_SIZE);
      if (!u.r) return;
      if (seq0 * 512 + i < cursor) synced++;
      else if (u.unit[11] === crc8(u.unit, 0, 11))
        unsynced.push(
          [
            u.r.kind,
            Buffer.from(u.r.id.subarray(0, 5)).toString("hex"),
            Math.floor((u.base + u.r.startMinute * 60) / 600) * 600,
          ].join(","),
        );
    });
    return b;
  };
  const seg = (seq: number, base: number, n: number, step: number, from = 0) => {
    const out: { unit: Uint8Array; base: number; r?: V2Rec }[] = [{ unit: v2Header(seq, base), base }];
    for (let i = 0; i < n; i++) {
      const r = rec(from + i, i * step);
      out.push({ unit: v2Record(r), base, r });
    }
    return out;
  };
  const b0 = unix - 3 * 86400 - 1234;
  const b1 = unix - 2 * 86400 - 77;
  const b2 = unix - 86400 - 3600;
  const b3 = unix - 5 * 3600;
  // tl.l1: a segment of 23 h (format 3 splits it), then a second segment with a torn unit in it.
  const l1 = [...seg(41, b1, 200, 7), ...seg(42, b2, 80, 5, 200)];
  const torn = v2Record(rec(999, 3));
  torn[11] ^= 0x5a;
  l1.splice(240, 0, { unit: torn, base: b2, r: rec(999, 3) });
  const files: Record<string, Uint8Array> = {
    [PROVISIONING_FILE]: prov,
    "tl.l0": file(40, seg(40, b0, 150, 6)),
    "tl.l1": file(41, l1),
    "tl.l2": file(43, seg(43, b3, 100, 2, 300)),
  };
  // The journal: three days' keys, the state (sync cursor, a clock set at the last boot: valid after a reset).
  const j = new Uint8Array(SLOTS * SLOT).fill(0xff);
  const today = Math.floor(unix / 86400);
  const teks: string[] = [];
  let slot = 0;
  for (let d = today - 2; d <= today; d++) {
    const tek = new Uint8Array(16).map((_, i) => (d * 7 + i * 3 + k) & 255);
    teks.push(Buffer.from(tek).toString("hex"));
    j.set(encodeSlot(J_TEK, d * 144, 144, tek), slot++ * SLOT);
  }
  const state = new Uint8Array(16);
  const dv = Buffer.from(state.buffer);
  dv.writeUInt32LE(unix - 100, 0);
  dv.writeUInt32LE(unix - 50, 4);
  dv.writeUInt32LE(unix - 50, 8);
  state[14] = 1;
  j.set(encodeSlot(J_STATE, cursor, 1, state), slot++ * SLOT);
  j.set(encodeSlot(J_HEADER, 3, 0, undefined), (SLOTS - 1) * SLOT);
  files["tl.j0"] = j;
  return { files, syncKey, bandId: Buffer.from(bandId).toString("hex"), cursor, teks, unsynced, synced };
}

/** The flasher's options for an upgrade of a band on the simulated station. */
function options(
  st: SimStation,
  port: string,
  registry: RegistrySink,
  extra: Partial<FlashOptions> = {},
): FlashOptions {
  return simFlashOptions(st, port, registry, { upgrade: true, ...extra });
}

function snapshot(d: EspruinoDevice): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of d.storage.list()) out[n] = Buffer.from(d.storage.read(n) as Uint8Array).toString("hex");
  return out;
}

const OLD_FIRMWARE = "/* format-2 firmware (stand-in): it is stopped and replaced */\n";

function oldBand(st: SimStation, fx: Fixture, name: string, x: number): { port: string; d: EspruinoDevice } {
  const d = st.world.addBand({
    board: st.board,
    name,
    position: { x, y: 0 },
    bundleSource: OLD_FIRMWARE,
    provisioning: fx.files,
    clock: Math.floor(st.now() / 1000),
  });
  return { port: st.ports.plug(d), d };
}

test("the host side: the journal's cursor, the unsynced part of a format-2 log, packed in format-3 files", () => {
  const unix = 1_780_000_000;
  const fx = fixture(unix, 1);
  expect(journalCursor([fx.files["tl.j0"], undefined])).toBe(fx.cursor);
  const v2 = readV2Log(new Map(["tl.l0", "tl.l1", "tl.l2"].map((n) => [n, fx.files[n]])), fx.cursor);
  expect(v2.synced).toBe(fx.synced);
  expect(v2.torn).toBe(1);
  expect(v2.maxSeq).toBe(43);
  expect(v2.unsynced.reduce((n, s) => n + s.records.length, 0)).toBe(fx.unsynced.length);
  // A segment longer than a file continues under a new header (unit 0 of every file a header).
  const long = { header: { seq: 0, baseTime: 600 * 1000, monotonic: false, bootEpoch: 1 }, records: [] as never[] };
  const r = { kind: 0, id: new Uint8Array(5), startMinute: 0, durationMinutes: 4, rssiMean: -61, aemTx: 3 };
  const p = packV3([{ ...long, records: new Array(400).fill(r) }], 7);
  // 1 KB files: 124 units, a header and 123 records each.
  expect(LOG_FILE_UNITS).toBe(124);
  expect(p.files).toHaveLength(4);
  expect(p.units).toEqual([124, 124, 124, 32]);
  expect(p.nextSeq).toBe(11);
});

/** Format-3 files as the firmware with 2 KB log files left them (2016 data bytes, 252 units): one header each. */
const OLD_V3_FILE_BYTES = 2016;

/**
 * A band that ran the format-3 firmware of 2 KB log files: its 11 files full (one segment header and 251 records
 * each), the journal's sync cursor (fixture's, seq 41 unit 120) in the sixth; provisioning and journal as fixture's.
 */
function fixture2k(unix: number, k: number): Fixture {
  const fx = fixture(unix, k);
  for (const n of Object.keys(fx.files)) if (n.startsWith("tl.l")) delete fx.files[n];
  const unsynced: string[] = [];
  let synced = 0;
  for (let i = 0; i < 11; i++) {
    const seq0 = 36 + i;
    const base = Math.floor((unix - (11 - i) * 40000) / 600) * 600;
    const b = new Uint8Array(OLD_V3_FILE_BYTES).fill(0xff);
    b.set(encodeSegmentHeader({ seq: seq0, baseTime: base, monotonic: false, bootEpoch: 1 }), 0);
    for (let u = 1; u < OLD_V3_FILE_BYTES / RECORD_SIZE; u++) {
      const n = i * 1000 + u;
      const id = new Uint8Array([k, i, u, n & 255, 0x5a]);
      const startMinute = (u % 110) * 10;
      const kind = u % 7 === 0 ? 1 : 0;
      encodeRecord(
        { kind, id, startMinute, durationMinutes: (u % 7) * 4, rssiMean: -41 - 2 * (u % 25), aemTx: u & 255 },
        b,
        u * RECORD_SIZE,
      );
      if (seq0 * 512 + u < fx.cursor) synced++;
      else unsynced.push([kind, Buffer.from(id).toString("hex"), base + startMinute * 60].join(","));
    }
    fx.files["tl.e" + i] = b;
  }
  return { ...fx, unsynced, synced };
}

test("flash --upgrade: a format-2 band keeps its identity, keys and unsynced records; a kiosk reads exactly those", async () => {
  const st = new SimStation("mdbt42q", 0, { seed: 31 });
  await st.start();
  try {
    const unix = Math.floor(st.now() / 1000);
    const fx = fixture(unix, 2);
    const { port, d } = oldBand(st, fx, "old", 1);
    const reg = new FileSink(path.join(dir, "bands.json"));
    await reg.add({ bandId: fx.bandId, board: "mdbt42q", syncKey: Buffer.from(fx.syncKey).toString("hex") });

    const r = await flashBand(options(st, port, reg));
    expect(r.bandId).toBe(fx.bandId);
    expect(r.wiped).toBe(false);
    expect(r.upgrade).toMatchObject({
      logFormat: 2,
      carried: fx.unsynced.length,
      leftBehind: fx.synced,
      dropped: 0,
      torn: 1,
      syncCursor: fx.cursor,
      order: "beside",
      filesErased: ["tl.l0", "tl.l1", "tl.l2"],
    });
    expect(r.upgrade?.firstCursor).toBeGreaterThan(fx.cursor);
    expect(r.health.ok).toBe(true);
    const after = snapshot(d);
    expect(Object.keys(after).filter((n) => n.startsWith("tl.l"))).toEqual([]);
    expect(after[PROVISIONING_FILE]).toBe(Buffer.from(fx.files[PROVISIONING_FILE]).toString("hex"));
    for (const n of r.upgrade?.filesWritten ?? []) expect(d.storage.read(n)?.length).toBe(LOG_FILE_BYTES);

    // The format-3 firmware runs; a kiosk with the band's (unchanged) sync key syncs it.
    st.world.stopRealtime();
    const kiosk = new SimKiosk(st.world, [fx.syncKey], { x: 1, y: 0.5 });
    const found = await kiosk.find(60);
    expect(await kiosk.open(found.address, found.index)).toBe(true);
    const status = await kiosk.status();
    expect(status.firmwareVersion).toBe(FIRMWARE_VERSION);
    expect(status.syncCursor).toBe(fx.cursor);
    expect(status.logStart).toBeGreaterThan(fx.cursor);
    const { units } = await kiosk.readAll(0);
    expect(units.every((u) => u.cursor > fx.cursor)).toBe(true);
    const log = assembleLog(units);
    expect(log.skipped).toEqual([]);
    const got: string[] = [];
    for (const s of log.segments)
      for (const rr of s.records)
        got.push([rr.kind, Buffer.from(rr.id).toString("hex"), recordTime(s, rr.startMinute, status)].join(","));
    // Exactly the unsynced records (those before the cursor are not sent again), on the 10-minute grid.
    expect(got.sort()).toEqual([...fx.unsynced].sort());
    // The same keys: the journal was kept.
    const frames = await kiosk.command(OP_READ_TEKS, new Uint8Array(0), OP_TEKS_END);
    const teks = frames
      .filter((f) => f.op === OP_TEK)
      .map((f) => {
        const t = decodeTekPayload(f.payload);
        return t.ok ? Buffer.from(t.value.entry.tek).toString("hex") : "bad";
      });
    expect(teks.sort()).toEqual([...fx.teks].sort());
    await kiosk.close();
    expect(d.faults).toEqual([]);
  } finally {
    st.stop();
  }
});

test("flash --upgrade: format-3 files of 2 KB are laid out again in 1 KB files; a kiosk reads exactly the unsynced records", async () => {
  const st = new SimStation("mdbt42q", 0, { seed: 37 });
  await st.start();
  try {
    const unix = Math.floor(st.now() / 1000);
    const fx = fixture2k(unix, 4);
    const old = new Map(Object.entries(fx.files).filter(([n]) => n.startsWith("tl.e")));
    const read = readV3Log(old, fx.cursor);
    expect(read).toMatchObject({ format: 3, synced: fx.synced, torn: 0, discardedFiles: [], maxSeq: 46 });
    expect(read.unsynced.reduce((n, seg) => n + seg.records.length, 0)).toBe(fx.unsynced.length);

    const { port, d } = oldBand(st, fx, "old2k", 1);
    const reg = new FileSink(path.join(dir, "bands2k.json"));
    await reg.add({ bandId: fx.bandId, board: "mdbt42q", syncKey: Buffer.from(fx.syncKey).toString("hex") });
    const r = await flashBand(options(st, port, reg));
    expect(r.upgrade).toMatchObject({
      logFormat: 3,
      relaidFrom: OLD_V3_FILE_BYTES,
      // 1,387 unsynced records need 12 files of 123 records: more than the 11 names the old files leave free.
      order: "replaced",
      carried: fx.unsynced.length,
      leftBehind: fx.synced,
      dropped: 0,
      torn: 0,
      syncCursor: fx.cursor,
      filesErased: [...old.keys()].sort(),
    });
    expect(r.upgrade?.firstCursor).toBeGreaterThan(46 * 512 + 251);
    expect(r.health.ok).toBe(true);
    // Only this firmware's 1 KB files are left, as many as the records need.
    const logs = d.storage.list().filter((n) => n.startsWith("tl.e"));
    expect(logs.sort()).toEqual([...(r.upgrade?.filesWritten ?? [])].sort());
    expect(logs.length).toBe(Math.ceil(fx.unsynced.length / (LOG_FILE_UNITS - 1)));
    for (const n of logs) expect(d.storage.read(n)?.length).toBe(LOG_FILE_BYTES);

    st.world.stopRealtime();
    const kiosk = new SimKiosk(st.world, [fx.syncKey], { x: 1, y: 0.5 });
    const found = await kiosk.find(60);
    expect(await kiosk.open(found.address, found.index)).toBe(true);
    const status = await kiosk.status();
    expect(status.syncCursor).toBe(fx.cursor);
    const { units } = await kiosk.readAll(0);
    const log = assembleLog(units);
    expect(log.skipped).toEqual([]);
    const got: string[] = [];
    for (const seg of log.segments)
      for (const rr of seg.records)
        got.push([rr.kind, Buffer.from(rr.id).toString("hex"), recordTime(seg, rr.startMinute, status)].join(","));
    expect(got.sort()).toEqual([...fx.unsynced].sort());
    await kiosk.close();
    expect(d.faults).toEqual([]);
  } finally {
    st.stop();
  }
});

test("flash --upgrade refuses, untouched: no identity, a band not in the registry, Storage too small; a write refused midway puts the band back", async () => {
  const st = new SimStation("mdbt42q", 0, { seed: 33 });
  await st.start();
  try {
    const unix = Math.floor(st.now() / 1000);
    const fx = fixture(unix, 3);
    const reg = new FileSink(path.join(dir, "refusals.json"));
    await reg.add({ bandId: fx.bandId, board: "mdbt42q", syncKey: Buffer.from(fx.syncKey).toString("hex") });

    // 1. A band with no identity.
    const fresh = st.world.addBand({ board: "mdbt42q", name: "fresh", position: { x: 2, y: 0 } });
    await expect(flashBand(options(st, st.ports.plug(fresh), reg))).rejects.toThrow(
      /is not provisioned: .*flash it without --upgrade/,
    );
    expect(fresh.storage.list()).toEqual([]);

    const { port, d } = oldBand(st, fx, "old", 1);
    const before = snapshot(d);
    // 2. Not in the registry given.
    const other = new FileSink(path.join(dir, "other.json"));
    await expect(flashBand(options(st, port, other))).rejects.toThrow(
      new RegExp(`band ${fx.bandId} on .* is not in registry file`),
    );
    expect(snapshot(d)).toEqual(before);

    // 3. A write that fails midway (Storage refuses every write): the new files go, the old log stays.
    d.injectFault("Storage.write", Infinity);
    const err = (await flashBand(options(st, port, reg)).catch((e) => e)) as FlashError;
    d.clearFaults();
    expect(err).toBeInstanceOf(FlashError);
    expect(err.message).toMatch(/writing the log in format 3 failed .*put back as it was/);
    expect(snapshot(d)).toEqual(before);

    // 4. Storage too small: another program's data fills it.
    d.storage.write("photos", new Uint8Array(d.storage.getFree() - 2000).fill(7), 0, 0);
    const full = snapshot(d);
    await expect(flashBand(options(st, port, reg))).rejects.toThrow(/Storage too small/);
    expect(snapshot(d)).toEqual(full);
  } finally {
    st.stop();
  }
});
