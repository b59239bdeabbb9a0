import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { SyncResult } from "../../host-tools/src/kiosk/engine";
import { simRadio, worldClock } from "../../host-tools/src/kiosk/radio";
import { KioskService } from "../../host-tools/src/kiosk/service";
import { Track } from "../../host-tools/src/sim/scenario";
import { CLOSE_MINUTES, groundTruth } from "../../host-tools/src/sim/truth";
import { World } from "../../host-tools/src/sim/world";
import { call, startTestAuthority, TestAuthority } from "../authority/helpers";
import { addBand } from "../firmware/helpers/sim-kiosk";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

/**
 * The kiosk service end to end on loopback: a real authority (its band registry gives the kiosk its sync keys),
 * simulated bands running the production bundle, real noble on the simulator's bindings.
 */
describe("kiosk service with a real authority", () => {
  let t: TestAuthority;
  let world: World;
  /** The authority's clock is the world's, plus this (to let its exports' embargo pass without simulating it). */
  let ahead = 0;
  beforeEach(async () => {
    world = new World({ seed: 21 });
    ahead = 0;
    t = await startTestAuthority({ deployment: "private", exports: { minRecords: 0 } });
    Object.defineProperty(t.clock, "ms", {
      get: () => (world.startUnix + world.now) * 1000 + ahead,
      set: () => undefined,
    });
  });
  afterEach(async () => {
    await t.close();
  });

  test("registry from the authority, bands synced, a positive band's keys and log published", async () => {
    const bands = [0, 1, 2].map((i) => addBand(world, "puckjs", { x: 0.8 + 0.5 * i, y: 0.4 }));
    const outsider = addBand(world, "puckjs", { x: 1, y: -0.4 });
    for (const b of bands) {
      const r = await call(t, "POST", "/api/bands", {
        key: t.flasherKey,
        json: { bandId: hex(b.prov.bandId), board: "puckjs", syncKey: hex(b.prov.syncKey) },
      });
      expect(r.status).toBe(201);
    }
    world.run(3 * 3600);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tl-kiosk-svc-"));
    const logs: string[] = [];
    const service = new KioskService({
      dataDir: dir,
      radio: simRadio(world),
      clock: worldClock(world),
      authority: { url: t.url, apiKey: t.kioskKey },
      log: (l) => logs.push(l),
    });
    const synced = new Set<string>();
    const all = new Promise<void>((resolve) =>
      service.engine.on("synced", (r: SyncResult) => {
        if (r.ok) synced.add(r.bandId);
        if (synced.size === bands.length) resolve();
      }),
    );
    await world.until(service.start());
    await world.until(all, { timeoutS: 600 }).catch((e) => {
      throw new Error(e.message + "\n" + logs.join("\n"));
    });
    expect(service.engine.registered).toBe(3);
    expect(service.store.band(hex(outsider.prov.bandId))).toBeUndefined();
    const state = service.state();
    expect(state.authority).toMatchObject({ configured: true, reachable: true, pendingUploads: 0 });
    // Each band's health (its STATUS frame) is in the authority's band registry, reported by this kiosk.
    for (const b of bands) {
      const id = hex(b.prov.bandId);
      const healthOf = async () => (await call(t, "GET", "/api/bands/" + id, { key: t.flasherKey })).json.health;
      let health = await healthOf();
      for (let i = 0; !health && i < 100; i++) {
        await new Promise((r) => setTimeout(r, 50));
        health = await healthOf();
      }
      expect(health).toMatchObject({
        board: "puckjs",
        faults: 0,
        lastFaultDuty: null,
        resets: 0,
        timeValid: true,
        reportedBy: expect.any(String),
      });
      expect(health.batteryPercent).toBeGreaterThan(0);
    }

    // The tested-positive flow for band 0: the health worker's code, the band's keys, its signed log.
    const issued = await call(t, "POST", "/api/issue", { key: t.adminKey, json: { testType: "confirmed" } });
    expect(issued.status).toBe(200);
    const positive = await world.until(service.positive(hex(bands[0].prov.bandId), issued.json.code), {
      timeoutS: 120,
    });
    expect(positive.keys).toBeGreaterThanOrEqual(1);
    expect(positive.logPages).toBeGreaterThan(0);
    expect(positive.upload).toMatchObject({ state: "done" });
    const counts = await t.store.counts();
    expect(counts.exposures).toBe(positive.keys);
    expect(counts.bandLogs).toBe(1);
    // Nothing secret in the kiosk's log lines.
    const text = logs.join("\n");
    for (const b of bands) expect(text).not.toContain(hex(b.prov.syncKey));
    expect(text).not.toContain(issued.json.code);
    await service.stop();
    for (const b of [...bands, outsider]) expect(b.band.faults).toEqual([]);
  }, 180_000);

  test("offline: the positive upload is saved and sent when the authority answers again", async () => {
    const b = addBand(world, "puckjs", { x: 0.8, y: 0.4 });
    // A neighbour the positive band logs (not registered at this kiosk).
    addBand(world, "puckjs", { x: 1.4, y: 0.4 });
    await call(t, "POST", "/api/bands", {
      key: t.flasherKey,
      json: { bandId: hex(b.prov.bandId), board: "puckjs", syncKey: hex(b.prov.syncKey) },
    });
    world.run(2 * 3600);
    let offline = false;
    const flaky: typeof fetch = (input, init) =>
      offline
        ? Promise.reject(Object.assign(new TypeError("fetch failed"), { cause: { code: "ECONNREFUSED" } }))
        : fetch(input, init);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tl-kiosk-off-"));
    const service = new KioskService({
      dataDir: dir,
      radio: simRadio(world),
      clock: worldClock(world),
      authority: { url: t.url, apiKey: t.kioskKey, fetch: flaky },
    });
    const synced = new Promise<void>((resolve) =>
      service.engine.on("synced", (r: SyncResult) => {
        if (r.ok) resolve();
      }),
    );
    await world.until(service.start());
    await world.until(synced, { timeoutS: 300 });
    const issued = await call(t, "POST", "/api/issue", { key: t.adminKey, json: { testType: "confirmed" } });
    offline = true;
    const positive = await world.until(service.positive(hex(b.prov.bandId), issued.json.code), { timeoutS: 120 });
    // Saved, not sent: the page shows "saved, will upload".
    expect(positive.upload).toMatchObject({ state: "verify" });
    expect(service.state().authority).toMatchObject({ reachable: false, pendingUploads: 1 });
    expect((await t.store.counts()).exposures).toBe(0);
    // A restart in between loses nothing: the job is in the store.
    await service.stop();
    offline = false;
    const again = new KioskService({
      dataDir: dir,
      radio: simRadio(world),
      clock: worldClock(world),
      authority: { url: t.url, apiKey: t.kioskKey, fetch: flaky },
    });
    await world.until(again.start());
    // The queue retries after its back-off (30 s).
    await world.runAsync(world.now + 5);
    const until = world.now + 120;
    while (again.state().authority.pendingUploads > 0 && world.now < until) await world.runAsync(world.now + 5);
    expect(again.state().authority).toMatchObject({ reachable: true, pendingUploads: 0 });
    expect((await t.store.counts()).exposures).toBe(positive.keys);
    expect((await t.store.counts()).bandLogs).toBe(1);
    const [u] = again.store.uploads();
    expect(u).toMatchObject({ state: "done", attempts: 2 });
    await again.stop();
  }, 180_000);

  test("a contact published after a visit: the next export is checked against stored logs, the band goes on follow-up", async () => {
    // Two rooms: A (who will test positive) with B and D; C and E ten metres away. Three hours together.
    const spots: Record<string, { x: number; y: number }> = {
      A: { x: 0.8, y: 0.4 },
      B: { x: 1.3, y: 0.4 },
      D: { x: 1.2, y: 1.6 },
      C: { x: 0.8, y: -9.6 },
      E: { x: 1.5, y: -10.1 },
    };
    const band = Object.fromEntries(Object.entries(spots).map(([k, p]) => [k, addBand(world, "puckjs", p)]));
    const [a, b, c] = [band.A, band.B, band.C];
    const hours = 3;
    // The simulator's ground truth (>= 15 min within 2 m in a day) of the same movements: A's close contacts.
    const truth = groundTruth(
      {
        name: "two rooms",
        description: "",
        hours,
        environment: "indoor",
        rooms: [],
        hotspot: { x: 0, y: 0 },
        people: Object.entries(spots).map(([id, p]) => ({
          id,
          carries: "band",
          role: "resident",
          track: new Track([{ t: 0, ...p }]),
        })),
      },
      world.startUnix,
    );
    const close = new Set(
      truth.pairs
        .filter((x) => (x.a === "A" || x.b === "A") && x.minutes2m >= CLOSE_MINUTES)
        .map((x) => (x.a === "A" ? x.b : x.a)),
    );
    expect([...close].sort()).toEqual(["B", "D"]);
    for (const x of Object.values(band)) {
      await call(t, "POST", "/api/bands", {
        key: t.flasherKey,
        json: { bandId: hex(x.prov.bandId), board: "puckjs", syncKey: hex(x.prov.syncKey) },
      });
    }
    world.run(hours * 3600);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tl-kiosk-exp-"));
    const service = new KioskService({
      dataDir: dir,
      radio: simRadio(world),
      clock: worldClock(world),
      authority: { url: t.url, apiKey: t.kioskKey },
    });
    const synced = new Set<string>();
    const all = new Promise<void>((resolve) =>
      service.engine.on("synced", (r: SyncResult) => {
        if (r.ok) synced.add(r.bandId);
        if (synced.size === 5) resolve();
      }),
    );
    await world.until(service.start());
    await world.until(all, { timeoutS: 600 });
    // Nothing published yet: everyone's result is "no exposure".
    await world.until(service.checkExposures(true));
    for (const x of Object.values(band)) expect(service.result(hex(x.prov.bandId)).exposures).toEqual([]);

    // Resident A tests positive; the authority releases A's keys once their embargo has passed.
    const issued = await call(t, "POST", "/api/issue", { key: t.adminKey, json: { testType: "confirmed" } });
    const positive = await world.until(service.positive(hex(a.prov.bandId), issued.json.code), { timeoutS: 120 });
    expect(positive.upload).toMatchObject({ state: "done" });
    ahead = 30 * 3600_000;
    await t.app.runBackgroundWork();
    await world.until(service.checkExposures(true));
    expect(service.lastCheck?.summary).toMatchObject({ files: expect.any(Number), newKeys: positive.keys });
    expect(service.lastCheck!.summary!.files).toBeGreaterThan(0);

    // The kiosk finds A's identifiers in exactly the logs of the ground truth's close contacts of A. (Whether a day
    // counts as risky is the scoring's call: the Corona-Warn-App weights give 0 above 63 dB of attenuation.)
    const exposed = Object.entries(band)
      .filter(([, x]) => service.result(hex(x.prov.bandId)).exposures.length > 0)
      .map(([k]) => k)
      .sort();
    expect(exposed).toEqual([...close].sort());
    expect(service.result(hex(b.prov.bandId)).exposures[0].risky).toBe(true);
    const rb = service.result(hex(b.prov.bandId));
    expect(rb.checked).toBe(true);
    const day = rb.exposures[0].detail as { weightedMinutes: number };
    expect(day.weightedMinutes).toBeGreaterThanOrEqual(CLOSE_MINUTES);
    // C was in the other room: nothing at all; A does not log its own identifiers.
    expect(service.result(hex(c.prov.bandId)).exposures).toEqual([]);
    expect(service.result(hex(a.prov.bandId)).exposures).toEqual([]);
    // B is on the follow-up list until staff have seen it.
    expect(service.followUp().map((f) => f.bandId)).toContain(hex(b.prov.bandId));
    await service.stop();
  }, 180_000);
});
