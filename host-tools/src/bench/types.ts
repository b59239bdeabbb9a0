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
}

export interface BenchRunOptions {
  /** Smaller workloads and shorter timings (tests, smoke runs); results are less precise. */
  quick?: boolean;
}
