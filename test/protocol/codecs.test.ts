import { createHmac } from "crypto";
import fc from "fast-check";
import {
  BLUEZONE_COMPANY_ID,
  decodeBeacon,
  decodeBluezoneData,
  decodeEnServiceData,
  encodeBluezoneAdvert,
  encodeEnAdvert,
  parseAdStructures,
} from "../../firmware/src/protocol/advert";
import { fromHex, toHex } from "../../firmware/src/protocol/bytes";
import { pureCrypto } from "../../firmware/src/protocol/crypto";
import {
  decodeLogExportV3,
  encodeLogExportV3,
  firstBadPage,
  logKey,
  logOfExport,
  pageMac,
  pageMessage,
  pageUnits,
  signedLogExport,
  signPages,
  unitsOfPages,
  unitsOfSegments,
} from "../../firmware/src/protocol/log-mac";
import {
  crc8,
  decodeRecord,
  decodeSegmentHeader,
  encodeRecord,
  encodeSegmentHeader,
  EncounterRecord,
  EPOCH_MODULUS,
  isSegmentHeader,
  isUnwritten,
  KIND_BLUEZONE,
  KIND_EN,
  RECORD_ID_BYTES,
  RECORD_MAX_MINUTES,
  RECORD_MAX_START,
  RECORD_SIZE,
  RSSI_BASE_DBM,
  RSSI_MAX_CODE,
  SegmentHeader,
  UNIT_HEADER_MIN,
} from "../../firmware/src/protocol/record";

const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });

/** Records as format 3 holds them: starts in 10-minute intervals, durations in 4-minute steps, RSSI to 2 dB. */
const recordArb: fc.Arbitrary<EncounterRecord> = fc.record({
  kind: fc.constantFrom(KIND_EN, KIND_BLUEZONE),
  id: bytes(RECORD_ID_BYTES),
  startMinute: fc.integer({ min: 0, max: RECORD_MAX_START }).map((i) => i * 10),
  durationMinutes: fc.integer({ min: 0, max: RECORD_MAX_MINUTES / 4 }).map((s) => s * 4),
  rssiMean: fc.integer({ min: 0, max: RSSI_MAX_CODE }).map((v) => RSSI_BASE_DBM + 2 * v),
  aemTx: fc.integer({ min: 0, max: 255 }),
});

const headerArb: fc.Arbitrary<SegmentHeader> = fc.record({
  seq: fc.integer({ min: 0, max: 0xffffff }),
  baseTime: fc.integer({ min: 0, max: 0xffffff }).map((i) => i * 600),
  monotonic: fc.boolean(),
  bootEpoch: fc.integer({ min: 0, max: EPOCH_MODULUS - 1 }),
});

describe("Exposure Notification advert", () => {
  it("is exactly the 31-byte GAEN layout", () => {
    const rpi = new Uint8Array(16).fill(0xaa);
    const aem = new Uint8Array([1, 2, 3, 4]);
    const p = encodeEnAdvert(rpi, aem);
    expect(toHex(p)).toBe("02011a03036ffd17166ffd" + "aa".repeat(16) + "01020304");
  });
  it("round-trips through decodeBeacon", () => {
    fc.assert(
      fc.property(bytes(16), bytes(4), (rpi, aem) => {
        const d = decodeBeacon(encodeEnAdvert(rpi, aem));
        expect(
          d.ok && d.value.kind === "en" && toHex(d.value.rpi) === toHex(rpi) && toHex(d.value.aem) === toHex(aem),
        ).toBe(true);
      }),
    );
  });
  it("round-trips Bluezone adverts", () => {
    fc.assert(
      fc.property(bytes(12), (id) => {
        const d = decodeBeacon(encodeBluezoneAdvert(id));
        expect(d.ok && d.value.kind === "bluezone" && toHex(d.value.id) === toHex(id)).toBe(true);
      }),
    );
  });
  it.each([
    ["short service data", decodeEnServiceData(new Uint8Array(19)), "20 bytes"],
    ["wrong company", decodeBluezoneData(0x0590, new Uint8Array(12)), "company"],
    ["short Bluezone id", decodeBluezoneData(BLUEZONE_COMPANY_ID, new Uint8Array(5)), "12 bytes"],
    ["oversize advert", parseAdStructures(new Uint8Array(32)), "31 bytes"],
    ["truncated AD structure", parseAdStructures(new Uint8Array([5, 0x16, 1])), "past the end"],
    ["no beacon", decodeBeacon(new Uint8Array([2, 1, 6])), "no Exposure"],
  ])("rejects %s with a reason", (_name, result, reason) => {
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error).toContain(reason);
  });
  it("never throws on arbitrary bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (raw) => {
        const d = decodeBeacon(raw);
        expect(typeof d.ok).toBe("boolean");
      }),
    );
  });
});

describe("encounter record codec", () => {
  it("round-trips every record", () => {
    fc.assert(
      fc.property(recordArb, (r) => {
        const buf = new Uint8Array(RECORD_SIZE);
        encodeRecord(r, buf, 0);
        const d = decodeRecord(buf, 0);
        expect(d.ok).toBe(true);
        if (d.ok) expect({ ...d.value, id: toHex(d.value.id) }).toEqual({ ...r, id: toHex(r.id) });
      }),
    );
  });
  it("tells every unit's type from byte 7: a record never passes for a header and is never all 0xFF", () => {
    fc.assert(
      fc.property(recordArb, headerArb, (r, h) => {
        const buf = new Uint8Array(RECORD_SIZE);
        encodeRecord(r, buf, 0);
        expect(buf[7]).toBeLessThan(UNIT_HEADER_MIN);
        expect(isSegmentHeader(buf, 0)).toBe(false);
        expect(isUnwritten(buf, 0)).toBe(false);
        const hb = encodeSegmentHeader(h);
        expect(hb[7]).toBeGreaterThanOrEqual(UNIT_HEADER_MIN);
        expect(hb[7]).not.toBe(0xff);
        expect(decodeRecord(hb, 0)).toEqual({ ok: false, error: "not a record" });
      }),
    );
  });
  it("reads a unit torn in its second word (byte 7 still 0xFF) as torn, not as a record or the end", () => {
    fc.assert(
      fc.property(recordArb, (r) => {
        const buf = new Uint8Array(RECORD_SIZE);
        encodeRecord(r, buf, 0);
        buf.fill(0xff, 4);
        if (buf.subarray(0, 4).every((b) => b === 0xff)) return;
        expect(decodeRecord(buf, 0)).toEqual({ ok: false, error: "torn unit" });
        expect(isUnwritten(buf, 0)).toBe(false);
      }),
    );
  });
  it("saturates durations at 24 minutes and RSSI at -95 and -33 dBm, and rounds both", () => {
    const buf = new Uint8Array(RECORD_SIZE);
    const rec = (durationMinutes: number, rssiMean: number) => {
      encodeRecord(
        { kind: KIND_EN, id: new Uint8Array(5), startMinute: 10, durationMinutes, rssiMean, aemTx: 0 },
        buf,
        0,
      );
      const d = decodeRecord(buf, 0);
      if (!d.ok) throw new Error(d.error);
      return [d.value.durationMinutes, d.value.rssiMean];
    };
    expect(rec(200, -20)).toEqual([RECORD_MAX_MINUTES, -33]);
    expect(rec(0, -120)).toEqual([0, -95]);
    expect(rec(5, -60)).toEqual([4, -59]);
    expect(rec(7, -61)).toEqual([8, -61]);
  });
  it("refuses starts it cannot hold and header bases off the 10-minute grid", () => {
    const buf = new Uint8Array(RECORD_SIZE);
    const r = { kind: KIND_EN, id: new Uint8Array(5), durationMinutes: 0, rssiMean: -60, aemTx: 0 };
    expect(() => encodeRecord({ ...r, startMinute: 1280 }, buf, 0)).toThrow("not a multiple of 10 in 0-1270");
    expect(() => encodeRecord({ ...r, startMinute: 15 }, buf, 0)).toThrow("not a multiple of 10 in 0-1270");
    expect(() => encodeSegmentHeader({ seq: 1, baseTime: 1700000000, monotonic: false, bootEpoch: 0 })).toThrow(
      "not a multiple of 600 s",
    );
  });
  it("treats erased flash (0xFF) as unwritten", () => {
    const d = decodeRecord(new Uint8Array(RECORD_SIZE).fill(0xff), 0);
    expect(d).toEqual({ ok: false, error: "unwritten record" });
  });
  it("round-trips segment headers and detects any single corrupted bit in one", () => {
    fc.assert(
      fc.property(headerArb, fc.integer({ min: 0, max: 63 }), (h, bit) => {
        const b = encodeSegmentHeader(h);
        expect(decodeSegmentHeader(b, 0)).toEqual({ ok: true, value: h });
        b[bit >> 3] ^= 1 << (bit & 7);
        expect(decodeSegmentHeader(b, 0).ok).toBe(false);
      }),
    );
  });
  it("round-trips signed log exports (TLX v3): pages verify, units split back, segments reassemble", () => {
    const secret = new Uint8Array(16).fill(9);
    const key = logKey(pureCrypto.sha256, secret);
    fc.assert(
      fc.property(
        bytes(8),
        fc.array(fc.record({ header: headerArb, records: fc.array(recordArb, { maxLength: 5 }) }), { maxLength: 4 }),
        fc.integer({ min: 1, max: 32 }),
        fc.integer({ min: 1, max: 8 }),
        (bandId, segments, perPage, perChunk) => {
          const units = unitsOfSegments(segments, 1000);
          const pages = signPages(pureCrypto.sha256, key, bandId, units, perPage, perChunk);
          const enc = encodeLogExportV3({ bandId, pages });
          const d = decodeLogExportV3(enc);
          if (!d.ok) throw new Error(d.error);
          expect(toHex(d.value.bandId)).toBe(toHex(bandId));
          expect(toHex(encodeLogExportV3(d.value))).toBe(toHex(enc));
          expect(firstBadPage(pureCrypto.sha256, key, d.value)).toBe(-1);
          const back = unitsOfPages(d.value);
          if (!back.ok) throw new Error(back.error);
          expect(back.value.map((u) => u.cursor + ":" + toHex(u.bytes))).toEqual(
            units.map((u) => u.cursor + ":" + toHex(u.bytes)),
          );
          const log = logOfExport(d.value);
          expect(log.ok && log.value.log.segments.length).toBe(segments.length);
        },
      ),
      { numRuns: 200 },
    );
  });
  it("computes the page MAC as HMAC-SHA256 over TL-LOG | band id | body | next cursor", () => {
    fc.assert(
      fc.property(bytes(16), bytes(8), fc.uint8Array({ maxLength: 530 }), fc.nat(), (key, bandId, body, next) => {
        const msg = pageMessage(bandId, body, next);
        const expected = createHmac("sha256", key).update(msg).digest().subarray(0, 16);
        expect(toHex(pageMac(pureCrypto.sha256, key, msg))).toBe(toHex(expected));
        expect(toHex(msg.subarray(0, 14))).toBe(toHex(Buffer.concat([Buffer.from("TL-LOG"), bandId])));
      }),
      { numRuns: 50 },
    );
  });
  it("rejects truncated, padded and v2 exports, bad pages, and never throws on garbage", () => {
    const bandId = new Uint8Array(8);
    const seg = [{ header: { seq: 0, baseTime: 600, monotonic: false, bootEpoch: 1 }, records: [] }];
    const enc = signedLogExport(pureCrypto.sha256, new Uint8Array(16), bandId, seg);
    const padded = new Uint8Array(enc.length + 3);
    padded.set(enc);
    expect(decodeLogExportV3(padded)).toEqual({ ok: false, error: "log export has 3 trailing bytes" });
    expect(decodeLogExportV3(enc.subarray(0, enc.length - 1)).ok).toBe(false);
    const v2 = enc.slice();
    v2[3] = 2;
    v2[15] = crc8(v2, 0, 15);
    const r = decodeLogExportV3(v2);
    expect(!r.ok && r.error).toContain("unsupported log export version 2");
    // Another band's key, or another band id, fails page 0.
    const d = decodeLogExportV3(enc);
    if (!d.ok) throw new Error(d.error);
    expect(firstBadPage(pureCrypto.sha256, logKey(pureCrypto.sha256, new Uint8Array(16).fill(1)), d.value)).toBe(0);
    expect(
      firstBadPage(pureCrypto.sha256, logKey(pureCrypto.sha256, new Uint8Array(16)), {
        ...d.value,
        bandId: new Uint8Array(8).fill(1),
      }),
    ).toBe(0);
    // Two pages that disagree on a cursor are refused.
    const units = unitsOfSegments(seg);
    const other = unitsOfSegments([{ header: { ...seg[0].header, seq: 5 }, records: [] }]);
    const key = logKey(pureCrypto.sha256, new Uint8Array(16));
    const clash = {
      bandId,
      pages: [...signPages(pureCrypto.sha256, key, bandId, units), ...signPages(pureCrypto.sha256, key, bandId, other)],
    };
    const u = unitsOfPages(clash);
    expect(!u.ok && u.error).toBe("page 1: cursor 0 differs from an earlier page");
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (raw) => {
        const x = decodeLogExportV3(raw);
        if (x.ok) expect(typeof unitsOfPages(x.value).ok).toBe("boolean");
        expect(pageUnits(raw) === undefined || Array.isArray(pageUnits(raw))).toBe(true);
      }),
    );
  });
});

describe("hex parsing", () => {
  it.each([
    ["abc", 2, "odd number"],
    ["zz", 1, "non-hex"],
    ["00", 2, "must be 4 digits"],
  ])("rejects %s", (s, n, reason) => {
    const r = fromHex(s, n);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toContain(reason);
  });
});
