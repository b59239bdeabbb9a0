import fc from "fast-check";
import { decodeBeacon } from "../../firmware/src/protocol/advert";
import { readU32LE, toHex } from "../../firmware/src/protocol/bytes";
import { pureCrypto as c } from "../../firmware/src/protocol/crypto";
import { computeRpi, deriveRpik } from "../../firmware/src/protocol/gaen";
import { SEGMENT_MAGIC } from "../../firmware/src/protocol/record";
import {
  assembleLog,
  decodeDataPayload,
  decodeDiscoveryAdvert,
  decodeStatus,
  decodeTekPayload,
  decodeTimeOk,
  encodeReadCommand,
  encodeWipeCommand,
  KioskEvent,
  KioskSession,
  LogUnit,
  matchDiscovery,
  OP_ACK,
  OP_ACK_OK,
  OP_DATA,
  OP_READ,
  OP_READ_END,
  OP_READ_TEKS,
  OP_SET_TIME,
  OP_STATUS,
  OP_TEK,
  OP_TEKS_END,
  OP_TIME_OK,
  OP_WIPE,
  OP_WIPE_OK,
  recordTime,
  UNITS_PER_CURSOR_FILE,
  STATUS_FLAG_LOW_BATTERY,
  STATUS_FLAG_TIME_VALID,
  u32Payload,
  ERR_AUTH_REQUIRED,
  ERR_BACKOFF,
} from "../../firmware/src/protocol/sync";
import { ROTATE_QUIET_MIN_MS, ROTATE_QUIET_SPAN_MS, ROTATE_SPREAD_MS } from "../../firmware/src/tuning";
import { NodeBandRig, T0, testProvisioning } from "./helpers/node-band";

const KEY = testProvisioning().syncKey;

function enDevice(id: number, rssi: number) {
  const sd = new Uint8Array(20);
  sd[0] = id & 255;
  sd[1] = id >> 8;
  sd[15] = 0x77;
  return { rssi, serviceData: { fd6f: sd.buffer } };
}

/** A kiosk driving the band through the rig: returns every event it saw. */
class Kiosk {
  s: KioskSession;
  events: KioskEvent[] = [];
  seen = 0;
  constructor(
    public rig: NodeBandRig,
    key = KEY,
  ) {
    this.s = new KioskSession(c, key, new Uint8Array(16).fill(9));
  }
  pumpEvents(seconds = 0.5): KioskEvent[] {
    this.rig.run(seconds);
    const out: KioskEvent[] = [];
    while (this.seen < this.rig.notifications.length) {
      const e = this.s.receive(this.rig.notifications[this.seen++]);
      if (e.type === "write") this.rig.write(e.data);
      out.push(e);
      this.events.push(e);
      this.rig.run(0.2);
    }
    return out;
  }
  authenticate(): boolean {
    this.rig.connect();
    this.seen = 0;
    this.rig.write(this.s.begin());
    for (let i = 0; i < 5 && !this.s.authenticated; i++) this.pumpEvents();
    return this.s.authenticated;
  }
  cmd(op: number, payload: Uint8Array = new Uint8Array(0), seconds = 1): KioskEvent[] {
    this.rig.write(this.s.command(op, payload));
    return this.pumpEvents(seconds);
  }
  frames(evts: KioskEvent[], op: number) {
    return evts.filter((e): e is Extract<KioskEvent, { type: "frame" }> => e.type === "frame" && e.op === op);
  }
  status() {
    const st = decodeStatus(this.frames(this.cmd(OP_STATUS), 0x90)[0].payload);
    if (!st.ok) throw new Error(st.error);
    return st.value;
  }
  /** READ in pages until the log end the status reports, like a kiosk would. */
  readAll(from: number): { units: LogUnit[]; next: number } {
    const units: LogUnit[] = [];
    const end = this.status().logEnd;
    let cursor = from;
    for (let page = 0; page < 200 && cursor < end; page++) {
      const ev = this.cmd(OP_READ, encodeReadCommand(cursor, 40), 5);
      for (const f of this.frames(ev, OP_DATA)) {
        const d = decodeDataPayload(f.payload);
        if (d.ok) d.value.units.forEach((u, i) => units.push({ cursor: d.value.cursor + i, bytes: u }));
      }
      const next = readU32LE(this.frames(ev, OP_READ_END)[0].payload, 0);
      if (next === cursor) break;
      cursor = next;
    }
    return { units, next: cursor };
  }
}

describe("band on a virtual clock", () => {
  it("advertises Exposure Notification packets whose RPI derives from a TEK it reports, rotating with the address", () => {
    const rig = new NodeBandRig();
    rig.boot();
    rig.run(6 * 3600);
    expect(rig.faults).toEqual([]);
    const en = rig.adverts.filter((a) => !a.connectable);
    expect(en.length).toBeGreaterThan(10);
    // Rotation: each EN packet change comes with an address change, at interval boundaries 10 or 20 minutes apart: the
    // new identity comes up after the spread and a random quiet (tuning.ts), the old one went quiet in the spread.
    const changes: { t: number; rpi: string; address: string }[] = [];
    for (const a of en) {
      const b = decodeBeacon(a.packet);
      if (!b.ok || b.value.kind !== "en") throw new Error("bad EN advert");
      const rpi = toHex(b.value.rpi);
      if (!changes.length || changes[changes.length - 1].rpi !== rpi) changes.push({ t: a.t, rpi, address: a.address });
    }
    expect(changes.length).toBeGreaterThanOrEqual(18);
    const up = (ROTATE_SPREAD_MS + ROTATE_QUIET_MIN_MS) / 1000;
    for (let i = 1; i < changes.length; i++) {
      expect(changes[i].address).not.toBe(changes[i - 1].address);
      const into = changes[i].t % 600;
      expect(into).toBeGreaterThanOrEqual(up);
      expect(into).toBeLessThanOrEqual(up + ROTATE_QUIET_SPAN_MS / 1000);
      if (i > 1) expect([1, 2]).toContain(Math.round((changes[i].t - changes[i - 1].t) / 600));
    }
    // A kiosk reads the TEKs; every advertised RPI matches the TEK of its day at the rotation's interval.
    const k = new Kiosk(rig);
    expect(k.authenticate()).toBe(true);
    const teks = k.frames(k.cmd(OP_READ_TEKS), OP_TEK).map((f) => {
      const d = decodeTekPayload(f.payload);
      if (!d.ok) throw new Error(d.error);
      return d.value.entry;
    });
    // The six hours cross a UTC midnight: two daily keys.
    expect(teks.length).toBe(2);
    for (const ch of changes) {
      const enin = Math.floor(ch.t / 600);
      const tek = teks.find((e) => e.rollingStartNumber === Math.floor(enin / 144) * 144)!;
      expect(ch.rpi).toBe(toHex(computeRpi(c, deriveRpik(c, tek.tek), enin)));
    }
  });

  it("sends connectable discovery bursts a registered kiosk recognises, at least every 6 s", () => {
    const rig = new NodeBandRig();
    rig.boot();
    rig.run(120);
    const disc = rig.adverts.filter((a) => a.connectable);
    expect(disc.length).toBeGreaterThan(18);
    for (let i = 1; i < disc.length; i++) expect(disc[i].t - disc[i - 1].t).toBeLessThanOrEqual(6.01);
    const d = decodeDiscoveryAdvert(disc[0].packet);
    expect(d.ok && matchDiscovery(c, [new Uint8Array(16), KEY], d.value)).toBe(1);
  });

  it("logs sightings merged across scans and a kiosk syncs, resumes and acks them", () => {
    const rig = new NodeBandRig();
    rig.boot();
    // Three beacons around for an hour; one beacon leaves after 20 minutes.
    rig.run(3600, () => {
      if (!rig.scanCb) return;
      rig.hear(enDevice(1, -55));
      rig.hear(enDevice(2, -70));
      if (rig.t < T0 + 1200) rig.hear(enDevice(3, -60));
    });
    expect(rig.faults).toEqual([]);
    expect(rig.scanWindows).toBeGreaterThanOrEqual(13);
    const k = new Kiosk(rig);
    expect(k.authenticate()).toBe(true);
    expect(k.status().flags & STATUS_FLAG_TIME_VALID).toBeTruthy();
    const first = k.readAll(0);
    const log = assembleLog(first.units);
    const recs = log.segments.flatMap((s) => s.records.map((r) => ({ r, s })));
    const byId = (n: number) => recs.filter((x) => x.r.id[0] === n);
    // Beacon 3 was seen in ~5 scans then left: one merged record; 1 and 2 were still around at the READ (flushed).
    expect(byId(3).length).toBe(1);
    expect(byId(3)[0].r.durationMinutes).toBeGreaterThanOrEqual(12);
    expect(byId(1).length).toBeGreaterThanOrEqual(1);
    expect(byId(1)[0].r.rssiMean).toBe(-55);
    const t3 = recordTime(byId(3)[0].s, byId(3)[0].r.startMinute, null) as number;
    expect(Math.abs(t3 - T0)).toBeLessThan(300);
    // ACK moves the band's cursor; a later sync resumes after it and sees only new units.
    const ack = k.frames(k.cmd(OP_ACK, u32Payload(first.next)), OP_ACK_OK)[0];
    expect(readU32LE(ack.payload, 0)).toBe(first.next);
    rig.disconnect();
    rig.run(1800, () => {
      if (rig.scanCb) rig.hear(enDevice(4, -50));
    });
    const k2 = new Kiosk(rig);
    expect(k2.authenticate()).toBe(true);
    expect(k2.status().syncCursor).toBe(first.next);
    // A kiosk that did not store the first sync reads from the start of the cursor's file (a segment header).
    const second = k2.readAll(first.next - (first.next % UNITS_PER_CURSOR_FILE));
    const ids2 = assembleLog(second.units).segments.flatMap((s) => s.records.map((r) => r.id[0]));
    expect(ids2).toContain(4);
    // Units after the acknowledged cursor hold only what was logged since.
    const newIds = second.units
      .filter((u) => u.cursor >= first.next && u.bytes[0] !== SEGMENT_MAGIC)
      .map((u) => u.bytes[1]);
    expect(newIds).toContain(4);
    expect(newIds).not.toContain(3);
    expect(second.units[0].bytes[0]).toBe(SEGMENT_MAGIC);
  });

  it("resumes a READ after a dropped link from the last stored cursor without losing or duplicating units", () => {
    const rig = new NodeBandRig();
    rig.boot();
    rig.run(4 * 3600, () => {
      if (rig.scanCb)
        for (let i = 0; i < 12; i++) rig.hear(enDevice(100 + i + Math.floor((rig.t - T0) / 900) * 20, -60));
    });
    const k = new Kiosk(rig);
    k.authenticate();
    const all = k.readAll(0).units;
    rig.disconnect();
    // A second kiosk gets half the log, the link drops, then it resumes from its last cursor.
    const k2 = new Kiosk(rig);
    k2.authenticate();
    const ev = k2.cmd(OP_READ, encodeReadCommand(0, 1000), 0.3);
    const got: LogUnit[] = [];
    for (const f of k2.frames(ev, OP_DATA)) {
      const d = decodeDataPayload(f.payload);
      if (d.ok) d.value.units.forEach((u, i) => got.push({ cursor: d.value.cursor + i, bytes: u }));
    }
    expect(got.length).toBeGreaterThan(0);
    expect(got.length).toBeLessThan(all.length);
    rig.disconnect();
    const resumeFrom = got[got.length - 1].cursor + 1;
    const k3 = new Kiosk(rig);
    k3.authenticate();
    // The same kiosk resumes exactly where it stopped (it holds the segment context already).
    const rest = k3.readAll(resumeFrom).units;
    const merged = assembleLog(got.concat(rest));
    const full = assembleLog(all);
    // Everything the first full read saw comes again, in order, without duplicates (later units may follow).
    const mergedIds = merged.segments.flatMap((s) => s.records.map((r) => toHex(r.id)));
    const fullIds = full.segments.flatMap((s) => s.records.map((r) => toHex(r.id)));
    expect(mergedIds.slice(0, fullIds.length)).toEqual(fullIds);
    expect(new Set(mergedIds).size).toBe(mergedIds.length);
  });

  it("answers unauthenticated peers only 'authentication required' and backs off after wrong keys", () => {
    const rig = new NodeBandRig();
    rig.boot();
    rig.run(10);
    rig.connect();
    rig.write(new Uint8Array([OP_STATUS, 1, 0, 1, 2, 3, 4, 5, 6, 7, 8]));
    rig.run(1);
    expect(toHex(rig.notifications[0])).toBe("e0010000");
    expect(rig.notifications[0][1]).toBe(ERR_AUTH_REQUIRED);
    rig.disconnect();
    const waits: number[] = [];
    for (let i = 0; i < 4; i++) {
      const bad = new Kiosk(rig, new Uint8Array(16).fill(1));
      bad.authenticate();
      const err = bad.events.find((e) => e.type === "error");
      if (!err || err.type !== "error") throw new Error("expected an error");
      expect(err.code).toBe(ERR_BACKOFF);
      waits.push(err.arg);
      expect(rig.connected).toBe(false); // the band hung up
      rig.run(err.arg + 0.5);
    }
    expect(waits).toEqual([1, 2, 4, 8]);
    // During a back-off even the right key is refused; after it, the right key works and resets the back-off.
    const bad = new Kiosk(rig, new Uint8Array(16).fill(1));
    bad.authenticate();
    const good = new Kiosk(rig);
    expect(good.authenticate()).toBe(false);
    rig.disconnect();
    rig.run(20);
    expect(new Kiosk(rig).authenticate()).toBe(true);
  });

  it("drops peers that do not authenticate within 15 s", () => {
    const rig = new NodeBandRig();
    rig.boot();
    rig.connect();
    rig.run(2);
    expect(rig.connected).toBe(true);
    rig.run(14);
    expect(rig.connected).toBe(false);
  });

  it("after a power loss: no Exposure Notification adverts, monotonic logging, re-based after SET_TIME", () => {
    const rig = new NodeBandRig();
    rig.boot();
    rig.run(600);
    rig.powerCycle();
    rig.adverts = [];
    rig.run(1800, () => {
      if (rig.scanCb) rig.hear(enDevice(7, -58));
    });
    // Without valid time only the discovery advert goes out (bursts, and a slow idle rate between them).
    expect(rig.adverts.filter((a) => !a.connectable).length).toBe(0);
    expect(rig.adverts.filter((a) => a.connectable).length).toBeGreaterThan(100);
    const k = new Kiosk(rig);
    expect(k.authenticate()).toBe(true);
    expect(k.status().flags & STATUS_FLAG_TIME_VALID).toBe(0);
    const timeOk = decodeTimeOk(k.frames(k.cmd(OP_SET_TIME, u32Payload(rig.t)), OP_TIME_OK)[0].payload);
    expect(timeOk.ok && timeOk.value.errorSeconds).toBeNull();
    const st = k.status();
    const log = assembleLog(k.readAll(0).units);
    const mono = log.segments.filter((s) => s.header.monotonic && s.records.some((r) => r.id[0] === 7));
    expect(mono.length).toBe(1);
    const rec = mono[0].records.find((r) => r.id[0] === 7)!;
    const when = recordTime(mono[0], rec.startMinute, st) as number;
    expect(Math.abs(when - (T0 + 600))).toBeLessThan(400);
    rig.disconnect();
    // A new identity after the quiet (at most the spread and 11 s).
    rig.run(25);
    expect(rig.adverts.filter((a) => !a.connectable).length).toBeGreaterThan(0);
  });

  it("wipes its data and identity on an authenticated WIPE", () => {
    const rig = new NodeBandRig();
    rig.boot();
    rig.run(900, () => rig.scanCb && rig.hear(enDevice(5, -50)));
    const k = new Kiosk(rig);
    k.authenticate();
    expect(k.frames(k.cmd(OP_WIPE, encodeWipeCommand(1)), OP_WIPE_OK).length).toBe(1);
    rig.run(3);
    expect(rig.reboots).toBe(1);
    expect([...rig.flash.files.keys()].filter((n) => n.startsWith("tl."))).toEqual([]);
    const d = decodeDiscoveryAdvert(rig.adverts[rig.adverts.length - 1].packet);
    expect(rig.faults).toEqual([]);
    expect(d.ok && d.value.unprovisioned).toBe(true);
  });

  it("survives fuzzed GATT writes and malformed adverts without a fault", () => {
    const rig = new NodeBandRig();
    rig.boot();
    rig.run(300);
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 60 }), { maxLength: 12 }), (writes) => {
        rig.connect();
        for (const w of writes) rig.write(w);
        rig.run(0.5);
        rig.disconnect();
      }),
      { numRuns: 200 },
    );
    const junk = [
      { rssi: -50, serviceData: { fd6f: new Uint8Array(3).buffer } },
      { rssi: NaN, serviceData: { fd6f: new Uint8Array(20).buffer } },
      { rssi: -50, manufacturer: 0x22b5, manufacturerData: [1, 2] },
      { rssi: -50, manufacturer: 0x22b5 },
      { rssi: -50, serviceData: {} },
      {},
    ];
    rig.run(600, () => junk.forEach((d) => rig.hear(d as never)));
    expect(rig.faults).toEqual([]);
    const k = new Kiosk(rig);
    expect(k.authenticate()).toBe(true);
  });
});

describe("battery", () => {
  it("doubles the scan period below the low-battery threshold and says so in the status", () => {
    const full = new NodeBandRig();
    full.boot();
    full.run(6 * 3600);
    const low = new NodeBandRig();
    low.battery = 10;
    low.boot();
    low.run(6 * 3600);
    expect(full.scanWindows).toBeGreaterThan(80);
    expect(low.scanWindows).toBeLessThan(full.scanWindows * 0.6);
    const k = new Kiosk(low);
    expect(k.authenticate()).toBe(true);
    expect(k.status().flags & STATUS_FLAG_LOW_BATTERY).toBeTruthy();
  });
});

describe("TEK read-out", () => {
  it("lists one key per day within retention, newest first", () => {
    const rig = new NodeBandRig();
    rig.boot();
    rig.run(3 * 86400);
    const k = new Kiosk(rig);
    k.authenticate();
    const ev = k.cmd(OP_READ_TEKS);
    const teks = k
      .frames(ev, OP_TEK)
      .map(
        (f) =>
          (decodeTekPayload(f.payload) as { ok: true; value: { entry: { rollingStartNumber: number } } }).value.entry,
      );
    expect(teks.length).toBeGreaterThanOrEqual(3);
    for (let i = 1; i < teks.length; i++) expect(teks[i - 1].rollingStartNumber - teks[i].rollingStartNumber).toBe(144);
    expect(k.frames(ev, OP_TEKS_END)[0].payload[0]).toBe(teks.length);
  });
});
