import { emulatorMissing } from "../../host-tools/src/espruino-real/interpreter";

/**
 * The real Espruino interpreter is not part of the project (shared/espruino/ beside it, or ESPRUINO_EMULATOR).
 * Without it these tests are skipped with one line saying why; CI (CI=true) fails instead of skipping.
 */
export function realInterpreterTests(): jest.Describe {
  const missing = emulatorMissing();
  if (!missing) return describe;
  if (process.env.CI) throw new Error(`CI needs the real Espruino interpreter: ${missing}`);
  console.warn(`skipped: ${missing}`);
  return describe.skip;
}

export const BOARDS = ["puckjs", "mdbt42q", "pixljs", "banglejs2"];

/**
 * A bounded sample of a board x case matrix for CI (the brief: heavy matrices belong in the bench or a bounded
 * sample): each case runs on one board, round robin, so every case and every board is covered once per run.
 * TRACELET_FULL_MATRIX=1 runs every case on every board.
 */
export function casesFor<T>(board: string, cases: readonly T[]): T[] {
  if (process.env.TRACELET_FULL_MATRIX) return cases.slice();
  const b = BOARDS.indexOf(board);
  return cases.filter((_, i) => i % BOARDS.length === b);
}

/** The boards a heavy per-board test runs on in CI: one nRF52832 (SDK 12) and the nRF52840 (SDK 15) board. */
export function sampleBoards(): string[] {
  return process.env.TRACELET_FULL_MATRIX ? BOARDS.slice() : ["puckjs", "banglejs2"];
}
