import { Command } from "commander";
import * as path from "path";
import { BoardError } from "../boards/load";
import { BuildError, BuildResult, buildAllBoards, buildBoard } from "../build/build";
import { DIST_DIR, ROOT } from "../build/paths";
import { CliError, ExitCode } from "./exit-codes";
import { prepareOutputFolder } from "./files";
import { emit, log } from "./output";

interface BuildCliOptions {
  board?: string;
  all?: boolean;
  dev?: boolean;
  json?: boolean;
  typecheck?: boolean;
}

/**
 * `tracelet build --board <id> | --all [--dev] [--json] [--no-typecheck]`: firmware bundles in dist/<id>/tracelet.js
 * (+ .map, build.json) through the type check, esbuild and the Espruino dialect gate. `--json` prints one result
 * object for `--board` and an array for `--all`. Problems (type errors, gate violations with their TypeScript
 * positions, budget) go to stderr one per line; the exit code is BUILD, or BOARD for an unknown board.
 */
export function registerBuild(program: Command): void {
  program
    .command("build")
    .description("build the firmware bundle for a board (or all boards) through the Espruino dialect gate")
    .option("--board <id>", "board profile id (boards/<id>.json)")
    .option("--all", "build every board")
    .option("--dev", "development build: keeps the Bluetooth console (same dist/<id>/ path; build.json says dev)")
    .option("--no-typecheck", "skip the firmware type check (tsc, about 2 s)")
    .option("--json", "machine-readable output on stdout")
    .action(async (opts: BuildCliOptions) => {
      if (Boolean(opts.all) === (opts.board !== undefined)) {
        throw new CliError(ExitCode.USAGE, "give exactly one of --board <id> or --all");
      }
      prepareOutputFolder(DIST_DIR, "firmware output folder");
      const options = { dev: opts.dev === true, quiet: false, typecheck: opts.typecheck !== false };
      try {
        if (opts.all) {
          const results = await buildAllBoards(options);
          emit(opts, results.map(summary), () => results.map(human).join("\n"));
        } else {
          const result = await buildBoard(opts.board as string, options);
          emit(opts, summary(result), () => human(result));
        }
      } catch (err) {
        if (err instanceof BoardError) throw new CliError(ExitCode.BOARD, err.message);
        if (err instanceof BuildError) {
          for (const r of err.built) log(`built ${human(r)}`);
          for (const line of err.details) log(line);
          throw new CliError(ExitCode.BUILD, `build failed: ${err.message}`);
        }
        throw err;
      }
    });
}

function summary(r: BuildResult) {
  return {
    board: r.board,
    dev: r.dev,
    file: path.relative(ROOT, r.file),
    mapFile: path.relative(ROOT, r.mapFile),
    bytes: r.bytes,
    budgetBytes: r.budgetBytes,
    budgetPercent: r.budgetPercent,
  };
}

function human(r: BuildResult): string {
  const kind = r.dev ? " (dev)" : "";
  return `${r.board.padEnd(14)} ${path.relative(ROOT, r.file)}${kind}  ${r.bytes} bytes, ${r.budgetPercent}% of ${r.budgetBytes}`;
}
