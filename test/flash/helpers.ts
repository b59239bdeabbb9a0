import * as fs from "fs";
import * as path from "path";
import { loadBoard } from "../../host-tools/src/boards/load";
import { DEFAULT_DEPLOYMENT } from "../../host-tools/src/flash/deployment";
import { firmwareLabel, FlashOptions } from "../../host-tools/src/flash/provision";
import { RegistrySink } from "../../host-tools/src/flash/registry";
import { SimStation } from "../../host-tools/src/flash/station";

const ROOT = path.resolve(__dirname, "..", "..");

/** The production bundle of `board` as the flasher writes it (dist/<board>/tracelet.js). */
export function builtBundle(board: string): Uint8Array {
  return new Uint8Array(fs.readFileSync(path.join(ROOT, "dist", board, "tracelet.js")));
}

/** flashBand options for a band on a simulated station: its board's bundle, the default deployment, its clock. */
export function simFlashOptions(
  st: SimStation,
  port: string,
  registry: RegistrySink,
  extra: Partial<FlashOptions> = {},
): FlashOptions {
  return {
    port,
    board: loadBoard(st.board),
    bundle: builtBundle(st.board),
    firmwareVersion: firmwareLabel(st.board),
    deployment: DEFAULT_DEPLOYMENT,
    registry,
    health: st.health,
    now: () => st.now(),
    ...extra,
  };
}
