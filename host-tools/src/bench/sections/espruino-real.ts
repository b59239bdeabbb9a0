import { defaultProvisioning, encodeProvisioning } from "../../../../firmware/src/protocol/provisioning";
import { loadAllBoards } from "../../boards/load";
import { bundlePath } from "../../build/paths";
import { emulatorMissing } from "../../espruino-real/interpreter";
import { runRealLife } from "../../espruino-real/scenario";
import { emptyProgramVars } from "../../sim/jsvars";
import { World } from "../../sim/world";
import { BenchFigure, BenchSection } from "../types";

/**
 * Every board's production bundle, as flashed, in the real Espruino interpreter (2v29, shared/espruino/ or
 * ESPRUINO_EMULATOR): days with 50 beacons in range, a kiosk sync a day through the project's kiosk-side protocol
 * code and power cuts at random flash bytes. Targets: no interpreter error; peak JsVars (kiosk sync included)
 * within 65 % of the board's variables.
 *
 * The band's figure = the program's own peak variables (interpreter usage less the empty interpreter and the board
 * shim, both measured) + the board's empty program (jsvars.ts emptyProgramVars: ~150 on 13-byte builds, 284 on
 * Bangle.js 2). The emulator has 14-byte variables; the 2,630-2,950-variable boards have 13-byte ones, where only
 * string and buffer storage packs fewer bytes per variable. The program's figure is converted with the simulator's
 * packing rules (sim/jsvars.ts varPacking): its steady part (after the last sync) by the ratio the simulator counts
 * for the same bundle's heap under 13- and 14-byte packing (simPacking: 2 virtual hours, 50 phones, ~1.01), its
 * transient part (what callbacks hold at the peak, which the simulator does not see) by the +8 % bound (a 13-byte
 * variable holds at least 92 % of a 14-byte one). The whole figure under the bound is stated beside it.
 */
/**
 * Virtual days per board. The interpreter runs ~9 s of wall time per virtual hour per band on this machine, so the
 * issue's 7 days x 5 boards (~2 h) is a long run: `TRACELET_REAL_DAYS=7 tracelet bench --only espruino-real`
 * (and `TRACELET_REAL_BOARDS=puckjs,mdbt42q` to pick boards); the bench runs one day per board.
 */
const DAYS = Math.max(1, Math.floor(Number(process.env.TRACELET_REAL_DAYS ?? 1)) || 1);
const BOARDS = (process.env.TRACELET_REAL_BOARDS ?? "").split(",").filter(Boolean);
const QUICK_HOURS = 6;
const TARGET_FRACTION = 0.65;
const LAYOUT_BOUND = 1.08;

interface BoardResult {
  board: string;
  hours: number;
  errors: string[];
  peakVars14: number;
  /** Program variables after the last sync (14-byte), the steady part of the peak. */
  steadyVars14: number;
  /** The simulator's 13-byte / 14-byte count of the same bundle's heap. */
  packing: number;
  peakVarsBoard: number;
  /** peakVars14 all under the +8 % bound, + the empty program. */
  peakVarsBound: number;
  boardVars: number;
  varBytes: number;
  shimVars: number;
  syncs: number;
  syncsOk: number;
  /** Links a sync lost and resumed on the next (kioskSync), with the sync's number. */
  linksLost: string[];
  powerCuts: number;
  wallSeconds: number;
  pass: boolean;
}

export const espruinoRealSection: BenchSection = {
  name: "espruino-real",
  description: `production bundles in the real Espruino interpreter: ${DAYS} virtual day${DAYS === 1 ? "" : "s"}, 50 beacons, a sync a day, power cuts`,
  run: async (opts) => {
    const missing = emulatorMissing();
    if (missing) return { skipped: missing, boards: [], pass: false };
    const hours = opts.quick ? QUICK_HOURS : DAYS * 24;
    const boards: BoardResult[] = [];
    const all = loadAllBoards();
    const unknown = BOARDS.filter((id) => !all.some((b) => b.id === id));
    if (unknown.length) throw new Error(`TRACELET_REAL_BOARDS: unknown board ${unknown.join(", ")}`);
    for (const b of all.filter((x) => !BOARDS.length || BOARDS.includes(x.id))) {
      const r = await runRealLife({
        board: b.id,
        hours,
        beacons: 50,
        syncEveryHours: 24,
        powerCuts: opts.quick ? 1 : 2 * DAYS,
        seed: 1,
      });
      const varBytes = b.jsVars > 5000 ? 14 : 13;
      const steady = Math.min(r.programVars, r.peakProgramVars);
      const packing = varBytes === 14 ? 1 : simPacking(b.id).ratio;
      const peakVarsBoard = boardPeakVars(r.peakProgramVars, steady, packing, varBytes);
      const peakVarsBound = boardPeakVars(r.peakProgramVars, 0, 1, varBytes);
      const syncsOk = r.syncs.filter((s) => s.authenticated && s.acked > 0 && !s.error).length;
      boards.push({
        board: b.id,
        hours,
        errors: r.errors,
        peakVars14: r.peakProgramVars,
        steadyVars14: steady,
        packing,
        peakVarsBoard,
        peakVarsBound,
        boardVars: b.jsVars,
        varBytes,
        shimVars: r.shimVars,
        syncs: r.syncs.length,
        syncsOk,
        linksLost: r.syncs.flatMap((s, i) => s.lost.map((l) => `sync ${i + 1}: ${l}`)),
        powerCuts: r.powerCuts,
        wallSeconds: r.wallSeconds,
        pass: r.errors.length === 0 && syncsOk === r.syncs.length && peakVarsBoard <= b.jsVars * TARGET_FRACTION,
      });
    }
    return { boards, pass: boards.every((x) => x.pass) };
  },
  figures: (result) => {
    const r = result as { skipped?: string; boards: BoardResult[] };
    if (r.skipped)
      return [{ figure: "real interpreter", target: "present", measured: "missing", pass: false, method: r.skipped }];
    return r.boards.flatMap((b): BenchFigure[] => [
      {
        board: b.board,
        figure: "interpreter errors",
        target: "0",
        measured: String(b.errors.length),
        pass: b.errors.length === 0,
        method:
          `real interpreter, ${b.hours} h, ${b.powerCuts} power cut${b.powerCuts === 1 ? "" : "s"}, ${b.syncsOk}/${b.syncs} syncs acked` +
          (b.linksLost.length ? ` (${b.linksLost.length} resumed on a new link: ${b.linksLost.join("; ")})` : ""),
      },
      {
        board: b.board,
        figure: "peak JsVars",
        target: `<= ${Math.floor(b.boardVars * TARGET_FRACTION)} (65 %)`,
        measured: String(b.peakVarsBoard),
        pass: b.peakVarsBoard <= b.boardVars * TARGET_FRACTION,
        method:
          b.varBytes === 14
            ? `real interpreter: program ${b.peakVars14} + empty interpreter`
            : `real interpreter: program ${b.peakVars14} 14-byte vars, 13-byte by the simulator's packing: ` +
              `${b.steadyVars14} after the sync x ${b.packing.toFixed(3)} + ${b.peakVars14 - b.steadyVars14} in ` +
              `callbacks +8 % bound, + empty program 150 (all +8 %: ${b.peakVarsBound})`,
      },
    ]);
  },
};

/**
 * A board's peak JsVars from the real interpreter's 14-byte program peak: on a 13-byte board the `steady14` part
 * (what the program holds after a sync) times the simulator's `packing` ratio, the rest (callbacks' temporaries)
 * under the +8 % bound; plus the board's empty program.
 */
export function boardPeakVars(peak14: number, steady14: number, packing: number, varBytes: number): number {
  if (varBytes >= 14) return peak14 + emptyProgramVars(varBytes);
  return Math.round(steady14 * packing + (peak14 - steady14) * LAYOUT_BOUND) + emptyProgramVars(varBytes);
}

/**
 * The simulator's count of the band's heap under 13- and 14-byte packing: the production bundle on a simulated band
 * with 50 Exposure Notification phones in range for 2 virtual hours (the steady state a sync leaves behind).
 */
export function simPacking(board: string): { vars13: number; vars14: number; ratio: number } {
  const world = new World({ seed: 3 });
  const fill = (n: number, v: number) => new Uint8Array(n).map((_, i) => (v * 31 + i * 7) & 255);
  const prov = defaultProvisioning(fill(8, 1), fill(16, 101), fill(16, 201), world.startUnix);
  const band = world.addBand({
    board,
    bundlePath: bundlePath(board),
    position: { x: 0, y: 0 },
    provisioning: { "tl.prov": encodeProvisioning(prov) },
    clock: world.startUnix,
  });
  for (let i = 0; i < 50; i++)
    world.addPhone({ kind: "en", position: { x: 1 + (i % 7) * 0.5, y: Math.floor(i / 7) * 0.5 } });
  world.run(2 * 3600);
  const vars13 = band.programVarsAs(13);
  const vars14 = band.programVarsAs(14);
  return { vars13, vars14, ratio: vars13 / vars14 };
}
