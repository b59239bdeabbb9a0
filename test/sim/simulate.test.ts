import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { renderReport } from "../../host-tools/src/sim/report";
import { runSimulation } from "../../host-tools/src/sim/run";
import { careHome, clinicQueue, market, typicalResident } from "../../host-tools/src/sim/scenario";
import { groundTruth, pairKey } from "../../host-tools/src/sim/truth";
import { runCli } from "../helpers/cli";
import { ROOT } from "../helpers/paths";
import { FIXTURES } from "./helpers";

const MINI_BAND = path.join(FIXTURES, "mini-band.js");
const START = 1767225600;

describe("scenarios and ground truth", () => {
  test("care home: tablemates share three meals (>= 15 min within 2 m); residents' rooms are apart at night", () => {
    const s = careHome(8, 24, 1);
    const truth = groundTruth(s, START);
    const day = Math.floor(START / 86400);
    const table = truth.index.get(pairKey("resident0", "resident1", day));
    expect(table?.minutes2m).toBeGreaterThanOrEqual(150);
    const r0 = s.people.find((p) => p.id === "resident0")?.track.at(3 * 3600);
    const r1 = s.people.find((p) => p.id === "resident1")?.track.at(3 * 3600);
    expect(Math.hypot((r0?.x ?? 0) - (r1?.x ?? 0), (r0?.y ?? 0) - (r1?.y ?? 0))).toBeGreaterThan(4);
    expect(s.people.filter((p) => p.carries === "band")).toHaveLength(8);
    expect(s.people.some((p) => p.role === "staff" && p.carries !== "band")).toBe(true);
  });

  test("typical resident: 3-5 close contacts a day with distinct peers that advertise, no other close contact", () => {
    const s = typicalResident(10, 72, 2);
    const truth = groundTruth(s, START);
    const kinds = new Map(s.people.map((p) => [p.id, p.carries]));
    const perBandDay = new Map<string, number>();
    for (const e of truth.pairs) {
      if (e.minutes2m < 15) continue;
      for (const [obs, peer] of [
        [e.a, e.b],
        [e.b, e.a],
      ]) {
        if (kinds.get(obs) !== "band") continue;
        expect(kinds.get(peer)).not.toBe("none");
        // Not the shop's staff: an errand never makes 15 minutes.
        expect(peer).toMatch(/^(visitor|resident)\d+$/);
        perBandDay.set(`${obs}|${e.day}`, (perBandDay.get(`${obs}|${e.day}`) ?? 0) + 1);
      }
    }
    expect(perBandDay.size).toBe(10 * 3);
    for (const n of perBandDay.values()) expect([3, 4, 5]).toContain(n);
    expect(new Set(perBandDay.values()).size).toBeGreaterThan(1);
  });

  test.each([
    ["care-home", careHome],
    ["clinic-queue", clinicQueue],
    ["market", market],
    ["typical-resident", typicalResident],
  ])(
    "%s: the requested number of bands, close contacts exist, and the same seed gives the same people",
    (_name, make) => {
      const a = make(12, 24, 5);
      const b = make(12, 24, 5);
      expect(a.people.filter((p) => p.carries === "band")).toHaveLength(12);
      expect(groundTruth(a, START).pairs.some((e) => e.minutes2m >= 15)).toBe(true);
      expect(JSON.stringify(a.people.map((p) => p.track.at(43200)))).toBe(
        JSON.stringify(b.people.map((p) => p.track.at(43200))),
      );
    },
  );
});

describe("runSimulation", () => {
  test("a small care home on a fixture band: metrics against ground truth, energy, flash, memory, no faults", () => {
    const r = runSimulation({ scenario: "care-home", bands: 6, hours: 24, seed: 3, bundle: MINI_BAND });
    expect(r.faults.count).toBe(0);
    expect(r.detection.available).toBe(true);
    expect(r.detection.recall).toBeGreaterThan(0.8);
    expect(r.detection.precision).toBeGreaterThan(0.6);
    expect(r.detection.recordsUnattributed).toBe(0);
    const b = r.boards[0];
    expect(b.board).toBe("puckjs");
    expect(b.averageUa).toBeGreaterThan(100);
    expect(b.batteryDays).toBeCloseTo((220 * 1000) / b.averageUa / 24, 0);
    expect(b.peakJsVars).toBeGreaterThan(100);
    expect(b.scanPeriodS).toBeCloseTo(60, 0);
    expect(b.logBytesPerDay).toBeGreaterThan(0);
    expect(r.trace.pair).not.toBeNull();
    expect(r.trace.rssi.length).toBeGreaterThan(10);
  });

  test("the same seed gives the same result (apart from wall time)", () => {
    const strip = (r: ReturnType<typeof runSimulation>) => JSON.stringify({ ...r, run: null });
    const a = runSimulation({ scenario: "clinic-queue", bands: 3, hours: 10, seed: 9, bundle: MINI_BAND });
    const b = runSimulation({ scenario: "clinic-queue", bands: 3, hours: 10, seed: 9, bundle: MINI_BAND });
    expect(strip(a)).toBe(strip(b));
  });

  test("a firmware that logs nothing: detection metrics are null with the reason", () => {
    const r = runSimulation({
      scenario: "clinic-queue",
      bands: 3,
      hours: 12,
      bundle: path.join(FIXTURES, "advertiser.js"),
    });
    expect(r.detection).toMatchObject({ available: false, recall: null, precision: null });
    expect(r.detection.reason).toMatch(/no encounter log/);
  });

  test("nobody met: the reason says so instead of blaming the firmware", () => {
    // A bundle that never writes a log: with nobody to meet, that is not its fault.
    const bundle = path.join(FIXTURES, "advertiser.js");
    const r = runSimulation({ scenario: "clinic-queue", bands: 5, hours: 2, bundle });
    expect(r.groundTruth).toMatchObject({ closeContactPairs: 0, shortExposures: 0 });
    expect(r.detection.available).toBe(false);
    expect(r.detection.reason).toMatch(/no band came within 4 m of another band or a phone/);
  });

  test("fault injection: power cuts and clock jumps happen, hostile beacons are placed, nothing crashes", () => {
    const r = runSimulation({
      scenario: "care-home",
      bands: 4,
      hours: 12,
      bundle: MINI_BAND,
      powerCutsPerDay: 6,
      clockJumpsPerDay: 6,
      hostile: ["flood", "malformed"],
    });
    expect(r.injected.powerCuts).toBeGreaterThan(0);
    expect(r.injected.clockJumps).toBeGreaterThan(0);
    expect(r.injected.hostile).toEqual(["flood", "malformed"]);
    expect(r.faults.count).toBe(0);
  });

  test("the HTML report is self-contained with three plots", () => {
    const r = runSimulation({ scenario: "care-home", bands: 4, hours: 6, bundle: MINI_BAND });
    const html = renderReport(r);
    expect(html.match(/<svg/g)).toHaveLength(3);
    expect(html).not.toMatch(/(src|href)=["']https?:/);
    expect(html).toContain("Detection matrix");
    // Narrow windows: every plot shrinks with the page, and the legend names every cell colour, white included.
    expect(html).toMatch(/svg\{[^}]*max-width:100%;height:auto/);
    expect(html).toMatch(/background:#fff"><\/i>no contact/);
  });

  test("the matrix leaves room for its longest column label beyond the last column", () => {
    const r = runSimulation({ scenario: "care-home", bands: 4, hours: 6, bundle: MINI_BAND });
    const longest = Math.max(...r.matrix.peers.map((p) => p.length));
    const svg = renderReport(r).split("<h2>Detection matrix</h2>")[1].split("<h2>")[0];
    const width = Number(/<svg width="([\d.]+)"/.exec(svg)?.[1]);
    const lastColumnEnd = Math.max(...[...svg.matchAll(/<rect x="([\d.]+)"/g)].map((m) => Number(m[1]) + 14));
    // Labels are 9 px text rotated 60 degrees: about half their length reaches right of their column.
    expect(width - lastColumnEnd).toBeGreaterThanOrEqual(longest * 5 * 0.5);
  });
});

describe("tracelet simulate", () => {
  test("--json prints the metrics; --report writes the page", () => {
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "tracelet-sim-")), "r.html");
    const r = runCli([
      "simulate",
      "--scenario",
      "care-home",
      "--bands",
      "4",
      "--hours",
      "6",
      "--bundle",
      MINI_BAND,
      "--json",
      "--report",
      out,
    ]);
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(Object.keys(j)).toEqual(
      expect.arrayContaining(["scenario", "groundTruth", "detection", "boards", "faults", "run"]),
    );
    expect(j.boards[0]).toHaveProperty("batteryDays");
    expect(fs.readFileSync(out, "utf8")).toMatch(/^<!doctype html>/);
  });

  test.each([
    [["--scenario", "nowhere"], 2, /unknown scenario/],
    [["--scenario", "care-home", "--board", "nosuch"], 4, /unknown board/],
    [["--scenario", "care-home", "--hostile", "ghost"], 2, /--hostile: unknown value "ghost"/],
    [["--scenario", "care-home", "--bands", "0"], 2, /--bands/],
  ])("refuses %j with exit %i", (args, code, message) => {
    const r = runCli(["simulate", ...args, "--bundle", MINI_BAND]);
    expect(r.status).toBe(code);
    expect(r.stderr).toMatch(message);
  });

  const real = path.join(ROOT, "dist", "puckjs", "tracelet.js");
  (fs.existsSync(real) ? test : test.skip)("the real firmware: care-home, 20 bands, 24 hours, --json", () => {
    const r = runCli(["simulate", "--scenario", "care-home", "--bands", "20", "--hours", "24", "--json"], {
      timeoutMs: 300000,
    });
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.boards[0].bands).toBe(20);
    expect(typeof j.faults.count).toBe("number");
    expect(j.detection).toHaveProperty("recall");
  });
});
