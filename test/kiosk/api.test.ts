import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { buildApi, clockTrouble, CLOCK_TROUBLE_S } from "../../host-tools/src/kiosk/api";
import { SyncResult } from "../../host-tools/src/kiosk/engine";
import { simRadio, worldClock } from "../../host-tools/src/kiosk/radio";
import { KioskService } from "../../host-tools/src/kiosk/service";
import { World } from "../../host-tools/src/sim/world";
import { addBand } from "../firmware/helpers/sim-kiosk";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

describe("kiosk JSON API", () => {
  test("a band's clock needs attention only outside what its board and the stack restarts explain", () => {
    // Puck.js: rtcPpm 500; restarts make a band slow by up to ~280 ppm more. Bangle.js 2: rtcPpm 50.
    expect(clockTrouble(-300, -780, "puckjs")).toEqual([]);
    expect(clockTrouble(470, 500, "puckjs")).toEqual([]);
    expect(clockTrouble(0, 501, "puckjs")).toEqual(["clock drifts"]);
    expect(clockTrouble(0, -801, "puckjs")).toEqual(["clock drifts"]);
    expect(clockTrouble(0, -340, "banglejs2")).toEqual([]);
    expect(clockTrouble(0, -351, "banglejs2")).toEqual(["clock drifts"]);
    expect(clockTrouble(0, 60, "banglejs2")).toEqual(["clock drifts"]);
    expect(clockTrouble(CLOCK_TROUBLE_S + 1, 0, "mdbt42q")).toEqual(["clock was wrong"]);
    expect(clockTrouble(-CLOCK_TROUBLE_S - 1, -2000, "unknown")).toEqual(["clock was wrong", "clock drifts"]);
    expect(clockTrouble(null, null, "pixljs")).toEqual([]);
  });

  test("state, bands, a band's record, and the token when one is set", async () => {
    const world = new World({ seed: 31 });
    const a = addBand(world, "puckjs", { x: 1, y: 0.4 }, undefined, "callback", { batteryPercent: 12 });
    addBand(world, "puckjs", { x: 1.5, y: 0.4 });
    world.run(2 * 3600);
    const service = new KioskService({
      dataDir: fs.mkdtempSync(path.join(os.tmpdir(), "tl-kapi-")),
      radio: simRadio(world),
      clock: worldClock(world),
      registry: { source: "test", entries: [{ bandId: hex(a.prov.bandId), board: "puckjs", syncKey: a.prov.syncKey }] },
    });
    const synced = new Promise<void>((resolve) => service.engine.on("synced", (r: SyncResult) => r.ok && resolve()));
    await world.until(service.start());
    await world.until(synced, { timeoutS: 120 });
    const api = buildApi(service, "a-token-of-sixteen+");
    const base = await api.listen({ host: "127.0.0.1", port: 0 });
    const call = async (method: string, url: string, token = "a-token-of-sixteen+", body?: unknown) => {
      const r = await fetch(base + url, {
        method,
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(body ? { "content-type": "application/json" } : {}),
        },
        body: body ? JSON.stringify(body) : undefined,
      });
      const text = await r.text();
      return { statusCode: r.status, json: () => JSON.parse(text) };
    };
    const get = (url: string, token?: string) => call("GET", url, token);

    expect((await get("/api/state", "")).statusCode).toBe(401);
    expect((await get("/api/state", "wrong-token-wrong")).statusCode).toBe(401);
    const state = (await get("/api/state")).json();
    expect(state).toMatchObject({ registered: 1, links: { max: 3 }, authority: { configured: false } });
    expect(state.queue[0]).toMatchObject({ bandId: hex(a.prov.bandId), state: "done" });

    const bands = (await get("/api/bands")).json().bands;
    expect(bands).toHaveLength(1);
    expect(bands[0]).toMatchObject({ bandId: hex(a.prov.bandId), firmwareVersion: 3, batteryPercent: 12, syncs: 1 });
    expect(bands[0].attention).toContain("low battery");
    const one = (await get(`/api/bands/${hex(a.prov.bandId)}`)).json();
    expect(one.result).toEqual({ checked: false, exposures: [] });
    expect((await get("/api/bands/0000000000000000")).statusCode).toBe(404);
    expect((await get("/api/follow-up")).json().bands[0]).toMatchObject({ reasons: ["low battery"] });
    // No authority: the positive flow says so instead of failing later.
    const pos = await call("POST", `/api/bands/${hex(a.prov.bandId)}/positive`, undefined, { code: "12345678" });
    expect(pos.statusCode).toBe(409);
    expect(pos.json().error).toMatch(/no authority configured/);
    // The health endpoint needs no token.
    expect((await get("/healthz", "")).statusCode).toBe(200);
    await api.close();
    await world.until(service.stop());
  }, 120_000);
});
