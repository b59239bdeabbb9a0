import * as fs from "fs";
import * as path from "path";
import { environment, Position, RadioEnvironment, RadioMedium, RadioNode } from "./radio";
import { Rng } from "./rng";

/**
 * The radio model against indoor measurements with camera ground truth: the EPFL GAEN experiment (DP-3T,
 * 30 July 2020, an office atrium: lunch tables with phones in pockets, a mock train carriage, an open-plan office
 * with phones on desks, a gym class). test/fixtures/radio/epfl-scans.json holds one row per scan instance (a phone
 * receiving another for ~3 s, every few minutes): pair, time, camera distance, packets received and the scan's
 * attenuation (13-Jun-2020 calibration; host-tools/scripts/radio-fixtures.ts writes it, README.md there names the
 * sources). For each row we simulate the same pair (one random orientation per pair, kept for the whole scenario,
 * so the pair shadowing evolves between a pair's scans as it does on the real channel), send the row's number of
 * packets at its distance and time, and take the scan's attenuation as tx power - mean RSSI of the packets received.
 * The handsets decode down to an attenuation of CENSOR_ATT_DB (the data's weakest packets, -104 dBm), so scans of
 * distant pairs are censored as in the data. Distributions are compared per distance band (Kolmogorov-Smirnov).
 */
export const EPFL_SCENARIOS = ["scenario01-lunch", "scenario02-train", "scenario03-office", "scenario06-movement"];

/** Highest attenuation the EPFL phones could see: -21 - (-104 dBm). */
export const CENSOR_ATT_DB = 83;

export const INDOOR_DISTANCE_BANDS: [number, number][] = [
  [0, 1],
  [1, 1.5],
  [1.5, 2],
  [2, 3],
  [3, 4],
  [4, 7],
];

export interface ScanRow {
  scenario: string;
  pair: number;
  /** Seconds since the scenario's first packet. */
  t: number;
  /** Camera distance between the two people (m). */
  d: number;
  packets: number;
  /** Attenuation (dB). */
  att: number;
}

export function defaultRadioFixturesDir(): string {
  return path.resolve(__dirname, "..", "..", "..", "test", "fixtures", "radio");
}

export function loadEpflScans(dir: string = defaultRadioFixturesDir()): ScanRow[] {
  const f = JSON.parse(fs.readFileSync(path.join(dir, "epfl-scans.json"), "utf8")) as {
    columns: string[];
    scenarios: Record<string, number[][]>;
  };
  if (f.columns.join(",") !== "pair,t,d,packets,att")
    throw new Error(`epfl-scans.json: unexpected columns ${f.columns.join(",")}`);
  const rows: ScanRow[] = [];
  for (const [scenario, list] of Object.entries(f.scenarios))
    for (const [pair, t, d, packets, att] of list) rows.push({ scenario, pair, t, d, packets, att });
  return rows;
}

class Phone implements RadioNode {
  readonly worn = true;
  readonly rxGainDb = 0;
  pos: Position;
  constructor(
    readonly radioIndex: number,
    heading: number,
  ) {
    this.pos = { x: 0, y: 0, heading };
  }
  positionAt(): Position {
    return this.pos;
  }
  eirpDbm(): number {
    return 0;
  }
}

/** The model's version of each scan (same pair, time, distance and packets); censored scans are dropped. */
export function simulateScans(env: string | RadioEnvironment, rows: ScanRow[], seed = 1): ScanRow[] {
  const e = environment(env);
  const rng = new Rng(seed);
  const medium = new RadioMedium({ ...e, sensitivityDbm: -CENSOR_ATT_DB }, rng.fork("medium"));
  const pairs = new Map<string, [Phone, Phone]>();
  const out: ScanRow[] = [];
  for (const row of [...rows].sort((a, b) => a.t - b.t)) {
    const key = `${row.scenario}/${row.pair}`;
    let p = pairs.get(key);
    if (!p) {
      const r = rng.fork(key);
      const i = pairs.size;
      const a = new Phone(2 * i, r.uniform(-Math.PI, Math.PI));
      // Random orientation of each wearer relative to the line between them.
      const b = new Phone(2 * i + 1, r.uniform(-Math.PI, Math.PI));
      p = [a, b];
      pairs.set(key, p);
    }
    p[1].pos = { x: row.d, y: 0, heading: p[1].pos.heading };
    let sum = 0;
    let n = 0;
    for (let k = 0; k < row.packets; k++) {
      const rssi = medium.packetRssi(p[0], p[1], row.t + k * 0.5);
      if (rssi === undefined) continue;
      sum += rssi;
      n++;
    }
    if (n) out.push({ ...row, packets: n, att: -(sum / n) });
  }
  return out;
}

/** Largest gap between the empirical CDFs of two samples. */
export function ksDistance(a: number[], b: number[]): number {
  if (!a.length || !b.length) return 1;
  const x = [...a].sort((p, q) => p - q);
  const y = [...b].sort((p, q) => p - q);
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < x.length && j < y.length) {
    const v = Math.min(x[i], y[j]);
    while (i < x.length && x[i] <= v) i++;
    while (j < y.length && y[j] <= v) j++;
    d = Math.max(d, Math.abs(i / x.length - j / y.length));
  }
  return d;
}

function meanSd(xs: number[]): { mean: number; sd: number } {
  const mean = xs.reduce((s, x) => s + x, 0) / Math.max(1, xs.length);
  const sd = Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / Math.max(1, xs.length));
  return { mean, sd };
}

export interface IndoorComparison {
  environment: string;
  scans: { data: number; sim: number };
  bands: {
    band: [number, number];
    scans: number;
    dataMean: number;
    simMean: number;
    dataSd: number;
    simSd: number;
    ks: number;
  }[];
  /** Scans-weighted mean of the per-band KS distances. */
  meanKs: number;
  maxKs: number;
}

export function compareWithEpfl(
  env: string | RadioEnvironment,
  seed = 1,
  rows: ScanRow[] = loadEpflScans(),
  bands: [number, number][] = INDOOR_DISTANCE_BANDS,
): IndoorComparison {
  const sim = simulateScans(env, rows, seed);
  const inBand = (list: ScanRow[], b: [number, number]) =>
    list.filter((r) => r.d >= b[0] && r.d < b[1]).map((r) => r.att);
  const per = bands.map((band) => {
    const d = inBand(rows, band);
    const s = inBand(sim, band);
    const dm = meanSd(d);
    const sm = meanSd(s);
    return {
      band,
      scans: d.length,
      dataMean: round1(dm.mean),
      simMean: round1(sm.mean),
      dataSd: round1(dm.sd),
      simSd: round1(sm.sd),
      ks: Math.round(ksDistance(d, s) * 1000) / 1000,
    };
  });
  const total = per.reduce((s, b) => s + b.scans, 0);
  return {
    environment: environment(env).name,
    scans: { data: rows.length, sim: sim.length },
    bands: per,
    meanKs: Math.round((per.reduce((s, b) => s + b.ks * b.scans, 0) / Math.max(1, total)) * 1000) / 1000,
    maxKs: Math.max(...per.map((b) => b.ks)),
  };
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}
