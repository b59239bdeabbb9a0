import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { BENCH_SECTIONS } from "../../host-tools/src/bench/registry";
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

  test("an unknown section is refused", async () => {
    await expect(runBench({ only: ["nope"], write: false })).rejects.toThrow(UnknownSectionError);
  });

  test("tracelet bench --list --json names every section; an unknown --only is a usage error", () => {
    const list = runCli(["bench", "--list", "--json"]);
    expect(list.status).toBe(0);
    expect(JSON.parse(list.stdout).map((s: { name: string }) => s.name)).toEqual(BENCH_SECTIONS.map((s) => s.name));
    const bad = runCli(["bench", "--only", "nope"]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/unknown bench section "nope"/);
  });
});
