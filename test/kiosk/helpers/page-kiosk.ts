import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { encodeProvisioning, Provisioning } from "../../../firmware/src/protocol/provisioning";
import { buildApi } from "../../../host-tools/src/kiosk/api";
import { simRadio, worldClock } from "../../../host-tools/src/kiosk/radio";
import { KioskService } from "../../../host-tools/src/kiosk/service";
import type { EspruinoDevice } from "../../../host-tools/src/sim/device";
import type { Position } from "../../../host-tools/src/sim/radio";
import { World } from "../../../host-tools/src/sim/world";
import { call, startTestAuthority, TestAuthority } from "../../authority/helpers";
import { bundlePath, provisioning } from "../../firmware/helpers/sim-kiosk";

/** A resident of the simulated care home: a band the test walks to the kiosk and away. */
export interface Resident {
  bandId: string;
  band: EspruinoDevice;
  prov: Provisioning;
  /** Stands 0.6-1 m from the kiosk (which is at the origin) from now on. */
  walkUp(): void;
  /** Back home, out of the kiosk's range. */
  walkAway(): void;
}

export interface PageKiosk {
  world: World;
  authority: TestAuthority;
  service: KioskService;
  /** The kiosk page and API, e.g. http://127.0.0.1:41234 */
  url: string;
  residents: Resident[];
  /** The kiosk's log lines. */
  logs: string[];
  /** Cuts the kiosk off from the authority (its requests fail as with the network down). */
  setOffline(offline: boolean): void;
  /** Moves the authority's clock ahead of the world's (to let its exports' embargo pass). */
  setAuthorityAhead(ms: number): void;
  /** Another API on the same service that requires `token`; closed with the kiosk. */
  withToken(token: string): Promise<string>;
  close(): Promise<void>;
}

export interface PageKioskOptions {
  /** Where each resident lives (metres; the kiosk stands at the origin, out of range of anything 100 m away). */
  homes: Position[];
  /** Virtual hours the residents spend at home before the kiosk starts (their logs fill). */
  hours: number;
  /** Virtual time runs this many times faster than the wall clock once the kiosk runs. */
  speed: number;
  seed?: number;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

/**
 * A kiosk for the browser tests: a real authority (its registry gives the kiosk the residents' sync keys),
 * simulated bands running the production bundle, the kiosk service and its API on loopback, and the world in real
 * time (x `speed`) so that a browser sees progress as it happens.
 */
export async function startPageKiosk(opts: PageKioskOptions): Promise<PageKiosk> {
  const world = new World({ seed: opts.seed ?? 13 });
  let ahead = 0;
  let offline = false;
  const authority = await startTestAuthority({ deployment: "private", exports: { minRecords: 0 } });
  Object.defineProperty(authority.clock, "ms", {
    get: () => (world.startUnix + world.now) * 1000 + ahead,
    set: () => undefined,
  });
  const residents: Resident[] = opts.homes.map((home, i) => {
    const prov = provisioning(world);
    const spot = { x: 0.6 + 0.15 * i, y: 0.1 * i };
    let at: Position = home;
    const band = world.addBand({
      board: "puckjs",
      bundlePath: bundlePath("puckjs"),
      mobility: () => at,
      provisioning: { "tl.prov": encodeProvisioning(prov) },
      clock: world.startUnix + world.now,
      memoryCheck: "callback",
    });
    return {
      bandId: hex(prov.bandId),
      band,
      prov,
      walkUp: () => (at = spot),
      walkAway: () => (at = home),
    };
  });
  for (const r of residents) {
    const res = await call(authority, "POST", "/api/bands", {
      key: authority.flasherKey,
      json: { bandId: r.bandId, board: "puckjs", syncKey: hex(r.prov.syncKey) },
    });
    if (res.status !== 201) throw new Error(`registering ${r.bandId}: ${res.status}`);
  }
  world.run(opts.hours * 3600);
  const flaky: typeof fetch = (input, init) =>
    offline
      ? Promise.reject(Object.assign(new TypeError("fetch failed"), { cause: { code: "ECONNREFUSED" } }))
      : fetch(input, init);
  const logs: string[] = [];
  const service = new KioskService({
    dataDir: fs.mkdtempSync(path.join(os.tmpdir(), "tl-kiosk-page-")),
    radio: simRadio(world),
    clock: worldClock(world),
    authority: { url: authority.url, apiKey: authority.kioskKey, fetch: flaky },
    log: (l) => logs.push(l),
  });
  await world.until(service.start());
  world.startRealtime(opts.speed);
  const apis = [buildApi(service)];
  const url = await apis[0].listen({ host: "127.0.0.1", port: 0 });
  return {
    world,
    authority,
    service,
    url,
    residents,
    logs,
    setOffline: (o) => (offline = o),
    setAuthorityAhead: (ms) => (ahead = ms),
    async withToken(token) {
      const api = buildApi(service, token);
      apis.push(api);
      return api.listen({ host: "127.0.0.1", port: 0 });
    },
    async close() {
      for (const api of apis) await api.close();
      await service.stop();
      world.stopRealtime();
      await authority.close();
    },
  };
}
