import { Command } from "commander";
import * as path from "path";
import { BuildError, buildAllBoards } from "../build/build";
import { DIST_DIR, ROOT } from "../build/paths";
import { renderReport } from "../sim/report";
import { runSimulation } from "../sim/run";
import { CliError, ExitCode } from "./exit-codes";
import { prepareOutputFile, prepareOutputFolder, writeOutputFile } from "./files";
import { parseNumberOption, plural } from "./options";
import { emit, log } from "./output";
import { BANDS_RANGE, checkSimulationSize, HOURS_RANGE, SEED_RANGE } from "./sim-limits";
import { human, progressBar } from "./simulate";

interface DemoOptions {
  bands: string;
  hours: string;
  seed: string;
  report?: string;
  force?: boolean;
  json?: boolean;
}

/** The demo's report lives in the project, wherever the demo is run from. */
const DEFAULT_REPORT = path.join(ROOT, "reports", "demo.html");

/**
 * `tracelet demo`: the main job on simulated bands (no hardware here): builds every board's firmware through the
 * Espruino dialect gate, then runs the Puck.js bundle on a care home full of virtual bands and phones and reports
 * what the bands caught against ground truth, with an HTML report.
 */
export function registerDemo(program: Command): void {
  program
    .command("demo")
    .description("build the firmware and run it on a simulated care home (no hardware needed)")
    .option("--bands <n>", "residents wearing bands", "12")
    .option("--hours <h>", "simulated hours", "24")
    .option("--seed <s>", "random seed", "1")
    .option("--report <file>", "HTML report (default: reports/demo.html in the project)")
    .option("--force", "run even when the estimated time or memory is over the limit")
    .option("--json", "machine-readable output on stdout")
    .action(async (opts: DemoOptions) => {
      await demo(opts);
    });
}

async function demo(opts: DemoOptions): Promise<void> {
  const bands = parseNumberOption("bands", opts.bands, { ...BANDS_RANGE, min: 2 });
  const hours = parseNumberOption("hours", opts.hours, HOURS_RANGE);
  const seed = parseNumberOption("seed", opts.seed, SEED_RANGE);
  checkSimulationSize("demo", bands, hours, opts.force);
  // Outputs are checked before the build and the run: a bad path must not cost the whole demo.
  prepareOutputFolder(DIST_DIR, "firmware output folder");
  const report = prepareOutputFile(opts.report ?? DEFAULT_REPORT, "report");

  log("demo: building firmware for every board through the Espruino dialect gate");
  let built;
  try {
    built = await buildAllBoards({ dev: false, quiet: true });
  } catch (e) {
    if (e instanceof BuildError) throw new CliError(ExitCode.BUILD, e.message);
    throw e;
  }
  for (const b of built) log(`demo: ${b.board.padEnd(14)} ${b.bytes} bytes (${b.budgetPercent}% of budget)`);

  log(`demo: ${plural(bands, "resident")} with Puck.js bands, staff with phones, ${plural(hours, "simulated hour")}`);
  const progress = progressBar(process.stderr);
  const result = runSimulation({
    scenario: "care-home",
    bands,
    hours,
    seed,
    board: "puckjs",
    onProgress: progress.update,
  });
  progress.done();
  writeOutputFile(report, renderReport(result), "report");
  log(`demo: report written to ${report}`);
  const { trace: _trace, matrix: _matrix, ...summary } = result;
  emit(
    opts,
    {
      firmware: built.map((b) => ({ board: b.board, bytes: b.bytes })),
      simulation: summary,
      report,
    },
    () => human(result),
  );
  if (result.faults.count > 0) {
    throw new CliError(ExitCode.TARGET_MISSED, `${plural(result.faults.count, "device fault")} during the demo`);
  }
}
