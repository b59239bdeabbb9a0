/** A benchmark section: one job (bundle sizes, crypto cost, simulator speed, ...), registered in registry.ts. */
export interface BenchSection {
  /** Stable id, used by `tracelet bench --only <name>` and as the key in bench/results.json. */
  name: string;
  description: string;
  /**
   * Measures and returns a JSON-serialisable result. A result with `pass: false` means a target was missed
   * (`tracelet bench` then exits with TARGET_MISSED after writing every result).
   */
  run(opts: BenchRunOptions): Promise<object>;
  /**
   * The result as table rows for `tracelet bench` (figure, target, measured, pass, how measured). Without it the
   * table shows one row from the result's `pass`.
   */
  figures?(result: object): BenchFigure[];
}

/** One measured figure of a section, as `tracelet bench` prints it. */
export interface BenchFigure {
  /** Filled in by the table from the section's name. */
  section?: string;
  /** The board the figure is about, when it is per board. */
  board?: string;
  /** What was measured ("bundle bytes", "recall of 15-minute contacts"). */
  figure: string;
  /** The target as text ("<= 16384", ">= 0.95"), "-" when there is none. */
  target: string;
  measured: string;
  /** null when the figure has no target (reported, not judged). */
  pass: boolean | null;
  /** How it was measured, in a few words. */
  method: string;
}

export interface BenchRunOptions {
  /** Smaller workloads and shorter timings (tests, smoke runs); results are less precise. */
  quick?: boolean;
}
