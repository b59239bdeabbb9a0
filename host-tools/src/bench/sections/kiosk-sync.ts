import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { defaultProvisioning, encodeProvisioning } from "../../../../firmware/src/protocol/provisioning";
import { ROOT } from "../../build/paths";
import { Progress, SyncEngine, SyncResult } from "../../kiosk/engine";
import { simRadio, worldClock } from "../../kiosk/radio";
import { simSite } from "../../kiosk/sim-site";
import { KioskStore } from "../../kiosk/store";
import { Track } from "../../sim/scenario";
import { World } from "../../sim/world";
import { sig } from "../measure";
import { BenchFigure, BenchSection } from "../types";

/**
 * The kiosk's sync on the simulator's link model (gatt.ts: connection events, MTU 53 for Puck.js, notification
 * rates of the nRF52 stack), the production bundle in every band, real noble on the simulator's bindings, the
 * kiosk's own engine and SQLite store. Times are virtual seconds from the kiosk recognising the band's discovery
 * advert to the band's ACK_OK of the last page.
 *
 * - 7-day log: one Puck.js band logs two phones beside it for 7 days (about the care-home rate, ~190 records a
 *   day), then walks up to the kiosk. Target <= 10 s.
 * - full log: one Puck.js band with eight phones around it until its log budget (20 KB) is full. Target <= 25 s.
 * - queue: bands of a care home arrive at random (Poisson) for an hour, each stays 2 minutes; the kiosk syncs with
 *   3 links. Bands synced per hour of arrivals, target >= 300.
 */

const SYNC_TARGET_S = 10;
const FULL_TARGET_S = 25;
const RATE_TARGET = 300;

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "tl-bench-kiosk-"));
}

/** One band with `phones` phones beside it for `days`, then it walks to the kiosk: the sync's virtual seconds. */
async function oneBand(
  days: number,
  phones: number,
  seed: number,
): Promise<{ seconds: number; units: number; result: SyncResult }> {
  const world = new World({ seed });
  const arrive = days * 86400;
  const home = { x: 30, y: 0 };
  const kioskSpot = { x: 0.8, y: 0 };
  const prov = defaultProvisioning(
    new Uint8Array(8).fill(seed),
    new Uint8Array(16).fill(seed + 1),
    new Uint8Array(16).fill(seed + 2),
    world.startUnix,
  );
  world.addBand({
    board: "puckjs",
    bundlePath: path.join(ROOT, "dist", "puckjs", "tracelet.js"),
    mobility: new Track([
      { t: 0, ...home },
      { t: arrive - 20, ...home },
      { t: arrive, ...kioskSpot },
    ]),
    provisioning: { "tl.prov": encodeProvisioning(prov) },
    clock: world.startUnix,
    memoryCheck: 600,
  });
  for (let i = 0; i < phones; i++) {
    world.addPhone({ kind: "en", position: { x: home.x + 1 + (i % 4) * 0.7, y: Math.floor(i / 4) * 0.8 } });
  }
  world.run(arrive - 20);
  const dir = tempDir();
  const store = new KioskStore(dir);
  const bandId = Buffer.from(prov.bandId).toString("hex");
  store.setRegistry([{ bandId, board: "puckjs", syncKey: prov.syncKey }], "bench", 0);
  const engine = new SyncEngine(simRadio(world), store, worldClock(world));
  let found = 0;
  engine.on("progress", (p: Progress) => {
    if (p.state === "found" && !found) found = world.now;
  });
  const done = new Promise<SyncResult>((resolve) => engine.on("synced", (r: SyncResult) => r.ok && resolve(r)));
  await world.until(engine.start());
  const result = await world.until(done, { timeoutS: 600 });
  const seconds = world.now - found;
  await world.until(engine.stop());
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return { seconds, units: result.units, result };
}

async function queue(
  bands: number,
  hours: number,
): Promise<{ arrived: number; synced: number; perHour: number; maxWaitS: number }> {
  const site = simSite({ bands, hours: 1, visitWindowS: hours * 3600, stayS: 120, seed: 7 });
  site.world.run(3600);
  const dir = tempDir();
  const store = new KioskStore(dir);
  store.setRegistry(site.registry, "bench", 0);
  const engine = new SyncEngine(simRadio(site.world, site.kiosk), store, worldClock(site.world), { links: 3 });
  const synced = new Map<string, number>();
  engine.on("synced", (r: SyncResult) => {
    if (r.ok && !synced.has(r.bandId)) synced.set(r.bandId, site.world.now);
  });
  await site.world.until(engine.start());
  await site.world.runAsync(3600 + hours * 3600 + 300);
  await site.world.until(engine.stop());
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
  let maxWaitS = 0;
  let inTime = 0;
  for (const b of site.bands) {
    const id = Buffer.from(b.prov.bandId).toString("hex");
    const t = synced.get(id);
    if (t === undefined) continue;
    if (t <= b.leaveAt) inTime++;
    maxWaitS = Math.max(maxWaitS, t - b.arriveAt);
  }
  return { arrived: bands, synced: inTime, perHour: inTime / hours, maxWaitS };
}

export const kioskSyncSection: BenchSection = {
  name: "kiosk-sync",
  description: "kiosk sync on the simulator's link model: a 7-day log, a full log, a queue of bands with 3 links",
  run: async (opts) => {
    const wall = Date.now();
    const week = await oneBand(opts.quick ? 1 : 7, 2, 3);
    const full = await oneBand(opts.quick ? 1 : 4, opts.quick ? 2 : 8, 4);
    const q = opts.quick ? await queue(20, 0.1) : await queue(360, 1);
    const weekTarget = opts.quick ? null : SYNC_TARGET_S;
    const fullTarget = opts.quick ? null : FULL_TARGET_S;
    const rateTarget = opts.quick ? null : RATE_TARGET;
    return {
      pass: opts.quick || (week.seconds <= SYNC_TARGET_S && full.seconds <= FULL_TARGET_S && q.perHour >= RATE_TARGET),
      quick: !!opts.quick,
      week: { days: opts.quick ? 1 : 7, seconds: sig(week.seconds, 3), units: week.units, target: weekTarget },
      full: { seconds: sig(full.seconds, 3), units: full.units, target: fullTarget },
      queue: { ...q, perHour: sig(q.perHour, 3), maxWaitS: sig(q.maxWaitS, 3), target: rateTarget },
      wallSeconds: sig((Date.now() - wall) / 1000, 3),
    };
  },
  figures: (result) => {
    const r = result as {
      week: { days: number; seconds: number; units: number; target: number | null };
      full: { seconds: number; units: number; target: number | null };
      queue: { arrived: number; synced: number; perHour: number; target: number | null };
    };
    const method = "simulator link model, production bundle, virtual s from advert to last ACK";
    const rows: BenchFigure[] = [
      {
        figure: `sync of a ${r.week.days}-day log (${r.week.units} units), s`,
        target: r.week.target === null ? "- (quick)" : `<= ${r.week.target}`,
        measured: String(r.week.seconds),
        pass: r.week.target === null ? null : r.week.seconds <= r.week.target,
        method,
      },
      {
        figure: `sync of a full log (${r.full.units} units), s`,
        target: r.full.target === null ? "- (quick)" : `<= ${r.full.target}`,
        measured: String(r.full.seconds),
        pass: r.full.target === null ? null : r.full.seconds <= r.full.target,
        method,
      },
      {
        figure: `bands synced per hour, 3 links (${r.queue.synced} of ${r.queue.arrived} during their stay)`,
        target: r.queue.target === null ? "- (quick)" : `>= ${r.queue.target}`,
        measured: String(r.queue.perHour),
        pass: r.queue.target === null ? null : r.queue.perHour >= r.queue.target,
        method: "simulator, Poisson arrivals, 2 min at the kiosk each",
      },
    ];
    return rows;
  },
};
