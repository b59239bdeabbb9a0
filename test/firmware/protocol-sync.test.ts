import fc from "fast-check";
import { toHex } from "../../firmware/src/protocol/bytes";
import { pureCrypto as c } from "../../firmware/src/protocol/crypto";
import { maxFrameBytes } from "../../firmware/src/sync/sync-service";
import { decodeProvisioning, encodeProvisioning, Provisioning } from "../../firmware/src/protocol/provisioning";
import { encodeRecord, encodeSegmentHeader, KIND_EN, RECORD_SIZE } from "../../firmware/src/protocol/record";
import {
  assembleLog,
  bandProof,
  cryptPayload,
  BandStatus,
  decodeDataPayload,
  decodeDiscoveryAdvert,
  decodePublicStatus,
  decodeStatus,
  decodeTekPayload,
  DIR_BAND,
  DIR_KIOSK,
  FRAME_OVERHEAD,
  STATUS_BYTES,
  discoveryToken,
  encodeDiscoveryAdvert,
  encodePublicStatus,
  encodeStatus,
  encodeTekPayload,
  kioskProof,
  matchDiscovery,
  openFrame,
  recordTime,
  sealFrame,
  sessionKey,
  STATUS_FLAG_TIME_VALID,
  unitsPerChunk,
  uuidBytesLE,
  SYNC_SERVICE_UUID,
} from "../../firmware/src/protocol/sync";

const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
const key = (b: number) => new Uint8Array(16).fill(b);

describe("discovery advert", () => {
  it("is 31 bytes with the service UUID little-endian in 128-bit service data", () => {
    const p = encodeDiscoveryAdvert(new Uint8Array([1, 2, 3, 4]), new Uint8Array([5, 6, 7, 8, 9, 10]));
    expect(p.length).toBe(31);
    expect(toHex(p.subarray(0, 5))).toBe("020106" + "1b21");
    expect(toHex(p.subarray(5, 21))).toBe("52451276ab1339967e4284170100162c");
    expect(toHex(uuidBytesLE(SYNC_SERVICE_UUID))).toBe("52451276ab1339967e4284170100162c");
  });

  it("is recognised only with the right sync key", () => {
    const keys = [key(1), key(2), key(3)];
    fc.assert(
      fc.property(bytes(4), fc.integer({ min: 0, max: 2 }), (nonce, which) => {
        const d = decodeDiscoveryAdvert(encodeDiscoveryAdvert(nonce, discoveryToken(c, keys[which], nonce)));
        expect(d.ok).toBe(true);
        if (!d.ok) return;
        expect(matchDiscovery(c, keys, d.value)).toBe(which);
        expect(matchDiscovery(c, [key(9)], d.value)).toBe(-1);
      }),
      { numRuns: 30 },
    );
  });

  it("marks an all-zero token as unprovisioned", () => {
    const d = decodeDiscoveryAdvert(encodeDiscoveryAdvert(new Uint8Array(4), new Uint8Array(6)));
    expect(d.ok && d.value.unprovisioned).toBe(true);
  });

  it("rejects other and truncated adverts without throwing", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (raw) => {
        const d = decodeDiscoveryAdvert(raw);
        expect(typeof d.ok).toBe("boolean");
      }),
    );
    const p = encodeDiscoveryAdvert(new Uint8Array(4), new Uint8Array(6));
    expect(decodeDiscoveryAdvert(p.subarray(0, 20)).ok).toBe(false);
  });
});

describe("mutual authentication", () => {
  it("derives distinct proofs and session keys bound to both nonces", () => {
    const k = key(7);
    const nb = key(1);
    const nk = key(2);
    const kp = kioskProof(c, k, nb, nk);
    const bp = bandProof(c, k, nb, nk);
    expect(toHex(kp)).not.toBe(toHex(bp));
    expect(toHex(sessionKey(c, k, nb, nk, 1))).not.toBe(toHex(sessionKey(c, k, nk, nb, 1)));
    // The AUTH_OK flags are part of the key: flipping them on air leaves the two sides with different keys.
    expect(toHex(sessionKey(c, k, nb, nk, 1))).not.toBe(toHex(sessionKey(c, k, nb, nk, 0)));
    expect(kp.length).toBe(16);
  });
});

describe("authenticated frames", () => {
  const ks = key(0x42);
  it("round-trip in both directions; cryptPayload is its own inverse and changes the payload", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 60 }), fc.integer({ min: 0, max: 65535 }), (payload, seq) => {
        for (const dir of [DIR_BAND, DIR_KIOSK]) {
          const f = sealFrame(c, ks, dir, 0x91, seq, payload);
          const o = openFrame(c, ks, dir, f);
          expect(o.ok).toBe(true);
          if (o.ok) {
            expect(toHex(o.value.payload)).toBe(toHex(payload));
            expect(o.value.seq).toBe(seq);
          }
        }
        const e = payload.slice();
        cryptPayload(c, ks, DIR_BAND, seq, e);
        if (payload.length >= 8) expect(toHex(e)).not.toBe(toHex(payload));
        cryptPayload(c, ks, DIR_BAND, seq, e);
        expect(toHex(e)).toBe(toHex(payload));
      }),
      { numRuns: 50 },
    );
  });

  it("reject any flipped bit, the wrong key, and reflection", () => {
    const f = sealFrame(c, ks, DIR_KIOSK, 0x12, 5, new Uint8Array([1, 2, 3, 4]));
    for (let i = 0; i < f.length; i++) {
      const g = f.slice();
      g[i] ^= 1;
      expect(openFrame(c, ks, DIR_KIOSK, g).ok).toBe(false);
    }
    expect(openFrame(c, key(1), DIR_KIOSK, f).ok).toBe(false);
    expect(openFrame(c, ks, DIR_BAND, f).ok).toBe(false);
    expect(openFrame(c, ks, DIR_BAND, new Uint8Array(3)).ok).toBe(false);
  });
});

describe("payload codecs", () => {
  it("status round-trips", () => {
    const s: BandStatus = {
      firmwareVersion: 1,
      boardCode: 1,
      batteryPercent: 87,
      flags: STATUS_FLAG_TIME_VALID,
      bandTime: 1700000000,
      uptime: 123456,
      bootEpoch: 3,
      retentionDays: 21,
      driftPpm: -250,
      logStart: 256,
      logEnd: 1290,
      syncCursor: 700,
      oldestTime: 1699000000,
      faults: 3,
      lastFaultDuty: 2,
      resets: 1,
      records: 1000,
    };
    const d = decodeStatus(encodeStatus(s));
    expect(d.ok && d.value).toEqual(s);
    expect(decodeStatus(new Uint8Array(5)).ok).toBe(false);
  });

  it("public status says only whether to authenticate", () => {
    expect(decodePublicStatus(encodePublicStatus(1))).toEqual({ ok: true, value: { provisioned: true } });
    expect(decodePublicStatus(encodePublicStatus(0))).toEqual({ ok: true, value: { provisioned: false } });
    expect(decodePublicStatus(new Uint8Array([1, 2, 3])).ok).toBe(false);
  });

  it("TEK payload round-trips and rejects bad periods", () => {
    const e = { rollingStartNumber: 2700000, rollingPeriod: 144, tek: key(5) };
    const d = decodeTekPayload(encodeTekPayload(2, e));
    expect(d.ok && d.value).toEqual({ index: 2, entry: e });
    const bad = encodeTekPayload(0, e);
    bad[1] = 0;
    expect(decodeTekPayload(bad).ok).toBe(false);
  });

  it("fits DATA frames to the MTU", () => {
    expect(unitsPerChunk(53)).toBe(4);
    expect(unitsPerChunk(131)).toBe(14);
    expect(unitsPerChunk(23)).toBe(1);
    // The response characteristic must hold the status reply as well as a DATA chunk, on every MTU.
    for (const mtu of [23, 53, 131, 247]) {
      expect(maxFrameBytes(mtu)).toBeGreaterThanOrEqual(FRAME_OVERHEAD + STATUS_BYTES);
      expect(maxFrameBytes(mtu)).toBeGreaterThanOrEqual(FRAME_OVERHEAD + 4 + unitsPerChunk(mtu) * RECORD_SIZE);
    }
    expect(decodeDataPayload(new Uint8Array(5)).ok).toBe(false);
  });
});

describe("log assembly on the kiosk", () => {
  it("groups units under their headers, skips torn units and tolerates duplicates and disorder", () => {
    const h = encodeSegmentHeader({ seq: 4, baseTime: 1700000400, monotonic: false, bootEpoch: 1 });
    const r = new Uint8Array(RECORD_SIZE);
    encodeRecord(
      {
        kind: KIND_EN,
        id: key(9).subarray(0, 5),
        startMinute: 30,
        durationMinutes: 8,
        rssiMean: -59,
        aemTx: 7,
      },
      r,
      0,
    );
    const torn = r.slice();
    torn.fill(0xff, 4); // a power cut before the second word
    const units = [
      { cursor: 1026, bytes: torn },
      { cursor: 1025, bytes: r },
      { cursor: 1024, bytes: h },
      { cursor: 1025, bytes: r },
    ];
    const a = assembleLog(units);
    expect(a.segments.length).toBe(1);
    expect(a.segments[0].records.length).toBe(1);
    expect(a.skipped.map((s) => s.cursor)).toEqual([1026]);
    expect(a.segments[0].records[0]).toMatchObject({ startMinute: 30, durationMinutes: 8, rssiMean: -59, aemTx: 7 });
    expect(recordTime(a.segments[0], 30, null)).toBe(1700000400 + 1800);
  });

  it("re-bases monotonic segments of the current power-on epoch only", () => {
    const seg = { header: { seq: 1, baseTime: 600, monotonic: true, bootEpoch: 2 }, records: [] };
    const st = { bandTime: 1700000000, uptime: 1000, bootEpoch: 2, flags: STATUS_FLAG_TIME_VALID };
    expect(recordTime(seg, 10, st)).toBe(1700000000 - 1000 + 600 + 600);
    expect(recordTime(seg, 10, { ...st, bootEpoch: 3 })).toBeNull();
    expect(recordTime(seg, 10, { ...st, flags: 0 })).toBeNull();
    // Headers keep the epoch modulo 15 (record.ts): the band's 8-bit count is compared the same way.
    expect(recordTime(seg, 10, { ...st, bootEpoch: 17 })).toBe(1700000000 - 1000 + 600 + 600);
  });
});

describe("provisioning record", () => {
  const arb: fc.Arbitrary<Provisioning> = fc.record({
    bandId: bytes(8),
    bandSecret: bytes(16),
    syncKey: bytes(16),
    mode: fc.constantFrom("private" as const, "escrow" as const),
    retentionDays: fc.integer({ min: 1, max: 60 }),
    txCalibrationDbm: fc.integer({ min: -40, max: 20 }),
    flags: fc.integer({ min: 0, max: 1 }),
    scanPeriodS: fc.integer({ min: 0, max: 65535 }),
    scanWindowMs: fc.integer({ min: 0, max: 65535 }),
    rssiFloorDbm: fc.integer({ min: -128, max: 0 }),
    lowBatteryPercent: fc.integer({ min: 0, max: 100 }),
    provisionedAt: fc.integer({ min: 0, max: 0xffffffff }),
  });
  it("round-trips", () => {
    fc.assert(
      fc.property(arb, (p) => {
        const d = decodeProvisioning(encodeProvisioning(p));
        expect(d.ok && d.value).toEqual(p);
      }),
    );
  });
  it("rejects corruption, bad magic and short input without throwing", () => {
    fc.assert(
      fc.property(arb, fc.integer({ min: 0, max: 63 }), fc.integer({ min: 1, max: 255 }), (p, i, x) => {
        const b = encodeProvisioning(p);
        b[i] ^= x;
        expect(decodeProvisioning(b).ok).toBe(false);
      }),
    );
    expect(decodeProvisioning(new Uint8Array(10)).ok).toBe(false);
  });
  it("defaults retention to 21 days", () => {
    const b = encodeProvisioning({
      bandId: key(1).subarray(0, 8),
      bandSecret: key(2),
      syncKey: key(3),
      mode: "private",
      retentionDays: 0,
      txCalibrationDbm: 127,
      flags: 0,
      scanPeriodS: 0,
      scanWindowMs: 0,
      rssiFloorDbm: 0,
      lowBatteryPercent: 0,
      provisionedAt: 0,
    });
    const d = decodeProvisioning(b);
    expect(d.ok && d.value.retentionDays).toBe(21);
  });
});
