import { createHmac, randomBytes } from "crypto";
import fc from "fast-check";
import { toHex } from "../../firmware/src/protocol/bytes";
import { pureCrypto } from "../../firmware/src/protocol/crypto";
import { escrowTek } from "../../firmware/src/protocol/escrow";
import { computeRpi, deriveRpik } from "../../firmware/src/protocol/gaen";
import { hmacSha256 } from "../../firmware/src/protocol/hmac";
import { KIND_EN } from "../../firmware/src/protocol/record";
import { aggregateContact, bucketOf } from "../../host-tools/src/authority/f1/exposure";
import { EscrowRpiEngine, paddedBlocks } from "../../host-tools/src/authority/f1/escrow-rpis";
import { hmacKeyState, hmacWords } from "../../host-tools/src/authority/f1/hmac-state";
import { resolveLog } from "../../host-tools/src/authority/f1/resolve";
import { sightingOf } from "./helpers";

describe("F1 engine computes what the band computes", () => {
  test("precomputed-state HMAC equals Node's and the protocol core's", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 64 }),
        fc.uint8Array({ minLength: 0, maxLength: 55 }),
        (key, msg) => {
          const words = new Int32Array(16);
          for (let i = 0; i < msg.length; i++) words[i >> 2] |= msg[i] << (24 - 8 * (i & 3));
          const out = new Int32Array(8);
          hmacWords(hmacKeyState(key), words, msg.length, out, 0);
          const mac = Buffer.alloc(32);
          for (let i = 0; i < 8; i++) mac.writeInt32BE(out[i], i * 4);
          expect(mac.toString("hex")).toBe(createHmac("sha256", key).update(msg).digest("hex"));
          expect(mac.toString("hex")).toBe(toHex(hmacSha256(pureCrypto.sha256, key, msg)));
        },
      ),
      { numRuns: 300 },
    );
  });

  test("escrow TEK, RPIK and RPIs equal escrowTek / deriveRpik / computeRpi (pure code)", () => {
    const engine = new EscrowRpiEngine();
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.array(fc.integer({ min: 0, max: 143 }), { minLength: 1, maxLength: 6 }),
        (secret, day, slots) => {
          engine.setBand(secret);
          engine.deriveDay(day);
          const tek = escrowTek(pureCrypto, secret, day);
          expect(engine.tek.toString("hex")).toBe(toHex(tek));
          const rpik = deriveRpik(pureCrypto, tek);
          expect(engine.rpik.toString("hex")).toBe(toHex(rpik));
          const enins = slots.map((s) => (day * 144 + s) >>> 0);
          const rpis = engine.rpis(paddedBlocks(enins));
          enins.forEach((e, i) =>
            expect(rpis.subarray(i * 16, i * 16 + 16).toString("hex")).toBe(toHex(computeRpi(pureCrypto, rpik, e))),
          );
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe("resolveLog", () => {
  const day = 20000;
  const base = day * 86400;
  const now = base + 2 * 86400;
  const secrets = [randomBytes(16), randomBytes(16), randomBytes(16)];
  const bands = secrets.map((s, i) => ({ rowId: i + 1, bandId: "000000000000000" + i, secretSealed: s }));

  async function run(records: ReturnType<typeof sightingOf>[], tolerance = 2) {
    return resolveLog({
      f0BandId: "ffffffffffffffff",
      log: {
        bandId: Buffer.alloc(8, 0xff),
        segments: [{ header: { seq: 1, baseTime: base, monotonic: false, bootEpoch: 0 }, records }],
      },
      now,
      tolerance,
      maxAgeDays: 30,
      bands: async (after, limit) => bands.filter((b) => b.rowId > after).slice(0, limit),
      unseal: (b) => b.secretSealed,
      pageSize: 2,
    });
  }

  // An RPI goes on air at most 25 min (RPI_MAX_ON_AIR_S) before its first sighting and not after it; the
  // clock tolerance (2 intervals) widens that on both sides: intervals -5..+2 around the sighting's.
  test.each([
    ["same interval", 0, true],
    ["5 intervals earlier (25 min on air + 20 min of clocks)", -5, true],
    ["2 intervals later", 2, true],
    ["6 intervals earlier", -6, false],
    ["3 intervals later", 3, false],
    ["12 intervals earlier (the old +-2 h window)", -12, false],
  ])("match window: RPI %s", async (_n, offset, matches) => {
    const seenAt = base + 12 * 3600;
    const enin = Math.floor(seenAt / 600) + offset;
    const r = await run([sightingOf(secrets[1], enin, { seenAt, base, duration: 0, rssiMean: -60, txPower: -8 })]);
    expect(r.matches.map((m) => m.f1BandId)).toEqual(matches ? [bands[1].bandId] : []);
    expect(r.stats.bandsScanned).toBe(3);
  });

  test("a record claiming one RPI for 63 minutes is capped to the 25 minutes an RPI can be on air", async () => {
    const seenAt = base + 12 * 3600;
    const enin = Math.floor(seenAt / 600);
    const r = await run([sightingOf(secrets[1], enin, { seenAt, base, duration: 63, rssiMean: -40, txPower: -8 })]);
    expect(r.stats.cappedSpans).toBe(1);
    expect(r.matches.map((m) => [m.f1BandId, m.sighting.minutes])).toEqual([[bands[1].bandId, 25]]);
  });

  test("decrypts tx power from the AEM byte", async () => {
    const seenAt = base + 600 * 30;
    const recs = [-20, -8, 0, 7].map((tx, i) =>
      sightingOf(secrets[i % 3], Math.floor(seenAt / 600) + i, {
        seenAt: seenAt + i * 600,
        base,
        duration: 3,
        rssiMean: -60,
        txPower: tx,
      }),
    );
    const r = await run(recs);
    expect(r.matches.map((m) => m.txPower).sort((a, b) => a! - b!)).toEqual([-20, -8, 0, 7]);
  });

  test("a sighting near midnight matches the previous day's key", async () => {
    const seenAt = base + 86400 + 300; // 00:05 the next day
    const enin = Math.floor((base + 86400 - 1800) / 600); // 23:30 of `day`
    const r = await run([sightingOf(secrets[2], enin, { seenAt, base, duration: 5, rssiMean: -60, txPower: -8 })]);
    expect(r.matches).toHaveLength(1);
    expect(r.stats.days).toBe(2);
  });

  test("only the intervals a sighting can match are computed", async () => {
    const seenAt = base + 12 * 3600;
    const r = await run([
      sightingOf(secrets[0], Math.floor(seenAt / 600), { seenAt, base, duration: 0, rssiMean: -60, txPower: -8 }),
    ]);
    expect(r.stats.rpisComputed).toBe(3 * 8);
  });

  test("records outside the plausible window are skipped", async () => {
    const seenAt = base - 40 * 86400;
    const rec = {
      kind: KIND_EN,
      id: randomBytes(8),
      startMinute: 0,
      durationMinutes: 1,
      rssiMean: 0,
      aemTx: 0,
    };
    const r = await resolveLog({
      f0BandId: "ffffffffffffffff",
      log: {
        bandId: Buffer.alloc(8),
        segments: [{ header: { seq: 1, baseTime: seenAt, monotonic: false, bootEpoch: 0 }, records: [rec] }],
      },
      now,
      tolerance: 12,
      maxAgeDays: 30,
      bands: async () => [],
      unseal: () => undefined,
    });
    expect(r.stats.skippedOutOfRange).toBe(1);
  });
});

describe("exposure buckets", () => {
  const settings = {
    attenuationThresholdsDb: [55, 63, 70],
    closeBucket: 1,
    closeContactMinutes: 15,
    defaultTxPowerDbm: -6,
  };

  test.each([
    [0, 0],
    [55, 0],
    [56, 1],
    [63, 1],
    [70, 2],
    [71, 3],
    [200, 3],
  ])("attenuation %i dB -> bucket %i", (att, bucket) => {
    expect(bucketOf(att, settings.attenuationThresholdsDb)).toBe(bucket);
  });

  const s = (startMin: number, duration: number, rssiMean: number, txPower: number | null = -6) => ({
    f0BandId: "f0",
    f1BandId: "f1",
    rpiPrefix: String(startMin),
    startTime: 1_700_000_000 - (1_700_000_000 % 86400) + startMin * 60,
    durationMinutes: duration,
    rssiMean,
    txPower,
    day: 0,
    logId: 1,
  });

  test("overlapping records count each minute once, in the closest bucket", () => {
    const c = aggregateContact([s(0, 10, -70), s(5, 10, -55)], settings, 0);
    // minutes 0-4 far only (att 64 -> bucket 2), 5-14 close (att 49 -> bucket 0)
    expect(c.minutes).toEqual([10, 0, 5, 0]);
    expect(c.closeContact).toBe(false);
    expect(c.sightings).toBe(2);
  });

  test("15 close minutes in a day make a close contact; single scans count one minute", () => {
    expect(aggregateContact([s(0, 14, -50), s(20, 0, -50)], settings, 0).closeContact).toBe(true);
    expect(aggregateContact([s(0, 13, -50), s(20, 0, -50)], settings, 0).closeContact).toBe(false);
  });

  test("unknown tx power uses the configured default", () => {
    expect(aggregateContact([s(0, 3, -50, null)], settings, 0).minutes).toEqual([3, 0, 0, 0]);
    expect(aggregateContact([s(0, 3, -50, null)], { ...settings, defaultTxPowerDbm: 20 }, 0).minutes).toEqual([
      0, 0, 3, 0,
    ]);
  });
});
