import * as fs from "fs";
import * as path from "path";
import {
  compareWithEpfl,
  defaultRadioFixturesDir,
  EPFL_SCENARIOS,
  IndoorComparison,
  loadEpflScans,
} from "../../host-tools/src/sim/calibration-indoor";
import { ENVIRONMENTS } from "../../host-tools/src/sim/radio";

/**
 * The indoor radio presets against the EPFL GAEN measurements (test/fixtures/radio/epfl-scans.json, README there):
 * per-scan attenuation of phone pairs at 0-7 m with camera distances. Each preset must reproduce the distribution
 * per distance band (Kolmogorov-Smirnov distance, averaged over three seeds), and the body loss it assumes must be
 * what the body-position measurements (body-position.json) show.
 */
const KS_MEAN_BOUND = 0.13;
const KS_BAND_BOUND = 0.25;
const MEAN_ERROR_DB = 2;

const rows = loadEpflScans();

function averaged(env: string): { meanKs: number; bands: { band: [number, number]; ks: number; meanError: number }[] } {
  const runs: IndoorComparison[] = [1, 2, 3].map((s) => compareWithEpfl(env, s, rows));
  const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  return {
    meanKs: avg(runs.map((r) => r.meanKs)),
    bands: runs[0].bands.map((b, i) => ({
      band: b.band,
      ks: avg(runs.map((r) => r.bands[i].ks)),
      meanError: Math.abs(avg(runs.map((r) => r.bands[i].simMean)) - b.dataMean),
    })),
  };
}

test("the fixture holds the four EPFL scenarios: 2,266 scans at 0-15 m, attenuation censored at 83 dB", () => {
  expect(rows).toHaveLength(2266);
  expect([...new Set(rows.map((r) => r.scenario))]).toEqual(EPFL_SCENARIOS);
  expect(Math.max(...rows.map((r) => r.d))).toBeLessThan(15);
  expect(Math.max(...rows.map((r) => r.att))).toBeLessThanOrEqual(83.5);
  expect(rows.every((r) => r.packets >= 1)).toBe(true);
});

test.each(["epfl-indoor", "epfl-indoor-light-body"])(
  `%s: KS distance to the EPFL scans < ${KS_MEAN_BOUND} (mean over bands), < ${KS_BAND_BOUND} in every band`,
  (env) => {
    const c = averaged(env);
    expect(c.meanKs).toBeLessThan(KS_MEAN_BOUND);
    for (const b of c.bands) {
      expect({ band: b.band, ks: b.ks < KS_BAND_BOUND }).toEqual({ band: b.band, ks: true });
      expect({ band: b.band, meanOk: b.meanError <= MEAN_ERROR_DB }).toEqual({ band: b.band, meanOk: true });
    }
  },
);

test("the bound tells presets apart: the assumed indoor preset and the tram preset miss the EPFL data", () => {
  expect(averaged("indoor").meanKs).toBeGreaterThan(KS_MEAN_BOUND);
  expect(averaged("dublin-tram").meanKs).toBeGreaterThan(KS_MEAN_BOUND);
  // A preset 4 dB off in its intercept fails too.
  const off = { ...ENVIRONMENTS["epfl-indoor"], pathLossAt1mDb: ENVIRONMENTS["epfl-indoor"].pathLossAt1mDb + 4 };
  expect(compareWithEpfl(off, 1, rows).meanKs).toBeGreaterThan(KS_MEAN_BOUND);
});

test("body loss per body matches the body-position data: 7.6-8.9 dB both on body, <= 4.8 dB one in hand", () => {
  type Row = { dM: number; mean: number };
  const sets = (
    JSON.parse(fs.readFileSync(path.join(defaultRadioFixturesDir(), "body-position.json"), "utf8")) as {
      sets: Record<string, Row[]>;
    }
  ).sets;
  // Mean RSSI below hand-hand over 0.4-3 m.
  const below = (k: string) => {
    const hh = new Map(sets.HH.map((r) => [r.dM, r.mean]));
    const d = sets[k].filter((r) => r.dM >= 0.4 && r.dM <= 3 && hh.has(r.dM));
    return d.reduce((s, r) => s + (hh.get(r.dM) as number) - r.mean, 0) / d.length;
  };
  // Both phones in the same place on the body; one in hand and one on the body (pocket-backpack, which shows no
  // loss at all, is left out: the data disagree there).
  const bothOnBody = [below("PP") / 2, below("BB") / 2];
  const oneInHand = ["HP", "HB"].map(below);
  expect(Math.min(...bothOnBody)).toBeGreaterThan(7);
  expect(Math.max(...bothOnBody)).toBeLessThan(9.5);
  const body = ENVIRONMENTS["epfl-indoor"].bodyLossDb;
  expect(body).toBeGreaterThanOrEqual(Math.floor(Math.min(...bothOnBody)));
  expect(body).toBeLessThanOrEqual(Math.ceil(Math.max(...bothOnBody)));
  const light = ENVIRONMENTS["epfl-indoor-light-body"].bodyLossDb;
  expect(light).toBeLessThanOrEqual(Math.max(...oneInHand));
  expect(light).toBeGreaterThan(0);
});
