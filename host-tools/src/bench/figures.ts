import { BENCH_SECTIONS } from "./registry";
import { BenchReport } from "./run";
import { BenchFigure, BenchSection } from "./types";

/**
 * The benchmark report as rows a person reads: one row per measured figure, with its target, whether it was met
 * and how it was measured. A section without a `figures` function gets one row from its `pass` field.
 */
export function benchFigures(
  report: BenchReport,
  names: string[] = Object.keys(report.sections),
  sections: BenchSection[] = BENCH_SECTIONS,
): BenchFigure[] {
  const rows: BenchFigure[] = [];
  for (const name of names) {
    const result = report.sections[name] as { pass?: unknown; error?: unknown } | undefined;
    if (!result) continue;
    const section = sections.find((s) => s.name === name);
    if (result.error !== undefined) {
      rows.push({
        section: name,
        figure: "section ran",
        target: "runs",
        measured: `failed: ${String(result.error)}`,
        pass: false,
        method: section?.description ?? name,
      });
      continue;
    }
    const own = section?.figures?.(result);
    if (own) {
      rows.push(...own.map((f) => ({ ...f, section: name })));
      continue;
    }
    rows.push({
      section: name,
      figure: "section targets",
      target: typeof result.pass === "boolean" ? "pass" : "-",
      measured: typeof result.pass === "boolean" ? (result.pass ? "pass" : "missed") : "see --json",
      pass: typeof result.pass === "boolean" ? result.pass : null,
      method: section?.description ?? name,
    });
  }
  return rows;
}

/** "firmware puckjs: recall (target >= 0.95, measured 0.91)" for every row that missed its target. */
export function missedTargets(rows: BenchFigure[]): string[] {
  return rows
    .filter((r) => r.pass === false)
    .map(
      (r) => `${r.section}${r.board ? ` ${r.board}` : ""}: ${r.figure} (target ${r.target}, measured ${r.measured})`,
    );
}

/** A plain-text table: section, board, figure, target, measured, result, how measured. */
export function renderFigureTable(rows: BenchFigure[]): string {
  const header = ["section", "board", "figure", "target", "measured", "result", "how measured"];
  const cells = rows.map((r) => [
    r.section ?? "",
    r.board ?? "-",
    r.figure,
    r.target,
    r.measured,
    r.pass === null ? "-" : r.pass ? "pass" : "MISSED",
    r.method,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  // The last column (how measured) is free text: it is not padded.
  const line = (c: string[]) =>
    c
      .map((x, i) => (i === c.length - 1 ? x : x.padEnd(widths[i])))
      .join("  ")
      .trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...cells.map(line)].join("\n");
}
