import { airChanges, compareTraces, runDifferential } from "../../host-tools/src/espruino-real/differential";
import { runRealLife } from "../../host-tools/src/espruino-real/scenario";
import { EspruinoDevice } from "../../host-tools/src/sim/device";
import { World } from "../../host-tools/src/sim/world";
import { addBand, SimKiosk } from "../firmware/helpers/sim-kiosk";
import { BOARDS, realInterpreterTests } from "./helpers";

/**
 * The simulator answers to the real interpreter: the same production bundle, two hours with 50 beacons in range and
 * a kiosk sync, measured in both. JsVars are the program's own (each side's empty program subtracted).
 */
async function simulated(board: string): Promise<{ program: number; peak: number }> {
  const world = new World({ seed: 3 });
  const { band, prov } = addBand(world, board, { x: 0, y: 0 });
  for (let i = 0; i < 50; i++)
    world.addPhone({ kind: "en", position: { x: 1 + (i % 7) * 0.5, y: Math.floor(i / 7) * 0.5 } });
  world.run(2 * 3600);
  const k = new SimKiosk(world, [prov.syncKey]);
  const f = await k.find(60);
  expect(await k.open(f.address, f.index)).toBe(true);
  await k.readAll(0);
  await k.close();
  world.run(world.now + 5);
  const base = (band as unknown as { estimator: { baseline: number } }).estimator.baseline;
  return { program: band.measureMemory() - base, peak: band.memoryPeak - base };
}

realInterpreterTests()("simulator vs real interpreter", () => {
  test.each(["puckjs", "banglejs2"])(
    "%s: the simulator's JsVars are within 10 %% of the real interpreter's after a sync, its peak within 12 %%",
    async (board) => {
      const real = await runRealLife({ board, hours: 2, beacons: 50, syncEveryHours: 2, powerCuts: 0, seed: 3 });
      expect(real.errors).toEqual([]);
      expect(real.syncs[0]).toMatchObject({ authenticated: true });
      const sim = await simulated(board);
      const ratio = sim.program / real.programVars;
      const peakRatio = sim.peak / real.peakProgramVars;
      // Measured (since the build inlines single-call functions and replies are sealed as they go out): steady
      // 0.98 (Puck.js, 13-byte packing in the simulator against 14-byte in the emulator) and 0.99 (Bangle.js 2);
      // peaks 0.92 and 0.94 (1,363 against 1,482 on Puck.js: the simulator samples after callbacks, the real one
      // inside them).
      expect(ratio).toBeGreaterThan(0.9);
      expect(ratio).toBeLessThan(1.1);
      expect(peakRatio).toBeGreaterThan(0.88);
      expect(peakRatio).toBeLessThan(1.12);
    },
    600_000,
  );
});

/**
 * Issue 10 item 2: the same scripted two hours (provisioning record, E.hwRand and Math.random streams, clock, scan
 * reports, two kiosk syncs through the project's KioskSession) on the simulator and on the real interpreter, every
 * board: (a) every Storage file and its bytes, (b) what went on air, (c) each sync's frames each way, all identical
 * (times within TIME_TOLERANCE_S: the simulator's GATT link takes connection events, the harness's none).
 * TRACELET_DIFF_PERTURB=1 flips a bit of one simulated Storage write, to see the test fail.
 */
realInterpreterTests()("simulator vs real interpreter on one scripted day: Storage, air, sync transcript", () => {
  test.each(BOARDS)(
    "%s: identical Storage bytes, adverts and addresses, sync frames",
    async (board) => {
      const t0 = Date.now();
      const { sim, real } = await runDifferential({
        board,
        hours: 2,
        syncAtHours: [1, 1.9],
        onSimBoot: process.env.TRACELET_DIFF_PERTURB ? perturbOneWrite : undefined,
      });
      const differences = compareTraces(sim, real);
      const sa = airChanges(sim.air);
      const ra = airChanges(real.air);
      let dt = 0;
      for (let i = 0; i < Math.min(sa.length, ra.length); i++) dt = Math.max(dt, Math.abs(sa[i].t - ra[i].t));
      console.log(
        `${board}: ${Object.keys(real.files).length} files, ${airChanges(real.air).length} on-air changes, ` +
          `${real.syncs.map((s) => s.frames.length).join("+")} sync frames, ${real.scanWindows} scan windows, ` +
          `${real.reports} reports; ${differences.length} differences, on-air times within ${(dt * 1000).toFixed(1)} ms; ` +
          `${((Date.now() - t0) / 1000).toFixed(0)} s`,
      );
      expect(real.errors).toEqual([]);
      expect(sim.errors).toEqual([]);
      // The script did what it is for: log files written, rotations, both syncs read and acknowledged the log.
      expect(Object.keys(real.files).filter((n) => n.startsWith("tl.e")).length).toBeGreaterThan(0);
      expect(new Set(airChanges(real.air).map((a) => a.address)).size).toBeGreaterThan(3);
      expect(real.syncs.map((s) => [s.error, s.acked !== undefined && s.acked > 0])).toEqual([
        [undefined, true],
        [undefined, true],
      ]);
      expect(differences).toEqual([]);
    },
    300_000,
  );
});

/** Flips the lowest bit of byte 0 of the simulated band's first write to an encounter log file. */
function perturbOneWrite(band: EspruinoDevice): void {
  const storage = band.storage as unknown as { write: (n: string, d: Uint8Array, ...r: unknown[]) => boolean };
  const write = storage.write.bind(storage);
  let done = false;
  storage.write = (n, d, ...r) => {
    if (!done && n.startsWith("tl.e") && d.length > 0) {
      done = true;
      d = d.slice();
      d[0] ^= 1;
    }
    return write(n, d, ...r);
  };
}
