import { profileBand } from "../../host-tools/src/espruino-real/cpu-profile";
import { cpuJs, MEASURED_KINDS } from "../../host-tools/src/sim/cpu-cost";
import { realInterpreterTests } from "./helpers";

/**
 * The simulator's CPU table (sim/cpu-cost.ts CPU_JS_S) answers to the real interpreter: a fresh profile of the
 * production bundle, converted with the same calibration, lands within the table's own uncertainty (x0.5 .. x2) for
 * every kind that does real work. The two tiny kinds (an empty callback, a plain timer: a few emulator microseconds,
 * where host noise is as large as the figure) only have to stay under a millisecond. A firmware change that makes
 * a callback twice as fast or as slow fails here until the table is measured again (profileBand, bench
 * `cpu-profile`).
 */
realInterpreterTests()("CPU time per callback: the simulator's table against the real interpreter", () => {
  test("puckjs: every measured kind within x0.5 .. x2 of the table", async () => {
    const p = await profileBand("puckjs", 1, 20);
    expect(p.reports).toBeGreaterThan(100);
    for (const kind of MEASURED_KINDS) {
      const k = p.kinds[kind];
      expect({ kind, measured: k !== undefined }).toEqual({ kind, measured: true });
      const s = (k?.nrf52Us ?? 0) / 1e6;
      if (kind === "callback" || kind === "timer") {
        expect({ kind, s: s < 0.001 }).toEqual({ kind, s: true });
        continue;
      }
      const r = s / cpuJs("puckjs", kind);
      expect({ kind, r, within: r >= 0.5 && r <= 2 }).toEqual({ kind, r, within: true });
    }
  }, 300000);
});
