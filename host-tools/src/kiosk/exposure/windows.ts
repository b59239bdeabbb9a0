import { z } from "zod";
import { toHex } from "../../../../firmware/src/protocol/bytes";
import { ReportTypeName } from "../../authority/export/export-file";
import { SightingMatch } from "./match";

/**
 * Exposures per (band, UTC day) from matched sightings, in Exposure Notification v2 ExposureWindow terms: each
 * matched record is a scan instance of `max(1, durationMinutes)` minutes at typical attenuation txPower - rssiMean
 * (a record keeps the mean RSSI only, so "minimum attenuation" is the smallest of the records' mean attenuations);
 * a window is dated by its first sighting's UTC day; per day, minutes are summed per attenuation bucket
 * (attenuationThresholdsDb: bucket i holds attenuation <= threshold i, the last bucket the rest) and weighted by
 * bucketWeights. A minute that two records of the same key cover (overlapping records) counts once, in the
 * closer bucket; different keys are different people and add up, as v2's daily summaries do.
 *
 * Risk ("risky"), as the Corona-Warn-App configuration of June 2020 (cwa_config.txt, Exposure Notification v1
 * scores) defines it, applied per (band, day, source):
 *   riskScore(key) = attenuationScore(mean attenuation of the key's minutes) x durationScore(the key's minutes)
 *                    x daysScore(days from the exposure day to `now`) x transmissionScore(key's level)
 *   maxRiskScore   = the largest riskScore of the day's keys; keys below minRiskScore do not count
 *   exposureScore  = (weighted minutes of the keys that count) x maxRiskScore / riskScoreNormalizationDivisor
 *   risky          = exposureScore >= highRiskMinExposureScore (the HIGH risk class's lower bound)
 * Bluezone sightings carry no key: their transmission score is unknownTransmissionRiskScore and their tx power
 * bluezoneTxPowerDbm. The per-score weights of the file (transmissionWeight, ...) are not used: Exposure
 * Notification v1 multiplies the scores without them.
 */

const score = z.number().int().min(0).max(8);
const eightScores = z.array(score).length(8);

export const ExposureWindowConfigSchema = z
  .object({
    /** Ascending upper bounds (dB, inclusive) of the attenuation buckets; one more bucket holds the rest. */
    attenuationThresholdsDb: z.array(z.number()).min(1).max(7),
    /** Weight of a minute in each bucket (thresholds + 1 entries). */
    bucketWeights: z.array(z.number().min(0)),
    /** Scores for attenuation > 73, (63, 73], (51, 63], (33, 51], (27, 33], (15, 27], (10, 15], <= 10 dB. */
    attenuationScores: eightScores,
    /** Scores for duration = 0, <= 5, <= 10, <= 15, <= 20, <= 25, <= 30, > 30 minutes. */
    durationScores: eightScores,
    /** Scores for days since the exposure >= 14, 12-13, 10-11, 8-9, 6-7, 4-5, 2-3, 0-1. */
    daysSinceExposureScores: eightScores,
    /** Scores for transmission risk levels 1-8. */
    transmissionRiskScores: eightScores,
    /** Score of a key without a level 1-8, and of Bluezone sightings. */
    unknownTransmissionRiskScore: score,
    minRiskScore: z.number().int().min(0),
    riskScoreNormalizationDivisor: z.number().positive(),
    highRiskMinExposureScore: z.number().min(0),
    /** Tx power assumed for Bluezone sightings (they carry none), dBm. */
    bluezoneTxPowerDbm: z.number().int().min(-127).max(127),
  })
  .strict()
  .superRefine((c, ctx) => {
    for (let i = 1; i < c.attenuationThresholdsDb.length; i++) {
      if (c.attenuationThresholdsDb[i] <= c.attenuationThresholdsDb[i - 1]) {
        ctx.addIssue({ code: "custom", path: ["attenuationThresholdsDb"], message: "thresholds must ascend" });
      }
    }
    if (c.bucketWeights.length !== c.attenuationThresholdsDb.length + 1) {
      ctx.addIssue({
        code: "custom",
        path: ["bucketWeights"],
        message: `needs ${c.attenuationThresholdsDb.length + 1} weights (one per bucket), got ${c.bucketWeights.length}`,
      });
    }
  });

export type ExposureWindowConfig = z.infer<typeof ExposureWindowConfigSchema>;

/**
 * Defaults: the Corona-Warn-App configuration fetched on 22 June 2020 (test/fixtures/datasets/dublin-tram-gaen/
 * cwa_config.txt; test/kiosk/exposure.test.ts checks these against it). Entries the file leaves out are proto3
 * defaults, 0: attenuation > 73 dB, durations up to 10 minutes and the high-attenuation weight. Not from the file:
 * unknownTransmissionRiskScore (Tracelet: the highest score, a key published without a level counts as
 * infectious as any) and bluezoneTxPowerDbm (-24 dBm: the median tx power of Google's Exposure Notification
 * per-model calibration table of June 2020, EN-Calibration-June-13th.csv in the same dataset).
 */
export const DEFAULT_EXPOSURE_WINDOW_CONFIG: ExposureWindowConfig = {
  attenuationThresholdsDb: [55, 63],
  bucketWeights: [1.0, 0.5, 0],
  attenuationScores: [0, 1, 1, 1, 1, 1, 1, 1],
  durationScores: [0, 0, 0, 1, 1, 1, 1, 1],
  daysSinceExposureScores: [5, 5, 5, 5, 5, 5, 5, 5],
  transmissionRiskScores: [1, 2, 3, 4, 5, 6, 7, 8],
  unknownTransmissionRiskScore: 8,
  minRiskScore: 11,
  riskScoreNormalizationDivisor: 25,
  highRiskMinExposureScore: 15,
  bluezoneTxPowerDbm: -24,
};

/** A config from JSON (the kiosk's config file): fields left out take the defaults; anything wrong is refused. */
export function parseExposureWindowConfig(json: unknown): ExposureWindowConfig {
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    throw new Error("exposure window config must be a JSON object");
  }
  const parsed = ExposureWindowConfigSchema.safeParse({ ...DEFAULT_EXPOSURE_WINDOW_CONFIG, ...json });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`exposure window config: ${issue.path.join(".") || "(root)"}: ${issue.message}`);
  }
  return parsed.data;
}

export interface DayExposure {
  /** UTC day, "YYYY-MM-DD", and as days since 1970-01-01. */
  day: string;
  dayNumber: number;
  source: "en" | "bluezone";
  /** Minutes per attenuation bucket (closest first). */
  minutesByBucket: number[];
  weightedMinutes: number;
  /** Smallest mean attenuation of the day's records (dB). */
  minAttenuationDb: number;
  /** The most certain report type of the day's keys (null for Bluezone). */
  reportType: ReportTypeName | null;
  /** The highest transmission risk level of the day's keys (null if none carries one). */
  transmissionRisk: number | null;
  /** TEKs (hex) of the keys matched that day; empty for Bluezone. */
  keysMatched: string[];
  /** Matched records. */
  sightings: number;
  maxRiskScore: number;
  exposureScore: number;
  risky: boolean;
}

export interface BandExposures {
  bandId: string;
  /** By day, Exposure Notification before Bluezone. */
  exposures: DayExposure[];
}

/** Report types from most to least certain: the day's exposure shows the most certain of its keys. */
const REPORT_TYPE_ORDER: ReportTypeName[] = [
  "CONFIRMED_TEST",
  "CONFIRMED_CLINICAL_DIAGNOSIS",
  "SELF_REPORT",
  "RECURSIVE",
  "UNKNOWN",
  "REVOKED",
];

export function bucketOfAttenuation(attenuationDb: number, thresholdsDb: readonly number[]): number {
  for (let i = 0; i < thresholdsDb.length; i++) if (attenuationDb <= thresholdsDb[i]) return i;
  return thresholdsDb.length;
}

function attenuationScoreIndex(att: number): number {
  const bounds = [73, 63, 51, 33, 27, 15, 10];
  for (let i = 0; i < bounds.length; i++) if (att > bounds[i]) return i;
  return 7;
}

function durationScoreIndex(minutes: number): number {
  if (minutes <= 0) return 0;
  const bounds = [5, 10, 15, 20, 25, 30];
  for (let i = 0; i < bounds.length; i++) if (minutes <= bounds[i]) return i + 1;
  return 7;
}

function daysScoreIndex(days: number): number {
  if (days >= 14) return 0;
  return 7 - Math.floor(Math.max(0, days) / 2);
}

interface KeyDay {
  /** Minute number -> attenuation of the closest record covering it. */
  minutes: Map<number, number>;
  transmissionRisk: number | null;
  reportType: ReportTypeName | null;
  tekHex: string | null;
}

/**
 * Per band, the exposures of each UTC day from `matches` (matchExposures' output), scored with `config` as of
 * `nowUnix` (seconds; the days-since-exposure score counts from its UTC day).
 */
export function exposureWindows(
  matches: readonly SightingMatch[],
  config: ExposureWindowConfig,
  nowUnix: number,
): BandExposures[] {
  if (!Number.isFinite(nowUnix)) throw new Error(`exposureWindows: now ${nowUnix} is not a time`);
  // band -> "day/source" -> key (TEK hex or "bluezone") -> minutes
  const bands = new Map<string, Map<string, Map<string, KeyDay>>>();
  const counts = new Map<string, { sightings: number; minAtt: number }>();
  for (const m of matches) {
    const s = m.sighting;
    if (s.startUnix === null) throw new Error(`band ${m.bandId} sighting ${m.sightingIndex}: a match has no time`);
    const tx = m.source === "en" ? m.txPowerDbm : config.bluezoneTxPowerDbm;
    if (tx === null) throw new Error(`band ${m.bandId} sighting ${m.sightingIndex}: an EN match has no tx power`);
    const att = tx - s.rssiMean;
    const dayNumber = Math.floor(s.startUnix / 86400);
    const dayKey = `${dayNumber}/${m.source}`;
    let days = bands.get(m.bandId);
    if (!days) bands.set(m.bandId, (days = new Map()));
    let keys = days.get(dayKey);
    if (!keys) days.set(dayKey, (keys = new Map()));
    const tekHex = m.key ? toHex(m.key.tek) : null;
    let kd = keys.get(tekHex ?? "bluezone");
    if (!kd) {
      kd = {
        minutes: new Map(),
        transmissionRisk: m.key?.transmissionRisk ?? null,
        reportType: m.key?.reportType ?? null,
        tekHex,
      };
      keys.set(tekHex ?? "bluezone", kd);
    }
    const first = Math.floor(s.startUnix / 60);
    for (let t = first; t < first + Math.max(1, s.durationMinutes); t++) {
      const prev = kd.minutes.get(t);
      if (prev === undefined || att < prev) kd.minutes.set(t, att);
    }
    const countKey = `${m.bandId}/${dayKey}`;
    const c = counts.get(countKey);
    if (c) {
      c.sightings++;
      c.minAtt = Math.min(c.minAtt, att);
    } else counts.set(countKey, { sightings: 1, minAtt: att });
  }

  const today = Math.floor(nowUnix / 86400);
  const out: BandExposures[] = [];
  for (const [bandId, days] of [...bands].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) {
    const exposures: DayExposure[] = [];
    for (const [dayKey, keys] of days) {
      const [dayText, source] = dayKey.split("/");
      const dayNumber = Number(dayText);
      const c = counts.get(`${bandId}/${dayKey}`) as { sightings: number; minAtt: number };
      exposures.push(scoreDay(dayNumber, source as "en" | "bluezone", [...keys.values()], c, config, today));
    }
    exposures.sort((a, b) => a.dayNumber - b.dayNumber || (a.source === b.source ? 0 : a.source === "en" ? -1 : 1));
    out.push({ bandId, exposures });
  }
  return out;
}

function scoreDay(
  dayNumber: number,
  source: "en" | "bluezone",
  keys: KeyDay[],
  c: { sightings: number; minAtt: number },
  config: ExposureWindowConfig,
  today: number,
): DayExposure {
  const buckets = config.attenuationThresholdsDb.length + 1;
  const minutesByBucket = new Array<number>(buckets).fill(0);
  const daysScore = config.daysSinceExposureScores[daysScoreIndex(today - dayNumber)];
  let maxRiskScore = 0;
  const perKey: { weighted: number; risk: number }[] = [];
  for (const k of keys) {
    let weighted = 0;
    let attSum = 0;
    for (const att of k.minutes.values()) {
      const b = bucketOfAttenuation(att, config.attenuationThresholdsDb);
      minutesByBucket[b]++;
      weighted += config.bucketWeights[b];
      attSum += att;
    }
    const level = k.transmissionRisk;
    const trScore =
      level !== null && Number.isInteger(level) && level >= 1 && level <= 8
        ? config.transmissionRiskScores[level - 1]
        : config.unknownTransmissionRiskScore;
    const risk =
      config.attenuationScores[attenuationScoreIndex(attSum / k.minutes.size)] *
      config.durationScores[durationScoreIndex(k.minutes.size)] *
      daysScore *
      trScore;
    maxRiskScore = Math.max(maxRiskScore, risk);
    perKey.push({ weighted, risk });
  }
  const weightedMinutes = perKey.reduce((s, k) => s + k.weighted, 0);
  const counted = perKey.filter((k) => k.risk >= config.minRiskScore).reduce((s, k) => s + k.weighted, 0);
  const exposureScore = (counted * maxRiskScore) / config.riskScoreNormalizationDivisor;
  const levels = keys.map((k) => k.transmissionRisk).filter((l): l is number => l !== null);
  const types = keys.map((k) => k.reportType).filter((t): t is ReportTypeName => t !== null);
  types.sort((a, b) => REPORT_TYPE_ORDER.indexOf(a) - REPORT_TYPE_ORDER.indexOf(b));
  return {
    day: new Date(dayNumber * 86400 * 1000).toISOString().slice(0, 10),
    dayNumber,
    source,
    minutesByBucket,
    weightedMinutes,
    minAttenuationDb: c.minAtt,
    reportType: types[0] ?? null,
    transmissionRisk: levels.length ? Math.max(...levels) : null,
    keysMatched: keys.map((k) => k.tekHex).filter((h): h is string => h !== null),
    sightings: c.sightings,
    maxRiskScore,
    exposureScore,
    risky: maxRiskScore >= config.minRiskScore && exposureScore >= config.highRiskMinExposureScore,
  };
}
