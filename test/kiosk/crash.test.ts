import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { pageUnits } from "../../firmware/src/protocol/log-mac";
import { RECORD_SIZE, isUnwritten } from "../../firmware/src/protocol/record";
import { bandSyncCursor, runKioskChild } from "../../host-tools/src/kiosk/crash-rig";
import { KioskStore } from "../../host-tools/src/kiosk/store";
import { AuthorityClient } from "../../host-tools/src/kiosk/authority-client";
import { PositiveJob, UploadQueue } from "../../host-tools/src/kiosk/uploads";
import { call, logBytes, makeKeys, startTestAuthority, T0 } from "../authority/helpers";
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

  test(`kill -9 during positive uploads: every job's keys and log reach the authority exactly once`, async () => {
    const world = new World({ seed: 6, startUnix: Math.floor(T0 / 1000) });
    const t = await startTestAuthority({ deployment: "private" });
    Object.defineProperty(t.clock, "ms", { get: () => (world.startUnix + world.now) * 1000, set: () => undefined });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tl-kiosk-crash-up-"));
    const store = new KioskStore(dir);
    const JOBS = 20;
    const day = Math.floor(T0 / 86400_000);
    for (let j = 0; j < JOBS; j++) {
      const bandId = Buffer.from(Array.from({ length: 8 }, (_, i) => (j * 37 + i * 11 + 1) & 255));
      const reg = await call(t, "POST", "/api/bands", {
        key: t.flasherKey,
        json: { bandId: hex(bandId), board: "puckjs", syncKey: hex(Buffer.alloc(16, j + 1)) },
      });
      expect(reg.status).toBe(201);
      const issued = await call(t, "POST", "/api/issue", { key: t.adminKey, json: { testType: "confirmed" } });
      const job: PositiveJob = {
        step: "verify",
        code: issued.json.code,
        teks: makeKeys(5, day).map((k) => ({
          key: k.key,
          rollingStartNumber: k.rollingStartNumber,
          rollingPeriod: 144,
        })),
        tlx: logBytes(bandId, [
          { header: { seq: 1, baseTime: (day - 1) * 86400, monotonic: false, bootEpoch: 1 }, records: [] },
        ]).toString("base64"),
      };
      store.enqueueUpload(hex(bandId), job, world.startUnix * 1000);
    }
    store.close();
    const steps = () => {
      const s = new KioskStore(dir);
      const list = s.uploads({ pendingOnly: true }).map((u) => u.state);
      s.close();
      return list;
    };
    const pending = () => steps().length;
    let rnd = 0x1234567;
    const random = () => (rnd = (rnd * 1103515245 + 12345) >>> 0) / 2 ** 32;
    let kills = 0;
    let midJob = 0;
    for (let run = 0; run < RUNS && pending() > 0; run++) {
      const r = await runKioskChild(world, dir, {
        speed: 20,
        killAfterMs: random() * 400,
        authority: { url: t.url, kioskKey: t.kioskKey },
      });
      if (r.signal === "SIGKILL") kills++;
      // Jobs the kill left between two steps (the authority answered some, not all).
      if (steps().some((st) => st !== "verify")) midJob++;
    }
    // A kill between the authority's answer to verify or certificate and the saved step used up a code: those
    // jobs wait for a new one, with their keys and log kept. The health worker enters it.
    const waiting = new KioskStore(dir);
    let newCodes = 0;
    for (const u of waiting.uploads().filter((x) => x.state === "needs_code")) {
      const issued = await call(t, "POST", "/api/issue", { key: t.adminKey, json: { testType: "confirmed" } });
      new UploadQueue(
        waiting,
        new AuthorityClient(t.url, t.kioskKey),
        () => 0,
        () => undefined,
      ).newCode(u.id, issued.json.code);
      newCodes++;
    }
    waiting.close();
    await runKioskChild(world, dir, {
      speed: 20,
      killAfterMs: 60_000,
      signal: "SIGTERM",
      authority: { url: t.url, kioskKey: t.kioskKey },
      stopWhen: () => pending() === 0,
    });
    const after = new KioskStore(dir);
    const jobs = after.uploads();
    after.close();
    expect(jobs.map((u) => u.state)).toEqual(jobs.map(() => "done"));
    const done = jobs;
    const counts = await t.store.counts();
    expect(counts.exposures).toBe(5 * done.length);
    expect(counts.bandLogs).toBe(done.length);
    expect(kills).toBeGreaterThan(0);
    expect(midJob).toBeGreaterThan(0);
    process.stderr.write(`upload crash test: ${kills} kills, ${midJob} between steps, ${newCodes} codes used up\n`);
    await t.close();
  }, 600_000);
});
