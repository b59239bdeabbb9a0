import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { pageUnits } from "../../firmware/src/protocol/log-mac";
import { SyncEngine, SyncResult } from "../../host-tools/src/kiosk/engine";
import { simRadio, worldClock } from "../../host-tools/src/kiosk/radio";
import { KioskStore } from "../../host-tools/src/kiosk/store";
import { World } from "../../host-tools/src/sim/world";
import { addBand } from "../firmware/helpers/sim-kiosk";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "tl-kiosk-"));
}

describe("kiosk sync engine on simulated bands (production bundle, real noble on the simulator's bindings)", () => {
  test("finds registered bands by their discovery adverts, stores every page, ACKs only what is stored", async () => {
    const world = new World({ seed: 11 });
    const bands = [0, 1, 2].map((i) => addBand(world, "puckjs", { x: 1 + i * 0.5, y: 0.5 }));
    const stranger = addBand(world, "puckjs", { x: 1, y: -0.5 });
    // Two hours together: the bands log each other.
    world.run(2 * 3600);
    const dir = tempDir();
    const store = new KioskStore(dir);
    store.setRegistry(
      bands.map((b) => ({ bandId: hex(b.prov.bandId), board: "puckjs", syncKey: b.prov.syncKey })),
      "test",
      0,
    );
    const engine = new SyncEngine(simRadio(world), store, worldClock(world));
    const results: SyncResult[] = [];
    engine.on("synced", (r: SyncResult) => results.push(r));
    await world.until(engine.start());
    const done = new Promise<void>((resolve) =>
      engine.on("synced", () => {
        if (results.filter((r) => r.ok).length >= 3) resolve();
      }),
    );
    await world.until(done, { timeoutS: 300 });
    await engine.stop();
    expect(results.filter((r) => !r.ok)).toEqual([]);
    expect(results.map((r) => r.bandId).sort()).toEqual(bands.map((b) => hex(b.prov.bandId)).sort());
    expect(store.band(hex(stranger.prov.bandId))).toBeUndefined();
    for (const r of results) {
      const row = store.band(r.bandId)!;
      // The band closes its open encounters before the first READ: the log can grow past the status's end.
      expect(row.cursor).toBeGreaterThanOrEqual(r.status!.logEnd);
      expect(row.acked).toBe(row.cursor);
      const units = store.pages(r.bandId).reduce((n, p) => n + (pageUnits(p.body) ?? []).length, 0);
      expect(units).toBe(r.units);
      expect(units).toBeGreaterThan(3);
    }
    for (const b of bands) expect(b.band.faults).toEqual([]);
    store.close();
  }, 120_000);
});
