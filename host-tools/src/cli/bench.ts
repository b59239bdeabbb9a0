import { Command } from "commander";
import * as path from "path";
import { ROOT } from "../build/paths";
import { BENCH_SECTIONS } from "../bench/registry";
import { benchFigures, missedTargets, renderFigureTable } from "../bench/figures";
import { BENCH_RESULTS, runBench } from "../bench/run";
import { CliError, ExitCode } from "./exit-codes";
import { prepareOutputFile } from "./files";
import { plural } from "./options";
import { emit, log } from "./output";

interface BenchCliOptions {
  only?: string[];
  quick?: boolean;
  json?: boolean;
  list?: boolean;
  check?: boolean;
}

/**
 * `tracelet bench [--only <section>...] [--quick] [--json] [--list] [--check]`: runs the registered benchmark
 * sections (host-tools/src/bench/registry.ts), prints a table of every figure (target, measured, pass, how it was
 * measured; the full report as JSON with --json) and writes bench/results.json. Benchmarks are measurements: the
 * exit code is 0 unless `--check` is given, then TARGET_MISSED naming every missed target (board and figure).
 */
export function registerBench(program: Command): void {
  program
    .command("bench")
    .description("run the benchmarks: a table of figures (JSON with --json), also written to bench/results.json")
    .option(
      "--only <sections...>",
      "run only these sections (comma or space separated); keeps the others' last results",
    )
    .option("--quick", "shorter timings and smaller workloads (less precise)")
    .option("--list", "list the sections and exit")
    .option("--check", "exit with TARGET_MISSED when a figure missed its target or a section failed to run")
    .option("--json", "machine-readable output on stdout: the report and its figures")
    .action(async (opts: BenchCliOptions) => {
      if (opts.list) {
        const list = BENCH_SECTIONS.map((s) => ({ name: s.name, description: s.description }));
        emit(opts, list, () => list.map((s) => `${s.name.padEnd(20)} ${s.description}`).join("\n"));
        return;
      }
      const only = (opts.only ?? []).flatMap((s) => s.split(",")).filter(Boolean);
      const unknown = only.filter((name) => !BENCH_SECTIONS.some((s) => s.name === name));
      if (unknown.length) {
        const known = BENCH_SECTIONS.map((s) => s.name).join(", ");
        throw new CliError(ExitCode.USAGE, `--only: unknown bench section "${unknown[0]}" (known: ${known})`);
      }
      // The results file is checked before minutes of measuring, not after.
      prepareOutputFile(BENCH_RESULTS, "bench results");
      const report = await runBench({ only, quick: opts.quick, log });
      log(`bench: wrote ${path.relative(ROOT, BENCH_RESULTS)}`);
      const ran = only.length ? only : BENCH_SECTIONS.map((s) => s.name);
      const figures = benchFigures(report, ran);
      emit(opts, { ...report, figures }, () => renderFigureTable(figures));
      const missed = missedTargets(figures);
      if (!missed.length) return;
      if (!opts.check) {
        log(`bench: ${plural(missed.length, "target")} missed (--check makes that a failure): ${missed.join("; ")}`);
        return;
      }
      throw new CliError(
        ExitCode.TARGET_MISSED,
        `${plural(missed.length, "bench target")} missed: ${missed.join("; ")}`,
      );
    });
}
