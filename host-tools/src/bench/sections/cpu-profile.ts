import { loadAllBoards } from "../../boards/load";
import { CpuProfile, profileBand } from "../../espruino-real/cpu-profile";
import { emulatorMissing } from "../../espruino-real/interpreter";
import {
  CpuKind,
  CPU_KINDS,
  cpuJs,
  CPU_JS_BOARD,
  CPU_JS_S,
  CPU_SYNC_OPS_S,
  cpuSyncRequest,
  NRF52_CALIBRATION,
} from "../../sim/cpu-cost";
import { BenchFigure, BenchSection } from "../types";

/**
 * JavaScript time per callback kind on an nRF52, measured in the real Espruino interpreter with every board's
 * production bundle (espruino-real/cpu-profile.ts) and converted with the published calibration (sim/cpu-cost.ts):
 * the figures the simulator's CPU table (CPU_JS_S) is made from. Reported beside the table, with the ratio of each;
 * a kind outside the table's own uncertainty (x0.5 .. x2) misses the target (the table needs measuring again).
 */
const HOURS = 2;
const QUICK_HOURS = 1;
const BEACONS = 20;

interface BoardProfileResult {
  board: string;
  profile: CpuProfile;
  /** Measured / table, per kind. */
  overTable: Record<string, number>;
  pass: boolean;
}

export const cpuProfileSection: BenchSection = {
  name: "cpu-profile",
  description: `JavaScript time per callback kind, real interpreter converted to nRF52 time (${BEACONS} beacons)`,
  run: async (opts) => {
    const missing = emulatorMissing();
    if (missing) return { skipped: missing, boards: [], pass: false };
    const hours = opts.quick ? QUICK_HOURS : HOURS;
    const boards: BoardProfileResult[] = [];
    for (const b of loadAllBoards()) {
      const profile = await profileBand(b.id, hours, BEACONS);
      const overTable: Record<string, number> = {};
      let pass = true;
      for (const kind of CPU_KINDS) {
        const k = profile.kinds[kind];
        if (!k) continue;
        const r = k.nrf52Us / 1e6 / cpuJs(b.id, kind);
        overTable[kind] = Math.round(r * 100) / 100;
        if (kind !== "callback" && kind !== "timer" && (r < 0.5 || r > 2)) pass = false;
      }
      // Per sync op where the simulator charges by op (the boards that hash in JavaScript).
      if (CPU_SYNC_OPS_S[b.id]) {
        for (const [op, k] of Object.entries(profile.syncOps)) {
          const r = k.nrf52Us / 1e6 / cpuSyncRequest(b.id, parseInt(op, 16));
          overTable[`syncOp ${op}`] = Math.round(r * 100) / 100;
          if (r < 0.5 || r > 2) pass = false;
        }
      }
      boards.push({ board: b.id, profile, overTable, pass });
    }
    return {
      calibration: NRF52_CALIBRATION,
      table: CPU_JS_S,
      tableByBoard: CPU_JS_BOARD,
      boards,
      pass: boards.every((x) => x.pass),
    };
  },
  figures: (result) => {
    const r = result as { skipped?: string; boards: BoardProfileResult[] };
    if (r.skipped)
      return [{ figure: "real interpreter", target: "present", measured: "missing", pass: false, method: r.skipped }];
    return r.boards.flatMap((b): BenchFigure[] => [
      ...Object.entries(b.profile.kinds).map(([kind, k]) => ({
        board: b.board,
        figure: `${kind} ms on nRF52`,
        target: `${(cpuJs(b.board, kind as CpuKind) * 1000).toFixed(2)} (table)`,
        measured: `${((k?.nrf52Us ?? 0) / 1000).toFixed(2)}`,
        pass: kind === "callback" || kind === "timer" ? null : b.overTable[kind] >= 0.5 && b.overTable[kind] <= 2,
        method: `mean (middle 80 %) of ${k?.samples} callbacks, emulator ${(k?.emulatorUs ?? 0).toFixed(0)} us x ratio ${b.profile.ratio.toFixed(1)}; ${k?.flashBytes} bytes lexed`,
      })),
      ...(CPU_SYNC_OPS_S[b.board] ? Object.entries(b.profile.syncOps) : []).map(([op, k]) => ({
        board: b.board,
        figure: `sync op 0x${op} ms on nRF52`,
        target: `${(cpuSyncRequest(b.board, parseInt(op, 16)) * 1000).toFixed(0)} (table)`,
        measured: `${(k.nrf52Us / 1000).toFixed(0)}`,
        pass: b.overTable[`syncOp ${op}`] >= 0.5 && b.overTable[`syncOp ${op}`] <= 2,
        method: `the kiosk sync's requests of that op (${k.samples}), emulator ${k.emulatorUs.toFixed(0)} us x ratio ${b.profile.ratio.toFixed(1)}; ${k.flashBytes} bytes lexed`,
      })),
    ]);
  },
};
