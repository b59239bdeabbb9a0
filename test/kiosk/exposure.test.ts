import { generateKeyPairSync, KeyObject, randomBytes } from "crypto";
import fc from "fast-check";
import * as fs from "fs";
import * as path from "path";
import { fromHex, toHex } from "../../firmware/src/protocol/bytes";
import { pureCrypto } from "../../firmware/src/protocol/crypto";
import { computeAem, computeRpi, deriveAemk, deriveRpik } from "../../firmware/src/protocol/gaen";
import { KIND_BLUEZONE, KIND_EN, RECORD_ID_BYTES } from "../../firmware/src/protocol/record";
import {
  encodeExportBin,
  encodeSignatureList,
  KeyExport,
  SIGNATURE_ALGORITHM,
  signExport,
  zipExport,
} from "../../host-tools/src/authority/export/export-file";
import { ExportRefusedError, openExport, verificationKeyFromPem } from "../../host-tools/src/kiosk/exposure";
import {
  DiagnosisKey,
  diagnosisKeysOf,
  matchExposures,
  MatchLog,
  Sighting,
  SightingIndex,
  SightingMatch,
} from "../../host-tools/src/kiosk/exposure/match";
import { deriveRpikNative, RpikDeriver } from "../../host-tools/src/kiosk/exposure/rpik";
import {
  DEFAULT_EXPOSURE_WINDOW_CONFIG,
  exposureWindows,
  parseExposureWindowConfig,
} from "../../host-tools/src/kiosk/exposure/windows";
import { FIXTURES, VECTORS } from "../helpers/paths";

interface Vectors {
  tek: string;
  rpik: string;
  metadata: string;
  firstIntervalNumber: number;
  rollingPeriod: number;
  intervals: { intervalNumber: number; rpi: string; aem: string }[];
}
const V = JSON.parse(fs.readFileSync(VECTORS, "utf8")) as Vectors;

function hex(h: string): Uint8Array {
  const r = fromHex(h, -1);
  if (!r.ok) throw new Error(r.error);
  return r.value;
}

function key(tek: Uint8Array, rollingStart: number, over: Partial<DiagnosisKey> = {}): DiagnosisKey {
  return {
    tek,
    rollingStartIntervalNumber: rollingStart,
    rollingPeriod: 144,
    transmissionRisk: 4,
    reportType: "CONFIRMED_TEST",
    daysSinceOnset: 0,
    ...over,
  };
}

function sighting(id: Uint8Array, startUnix: number | null, over: Partial<Sighting> = {}): Sighting {
  return {
    kind: KIND_EN,
    id: id.slice(0, RECORD_ID_BYTES),
    startUnix,
    durationMinutes: 4,
    rssiMean: -59,
    aemTx: 0,
    ...over,
  };
}

/** A record of a vector interval's RPI, with the vector's AEM byte (it passes the matcher's AEM check). */
function vectorSighting(iv: { rpi: string; aem: string }, startUnix: number | null): Sighting {
  return sighting(hex(iv.rpi), startUnix, { aemTx: hex(iv.aem)[1] });
}

/** The RPI of `tek` for `enin`, and AEM byte 1 encrypting `txPower`, with the band's own (pure) code. */
function pureRpi(tek: Uint8Array, enin: number, txPower: number): { rpi: Uint8Array; aemTx: number } {
  const rpi = computeRpi(pureCrypto, deriveRpik(pureCrypto, tek), enin);
  const aem = computeAem(pureCrypto, deriveAemk(pureCrypto, tek), rpi, new Uint8Array([0x40, txPower & 255, 0, 0]));
  return { rpi, aemTx: aem[1] };
}

describe("matching against the official Exposure Notification vectors", () => {
  const tek = hex(V.tek);

  test("the fast RPIK derivation gives the vector RPIK and hkdfSync's", () => {
    const out = Buffer.alloc(16);
    new RpikDeriver().derive(tek, 0, out);
    expect(toHex(out)).toBe(V.rpik);
    expect(toHex(deriveRpikNative(tek))).toBe(V.rpik);
  });

  test("every vector RPI in a log matches its interval, and the AEM decrypts to the vector's tx power", () => {
    const sightings = V.intervals.map((iv) => vectorSighting(iv, iv.intervalNumber * 600 + 30));
    const logs: MatchLog[] = [{ bandId: "band-vectors", sightings }];
    const { matches, keyStats } = matchExposures([key(tek, V.firstIntervalNumber)], logs);
    expect(keyStats.rpis).toBe(V.rollingPeriod);
    expect(matches).toHaveLength(V.intervals.length);
    const txPower = (hex(V.metadata)[1] << 24) >> 24;
    matches.forEach((m, i) => {
      expect(m).toMatchObject({
        bandId: "band-vectors",
        sightingIndex: i,
        source: "en",
        keyIndex: 0,
        rpiInterval: V.intervals[i].intervalNumber,
        txPowerDbm: txPower,
        attenuationDb: txPower + 59,
      });
    });
  });
});

test("one RPI seen by several bands matches in each of their logs, each by its own time", () => {
  const iv = V.intervals[70];
  const at = (enin: number) => vectorSighting(iv, enin * 600);
  const logs: MatchLog[] = [
    { bandId: "a", sightings: [at(iv.intervalNumber)] },
    { bandId: "b", sightings: [sighting(new Uint8Array(RECORD_ID_BYTES), 0), at(iv.intervalNumber + 1)] },
    { bandId: "c", sightings: [at(iv.intervalNumber + 40)] },
    { bandId: "d", sightings: [at(iv.intervalNumber - 2)] },
  ];
  const { matches } = matchExposures([key(hex(V.tek), V.firstIntervalNumber)], logs);
  expect(matches.map((m) => [m.bandId, m.sightingIndex, m.rpiInterval])).toEqual([
    ["a", 0, iv.intervalNumber],
    ["b", 1, iv.intervalNumber],
    ["d", 0, iv.intervalNumber],
  ]);
});

describe("the +-2 h window (docs/protocol.md section 5.1)", () => {
  const tek = hex(V.tek);
  const iv = V.intervals[40];
  // The record's first-sighting interval against the RPI's: 12 intervals (2 h) either way match, 13 do not.
  test.each([
    [-13, false],
    [-12, true],
    [0, true],
    [12, true],
    [13, false],
  ])("first sighting %i intervals from the RPI's interval: match %s", (shift, expected) => {
    const enin = iv.intervalNumber + shift;
    for (const within of [0, 599]) {
      const logs = [{ bandId: "b", sightings: [vectorSighting(iv, enin * 600 + within)] }];
      const { matches } = matchExposures([key(tek, V.firstIntervalNumber)], logs);
      expect(matches.length > 0).toBe(expected);
    }
  });
});

describe("revoked keys", () => {
  const tek = hex(V.tek);
  const iv = V.intervals[3];
  const logs = [{ bandId: "b", sightings: [vectorSighting(iv, iv.intervalNumber * 600)] }];

  test("a REVOKED key, and any key of its batch with the same TEK, produce nothing", () => {
    const revoked = key(tek, V.firstIntervalNumber, { reportType: "REVOKED" });
    expect(matchExposures([revoked], logs).matches).toEqual([]);
    const both = matchExposures([key(tek, V.firstIntervalNumber), revoked], logs);
    expect(both.matches).toEqual([]);
    expect(both.keyStats.revokedKeys).toBe(2);
    expect(matchExposures([key(tek, V.firstIntervalNumber)], logs).matches).toHaveLength(1);
  });

  test("an export's revised key replaces the original: revoked in revised_keys, nothing matches", () => {
    const original = { key_data: tek, rolling_start_interval_number: V.firstIntervalNumber, rolling_period: 144 };
    const exp: KeyExport = {
      signature_infos: [],
      keys: [{ ...original, report_type: "CONFIRMED_TEST" }],
      revised_keys: [{ ...original, report_type: "REVOKED" }],
    };
    const keys = diagnosisKeysOf(exp);
    expect(keys).toHaveLength(1);
    expect(keys[0].reportType).toBe("REVOKED");
    expect(matchExposures(keys, logs).matches).toEqual([]);
  });
});

describe("bad input is refused with a clear error", () => {
  const tek = hex(V.tek);
  test.each([
    ["a 15-byte TEK", [key(tek.slice(0, 15), 0)], [], /diagnosis key 0: TEK must be 16 bytes/],
    ["a rolling period of 145", [key(tek, 0, { rollingPeriod: 145 })], [], /diagnosis key 0: rollingPeriod 145/],
    [
      "a 6-byte sighting id (format 2's length)",
      [],
      [{ bandId: "b7", sightings: [{ ...sighting(new Uint8Array(5), 0), id: new Uint8Array(6) }] }],
      /band b7 sighting 0: id must be 5 bytes/,
    ],
    [
      "an unknown record kind",
      [],
      [{ bandId: "b7", sightings: [sighting(new Uint8Array(RECORD_ID_BYTES), 0, { kind: 2 })] }],
      /band b7 sighting 0: unknown kind 2/,
    ],
  ])("%s", (_what, keys, logs, message) => {
    expect(() => matchExposures(keys as DiagnosisKey[], logs as MatchLog[])).toThrow(message);
  });

  test("unplaced sightings are skipped and counted", () => {
    const iv = V.intervals[0];
    const logs = [{ bandId: "b", sightings: [vectorSighting(iv, null), sighting(new Uint8Array(RECORD_ID_BYTES), 0)] }];
    const r = matchExposures([key(tek, V.firstIntervalNumber)], logs);
    expect(r.matches).toEqual([]);
    expect(r.indexStats).toEqual({ logs: 1, enSightings: 1, bluezoneSightings: 0, unplacedSightings: 1 });
  });
});

describe("Bluezone sightings match the published F0 list", () => {
  test("by 5-byte prefix of the published id, any case; EN keys never match them", () => {
    const bz = hex("a1b2c3d4e5f6");
    const logs = [
      {
        bandId: "b",
        sightings: [
          sighting(bz, 1_700_000_000, { kind: KIND_BLUEZONE }),
          sighting(hex("000000000001"), 1_700_000_000, { kind: KIND_BLUEZONE }),
        ],
      },
    ];
    const r = matchExposures([], logs, { bluezoneF0Ids: ["A1B2C3D4E5F60718293A4B5C"] });
    expect(r.matches).toHaveLength(1);
    expect(r.matches[0]).toMatchObject({ source: "bluezone", sightingIndex: 0, key: null, txPowerDbm: null });
    expect(() => new SightingIndex(logs).matchBluezone(["a1b2"])).toThrow(/not hex of at least 5 bytes/);
  });
});

describe("openExport", () => {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const other = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const info = {
    verification_key_version: "v1",
    verification_key_id: "tracelet",
    signature_algorithm: SIGNATURE_ALGORITHM,
  };
  const exp: KeyExport = {
    start_timestamp: 1_795_910_400,
    end_timestamp: 1_795_996_800,
    region: "TL",
    batch_num: 1,
    batch_size: 1,
    signature_infos: [info],
    keys: [
      {
        key_data: randomBytes(16),
        transmission_risk_level: 5,
        rolling_start_interval_number: 2_993_184,
        rolling_period: 144,
        report_type: "CONFIRMED_TEST",
      },
    ],
    revised_keys: [],
  };

  async function build(bin: Buffer, signer: KeyObject, signedBin = bin, keyId = "tracelet"): Promise<Buffer> {
    const sig = encodeSignatureList([
      {
        signature_info: { ...info, verification_key_id: keyId },
        batch_num: 1,
        batch_size: 1,
        signature: signExport(signedBin, signer),
      },
    ]);
    return zipExport(bin, sig, new Date(exp.end_timestamp! * 1000));
  }

  test("a file signed by the authority's key opens to its keys", async () => {
    const opened = await openExport(await build(encodeExportBin(exp), privateKey), publicKey, { keyId: "tracelet" });
    expect(opened.keys).toHaveLength(1);
    expect(Buffer.from(opened.keys[0].key_data).equals(Buffer.from(exp.keys[0].key_data))).toBe(true);
    expect(diagnosisKeysOf(opened)[0]).toMatchObject({ transmissionRisk: 5, reportType: "CONFIRMED_TEST" });
  });

  test("the verification key is read from the authority's PEM, and only a P-256 public key is accepted", async () => {
    const pem = publicKey.export({ type: "spki", format: "pem" }) as string;
    const zip = await build(encodeExportBin(exp), privateKey);
    expect((await openExport(zip, verificationKeyFromPem(pem))).keys).toHaveLength(1);
    const rsa = generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey.export({ type: "spki", format: "pem" });
    expect(() => verificationKeyFromPem(rsa as string)).toThrow(/not an ECDSA P-256 public key/);
    expect(() => verificationKeyFromPem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")).toThrow(
      /not a PEM public key/,
    );
    const p384 = generateKeyPairSync("ec", { namedCurve: "secp384r1" }).publicKey;
    await expect(openExport(zip, p384, { fileName: "x.zip" })).rejects.toThrow(
      /^export file x\.zip refused: the configured verification key is not a P-256 public key\.$/,
    );
  });

  const bin = encodeExportBin(exp);
  const flipped = Buffer.from(bin);
  flipped[flipped.length - 3] ^= 0x01;
  const badProto = Buffer.concat([bin.subarray(0, 16), Buffer.from([0xff, 0xff, 0xff, 0xff])]);
  test.each([
    ["one byte of export.bin flipped", () => build(flipped, privateKey, bin), /signature does not match export.bin/],
    ["signed by another key", () => build(bin, other.privateKey), /signature does not match export.bin/],
    ["a signature under another key id", () => build(bin, privateKey, bin, "old"), /key id "old", not .*"tracelet"/],
    ["not a zip", async () => Buffer.from("PK but not really"), /not a zip file/],
    ["a malformed protobuf, properly signed", () => build(badProto, privateKey), /protobuf does not decode/],
  ])("%s: refused, naming the file, and no keys", async (_what, make, message) => {
    const zip = await make();
    const opening = openExport(zip, publicKey, { fileName: "2026-11-30.zip", keyId: "tracelet" });
    await expect(opening).rejects.toThrow(ExportRefusedError);
    await expect(opening).rejects.toThrow(message);
    // One sentence: a full stop only inside words (export.bin) and at the end.
    await expect(opening).rejects.toThrow(/^export file 2026-11-30\.zip refused: (?:[^.]|\.(?=\S))+[^.]\.$/);
  });
});

describe("exposure windows", () => {
  const DAY = 20_000; // 2024-10-04, a UTC day number
  const T = DAY * 86400;
  const tekA = new Uint8Array(16).fill(0xa);
  const tekB = new Uint8Array(16).fill(0xb);
  const keyA = key(tekA, DAY * 144, { transmissionRisk: 6, reportType: "CONFIRMED_TEST" });
  const keyB = key(tekB, DAY * 144, { transmissionRisk: 2, reportType: "SELF_REPORT" });
  function m(k: DiagnosisKey, startUnix: number, durationMinutes: number, rssiMean: number): SightingMatch {
    return {
      logIndex: 0,
      bandId: "band-1",
      sightingIndex: 0,
      sighting: sighting(new Uint8Array(RECORD_ID_BYTES), startUnix, { durationMinutes, rssiMean }),
      source: "en",
      key: k,
      keyIndex: 0,
      rpiInterval: Math.floor(startUnix / 600),
      txPowerDbm: -8,
      attenuationDb: -8 - rssiMean,
    };
  }

  // Key A: 10:00 for `firstMinutes` at 52 dB (bucket <= 55), 10:05-10:14 at 59 dB (55-63): the overlap counts once,
  // in the closer bucket. Key B: 12:00-12:19 at 72 dB (> 63, weight 0). Three days later: days score 5.
  // Risk scores: A = att 1 x duration(15 min) 1 x days 5 x level 6 = 30; B = 1 x 1 x 5 x 2 = 10 < minRiskScore 11,
  // so B's minutes do not count. exposureScore = A's weighted minutes x 30 / 25; HIGH from 15.
  test.each([
    // first record's minutes, minutes by bucket, weighted (9 + 6/2 = 12; 11 + 4/2 = 13), exposure score, risky
    [9, [9, 6, 20], 12, 14.4, false],
    [11, [11, 4, 20], 13, 15.6, true],
  ])("hand-computed day: %i minutes close", (firstMinutes, byBucket, weighted, score, risky) => {
    const matches = [
      m(keyA, T + 10 * 3600, firstMinutes, -60),
      m(keyA, T + 10 * 3600 + 5 * 60, 10, -67),
      m(keyB, T + 12 * 3600, 20, -80),
    ];
    const [band] = exposureWindows(matches, DEFAULT_EXPOSURE_WINDOW_CONFIG, T + 3 * 86400 + 100);
    expect(band.bandId).toBe("band-1");
    expect(band.exposures).toHaveLength(1);
    const e = band.exposures[0];
    expect(e).toEqual({
      day: "2024-10-04",
      dayNumber: DAY,
      source: "en",
      minutesByBucket: byBucket,
      weightedMinutes: weighted,
      minAttenuationDb: 52,
      reportType: "CONFIRMED_TEST",
      transmissionRisk: 6,
      keysMatched: [toHex(tekA), toHex(tekB)],
      sightings: 3,
      maxRiskScore: 30,
      exposureScore: expect.closeTo(score, 9),
      risky,
    });
  });

  test("a bad config from JSON is refused; fields left out take the defaults", () => {
    expect(parseExposureWindowConfig({ minRiskScore: 3 })).toEqual({
      ...DEFAULT_EXPOSURE_WINDOW_CONFIG,
      minRiskScore: 3,
    });
    expect(() => parseExposureWindowConfig({ attenuationThresholdsDb: [63, 55] })).toThrow(/thresholds must ascend/);
    expect(() => parseExposureWindowConfig({ bucketWeights: [1] })).toThrow(/bucketWeights: needs 3 weights/);
    expect(() => parseExposureWindowConfig({ typo: 1 })).toThrow(/exposure window config/);
    expect(() => parseExposureWindowConfig([])).toThrow(/must be a JSON object/);
  });

  test("the defaults are what the copied Corona-Warn-App configuration says", () => {
    const text = fs.readFileSync(path.join(FIXTURES, "datasets", "dublin-tram-gaen", "cwa_config.txt"), "utf8");
    // The file's risk levels (its header names LOWEST..MEDIUM_HIGH = 1..5; the enum goes on to HIGHEST = 8). A field
    // the file leaves out is a proto3 default: 0.
    const LEVELS = ["LOWEST", "LOW", "LOW_MEDIUM", "MEDIUM", "MEDIUM_HIGH", "HIGH", "VERY_HIGH", "HIGHEST"];
    const level = (field: string) => {
      const hit = new RegExp(`\\b${field}:\\s*([A-Z_]+)`).exec(text);
      return hit ? LEVELS.indexOf(hit[1]) + 1 : 0;
    };
    const num = (re: RegExp) => {
      const hit = re.exec(text);
      return hit ? Number(hit[1]) : 0;
    };
    const att = ["gt_73", "gt_63_le_73", "gt_51_le_63", "gt_33_le_51", "gt_27_le_33", "gt_15_le_27", "gt_10_le_15"];
    const dur = [
      "eq_0",
      "gt_0_le_5",
      "gt_5_le_10",
      "gt_10_le_15",
      "gt_15_le_20",
      "gt_20_le_25",
      "gt_25_le_30",
      "gt_30",
    ];
    const days = [
      "ge_14",
      "ge_12_lt_14",
      "ge_10_lt_12",
      "ge_8_lt_10",
      "ge_6_lt_8",
      "ge_4_lt_6",
      "ge_2_lt_4",
      "ge_0_lt_2",
    ];
    const fromFile = {
      attenuationThresholdsDb: [num(/thresholds\s*\{\s*lower:\s*(\d+)/), num(/upper:\s*(\d+)/)],
      bucketWeights: [num(/\blow:\s*([\d.]+)/), num(/\bmid:\s*([\d.]+)/), num(/\bhigh:\s*([\d.]+)/)],
      attenuationScores: [...att.map((f) => level(`${f}_dbm`)), level("lt_10_dbm")],
      durationScores: dur.map((f) => level(`${f}_min`)),
      daysSinceExposureScores: days.map((f) => level(`${f}_days`)),
      transmissionRiskScores: [1, 2, 3, 4, 5, 6, 7, 8].map((i) => level(`appDefined_${i}`)),
      minRiskScore: num(/minRiskScore:\s*(\d+)/),
      riskScoreNormalizationDivisor: num(/riskScoreNormalizationDivisor:\s*(\d+)/),
      highRiskMinExposureScore: num(/label:\s*"HIGH"\s*min:\s*(\d+)/),
    };
    expect(fromFile.attenuationThresholdsDb).toEqual([55, 63]); // the parser found the fields
    expect(DEFAULT_EXPOSURE_WINDOW_CONFIG).toMatchObject(fromFile);
  });
});

describe("the matcher equals a slow reference built from the band's own pure crypto", () => {
  const BASE_DAY = 20_400;
  const arbKey = fc.record({
    tek: fc.uint8Array({ minLength: 16, maxLength: 16 }),
    day: fc.integer({ min: 0, max: 2 }),
    startOffset: fc.integer({ min: 0, max: 143 }),
    period: fc.integer({ min: 1, max: 144 }),
    revoked: fc.integer({ min: 0, max: 9 }).map((x) => x === 0),
  });
  const arbSighting = fc.record({
    planted: fc.option(
      fc.record({
        key: fc.nat(),
        j: fc.nat(),
        shift: fc.integer({ min: -15, max: 15 }),
        // Mostly plausible tx powers, some outside the AEM check's range (those must not match).
        tx: fc.integer({ min: -60, max: 20 }),
      }),
      { freq: 2 },
    ),
    id: fc.uint8Array({ minLength: RECORD_ID_BYTES, maxLength: RECORD_ID_BYTES }),
    minute: fc.integer({ min: 0, max: 4 * 1440 - 1 }),
    duration: fc.integer({ min: 0, max: 6 }).map((s) => s * 4),
    rssi: fc.integer({ min: -100, max: -30 }),
    aemTx: fc.integer({ min: 0, max: 255 }),
    unplaced: fc.integer({ min: 0, max: 9 }).map((x) => x === 0),
  });

  test("random keys and logs with planted RPIs", () => {
    let matched = 0;
    fc.assert(
      fc.property(
        fc.array(arbKey, { minLength: 1, maxLength: 3 }),
        fc.array(fc.array(arbSighting, { maxLength: 12 }), { minLength: 1, maxLength: 3 }),
        (rawKeys, rawLogs) => {
          const keys: DiagnosisKey[] = rawKeys.map((k) =>
            key(k.tek, (BASE_DAY + k.day) * 144 + k.startOffset, {
              rollingPeriod: k.period,
              reportType: k.revoked ? "REVOKED" : "CONFIRMED_TEST",
            }),
          );
          const logs: MatchLog[] = rawLogs.map((raw, l) => ({
            bandId: `band-${l}`,
            sightings: raw.map((s) => {
              if (s.planted === null) {
                const start = s.unplaced ? null : BASE_DAY * 86400 + s.minute * 60;
                return sighting(s.id, start, { durationMinutes: s.duration, rssiMean: s.rssi, aemTx: s.aemTx });
              }
              const k = keys[s.planted.key % keys.length];
              const enin = k.rollingStartIntervalNumber + (s.planted.j % k.rollingPeriod);
              const { rpi, aemTx } = pureRpi(k.tek, enin, s.planted.tx);
              const start = (enin + s.planted.shift) * 600 + (s.minute % 600);
              return sighting(rpi, start, { durationMinutes: s.duration, rssiMean: s.rssi, aemTx });
            }),
          }));
          const fast = matchExposures(keys, logs).matches.map((m) => [
            m.logIndex,
            m.sightingIndex,
            m.keyIndex,
            m.rpiInterval,
            m.txPowerDbm,
            m.attenuationDb,
          ]);
          expect(fast).toEqual(reference(keys, logs));
          matched += fast.length;
        },
      ),
      { numRuns: 60 },
    );
    // Not vacuous: planted records (a third of them) match unless their key is revoked or they were shifted too far.
    expect(matched).toBeGreaterThan(30);
  });

  test("the fast RPIK derivation equals hkdfSync and the pure HKDF on random TEKs", () => {
    const deriver = new RpikDeriver();
    const out = Buffer.alloc(16);
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (tek) => {
        deriver.derive(tek, 0, out);
        expect(toHex(out)).toBe(toHex(deriveRpikNative(tek)));
        expect(toHex(out)).toBe(toHex(deriveRpik(pureCrypto, tek)));
      }),
      { numRuns: 100 },
    );
  });
});

/** The rule of docs/protocol.md section 5.1, one RPI at a time, in the band's pure code. */
function reference(keys: DiagnosisKey[], logs: MatchLog[]): (number | null)[][] {
  const revoked = new Set(keys.filter((k) => k.reportType === "REVOKED").map((k) => toHex(k.tek)));
  const out: (number | null)[][] = [];
  keys.forEach((k, ki) => {
    if (revoked.has(toHex(k.tek))) return;
    const rpik = deriveRpik(pureCrypto, k.tek);
    const aemk = deriveAemk(pureCrypto, k.tek);
    for (let j = 0; j < k.rollingPeriod; j++) {
      const enin = k.rollingStartIntervalNumber + j;
      const rpi = computeRpi(pureCrypto, rpik, enin);
      logs.forEach((log, li) =>
        log.sightings.forEach((s, si) => {
          if (s.kind !== KIND_EN || s.startUnix === null) return;
          if (toHex(s.id) !== toHex(rpi.subarray(0, 5))) return;
          if (Math.abs(Math.floor(s.startUnix / 600) - enin) > 12) return;
          const tx = (computeAem(pureCrypto, aemk, rpi, new Uint8Array([0, s.aemTx, 0, 0]))[1] << 24) >> 24;
          if (tx < -37 || tx > 10) return; // the AEM check
          out.push([li, si, ki, enin, tx, tx - s.rssiMean]);
        }),
      );
    }
  });
  return out.sort(
    (a, b) =>
      (a[0] as number) - (b[0] as number) || (a[1] as number) - (b[1] as number) || (a[2] as number) - (b[2] as number),
  );
}
