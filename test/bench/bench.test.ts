import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { BENCH_SECTIONS } from "../../host-tools/src/bench/registry";
import { benchFigures, missedTargets, renderFigureTable } from "../../host-tools/src/bench/figures";
import { UnknownSectionError, failedSections, runBench } from "../../host-tools/src/bench/run";
import { protocolCryptoSection } from "../../host-tools/src/bench/sections/protocol-crypto";
import { BenchSection } from "../../host-tools/src/bench/types";
import { runCli } from "../helpers/cli";

// Benchmarks are measured, never asserted: these tests check the report's shape and the registry's behaviour only.

const fake = (name: string, result: object): BenchSection => ({ name, description: name, run: async () => result });

describe("bench", () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "tracelet-bench-"));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test("registered sections have unique names and descriptions", () => {
    const names = BENCH_SECTIONS.map((s) => s.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toEqual(expect.arrayContaining(["firmware-bundles", "protocol-crypto"]));
    for (const s of BENCH_SECTIONS) expect(s.description.length).toBeGreaterThan(10);
  });

  test("protocol-crypto reports pure and native rates and their ratio", async () => {
    const report = await runBench({ sections: [protocolCryptoSection], quick: true, write: false });
    const r = report.sections["protocol-crypto"] as Record<string, Record<string, unknown>>;
    for (const key of ["perRpi", "perRpiKeysDerived", "hkdf", "aes128Block", "sha256Block"]) {
      expect(r[key]).toEqual({
        what: expect.any(String),
        pureOpsPerSec: expect.any(Number),
        nativeOpsPerSec: expect.any(Number),
        pureMicros: expect.any(Number),
        nativeMicros: expect.any(Number),
        pureOverNative: expect.any(Number),
      });
      expect(r[key].pureOverNative as number).toBeGreaterThan(0);
    }
    expect(report.machine.node).toBe(process.version);
  });

  test("writes the report; --only keeps the other sections' last results", async () => {
    const file = path.join(dir, "results.json");
    const sections = [fake("a", { n: 1 }), fake("b", { n: 2 })];
    await runBench({ sections, resultsFile: file });
    sections[0] = fake("a", { n: 3 });
    await runBench({ sections, resultsFile: file, only: ["a"] });
    const written = JSON.parse(fs.readFileSync(file, "utf8"));
    expect(written.sections).toEqual({ a: { n: 3 }, b: { n: 2 } });
  });

  test("a missed target and a failing section are told apart", async () => {
    const sections = [
      fake("ok", { pass: true }),
      fake("slow", { pass: false }),
      { name: "broken", description: "broken", run: () => Promise.reject(new Error("boom")) },
    ];
    const report = await runBench({ sections, write: false });
    expect(report.sections.broken).toEqual({ error: "boom" });
    expect(failedSections(report)).toEqual({ missed: ["slow"], errors: ["broken"] });
  });

  test("the table has a row per figure, names every missed target with its board, and falls back to pass", async () => {
    const perBoard: BenchSection = {
      ...fake("firmware", { boards: [{ board: "puckjs", bytes: 17000 }], pass: false }),
      figures: (r) =>
        (r as { boards: { board: string; bytes: number }[] }).boards.map((b) => ({
          board: b.board,
          figure: "bundle bytes",
          target: "<= 16384",
          measured: String(b.bytes),
          pass: b.bytes <= 16384,
          method: "size of the bundle",
        })),
    };
    const sections = [perBoard, fake("plain", { pass: true }), fake("untargeted", { n: 1 })];
    const report = await runBench({ sections, write: false });
    const rows = benchFigures(report, undefined, sections);
    expect(rows.map((r) => [r.section, r.board, r.figure, r.pass])).toEqual([
      ["firmware", "puckjs", "bundle bytes", false],
      ["plain", undefined, "section targets", true],
      ["untargeted", undefined, "section targets", null],
    ]);
    expect(missedTargets(rows)).toEqual(["firmware puckjs: bundle bytes (target <= 16384, measured 17000)"]);
    const table = renderFigureTable(rows).split("\n");
    expect(table[0]).toMatch(/^section +board +figure +target +measured +result +how measured$/);
    expect(table[2]).toMatch(/^firmware +puckjs +bundle bytes +<= 16384 +17000 +MISSED +size of the bundle$/);
  });

  test("protocol-crypto's figures have a target, a measured value and a method", async () => {
    const report = await runBench({ sections: [protocolCryptoSection], quick: true, write: false });
    for (const row of benchFigures(report, undefined, [protocolCryptoSection])) {
      expect(row.target.length && row.measured.length && row.method.length).toBeTruthy();
    }
  });

  test("an unknown section is refused", async () => {
    await expect(runBench({ only: ["nope"], write: false })).rejects.toThrow(UnknownSectionError);
  });

  test("tracelet bench --list --json names every section; an unknown --only is a usage error", () => {
    const list = runCli(["bench", "--list", "--json"]);
    expect(list.status).toBe(0);
    expect(JSON.parse(list.stdout).map((s: { name: string }) => s.name)).toEqual(BENCH_SECTIONS.map((s) => s.name));
    const bad = runCli(["bench", "--only", "nope"]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--only: unknown bench section "nope"/);
  });
});
