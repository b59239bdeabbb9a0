/**
 * Writes the radio calibration fixtures (test/fixtures/radio/, README.md there) from the measurement sets in
 * shared/datasets, so the tests and the fitted presets do not need those sets at run time:
 *
 * - `epfl-scans.json`: one row per scan instance of the EPFL indoor GAEN experiment (epfl-dp3t-gaen: the
 *   `results` table of each scenario's .sqlite). The advertisements one phone received from one other phone form a
 *   scan instance when less than SCAN_GAP_S apart (Android scans for ~3 s every few minutes). A row is
 *   [pair, t, d, packets, att]: pair index within the scenario, seconds since the scenario's first packet, the mean
 *   camera distance between the two people (m) over the scan's packets that have one, the packets received and
 *   the scan's attenuation `att = -21 - mean RSSI` (Google's 13-Jun-2020 calibration for these Samsung models:
 *   tx -24, rssi correction -3; the dataset README explains the choice). Scans without any distance are left out.
 * - `body-position.json`: per carrying position pair (hand, pocket, backpack) and distance, the count, mean and
 *   10/50/90th percentiles of the raw RSSI (pcng-rss-body-position, `<Set>/RSS_human<XX>.csv`).
 *
 * Usage: node -r esbuild-register host-tools/scripts/radio-fixtures.ts [datasets dir] (default ../shared/datasets)
 */
import Database from "better-sqlite3";
import * as fs from "fs";
import * as path from "path";

const SCAN_GAP_S = 10;
const EPFL_SCENARIOS = ["scenario01-lunch", "scenario02-train", "scenario03-office", "scenario06-movement"];
const BODY_SETS: Record<string, string> = {
  HH: "HandHand",
  HP: "HandPocket",
  HB: "HandBackpack",
  PB: "PocketBackpack",
  PP: "PocketPocket",
  BB: "BackpackBackpack",
};
/** att = tx - (rssi + correction): tx -24, correction -3 (13-Jun-2020 table). */
const ATT_OFFSET_DB = -21;

interface Packet {
  rx: string;
  tx: string;
  t: number;
  rssi: number;
  d: number | null;
}

function fixed(x: number, digits: number): number {
  return Number(x.toFixed(digits));
}

export function epflScans(file: string): number[][] {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  const rows = db
    .prepare(
      "SELECT receiver_id AS rx, transmitter_id AS tx, timestamp AS t, rssi, ground_truth_distance AS d " +
        "FROM results ORDER BY receiver_id, transmitter_id, timestamp",
    )
    .all() as Packet[];
  db.close();
  const t0 = Math.min(...rows.map((r) => r.t));
  const pairs = new Map<string, number>();
  const out: number[][] = [];
  let scan: Packet[] = [];
  const flush = () => {
    const withD = scan.filter((p) => p.d !== null);
    if (withD.length) {
      const key = `${scan[0].rx}>${scan[0].tx}`;
      if (!pairs.has(key)) pairs.set(key, pairs.size);
      const d = withD.reduce((s, p) => s + (p.d as number), 0) / withD.length;
      const rssi = scan.reduce((s, p) => s + p.rssi, 0) / scan.length;
      out.push([
        pairs.get(key) as number,
        Math.round(scan[0].t - t0),
        fixed(d, 2),
        scan.length,
        fixed(ATT_OFFSET_DB - rssi, 1),
      ]);
    }
    scan = [];
  };
  for (const p of rows) {
    const last = scan[scan.length - 1];
    if (last && (last.rx !== p.rx || last.tx !== p.tx || p.t - last.t > SCAN_GAP_S)) flush();
    scan.push(p);
  }
  flush();
  return out;
}

function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

export function bodyPositionTable(
  file: string,
): { dM: number; n: number; mean: number; p10: number; p50: number; p90: number }[] {
  const lines = fs.readFileSync(file, "utf8").split(/\r?\n/).filter(Boolean);
  const head = lines[0].split(",");
  const iRss = head.indexOf("rss");
  const iDist = head.indexOf("dist");
  const byDist = new Map<number, number[]>();
  for (const l of lines.slice(1)) {
    const c = l.split(",");
    const cm = Number(c[iDist]);
    const v = Number(c[iRss]);
    if (!Number.isFinite(cm) || !Number.isFinite(v)) continue;
    if (!byDist.has(cm)) byDist.set(cm, []);
    byDist.get(cm)?.push(v);
  }
  return [...byDist.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([cm, v]) => {
      const s = [...v].sort((a, b) => a - b);
      return {
        dM: cm / 100,
        n: s.length,
        mean: fixed(s.reduce((a, b) => a + b, 0) / s.length, 2),
        p10: percentile(s, 0.1),
        p50: percentile(s, 0.5),
        p90: percentile(s, 0.9),
      };
    });
}

function main(): void {
  const root = path.resolve(__dirname, "..", "..");
  const datasets = path.resolve(process.argv[2] ?? path.join(root, "..", "shared", "datasets"));
  const outDir = path.join(root, "test", "fixtures", "radio");
  fs.mkdirSync(outDir, { recursive: true });

  const scenarios: Record<string, number[][]> = {};
  for (const s of EPFL_SCENARIOS) scenarios[s] = epflScans(path.join(datasets, "epfl-dp3t-gaen", `${s}.sqlite`));
  const epfl = {
    source: "epfl-dp3t-gaen (DP-3T bt-measurements exp34, EPFL BC atrium, 30 July 2020), results table of each .sqlite",
    licence: "derived table; the measurements are CC BY-ND 4.0, copyright EPFL and ETH Zurich",
    attenuation: "att = -21 - mean RSSI of the scan (13-Jun-2020 GAEN calibration: tx -24, rssi correction -3)",
    scanGapS: SCAN_GAP_S,
    columns: ["pair", "t", "d", "packets", "att"],
    scenarios,
  };
  const lines = Object.entries(scenarios).map(
    ([name, rows]) =>
      `    ${JSON.stringify(name)}: [\n${rows.map((r) => `      ${JSON.stringify(r)}`).join(",\n")}\n    ]`,
  );
  const header = JSON.stringify({ ...epfl, scenarios: undefined }, null, 2).replace(/\n}$/, "");
  fs.writeFileSync(
    path.join(outDir, "epfl-scans.json"),
    `${header},\n  "scenarios": {\n${lines.join(",\n")}\n  }\n}\n`,
  );

  const sets: Record<string, ReturnType<typeof bodyPositionTable>> = {};
  for (const [code, dir] of Object.entries(BODY_SETS))
    sets[code] = bodyPositionTable(path.join(datasets, "pcng-rss-body-position", dir, `RSS_human${code}.csv`));
  const body = {
    source:
      "pcng-rss-body-position (Ng, Spachos & Plataniotis 2021, github pc-ng/rss_smartphone), <Set>/RSS_human<XX>.csv",
    licence: "MIT, Copyright (c) 2020 Pc Ng",
    what: "raw RSSI (dBm) between two people facing each other; H hand, P pocket, B backpack; per distance (m)",
    sets,
  };
  fs.writeFileSync(path.join(outDir, "body-position.json"), `${JSON.stringify(body, null, 1)}\n`);
  const n = Object.values(scenarios).reduce((s, r) => s + r.length, 0);
  process.stdout.write(`wrote ${outDir}: ${n} EPFL scans, ${Object.keys(sets).length} body-position sets\n`);
}

if (require.main === module) main();
