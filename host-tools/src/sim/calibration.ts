import * as fs from "fs";
import * as path from "path";
import { environment, Position, RadioEnvironment, RadioMedium, RadioNode } from "./radio";
import { Rng } from "./rng";

/**
 * The radio model against real measurements: the Dublin tram dataset (Leith & Farrell 2020,
 * test/fixtures/datasets/dublin-tram-gaen/). Each row is one pair of handsets at one distance, with the minutes their
 * per-scan GAEN attenuation spent in 2 dB buckets from 48 dB (wider buckets above 80 dB). We put a simulated pair
 * at each row's distance (random orientations, as people sit or stand on a tram), take one 4-second scan a minute
 * (as GAEN phones do; attenuation = tx power - mean RSSI of the scan's packets) for as many minutes as the row
 * has, and compare the attenuation distributions per distance band.
 */
export const BUCKET_EDGES = [48, 50, 52, 54, 56, 58, 60, 62, 64, 66, 68, 70, 72, 74, 76, 78, 80, 85, 90, 100];

export interface DublinRow {
  distance: number;
  /** Minutes in each bucket (BUCKET_EDGES[i] .. BUCKET_EDGES[i + 1]). */
  minutes: number[];
}

export const DISTANCE_BANDS: [number, number][] = [
  [0, 1],
  [1, 2.05],
  [2.05, 3],
  [3, 4],
  [4, 6],
];

/** The measurements ship with the repository (test/fixtures/README.md names their source). */
export function defaultDublinDir(): string {
  return path.resolve(__dirname, "..", "..", "..", "test", "fixtures", "datasets", "dublin-tram-gaen");
}

function numbers(file: string): number[][] {
  return fs
    .readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim() && !l.trim().startsWith("#"))
    .map((l) => l.trim().split(/\s+/).map(Number));
}

export function loadDublinRows(dir: string = defaultDublinDir()): DublinRow[] {
  const att = numbers(path.join(dir, "dublintram_dataset_attenuations.txt"));
  const dist = numbers(path.join(dir, "dublintram_dataset_distances.txt"));
  if (att.length !== dist.length)
    throw new Error(`Dublin dataset: ${att.length} attenuation rows, ${dist.length} distances`);
  return att.map((m, i) => ({ distance: dist[i][0], minutes: m }));
}

class Handset implements RadioNode {
  readonly worn = true;
  readonly rxGainDb = 0;
  constructor(
    readonly radioIndex: number,
    private pos: Position,
  ) {}
  positionAt(): Position {
    return this.pos;
  }
  eirpDbm(): number {
    return 0;
  }
}

/** Minutes per bucket the model gives for each row (same number of minutes as the row). */
export function simulateRows(env: string | RadioEnvironment, rows: DublinRow[], seed = 1): DublinRow[] {
  const rng = new Rng(seed);
  const e = environment(env);
  const medium = new RadioMedium(e, rng.fork("medium"));
  return rows.map((row, i) => {
    const r = rng.fork(`row${i}`);
    const a = new Handset(2 * i, { x: 0, y: 0, heading: r.uniform(-Math.PI, Math.PI) });
    const b = new Handset(2 * i + 1, { x: row.distance, y: 0, heading: r.uniform(-Math.PI, Math.PI) });
    const minutes = new Array(BUCKET_EDGES.length - 1).fill(0);
    const total = Math.round(row.minutes.reduce((s, x) => s + x, 0));
    for (let m = 0; m < total; m++) {
      const t0 = m * 60;
      let sum = 0;
      let n = 0;
      for (let k = 0; k < 16; k++) {
        if (r.chance(e.baseLoss)) continue;
        const rssi = medium.packetRssi(a, b, t0 + k * 0.25);
        if (rssi === undefined) continue;
        sum += rssi;
        n++;
      }
      if (!n) continue;
      const att = -(sum / n);
      const bi = bucketOf(att);
      if (bi >= 0) minutes[bi]++;
    }
    return { distance: row.distance, minutes };
  });
}

function bucketOf(att: number): number {
  if (att < BUCKET_EDGES[0] || att >= BUCKET_EDGES[BUCKET_EDGES.length - 1]) return -1;
  for (let i = 0; i < BUCKET_EDGES.length - 1; i++) if (att < BUCKET_EDGES[i + 1]) return i;
  return -1;
}

const MIDS = BUCKET_EDGES.slice(0, -1).map((lo, i) => (lo + BUCKET_EDGES[i + 1]) / 2);

export interface BandStats {
  band: [number, number];
  rows: number;
  mean: number;
  sd: number;
  /** Pooled CDF per bucket. */
  cdf: number[];
}

export function bandStats(rows: DublinRow[]): BandStats[] {
  return DISTANCE_BANDS.map((band) => {
    const sel = rows.filter((r) => r.distance >= band[0] && r.distance < band[1]);
    const w = new Array(MIDS.length).fill(0);
    for (const r of sel) r.minutes.forEach((m, i) => (w[i] += m));
    const tot = w.reduce((s, x) => s + x, 0) || 1;
    const mean = w.reduce((s, x, i) => s + x * MIDS[i], 0) / tot;
    const sd = Math.sqrt(w.reduce((s, x, i) => s + x * (MIDS[i] - mean) ** 2, 0) / tot);
    let acc = 0;
    const cdf = w.map((x) => (acc += x) / tot);
    return { band, rows: sel.length, mean, sd, cdf };
  });
}

/** Mean over rows of the spread within a row (one pair over its ~15 minutes). */
export function withinRowSd(rows: DublinRow[]): number {
  let s = 0;
  let n = 0;
  for (const r of rows) {
    const tot = r.minutes.reduce((a, b) => a + b, 0);
    if (tot < 3) continue;
    const mean = r.minutes.reduce((a, x, i) => a + x * MIDS[i], 0) / tot;
    s += r.minutes.reduce((a, x, i) => a + x * (MIDS[i] - mean) ** 2, 0) / tot;
    n++;
  }
  return Math.sqrt(s / Math.max(1, n));
}

export interface CalibrationComparison {
  environment: string;
  bands: {
    band: [number, number];
    rows: number;
    dataMean: number;
    simMean: number;
    dataSd: number;
    simSd: number;
    /** Kolmogorov-Smirnov distance between the bucketed distributions. */
    ks: number;
  }[];
  dataWithinRowSd: number;
  simWithinRowSd: number;
}

export function compareWithDublin(env: string | RadioEnvironment, seed = 1, dir?: string): CalibrationComparison {
  const data = loadDublinRows(dir);
  const sim = simulateRows(env, data, seed);
  const d = bandStats(data);
  const s = bandStats(sim);
  return {
    environment: environment(env).name,
    bands: d.map((x, i) => ({
      band: x.band,
      rows: x.rows,
      dataMean: round1(x.mean),
      simMean: round1(s[i].mean),
      dataSd: round1(x.sd),
      simSd: round1(s[i].sd),
      ks: Math.round(Math.max(...x.cdf.map((c, j) => Math.abs(c - s[i].cdf[j]))) * 1000) / 1000,
    })),
    dataWithinRowSd: round1(withinRowSd(data)),
    simWithinRowSd: round1(withinRowSd(sim)),
  };
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}
