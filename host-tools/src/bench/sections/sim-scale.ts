import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { loadBoard } from "../../boards/load";
import { bundleFirmware } from "../../build/build";
import { bundlePath } from "../../build/paths";
import { runSimulation } from "../../sim/run";
import { BenchSection } from "../types";

/**
 * Simulator speed: 50 Puck.js bands running the real firmware bundle for 24 simulated hours in the care-home
 * scenario (target <= 60 s wall time), with the speed-up over real time. Uses dist/puckjs/tracelet.js when it
 * exists (the flashed bundle), otherwise bundles the firmware in memory (no gate, no budget check).
 * `--quick`: 10 bands for 2 hours.
 */
const TARGET_SECONDS = 60;

export const simScaleSection: BenchSection = {
  name: "sim-scale",
  description: "simulator: 50 bands x 24 simulated hours (care-home) wall time and speed-up over real time",
  run: async (opts) => {
    const board = loadBoard("puckjs");
    let file = bundlePath(board.id);
    let source = "dist/puckjs/tracelet.js";
    if (!fs.existsSync(file)) {
      const b = await bundleFirmware(board);
      file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "tracelet-bench-")), "tracelet.js");
      fs.writeFileSync(file, b.code);
      source = "in-memory build (dist/puckjs/tracelet.js missing)";
    }
    const bands = opts.quick ? 10 : 50;
    const hours = opts.quick ? 2 : 24;
    const r = runSimulation({ scenario: "care-home", bands, hours, seed: 1, board: board.id, bundle: file });
    return {
      bands,
      simulatedHours: hours,
      bundle: source,
      wallSeconds: r.run.wallSeconds,
      speedUp: r.run.speedup,
      bandHoursPerSecond: Math.round((bands * hours) / Math.max(r.run.wallSeconds, 1e-3)),
      targetSeconds: opts.quick ? null : TARGET_SECONDS,
      faults: r.faults.count,
      recall: r.detection.recall,
      precision: r.detection.precision,
      averageUa: r.boards[0]?.averageUa ?? null,
      pass: opts.quick ? true : r.run.wallSeconds <= TARGET_SECONDS,
    };
  },
  figures: (result) => {
    const r = result as {
      bands: number;
      simulatedHours: number;
      wallSeconds: number;
      speedUp: number;
      targetSeconds: number | null;
    };
    const method = `care-home, ${r.bands} Puck.js bands x ${r.simulatedHours} h, built bundle, wall clock`;
    return [
      {
        figure: "wall seconds",
        target: r.targetSeconds === null ? "- (--quick)" : `<= ${r.targetSeconds}`,
        measured: String(r.wallSeconds),
        pass: r.targetSeconds === null ? null : r.wallSeconds <= r.targetSeconds,
        method,
      },
      { figure: "speed-up over real time", target: "-", measured: `${r.speedUp}x`, pass: null, method },
    ];
  },
};
