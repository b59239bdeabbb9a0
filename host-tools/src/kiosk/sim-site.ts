import { randomBytes } from "crypto";
import * as path from "path";
import { defaultProvisioning, encodeProvisioning, Provisioning } from "../../../firmware/src/protocol/provisioning";
import { ROOT } from "../build/paths";
import { Rng } from "../sim/rng";
import { Track } from "../sim/scenario";
import type { EspruinoDevice } from "../sim/device";
import { World } from "../sim/world";
import { RegistryEntry } from "./store";

export interface SimSiteOptions {
  bands: number;
  board?: string;
  /** Hours the residents spend together before the first visit (their logs fill). */
  hours?: number;
  /** Visits spread over this many seconds after the logging period. */
  visitWindowS?: number;
  /** Seconds each resident stands at the kiosk. */
  stayS?: number;
  seed?: number | string;
}

export interface SimSite {
  world: World;
  registry: RegistryEntry[];
  bands: { device: EspruinoDevice; prov: Provisioning; arriveAt: number; leaveAt: number }[];
  /** Where the kiosk stands. */
  kiosk: { x: number; y: number };
}

/**
 * A care home and its clinic kiosk on the simulator, for `tracelet kiosk --sim <N>` and the kiosk's tests and
 * benchmarks: N provisioned bands running the production bundle (dist/<board>/tracelet.js) live together in a day
 * room 300 m from the kiosk (out of its radio range) for `hours`, then each resident walks up to the kiosk at a random time in the visit
 * window, stands there `stayS`, and walks back. The bands' keys form the kiosk's registry.
 */
export function simSite(opts: SimSiteOptions): SimSite {
  const board = opts.board ?? "puckjs";
  const hours = opts.hours ?? 2;
  const visitWindowS = opts.visitWindowS ?? 600;
  const stayS = opts.stayS ?? 120;
  const world = new World({ seed: opts.seed ?? 1, startUnix: Math.floor(Date.now() / 1000) - hours * 3600 });
  const rng = new Rng(`sim-site/${opts.seed ?? 1}`);
  const kiosk = { x: 0, y: 0 };
  const bands: SimSite["bands"] = [];
  const registry: RegistryEntry[] = [];
  for (let i = 0; i < opts.bands; i++) {
    const prov = defaultProvisioning(
      new Uint8Array(randomBytes(8)),
      new Uint8Array(randomBytes(16)),
      new Uint8Array(randomBytes(16)),
      world.startUnix,
    );
    const home = { x: 300 + (i % 6) * 1.2, y: Math.floor(i / 6) * 1.2 };
    const arriveAt = hours * 3600 + rng.uniform(0, visitWindowS);
    const spot = { x: kiosk.x + 0.6 + rng.uniform(0, 0.8), y: kiosk.y + rng.uniform(-0.5, 0.5) };
    const walk = 30;
    const track = new Track([
      { t: 0, ...home },
      { t: arriveAt - walk, ...home },
      { t: arriveAt, ...spot },
      { t: arriveAt + stayS, ...spot },
      { t: arriveAt + stayS + walk, ...home },
    ]);
    const device = world.addBand({
      board,
      bundlePath: path.join(ROOT, "dist", board, "tracelet.js"),
      mobility: track,
      provisioning: { "tl.prov": encodeProvisioning(prov) },
      clock: world.startUnix,
      memoryCheck: 60,
    });
    bands.push({ device, prov, arriveAt, leaveAt: arriveAt + stayS });
    registry.push({ bandId: Buffer.from(prov.bandId).toString("hex"), board, syncKey: prov.syncKey });
  }
  return { world, registry, bands, kiosk };
}
