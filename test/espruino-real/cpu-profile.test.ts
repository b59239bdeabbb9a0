import { profileBand } from "../../host-tools/src/espruino-real/cpu-profile";
import { CpuKind, CPU_FLASH_BYTES, CPU_SYNC_OP_BYTES } from "../../host-tools/src/sim/cpu-cost";
import { realInterpreterTests } from "./helpers";

/**
 * The simulator's CPU table (sim/cpu-cost.ts) answers to the real interpreter. Host time is no test figure (it
 * goes in the bench, section cpu-profile), so the check is on the deterministic measure the table records beside
 * it: the bytes of the bundle the interpreter lexes per callback of each kind. A firmware change that moves a
 * callback's work by more than 20 % fails here until the table is measured again (bench `cpu-profile`, then
 * CPU_JS_S and CPU_FLASH_BYTES).
 */
realInterpreterTests()("CPU work per callback: the simulator's table against the real interpreter", () => {
  test("puckjs, 1 h with 20 beacons: each kind's bytes lexed within 20 % of the table", async () => {
    const p = await profileBand("puckjs", 1, 20);
    expect(p.reports).toBeGreaterThan(100);
    for (const [kind, table] of Object.entries(CPU_FLASH_BYTES) as [CpuKind, number][]) {
      const measured = p.kinds[kind]?.flashBytes ?? 0;
      const r = measured / table;
      expect({ kind, measured, within: r >= 0.8 && r <= 1.2 }).toEqual({ kind, measured, within: true });
    }
  }, 300000);

  test("pixljs (HMAC in JavaScript): each sync op's bytes lexed within 20 % of the per-op table", async () => {
    const p = await profileBand("pixljs", 1, 20);
    for (const [op, table] of Object.entries(CPU_SYNC_OP_BYTES)) {
      const key = Number(op).toString(16).padStart(2, "0");
      const measured = p.syncOps[key]?.flashBytes ?? 0;
      const r = measured / table;
      expect({ op: key, measured, within: r >= 0.8 && r <= 1.2 }).toEqual({ op: key, measured, within: true });
    }
  }, 300000);
});
