import { Command } from "commander";
import * as fs from "fs";
import * as path from "path";
import { BoardError, loadBoard } from "../boards/load";
import { BoardProfile } from "../boards/profile";
import { BuildError, buildBoard } from "../build/build";
import { bundlePath, DIST_DIR, ROOT } from "../build/paths";
import { HostileMode } from "../sim/hostile";
import { ENVIRONMENTS } from "../sim/radio";
import { renderReport } from "../sim/report";
import { runSimulation, SimulationResult } from "../sim/run";
import { BUILTIN_SCENARIOS, loadScenarioFile, Scenario } from "../sim/scenario";
import { CliError, ExitCode } from "./exit-codes";
import {
  fileError,
  isFileSystemError,
  prepareOutputFile,
  prepareOutputFolder,
  requireInputFile,
  writeOutputFile,
} from "./files";
import { parseChoiceOption, parseNumberOption, plural } from "./options";
import { emit, log } from "./output";
import { BANDS_RANGE, checkSimulationSize, HOURS_RANGE, SEED_RANGE } from "./sim-limits";

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
  force?: boolean;
  json?: boolean;
}

const HOSTILE: readonly HostileMode[] = ["random-service-data", "malformed", "oversize", "replay", "flood"];

/**
 * `tracelet simulate --scenario <care-home|clinic-queue|market|typical-resident|file.json> [--bands N] [--hours H]
 * [--seed S] [--board <id>] [--json] [--report out.html]`: runs the flashed bundle (dist/<board>/tracelet.js, built first if
 * missing) on virtual bands in a scenario and reports detection quality against ground truth, flash, energy,
 * faults and memory. Fault injection: --power-cuts, --clock-jumps, --flash-full, --hostile. Progress on stderr.
 * Every option and file is checked before anything is built or run; a run estimated over 10 minutes or the memory
 * available is refused unless --force (sim-limits.ts).
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
    .option("--force", "run even when the estimated time or memory is over the limit")
    .action(async (opts: SimulateCliOptions) => {
      await simulate(opts);
    });
}

async function simulate(opts: SimulateCliOptions): Promise<void> {
  // Everything the command line says is checked before anything is built or run.
  const bands = parseNumberOption("bands", opts.bands, BANDS_RANGE);
  const hoursOption = parseNumberOption("hours", opts.hours, HOURS_RANGE);
  const seed = parseNumberOption("seed", opts.seed, SEED_RANGE);
  const attenuationDb = parseNumberOption("attenuation", opts.attenuation, { min: 0, max: 150 });
  const powerCutsPerDay = parseNumberOption("power-cuts", opts.powerCuts, { min: 0, max: 1440 });
  const clockJumpsPerDay = parseNumberOption("clock-jumps", opts.clockJumps, { min: 0, max: 1440 });
  const environment =
    opts.radio === undefined ? undefined : parseChoiceOption("radio", opts.radio, Object.keys(ENVIRONMENTS));
  const hostile = (opts.hostile ? opts.hostile.split(",").map((s) => s.trim()) : []).map((h) =>
    parseChoiceOption("hostile", h, HOSTILE),
  );
  let board: BoardProfile;
  try {
    board = loadBoard(opts.board);
  } catch (e) {
    if (e instanceof BoardError) throw new CliError(ExitCode.BOARD, e.message);
    throw e;
  }
  const scenario = checkScenario(opts.scenario);
  const runBands = scenario.bands ?? bands;
  const runHours = hoursOption ?? scenario.hours ?? 24;
  checkSimulationSize("simulate", runBands, runHours, opts.force);
  if (opts.bundle) requireInputFile("--bundle", opts.bundle);
  const report = opts.report === undefined ? undefined : prepareOutputFile(opts.report, "report");

  const bundles = new Map<string, string>();
  bundles.set(board.id, opts.bundle ? path.resolve(opts.bundle) : await builtBundle(board));

  const progress = progressBar(process.stderr);
  let result: SimulationResult;
  try {
    result = runSimulation({
      scenario: opts.scenario,
      bands,
      hours: hoursOption,
      seed,
      board: board.id,
      // A scenario file may name other boards: their bundles must already exist.
      bundle: (b) => bundles.get(b.id) ?? bundlePath(b.id),
      environment,
      attenuationDb,
      powerCutsPerDay,
      clockJumpsPerDay,
      flashFull: opts.flashFull,
      hostile,
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
  if (report) {
    writeOutputFile(report, renderReport(result), "report");
    log(`simulate: report written to ${report}`);
  }
  const { trace: _trace, matrix: _matrix, ...summary } = result;
  emit(opts, summary, () => human(result));
  if (opts.strict && result.faults.count > 0) {
    const first = result.faults.first[0];
    throw new CliError(
      ExitCode.TARGET_MISSED,
      `${plural(result.faults.count, "device fault")}, first: ${first.device} ${first.kind}: ${first.message}`,
    );
  }
}

/** dist/<board>/tracelet.js, built first when it is missing. */
async function builtBundle(b: BoardProfile): Promise<string> {
  const p = bundlePath(b.id);
  if (fs.existsSync(p)) return p;
  log(`simulate: no ${path.relative(ROOT, p)}, building it`);
  prepareOutputFolder(DIST_DIR, "firmware output folder");
  try {
    await buildBoard(b.id, { quiet: true });
  } catch (e) {
    if (e instanceof BuildError) throw new CliError(ExitCode.BUILD, `firmware build for ${b.id} failed: ${e.message}`);
    throw e;
  }
  return p;
}

/**
 * A built-in scenario name, or a scenario file that exists and is valid: checked before the run, so that a typo
 * costs nothing. For a file, its own band count and length (for the size estimate).
 */
function checkScenario(nameOrFile: string): { bands?: number; hours?: number } {
  if (BUILTIN_SCENARIOS[nameOrFile]) return {};
  const builtIn = Object.keys(BUILTIN_SCENARIOS).join(", ");
  if (!fs.existsSync(nameOrFile)) {
    if (/[\\/]|\.json$/i.test(nameOrFile)) requireInputFile("--scenario", nameOrFile);
    throw new CliError(
      ExitCode.USAGE,
      `--scenario: unknown scenario "${nameOrFile}" (built-in: ${builtIn}, or a .json file)`,
    );
  }
  let s: Scenario;
  try {
    s = loadScenarioFile(nameOrFile);
  } catch (e) {
    if (isFileSystemError(e)) throw fileError("read the scenario file", nameOrFile, e);
    throw new CliError(ExitCode.BAD_INPUT, (e as Error).message);
  }
  return { bands: s.people.filter((p) => p.carries === "band").length, hours: s.hours };
}

export function human(r: SimulationResult): string {
  const pct = (x: number | null) => (x === null ? "n/a" : `${(x * 100).toFixed(1)}%`);
  const d = r.detection;
  const lines = [
    `${r.scenario.name}: ${r.scenario.description}`,
    `simulated ${r.scenario.hours} h in ${r.run.wallSeconds} s (${r.run.speedup}x real time), radio "${r.scenario.environment}", seed ${r.seed}`,
    `ground truth: ${plural(r.groundTruth.closeContactPairs, "close-contact pair")} (>= 15 min within 2 m), ${r.groundTruth.bandCloseContacts} from bands' side, ${plural(r.groundTruth.shortExposures, "shorter exposure")}`,
    d.available
      ? `detection: recall ${pct(d.recall)}, precision ${pct(d.precision)} at <= ${d.attenuationThresholdDb} dB (tp ${d.truePositives}, fn ${d.falseNegatives}, fp ${d.falsePositives}); any sighting ${pct(d.anySightingRecall)}`
      : `detection: n/a (${d.reason})`,
  ];
  for (const b of r.boards) {
    lines.push(
      `${b.board}: ${plural(b.bands, "band")}, ${b.averageUa} uA average -> ${b.batteryDays} battery days; JsVars peak ${b.peakJsVars}/${b.jsVars}; log ${b.logBytesPerDay} B/day of ${b.logBudgetBytes} B -> full after ${b.projectedLogDays ?? "n/a"} days; scan period ${b.scanPeriodS ?? "n/a"} s`,
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
