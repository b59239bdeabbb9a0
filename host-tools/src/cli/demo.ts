import { Command } from "commander";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { BuildError, buildAllBoards } from "../build/build";
import { DIST_DIR, ROOT } from "../build/paths";
import { renderStoryReport } from "../demo/report";
import { runStory, StoryResult } from "../demo/story";
import { loadBoard } from "../boards/load";
import { CliError, ExitCode } from "./exit-codes";
import { prepareOutputFile, prepareOutputFolder, writeOutputFile } from "./files";
import { parseNumberOption, plural } from "./options";
import { emit, log } from "./output";
import { BANDS_RANGE, SEED_RANGE } from "./sim-limits";

interface DemoOptions {
  bands: string;
  days: string;
  hours?: string;
  seed: string;
  board: string;
  deployment: string;
  report?: string;
  keep?: boolean;
  force?: boolean;
  json?: boolean;
}

/** The demo's report lives in the project, wherever the demo is run from. */
const DEFAULT_REPORT = path.join(ROOT, "reports", "demo.html");

/**
 * False close contacts the demo accepts (kiosk says "risky", ground truth says under 15 min within 2 m): the larger
 * of one band and a quarter of the true close contacts. It covers residents who were near the F0 (a neighbouring
 * table); a resident never within 4 m of it (the other wing) may never be reported. docs/demo.md says why.
 */
export function falseTolerance(trueContacts: number): number {
  return Math.max(1, Math.floor(trueContacts / 4));
}

/**
 * `tracelet demo`: the whole story on simulated bands (no hardware here): builds every board's firmware through the
 * Espruino dialect gate; starts a local authority; flashes the bands with the flasher (registered at the authority);
 * lives several days of a care home in which one resident falls ill; syncs every band at the clinic kiosk; runs the
 * tested-positive flow; lets the kiosk re-check every stored log; prints who was found against the ground truth and
 * writes an HTML report. The kiosk page is reachable while it runs (and, with --keep, until Ctrl-C).
 */
export function registerDemo(program: Command): void {
  program
    .command("demo")
    .description("the whole story on simulated bands: flash, wear, sync at the kiosk, a positive test, contacts found")
    .option("--bands <n>", "residents wearing bands (each is flashed by the flasher: ~13 s each)", "8")
    .option("--days <d>", "simulated days in the care home before the positive test", "3")
    .option("--hours <h>", "simulated hours instead of --days")
    .option("--seed <s>", "random seed", "1")
    .option("--board <id>", "board of the bands", "mdbt42q")
    .option("--deployment <mode>", "private (the kiosks match) or escrow (the authority's F1 list too)", "private")
    .option("--report <file>", "HTML report (default: reports/demo.html in the project)")
    .option("--keep", "keep the kiosk page (and the authority) up after the story until Ctrl-C")
    .option("--force", "run more than 40 bands or 14 days")
    .option("--json", "machine-readable output on stdout")
    .action(async (opts: DemoOptions) => {
      await demo(opts);
    });
}

async function demo(opts: DemoOptions): Promise<void> {
  const bands = parseNumberOption("bands", opts.bands, { ...BANDS_RANGE, min: 2 });
  const days =
    opts.hours !== undefined
      ? parseNumberOption("hours", opts.hours, { min: 1, max: 24 * 60 }) / 24
      : parseNumberOption("days", opts.days, { min: 0.05, max: 60 });
  const seed = parseNumberOption("seed", opts.seed, SEED_RANGE);
  if (!opts.force && (bands > 40 || days > 14))
    throw new CliError(
      ExitCode.USAGE,
      `${plural(bands, "band")} for ${plural(days, "day")} would take about ${Math.ceil((bands * 14 + 60) / 60)} minutes (each band is flashed in ~13 s; at most 40 bands and 14 days without --force)`,
    );
  if (opts.deployment !== "private" && opts.deployment !== "escrow")
    throw new CliError(ExitCode.USAGE, `--deployment: must be private or escrow, got "${opts.deployment}"`);
  const deployment = opts.deployment;
  try {
    loadBoard(opts.board);
  } catch (e) {
    throw new CliError(ExitCode.BOARD, (e as Error).message);
  }
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

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tracelet-demo-"));
  log(
    `demo: ${plural(bands, "resident")} with ${opts.board} bands, staff with phones, ${days} simulated days; data in ${dir}`,
  );
  let story;
  try {
    story = await runStory({
      bands,
      days,
      seed,
      board: opts.board,
      deployment,
      dir,
      log: (l) => log(l),
      onKioskPage: (url) => log(`demo: the kiosk page is on ${url} while the demo runs`),
    });
  } catch (e) {
    throw new CliError(ExitCode.TARGET_MISSED, `the story stopped: ${(e as Error).message.split("\n")[0]}`);
  }
  const r = story.result;
  writeOutputFile(report, renderStoryReport(r), "report");
  log(`demo: report written to ${report}`);
  emit(opts, { firmware: built.map((b) => ({ board: b.board, bytes: b.bytes })), story: r, report }, () =>
    human(r, report),
  );
  if (opts.keep) {
    story.keepAlive();
    log(`demo: kiosk page on ${r.kiosk.url}, authority on ${r.authority.url}; Ctrl-C to stop`);
    await new Promise<void>((resolve) => {
      const stop = () => {
        process.off("SIGINT", stop);
        process.off("SIGTERM", stop);
        resolve();
      };
      process.on("SIGINT", stop);
      process.on("SIGTERM", stop);
    });
  }
  await story.close();
  const problems: string[] = [];
  if (r.found.missed.length) problems.push(`${plural(r.found.missed.length, "true close contact")} missed`);
  if (r.found.falseFound.length > falseTolerance(r.truth.closeContacts.length))
    problems.push(`${plural(r.found.falseFound.length, "false close contact")}`);
  if (r.found.falseNeverNear.length)
    problems.push(`${plural(r.found.falseNeverNear.length, "resident")} never near the F0 reported`);
  const f1 = r.found.authority;
  if (f1?.missed.length) problems.push(`${plural(f1.missed.length, "true close contact")} missing from the F1 list`);
  if (f1 && f1.falseFound.length > falseTolerance(r.truth.closeContacts.length))
    problems.push(`${plural(f1.falseFound.length, "false close contact")} in the F1 list`);
  if (f1?.falseNeverNear.length)
    problems.push(`${plural(f1.falseNeverNear.length, "resident")} never near the F0 in the F1 list`);
  if (r.lost) problems.push(`${plural(r.lost, "synced log unit")} lost`);
  if (r.faults) problems.push(`${plural(r.faults, "device fault")}`);
  if (problems.length) throw new CliError(ExitCode.TARGET_MISSED, problems.join(", "));
}

function human(r: StoryResult, report: string): string {
  const list = (xs: string[]) => (xs.length ? xs.join(", ") : "none");
  return [
    `${r.scenario.description}; ${(r.scenario.hours / 24).toFixed(1)} days, seed ${r.seed}, ${r.wallSeconds} s`,
    `F0: ${r.f0.person} (band ${r.f0.bandId}) tested positive; ${r.uploads.keys} keys and a ${r.uploads.logBytes}-byte log uploaded to the authority`,
    `true close contacts (>= 15 min within 2 m): ${list(r.truth.closeContacts)}`,
    `not close contacts:                       ${list(r.truth.nonContacts)} (never near: ${list(r.truth.neverNear)})`,
    `found by the kiosk:                       ${list(r.found.kiosk)}`,
    `missed: ${list(r.found.missed)}; false: ${list(r.found.falseFound)}; synced units lost: ${r.lost}`,
    r.found.authority
      ? `the authority's F1 list: ${list(r.found.authority.contacts)} (missed: ${list(r.found.authority.missed)}; false: ${list(r.found.authority.falseFound)})`
      : "",
    r.truth.phoneContacts.length
      ? `staff phones in close contact (their own apps match): ${list(r.truth.phoneContacts)}`
      : "",
    ...r.boards.map(
      (b) =>
        `${b.board}: ${b.averageUa} uA -> ${b.batteryDays} battery days; JsVars peak ${b.peakJsVars}/${b.jsVars}; log ${b.logBytesPerDay} B/day of ${b.logBudgetBytes} B -> ${b.projectedLogDays ?? "n/a"} days`,
    ),
    `kiosk page: ${r.kiosk.url} (up while the demo ran; --keep leaves it up)`,
    `report: ${report}`,
  ]
    .filter(Boolean)
    .join("\n");
}
