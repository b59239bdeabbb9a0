import { emulatorMissing } from "../../host-tools/src/espruino-real/interpreter";

/**
 * The real Espruino interpreter is not part of the project (shared/espruino/ beside it, or ESPRUINO_EMULATOR).
 * Without it these tests are skipped (test/global-setup.js says why, once, in one line); CI (CI=true) fails instead
 * of skipping.
 */
export function realInterpreterTests(): jest.Describe {
  const missing = emulatorMissing();
  if (!missing) return describe;
  if (process.env.CI) throw new Error(`CI needs the real Espruino interpreter: ${missing}`);
  // The one line saying why is test/global-setup.js's (jest drops the console of an all-skipped suite).
  return describe.skip;
}

export const BOARDS = ["puckjs", "mdbt42q", "pixljs", "banglejs2", "puckjs-minimal"];

/**
 * A bounded sample of a board x case matrix for CI (the brief: heavy matrices belong in the bench or a bounded
 * sample): each case runs on one board, so every case and every board is covered once per run. Case i goes to the
 * board, among those that can run it (`runsOn`), with the fewest cases so far, the first from BOARDS[i % n] on
 * (round robin while every board can run every case). TRACELET_FULL_MATRIX=1 runs every case on every board that
 * can run it.
 */
export function casesFor<T>(
  board: string,
  cases: readonly T[],
  runsOn: (c: T, board: string) => boolean = () => true,
): T[] {
  if (process.env.TRACELET_FULL_MATRIX) return cases.filter((c) => runsOn(c, board));
  const n = BOARDS.length;
  const count = BOARDS.map(() => 0);
  return cases.filter((c, i) => {
    let pick = -1;
    for (let k = 0; k < n; k++) {
      const j = (i + k) % n;
      if (runsOn(c, BOARDS[j]) && (pick < 0 || count[j] < count[pick])) pick = j;
    }
    if (pick >= 0) count[pick]++;
    return pick >= 0 && BOARDS[pick] === board;
  });
}

/** The boards a heavy per-board test runs on in CI: one nRF52832 (SDK 12) and the nRF52840 (SDK 15) board. */
export function sampleBoards(): string[] {
  return process.env.TRACELET_FULL_MATRIX ? BOARDS.slice() : ["puckjs", "banglejs2"];
}
