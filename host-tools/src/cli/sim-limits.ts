import * as os from "os";
import * as v8 from "v8";
import { CliError, ExitCode } from "./exit-codes";
import { plural } from "./options";
import { log } from "./output";

/** What a simulated run may ask for on the command line (beyond that, nothing is meaningful). */
export const BANDS_RANGE = { min: 1, max: 100000, integer: true };
export const HOURS_RANGE = { min: 0.01, max: 8784 };
export const SEED_RANGE = { min: 0, max: 4294967295, integer: true };

/** Above these the CLI refuses a run unless --force: a user should not wait an hour or run out of memory unawares. */
export const MAX_ESTIMATED_SECONDS = 600;

/**
 * Wall time and memory of a simulated run, from measurements of the care-home scenario with the Puck.js bundle on
 * this project's shared 2-core machine (20 bands x 24 h: 5 s; 50 bands x 24 h: 58 s under load; 3 bands x 480 h:
 * 8.5 s). Time grows with band-hours and, as everyone hears everyone, with the square of the bands; each band is a
 * V8 context of about 3.5 MB. Rough by design, erring long: it only has to tell a minute from a day.
 */
export function estimateSimulation(bands: number, hours: number): { seconds: number; megabytes: number } {
  return {
    seconds: hours * (0.006 * bands + 0.0006 * bands * bands),
    megabytes: 160 + 3.5 * bands + 0.03 * bands * hours,
  };
}

/** The memory the run can have: the V8 heap limit, and no more than most of the machine's free memory. */
export function memoryLimitMegabytes(): number {
  return Math.min(v8.getHeapStatistics().heap_size_limit, 0.8 * os.freemem()) / 1e6;
}

/**
 * Throws a USAGE error naming the estimate and the limit when the run is too large, unless `force`; says what to
 * expect (stderr, as `verb`) when a run will take more than half a minute.
 */
export function checkSimulationSize(verb: string, bands: number, hours: number, force: boolean | undefined): void {
  const e = estimateSimulation(bands, hours);
  const memLimit = memoryLimitMegabytes();
  const tooSlow = e.seconds > MAX_ESTIMATED_SECONDS;
  const tooBig = e.megabytes > memLimit;
  if (force || (!tooSlow && !tooBig)) {
    if (e.seconds > 30) log(`${verb}: estimated about ${duration(e.seconds)} and ${size(e.megabytes)} of memory`);
    return;
  }
  const limits = [
    tooSlow ? `over the ${duration(MAX_ESTIMATED_SECONDS)} limit` : "",
    tooBig ? `over the ${size(memLimit)} available` : "",
  ].filter(Boolean);
  throw new CliError(
    ExitCode.USAGE,
    `${plural(bands, "band")} for ${plural(hours, "hour")} would take about ${duration(e.seconds)} and ` +
      `${size(e.megabytes)} of memory, ${limits.join(" and ")}: use fewer bands or hours, or --force to run it anyway`,
  );
}

function duration(seconds: number): string {
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86400)} days`;
}

function size(megabytes: number): string {
  return megabytes < 10000 ? `${Math.round(megabytes)} MB` : `${Math.round(megabytes / 1000)} GB`;
}
