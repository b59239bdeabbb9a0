import fc from "fast-check";
import { nextRotationMs, quietMs, randomStaticAddress, rotateIdentity } from "../../firmware/src/identity/rotation";
import {
  ROTATE_EPOCH_S,
  ROTATE_MIN_MS,
  ROTATE_QUIET_MIN_MS,
  ROTATE_QUIET_SPAN_MS,
  ROTATE_SPAN_MS,
  ROTATE_SPREAD_MS,
} from "../../firmware/src/tuning";
import { toHex } from "../../firmware/src/protocol/bytes";
import { pureCrypto as c } from "../../firmware/src/protocol/crypto";
import { computeAem, computeRpi, deriveAemk, deriveRpik, enMetadata } from "../../firmware/src/protocol/gaen";
import { decodeBeacon } from "../../firmware/src/protocol/advert";
import { decodeDiscoveryAdvert, discoveryToken } from "../../firmware/src/protocol/sync";
import { RECORD_ID_BYTES } from "../../firmware/src/protocol/record";
import * as table from "../../firmware/src/scan/encounter-table";
import { EmitFn } from "../../firmware/src/scan/encounter-table";
import { seededRand } from "./helpers/fake-flash";

interface Emitted {
  id: number;
  first: number;
  last: number;
  mean: number;
}

function collect(out: Emitted[]): EmitFn {
  return (_kind, ids, off, first, last, mean) => {
    out.push({ id: ids[off], first, last, mean });
  };
}

const idb = (n: number) => new Uint8Array([n, 0, 0, 0, 0, 0, 0, 9, 1, 2]);

describe("encounter table", () => {
  it("aggregates sightings per scan and merges consecutive scans into one encounter", () => {
    const t = table;
    t.init(8);
    const out: Emitted[] = [];
    for (let s = 0; s < 3; s++) {
      t.begin(1000 + s * 240);
      t.sight(0, idb(1), 0, -60 - s, 0x11);
      t.sight(0, idb(1), 0, -50, 0x11);
      t.endScan(collect(out));
    }
    expect(out).toEqual([]);
    t.begin(1720);
    t.endScan(collect(out)); // one miss: still open
    expect(out).toEqual([]);
    t.begin(1960);
    t.endScan(collect(out)); // second miss: closed
    expect(out).toEqual([{ id: 1, first: 1000, last: 1480, mean: -55 }]);
    expect(t.size()).toBe(0);
  });

  it("keeps ids apart by kind and by every id byte", () => {
    const t = table;
    t.init(8);
    const a = idb(1);
    const b = idb(1);
    b[RECORD_ID_BYTES - 1] = 8; // the last id byte kept (RECORD_ID_BYTES = 5)
    t.sight(0, a, 0, -50, 0);
    t.sight(1, a, 0, -50, 0);
    t.sight(0, b, 0, -50, 0);
    t.sight(0, a, 0, -50, 0);
    expect(t.size()).toBe(3);
  });

  it("counts but never overflows when more ids are in range than rows", () => {
    const t = table;
    t.init(4);
    for (let i = 0; i < 10; i++) t.sight(0, idb(i), 0, -50, 0);
    expect(t.size()).toBe(4);
    expect(t.dropped()).toBe(6);
  });

  it("closes an encounter once it spans 22 minutes (a record's duration holds 24)", () => {
    const t = table;
    t.init(2);
    const out: Emitted[] = [];
    for (let s = 0; s < 7; s++) {
      t.begin(s * 240);
      t.sight(0, idb(3), 0, -40, 0);
      t.endScan(collect(out));
    }
    expect(out.length).toBe(1);
    expect(out[0].last - out[0].first).toBe(1440);
  });

  it("flush emits everything open, and rows stay consistent under random traffic", () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.integer({ min: 0, max: 12 }), { maxLength: 20 }), { maxLength: 30 }),
        (scans) => {
          const t = table;
          t.init(16);
          const out: Emitted[] = [];
          const pairs: { id: number; t: number }[] = [];
          scans.forEach((ids, s) => {
            t.begin(s * 100);
            for (const i of ids) t.sight(0, idb(i), 0, -70, 0);
            for (const i of new Set(ids)) pairs.push({ id: i, t: s * 100 });
            t.endScan(collect(out));
          });
          t.flush(collect(out));
          expect(t.size()).toBe(0);
          // Every (scan, id) sighting falls in exactly one emitted encounter of that id, which starts and ends
          // with sightings.
          for (const p of pairs) {
            expect(out.filter((e) => e.id === p.id && e.first <= p.t && p.t <= e.last).length).toBe(1);
          }
          for (const e of out) {
            expect(pairs.some((p) => p.id === e.id && p.t === e.first)).toBe(true);
            expect(pairs.some((p) => p.id === e.id && p.t === e.last)).toBe(true);
          }
        },
      ),
    );
  });
});

describe("identity rotation", () => {
  const tek = new Uint8Array(16).fill(0x5a);
  const days: number[] = [];
  const keys = (d: number) => {
    days.push(d);
    return [tek, deriveRpik(c, tek), deriveAemk(c, tek)];
  };

  it("advertises the RPI and AEM of the current interval from the day's TEK", () => {
    const unix = 1_700_000_123;
    const enin = Math.floor(unix / 600);
    const id = rotateIdentity(c, keys, unix, -8, new Uint8Array(16).fill(3), seededRand(5));
    expect(days[days.length - 1]).toBe(Math.floor(enin / 144));
    const rpi = computeRpi(c, deriveRpik(c, tek), enin);
    const en = decodeBeacon(id.en as Uint8Array);
    expect(en.ok && en.value.kind === "en" && toHex(en.value.rpi)).toBe(toHex(rpi));
    expect(en.ok && en.value.kind === "en" && toHex(en.value.aem)).toBe(
      toHex(computeAem(c, deriveAemk(c, tek), rpi, enMetadata(-8))),
    );
    const d = decodeDiscoveryAdvert(id.disc);
    expect(d.ok && toHex(d.value.token)).toBe(
      toHex(discoveryToken(c, new Uint8Array(16).fill(3), d.ok ? d.value.nonce : new Uint8Array(4))),
    );
  });

  it("rotates address, name, nonce and RPI together at interval boundaries 10 or 20 minutes apart, after a random quiet", () => {
    const rand = seededRand(7);
    const seen = new Set<string>();
    const names = new Set<string>();
    const into: number[] = [];
    const skipped: number[] = [];
    let unix = 1_700_000_000;
    for (let i = 0; i < 200; i++) {
      const id = rotateIdentity(c, keys, unix, 0, new Uint8Array(16), rand);
      expect(seen.has(id.address)).toBe(false);
      seen.add(id.address);
      expect(id.name).toMatch(/^Band [0-9a-f]{4}$/);
      names.add(id.name);
      // The old identity goes quiet in the spread after the next boundary or the one after...
      const stop = unix + id.nextMs / 1000;
      expect(stop % ROTATE_EPOCH_S).toBeLessThanOrEqual(ROTATE_SPREAD_MS / 1000);
      const epochs = Math.floor(stop / ROTATE_EPOCH_S) - Math.floor(unix / ROTATE_EPOCH_S);
      expect([1, 2]).toContain(epochs);
      skipped.push(epochs - 1);
      // ... and the new one comes up after the end of the spread plus a random 1-11 s, whenever it went quiet.
      unix = stop + quietMs(stop, rand) / 1000;
      into.push(unix % ROTATE_EPOCH_S);
    }
    const up = (ROTATE_SPREAD_MS + ROTATE_QUIET_MIN_MS) / 1000;
    expect(Math.min(...into)).toBeGreaterThanOrEqual(up);
    expect(Math.max(...into)).toBeLessThanOrEqual(up + ROTATE_QUIET_SPAN_MS / 1000);
    // Spread over the window, not at a fixed point: the order bands come up in says nothing of the order they left.
    expect(Math.max(...into) - Math.min(...into)).toBeGreaterThan(0.8 * (ROTATE_QUIET_SPAN_MS / 1000));
    expect(names.size).toBeGreaterThan(190);
    // 15 minutes on average, as the uniform 10-20 minutes before (the log's records a day depend on it).
    const share = skipped.reduce((a, b) => a + b, 0) / skipped.length;
    expect(share).toBeGreaterThan(0.4);
    expect(share).toBeLessThan(0.6);
  });

  it("without valid time rotates every 10-20 minutes, after a quiet of 1-11 s", () => {
    const rand = seededRand(8);
    for (let i = 0; i < 200; i++) {
      const id = rotateIdentity(c, keys, -1, 0, new Uint8Array(16), rand);
      expect(id.nextMs).toBeGreaterThanOrEqual(ROTATE_MIN_MS);
      expect(id.nextMs).toBeLessThanOrEqual(ROTATE_MIN_MS + ROTATE_SPAN_MS);
      expect(nextRotationMs(-1, rand)).toBeGreaterThanOrEqual(ROTATE_MIN_MS);
      const q = quietMs(-1, rand);
      expect(q).toBeGreaterThanOrEqual(ROTATE_QUIET_MIN_MS);
      expect(q).toBeLessThanOrEqual(ROTATE_QUIET_MIN_MS + ROTATE_QUIET_SPAN_MS);
    }
    // A timer firing a second before its boundary still counts as on time: the next rotation is a whole interval on.
    expect(nextRotationMs(1_700_000_399, () => 0)).toBe(601_000);
    expect(nextRotationMs(1_700_000_399, () => 1)).toBe(1_201_001);
    expect(quietMs(1_700_000_399, () => 0)).toBe(ROTATE_SPREAD_MS + 1000 + ROTATE_QUIET_MIN_MS);
  });

  it("sends no RPI without valid time and a zero token when unprovisioned", () => {
    const id = rotateIdentity(c, keys, -1, 0, undefined, seededRand(3));
    expect(id.en).toBeUndefined();
    const d = decodeDiscoveryAdvert(id.disc);
    expect(d.ok && d.value.unprovisioned).toBe(true);
  });

  it("makes random static addresses", () => {
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        const a = randomStaticAddress(seededRand(seed));
        expect(a).toMatch(/^[c-f][0-9a-f](:[0-9a-f]{2}){5} random$/);
      }),
    );
    expect(randomStaticAddress(() => 0)).toBe("c0:00:00:00:00:00 random");
  });
});
