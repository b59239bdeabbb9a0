import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { pageUnits } from "../../firmware/src/protocol/log-mac";
import { RECORD_SIZE, isUnwritten } from "../../firmware/src/protocol/record";
import { bandSyncCursor, runKioskChild } from "../../host-tools/src/kiosk/crash-rig";
import { KioskStore } from "../../host-tools/src/kiosk/store";
import { EspruinoDevice } from "../../host-tools/src/sim/device";
import { World } from "../../host-tools/src/sim/world";
import { addBand } from "../firmware/helpers/sim-kiosk";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
/** A bounded sample here; `tracelet bench --only kiosk-crash` runs 200. */
const RUNS = Number(process.env.KIOSK_CRASH_RUNS ?? 12);

/** Every written unit in the band's log files, as hex. */
function flashUnits(band: EspruinoDevice): string[] {
  const out: string[] = [];
  for (const f of band.storage.files()) {
    if (!/^tl\.l\d+$/.test(f.name)) continue;
    for (let o = 0; o + RECORD_SIZE <= f.data.length; o += RECORD_SIZE) {
      if (isUnwritten(f.data, o)) break;
      out.push(hex(f.data.subarray(o, o + RECORD_SIZE)));
    }
  }
  return out;
}

function storedUnits(store: KioskStore, bandId: string): string[] {
  const out: string[] = [];
  let last = -1;
  for (const p of store.pages(bandId)) {
    // Pages never overlap: each starts at or after the end of the one before.
    expect(p.start).toBeGreaterThanOrEqual(last);
    last = p.next;
    for (const u of pageUnits(p.body) ?? []) out.push(hex(u.bytes));
  }
  return out;
}

describe("kiosk crash safety: kill -9 at random points of a sync", () => {
  test(`${RUNS} kills: nothing lost, nothing duplicated, no band's cursor ahead of the store`, async () => {
    const world = new World({ seed: 5 });
    const bands = [0, 1, 2, 3].map((i) => addBand(world, "puckjs", { x: 0.8 + 0.4 * i, y: 0.3 }));
    world.run(3600);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tl-kiosk-crash-"));
    const ids = bands.map((b) => hex(b.prov.bandId));
    const seed = new KioskStore(dir);
    seed.setRegistry(
      bands.map((b, i) => ({ bandId: ids[i], board: "puckjs", syncKey: b.prov.syncKey })),
      "test",
      0,
    );
    seed.close();
    let rnd = 0x2545f491;
    const random = () => (rnd = (rnd * 1103515245 + 12345) >>> 0) / 2 ** 32;
    let syncedBeforeKill = 0;
    let killedMidSync = 0;
    for (let run = 0; run < RUNS; run++) {
      const r = await runKioskChild(world, dir, { speed: 20, killAfterMs: 600 + random() * 3000 });
      expect({ signal: r.signal, stderr: r.signal ? "" : r.stderr }).toEqual({ signal: "SIGKILL", stderr: "" });
      syncedBeforeKill += r.synced;
      if (r.midSync) killedMidSync++;
      const store = new KioskStore(dir);
      for (let i = 0; i < bands.length; i++) {
        const row = store.band(ids[i]);
        // The band moved its cursor only to what the kiosk had committed.
        expect(bandSyncCursor(bands[i].band)).toBeLessThanOrEqual(row ? row.cursor : 0);
        const units = storedUnits(store, ids[i]);
        expect(new Set(units).size).toBe(units.length);
      }
      store.close();
      // The bands go on logging between visits.
      world.run(world.now + 300);
    }
    // A last visit that is not killed: every band syncs, then the service stops with SIGTERM.
    const done = new Set<string>();
    await runKioskChild(world, dir, {
      speed: 20,
      killAfterMs: 60_000,
      signal: "SIGTERM",
      onSynced: (r) => {
        if (r.ok) done.add(r.bandId);
      },
      stopWhen: () => done.size === bands.length,
    }).then((r) => expect(r.code).toBe(0));
    expect(done.size).toBe(bands.length);
    const store = new KioskStore(dir);
    for (let i = 0; i < bands.length; i++) {
      const stored = storedUnits(store, ids[i]);
      const inFlash = flashUnits(bands[i].band);
      expect(new Set(stored).size).toBe(stored.length);
      expect(stored.sort()).toEqual(inFlash.sort());
      expect(bandSyncCursor(bands[i].band)).toBe(store.band(ids[i])!.cursor);
      expect(bands[i].band.faults).toEqual([]);
    }
    store.close();
    // The kills hit syncs in flight (not only idle moments) and some syncs finished between kills.
    expect(syncedBeforeKill).toBeGreaterThan(0);
    expect(killedMidSync).toBeGreaterThanOrEqual(Math.ceil(RUNS / 4));
  }, 600_000);
});
