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
