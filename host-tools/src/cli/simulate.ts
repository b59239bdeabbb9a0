import { Command } from "commander";
import * as fs from "fs";
import * as path from "path";
import { BoardError, loadBoard } from "../boards/load";
import { BoardProfile } from "../boards/profile";
import { BuildError, buildBoard } from "../build/build";
import { bundlePath } from "../build/paths";
import { HostileMode } from "../sim/hostile";
import { ENVIRONMENTS } from "../sim/radio";
import { renderReport } from "../sim/report";
import { runSimulation, SimulationResult } from "../sim/run";
import { BUILTIN_SCENARIOS } from "../sim/scenario";
import { CliError, ExitCode } from "./exit-codes";
import { emit, log } from "./output";

interface SimulateCliOptions {
  scenario: string;
  bands: string;
  hours?: string;
  seed: string;
  board: string;
  bundle?: string;
  radio?: string;
  attenuation?: string;
  powerCuts?: string;
  clockJumps?: string;
  flashFull?: boolean;
  hostile?: string;
  report?: string;
  strict?: boolean;
  json?: boolean;
}

const HOSTILE: HostileMode[] = ["random-service-data", "malformed", "oversize", "replay", "flood"];

/**
 * `tracelet simulate --scenario <care-home|clinic-queue|market|file.json> [--bands N] [--hours H] [--seed S]
 * [--board <id>] [--json] [--report out.html]`: runs the flashed bundle (dist/<board>/tracelet.js, built first if
 * missing) on virtual bands in a scenario and reports detection quality against ground truth, flash, energy,
 * faults and memory. Fault injection: --power-cuts, --clock-jumps, --flash-full, --hostile. Progress on stderr.
 */
export function registerSimulate(program: Command): void {
  program
    .command("simulate")
    .description(
      "run the firmware bundle on virtual bands in a scenario and measure detection, flash, energy and faults",
    )
    .requiredOption(
      "--scenario <name|file>",
      `built-in scenario (${Object.keys(BUILTIN_SCENARIOS).join(", ")}) or a scenario .json file`,
    )
    .option("--bands <n>", "bands in built-in scenarios", "20")
    .option("--hours <h>", "simulated hours (default 24, or the scenario file's length)")
    .option("--seed <s>", "random seed: the same seed gives the same run", "1")
    .option("--board <id>", "board of the bands (boards/<id>.json)", "puckjs")
    .option("--bundle <file>", "firmware bundle to run instead of dist/<board>/tracelet.js")
    .option(
      "--radio <environment>",
      `radio environment: ${Object.keys(ENVIRONMENTS).join(", ")} (default: the scenario's; care-home: epfl-indoor)`,
    )
    .option("--attenuation <dB>", "attenuation threshold for a near sighting in the detection metric", "70")
    .option(
      "--power-cuts <perDay>",
      "fault injection: random power cuts per band per day (half of them mid flash write)",
    )
    .option("--clock-jumps <perDay>", "fault injection: random clock jumps (up to +-2 h) per band per day")
    .option("--flash-full", "fault injection: fill Storage so that only two pages are free at boot")
    .option(
      "--hostile <modes>",
      `fault injection: hostile beacons at the busiest spot, comma-separated (${HOSTILE.join(", ")})`,
    )
    .option("--report <file>", "write an HTML report (self-contained, opens without a network)")
    .option("--strict", "exit with TARGET_MISSED when any band recorded a fault")
    .option("--json", "machine-readable output on stdout")
    .action(async (opts: SimulateCliOptions) => {
      const num = (name: string, v: string | undefined, min: number): number | undefined => {
        if (v === undefined) return undefined;
        const n = Number(v);
        if (!Number.isFinite(n) || n < min)
          throw new CliError(ExitCode.USAGE, `--${name}: expected a number >= ${min}, got "${v}"`);
        return n;
      };
      const hostile = opts.hostile ? opts.hostile.split(",").map((s) => s.trim()) : [];
      for (const h of hostile) {
        if (!HOSTILE.includes(h as HostileMode))
          throw new CliError(ExitCode.USAGE, `--hostile: unknown mode "${h}" (known: ${HOSTILE.join(", ")})`);
      }
      let board: BoardProfile;
      try {
        board = loadBoard(opts.board);
      } catch (e) {
        if (e instanceof BoardError) throw new CliError(ExitCode.BOARD, e.message);
        throw e;
      }
      if (!BUILTIN_SCENARIOS[opts.scenario] && !fs.existsSync(opts.scenario)) {
        throw new CliError(
          ExitCode.USAGE,
          `--scenario: unknown scenario "${opts.scenario}" (built-in: ${Object.keys(BUILTIN_SCENARIOS).join(", ")}, or a .json file)`,
        );
      }
      const bundles = new Map<string, string>();
      const resolveBundle = async (b: BoardProfile): Promise<string> => {
        if (opts.bundle) return path.resolve(opts.bundle);
        const p = bundlePath(b.id);
        if (!fs.existsSync(p)) {
          log(`simulate: no ${p}, building it`);
          try {
            await buildBoard(b.id, { quiet: true });
          } catch (e) {
            if (e instanceof BuildError)
              throw new CliError(ExitCode.BUILD, `firmware build for ${b.id} failed: ${e.message}`);
            throw e;
          }
        }
        return p;
      };
      bundles.set(board.id, await resolveBundle(board));
      if (opts.bundle && !fs.existsSync(bundles.get(board.id) as string)) {
        throw new CliError(ExitCode.BAD_INPUT, `--bundle: no such file ${opts.bundle}`);
      }

      const progress = progressBar(process.stderr);
      let result: SimulationResult;
      try {
        result = runSimulation({
          scenario: opts.scenario,
          bands: num("bands", opts.bands, 1),
          hours: num("hours", opts.hours, 0.01),
          seed: num("seed", opts.seed, 0),
          board: board.id,
          bundle: (b) => {
            const p = bundles.get(b.id);
            if (p) return p;
            // A scenario file may name other boards: their bundles must already exist.
            return bundlePath(b.id);
          },
          environment: opts.radio,
          attenuationDb: num("attenuation", opts.attenuation, 0),
          powerCutsPerDay: num("power-cuts", opts.powerCuts, 0),
          clockJumpsPerDay: num("clock-jumps", opts.clockJumps, 0),
          flashFull: opts.flashFull,
          hostile: hostile as HostileMode[],
          onProgress: progress.update,
        });
      } catch (e) {
        progress.done();
        const msg = (e as Error).message;
        if (/unknown radio environment|invalid scenario|unknown scenario/.test(msg))
          throw new CliError(ExitCode.BAD_INPUT, msg);
        if (/no firmware bundle|does not fit/.test(msg)) throw new CliError(ExitCode.BUILD, msg);
        throw e;
      }
      progress.done();
      if (opts.report) {
        fs.writeFileSync(opts.report, renderReport(result));
        log(`simulate: report written to ${opts.report}`);
      }
      const { trace: _trace, matrix: _matrix, ...summary } = result;
      emit(opts, summary, () => human(result));
      if (opts.strict && result.faults.count > 0) {
        throw new CliError(
          ExitCode.TARGET_MISSED,
          `${result.faults.count} device fault(s), first: ${result.faults.first[0].device} ${result.faults.first[0].kind}: ${result.faults.first[0].message}`,
        );
      }
    });
}

export function human(r: SimulationResult): string {
  const pct = (x: number | null) => (x === null ? "n/a" : `${(x * 100).toFixed(1)}%`);
  const d = r.detection;
  const lines = [
    `${r.scenario.name}: ${r.scenario.description}`,
    `simulated ${r.scenario.hours} h in ${r.run.wallSeconds} s (${r.run.speedup}x real time), radio "${r.scenario.environment}", seed ${r.seed}`,
    `ground truth: ${r.groundTruth.closeContactPairs} close-contact pairs (>= 15 min within 2 m), ${r.groundTruth.bandCloseContacts} from bands' side, ${r.groundTruth.shortExposures} shorter exposures`,
    d.available
      ? `detection: recall ${pct(d.recall)}, precision ${pct(d.precision)} at <= ${d.attenuationThresholdDb} dB (tp ${d.truePositives}, fn ${d.falseNegatives}, fp ${d.falsePositives}); any sighting ${pct(d.anySightingRecall)}`
      : `detection: n/a (${d.reason})`,
  ];
  for (const b of r.boards) {
    lines.push(
      `${b.board}: ${b.bands} bands, ${b.averageUa} uA average -> ${b.batteryDays} battery days; JsVars peak ${b.peakJsVars}/${b.jsVars}; log ${b.logBytesPerDay} B/day of ${b.logBudgetBytes} B -> full after ${b.projectedLogDays ?? "n/a"} days; scan period ${b.scanPeriodS ?? "n/a"} s`,
    );
  }
  lines.push(
    r.faults.count
      ? `faults: ${r.faults.count} (first: ${r.faults.first[0].device} ${r.faults.first[0].kind}: ${r.faults.first[0].message})`
      : "faults: none",
  );
  return lines.join("\n");
}

/** A progress bar on stderr for runs longer than two seconds (a line per 10% when stderr is not a terminal). */
export function progressBar(out: NodeJS.WriteStream): {
  update: (fraction: number, simSeconds: number) => void;
  done: () => void;
} {
  const start = Date.now();
  let shown = false;
  let lastTenth = -1;
  return {
    update: (f, sim) => {
      const elapsed = (Date.now() - start) / 1000;
      if (elapsed < 2) return;
      const pct = Math.max(0, Math.min(100, Math.floor(f * 100)));
      const text = `simulate ${String(pct).padStart(3)}% ${(sim / 3600).toFixed(1)} h simulated, ${elapsed.toFixed(0)} s`;
      if (out.isTTY) {
        const width = 30;
        const fill = Math.round((pct / 100) * width);
        out.write(`\r[${"#".repeat(fill)}${".".repeat(width - fill)}] ${text}`);
        shown = true;
      } else if (Math.floor(pct / 10) > lastTenth) {
        lastTenth = Math.floor(pct / 10);
        out.write(`${text}\n`);
      }
    },
    done: () => {
      if (shown) out.write("\n");
    },
  };
}
