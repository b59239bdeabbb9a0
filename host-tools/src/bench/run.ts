import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ROOT } from "../build/paths";
import { BENCH_SECTIONS } from "./registry";
import { BenchRunOptions, BenchSection } from "./types";

export const BENCH_RESULTS = path.join(ROOT, "bench", "results.json");

export interface BenchReport {
  generatedAt: string;
  machine: { node: string; platform: string; cpu: string; cpus: number };
  /** Section name -> its result, or `{ error }` when it threw. */
  sections: Record<string, object>;
}

export interface RunBenchOptions extends BenchRunOptions {
  /** Section names to run (default: all). */
  only?: string[];
  /** Where to write the report (default bench/results.json); undefined with `write: false`. */
  resultsFile?: string;
  write?: boolean;
  /** Progress lines (stderr). */
  log?: (line: string) => void;
  sections?: BenchSection[];
}

export class UnknownSectionError extends Error {}

/**
 * Runs the selected sections one after another (timings must not compete for the CPU) and writes the report.
 * With `only`, the other sections' previous results in the results file are kept.
 */
export async function runBench(opts: RunBenchOptions = {}): Promise<BenchReport> {
  const all = opts.sections ?? BENCH_SECTIONS;
  const selected = opts.only?.length ? opts.only : all.map((s) => s.name);
  for (const name of selected) {
    if (!all.some((s) => s.name === name)) {
      throw new UnknownSectionError(`unknown bench section "${name}" (known: ${all.map((s) => s.name).join(", ")})`);
    }
  }
  const file = opts.resultsFile ?? BENCH_RESULTS;
  const previous = opts.only?.length && opts.write !== false ? readPrevious(file) : {};
  const sections: Record<string, object> = { ...previous };
  for (const section of all.filter((s) => selected.includes(s.name))) {
    const started = Date.now();
    opts.log?.(`bench: ${section.name}: ${section.description}`);
    try {
      sections[section.name] = await section.run({ quick: opts.quick });
    } catch (err) {
      sections[section.name] = { error: err instanceof Error ? err.message : String(err) };
    }
    opts.log?.(`bench: ${section.name} done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
  const cpus = os.cpus();
  const report: BenchReport = {
    generatedAt: new Date().toISOString(),
    machine: {
      node: process.version,
      platform: `${process.platform} ${process.arch}`,
      cpu: cpus[0]?.model ?? "unknown",
      cpus: cpus.length,
    },
    sections,
  };
  if (opts.write !== false) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, JSON.stringify(report, null, 2) + "\n");
  }
  return report;
}

/** Of `names` (default all), the sections that missed a target (`pass: false`) or failed to run (`error`). */
export function failedSections(
  report: BenchReport,
  names: string[] = Object.keys(report.sections),
): { missed: string[]; errors: string[] } {
  const missed: string[] = [];
  const errors: string[] = [];
  for (const name of names) {
    const result = (report.sections[name] ?? {}) as { pass?: unknown; error?: unknown };
    if (result.error !== undefined) errors.push(name);
    else if (result.pass === false) missed.push(name);
  }
  return { missed, errors };
}

function readPrevious(file: string): Record<string, object> {
  try {
    const data = JSON.parse(fs.readFileSync(file, "utf8")) as Partial<BenchReport>;
    return data.sections && typeof data.sections === "object" ? data.sections : {};
  } catch {
    return {};
  }
}
