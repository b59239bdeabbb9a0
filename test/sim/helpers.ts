import * as fs from "fs";
import * as path from "path";
import { DeviceOptions, EspruinoDevice } from "../../host-tools/src/sim/device";
import { World, WorldOptions } from "../../host-tools/src/sim/world";

export const FIXTURES = path.resolve(__dirname, "..", "fixtures", "sim");

/** A hand-written Espruino-dialect program from test/fixtures/sim. */
export function fixture(name: string): string {
  return fs.readFileSync(path.join(FIXTURES, name), "latin1");
}

/** A world with one band running a fixture. */
export function oneBand(
  name: string,
  opts: Partial<DeviceOptions> = {},
  worldOpts: WorldOptions = {},
): { world: World; band: EspruinoDevice } {
  const world = new World({ seed: 7, ...worldOpts });
  // A test program, not the firmware: callbacks pay the base cost, not the firmware's measured time per kind.
  const band = world.addBand({ board: "puckjs", bundleSource: fixture(name), cpuTable: false, ...opts });
  return { world, band };
}

/** A Storage file of a band as text (latin1), or undefined. */
export function file(band: EspruinoDevice, name: string): string | undefined {
  const b = band.storage.read(name);
  return b ? Buffer.from(b).toString("latin1") : undefined;
}

export function json<T = Record<string, unknown>>(band: EspruinoDevice, name: string): T {
  const s = file(band, name);
  if (s === undefined) throw new Error(`no file ${name} on ${band.name}`);
  return JSON.parse(s) as T;
}
