import { Command } from "commander";
import * as fs from "fs";
import * as path from "path";
import { BuildError, buildAllBoards } from "../build/build";
import { renderReport } from "../sim/report";
import { runSimulation } from "../sim/run";
import { CliError, ExitCode } from "./exit-codes";
import { emit, log } from "./output";
import { human, progressBar } from "./simulate";

interface DemoOptions {
  bands: string;
  hours: string;
  seed: string;
  report: string;
  json?: boolean;
}

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
    .option("--report <file>", "HTML report", "reports/demo.html")
    .option("--json", "machine-readable output on stdout")
    .action(async (opts: DemoOptions) => {
      const bands = Number(opts.bands);
      const hours = Number(opts.hours);
      const seed = Number(opts.seed);
      if (!Number.isInteger(bands) || bands < 2)
        throw new CliError(ExitCode.USAGE, `--bands: expected a whole number >= 2, got "${opts.bands}"`);
      if (!(hours > 0)) throw new CliError(ExitCode.USAGE, `--hours: expected a positive number, got "${opts.hours}"`);
      if (!Number.isFinite(seed)) throw new CliError(ExitCode.USAGE, `--seed: expected a number, got "${opts.seed}"`);

      log("demo: building firmware for every board through the Espruino dialect gate");
      let built;
      try {
        built = await buildAllBoards({ dev: false, quiet: true });
      } catch (e) {
        if (e instanceof BuildError) throw new CliError(ExitCode.BUILD, e.message);
        throw e;
      }
      for (const b of built) log(`demo: ${b.board.padEnd(10)} ${b.bytes} bytes (${b.budgetPercent}% of budget)`);

      log(`demo: ${bands} residents with Puck.js bands, staff with phones, ${hours} simulated hours`);
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
      fs.mkdirSync(path.dirname(path.resolve(opts.report)), { recursive: true });
      fs.writeFileSync(opts.report, renderReport(result));
      log(`demo: report written to ${opts.report}`);
      const { trace: _trace, matrix: _matrix, ...summary } = result;
      emit(
        opts,
        {
          firmware: built.map((b) => ({ board: b.board, bytes: b.bytes })),
          simulation: summary,
          report: opts.report,
        },
        () => human(result),
      );
      if (result.faults.count > 0) {
        throw new CliError(ExitCode.TARGET_MISSED, `${result.faults.count} device fault(s) during the demo`);
      }
    });
}
