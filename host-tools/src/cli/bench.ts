import { Command } from "commander";
import * as path from "path";
import { ROOT } from "../build/paths";
import { BENCH_SECTIONS } from "../bench/registry";
import { BENCH_RESULTS, UnknownSectionError, failedSections, runBench } from "../bench/run";
import { CliError, ExitCode } from "./exit-codes";
import { emit, log } from "./output";

interface BenchCliOptions {
  only?: string[];
  quick?: boolean;
  json?: boolean;
  list?: boolean;
}

/**
 * `tracelet bench [--only <section>...] [--quick] [--json] [--list]`: runs the registered benchmark sections
 * (host-tools/src/bench/registry.ts), prints the report (JSON with --json) and writes bench/results.json.
 * Exits with TARGET_MISSED when a section reports `pass: false`, INTERNAL when one fails to run.
 */
export function registerBench(program: Command): void {
  program
    .command("bench")
    .description("run the benchmarks; JSON report on stdout with --json and in bench/results.json")
    .option(
      "--only <sections...>",
      "run only these sections (comma or space separated); keeps the others' last results",
    )
    .option("--quick", "shorter timings and smaller workloads (less precise)")
    .option("--list", "list the sections and exit")
    .option("--json", "machine-readable output on stdout")
    .action(async (opts: BenchCliOptions) => {
      if (opts.list) {
        const list = BENCH_SECTIONS.map((s) => ({ name: s.name, description: s.description }));
        emit(opts, list, () => list.map((s) => `${s.name.padEnd(20)} ${s.description}`).join("\n"));
        return;
      }
      const only = (opts.only ?? []).flatMap((s) => s.split(",")).filter(Boolean);
      let report;
      try {
        report = await runBench({ only, quick: opts.quick, log });
      } catch (err) {
        if (err instanceof UnknownSectionError) throw new CliError(ExitCode.USAGE, err.message);
        throw err;
      }
      log(`bench: wrote ${path.relative(ROOT, BENCH_RESULTS)}`);
      emit(opts, report, () => JSON.stringify(report.sections, null, 2));
      const ran = only.length ? only : BENCH_SECTIONS.map((s) => s.name);
      const { missed, errors } = failedSections(report, ran);
      if (errors.length) throw new CliError(ExitCode.INTERNAL, `bench sections failed to run: ${errors.join(", ")}`);
      if (missed.length) throw new CliError(ExitCode.TARGET_MISSED, `bench targets missed: ${missed.join(", ")}`);
    });
}
