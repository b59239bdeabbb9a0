import * as fs from "fs";
import * as path from "path";
import { RECORD_SIZE } from "../../../firmware/src/protocol/record-constants";
import { AuthorityApp } from "../authority/app";
import { parseConfig } from "../authority/config";
import { generateSecretsFile, secretsFromFile } from "../authority/secrets";
import { RunningAuthority, startServer } from "../authority/server";
import { openStore } from "../authority/store/open";
import { AuthorityStore } from "../authority/store/store";
import { loadBoard } from "../boards/load";
import { bundlePath } from "../build/paths";
import { DEFAULT_DEPLOYMENT } from "../flash/deployment";
import { BandLabel, writeLabelSheet } from "../flash/labels";
import { firmwareLabel, flashBand, FlashResult } from "../flash/provision";
import { AuthoritySink } from "../flash/registry";
import { SimStation } from "../flash/station";
import { buildApi } from "../kiosk/api";
import { SyncResult } from "../kiosk/engine";
import { simRadio, worldClock } from "../kiosk/radio";
import { KioskService } from "../kiosk/service";
import { readBandLog } from "../sim/band-log";
import type { EspruinoDevice } from "../sim/device";
import { boardFigures } from "../sim/run";
import { careHome, Scenario } from "../sim/scenario";
import { CLOSE_MINUTES, groundTruth } from "../sim/truth";
import { World } from "../sim/world";
import { plural } from "../cli/options";

/**
 * The whole story on simulated bands (issue 17): a local authority, N bands flashed by the flasher and registered
 * there, several days of the care-home scenario, every resident's visit to the clinic kiosk (the kiosk service on
 * the simulator's Bluetooth), one resident's positive test (the kiosk reads the band's keys and log and uploads
 * them with the authority's verification code), the kiosk's re-check of every stored log against the new export,
 * and who was found against the simulator's ground truth.
 */
export interface StoryOptions {
  bands: number;
  days: number;
  seed: number;
  board?: string;
  /**
   * Wings of the care home (default: 2 from 3 bands on, else 1): each wing has its own rooms, dining hall and lounge,
   * far from the other's, so the F0's wing holds its close contacts and the other wing residents who never met it:
   * the ones that must not be reported.
   */
  wings?: number;
  /**
   * private (default): random daily keys, the kiosks match; escrow: keys derived from a secret the authority
   * keeps, which also resolves the F0's uploaded log to registered bands (its F1 list).
   */
  deployment?: "private" | "escrow";
  /** Where the authority's SQLite database, the kiosk's store and the label sheet go. */
  dir: string;
  log?: (line: string) => void;
  onProgress?: (fraction: number, simSeconds: number) => void;
  /** Called once the kiosk's page is up (its URL). */
  onKioskPage?: (url: string) => void;
}

export interface TimelineEvent {
  /** Unix seconds (the world's clock). */
  at: number;
  /** Wall seconds since the story started. */
  wall: number;
  what: string;
}

export interface StoryBand {
  person: string;
  bandId: string;
  port: string;
  flashSeconds: number;
  healthy: boolean;
  synced: boolean;
  /** Log units on the band when the kiosk had synced it, and units the kiosk holds for it. */
  bandUnits: number;
  storedUnits: number;
  /** Days on which the kiosk matched the F0's identifiers in this band's log; risky days (the scoring's call). */
  matchedDays: number;
  riskyDays: number;
  /** On the kiosk's follow-up list, and why (a possible exposure, or what needs staff's attention). */
  followUp: boolean;
  followUpReasons: string[];
  faults: number;
}

export interface StoryResult {
  scenario: { name: string; description: string; hours: number; people: Record<string, number> };
  seed: number;
  board: string;
  authority: { url: string; database: string; deployment: string };
  kiosk: { url: string; dataDir: string };
  labels: string;
  timeline: TimelineEvent[];
  f0: { person: string; bandId: string };
  bands: StoryBand[];
  truth: {
    /** Bands of residents with >= 15 min within 2 m of the F0 on some day (ground truth). */
    closeContacts: string[];
    /** The other residents: under 15 min within 2 m of the F0 on every day. */
    nonContacts: string[];
    /** Of those, the residents never within 4 m of the F0 (the other wing): no tolerance, none may be reported. */
    neverNear: string[];
    /** Staff phones among the F0's close contacts (their own GAEN apps would match the published keys). */
    phoneContacts: string[];
  };
  found: {
    kiosk: string[];
    missed: string[];
    falseFound: string[];
    /** Residents never near the F0 whom the kiosk reported anyway (must be none). */
    falseNeverNear: string[];
    matchedAny: string[];
    /** Escrow deployments: the authority's F1 list (close contacts it resolved from the F0's log); else null. */
    authority: { contacts: string[]; missed: string[]; falseFound: string[]; falseNeverNear: string[] } | null;
  };
  uploads: {
    keys: number;
    keyDays: string[];
    logPages: number;
    logBytes: number;
    authorityCounts: Record<string, number>;
    exportFiles: number;
    newKeys: number;
  };
  lost: number;
  boards: ReturnType<typeof boardFigures>[];
  faults: number;
  wallSeconds: number;
}

export interface RunningStory {
  result: StoryResult;
  /** Lets the world (bands, kiosk) run on in real time: the kiosk page stays live (`--keep`). */
  keepAlive(): void;
  /** Stops the world, the kiosk page, the kiosk, the authority. */
  close(): Promise<void>;
}

/**
 * The clinic: in its own building (a wall), 5 km from the care home. Out of radio range for real: under the
 * care home's epfl-indoor channel (path-loss exponent 1.3) a band in its room 300 m away still reached a kiosk
 * there at -87 to -96 dBm, so the kiosk synced bands before they walked in, and the F0 (heard only now and then
 * above the kiosk's -90 dBm floor) could go unheard for 45 s: the positive flow's "band not in range".
 */
const KIOSK_AT = { x: -5000, y: 0, room: "clinic" };
const STAY_S = 240;
const GAP_S = 45;

export async function runStory(opts: StoryOptions): Promise<RunningStory> {
  const wall0 = Date.now();
  const say = opts.log ?? (() => undefined);
  const boardId = opts.board ?? "mdbt42q";
  const board = loadBoard(boardId);
  const hours = opts.days * 24;
  const scenario: Scenario = careHome(opts.bands, hours, opts.seed, { wings: opts.wings ?? (opts.bands >= 3 ? 2 : 1) });
  const residents = scenario.people.filter((p) => p.carries === "band");
  // The world's clock ends near the wall clock (so the authority's embargo and the kiosk page read sensibly).
  const startUnix = Math.floor(Date.now() / 1000) - hours * 3600 - 3600;
  const world = new World({ seed: opts.seed, environment: scenario.environment, startUnix });
  const timeline: TimelineEvent[] = [];
  const event = (what: string) => {
    timeline.push({ at: Math.round(world.startUnix + world.now), wall: (Date.now() - wall0) / 1000, what });
    say(`demo: ${what}`);
  };

  // ---- the authority: in-process, SQLite in the story's folder, on the world's clock
  fs.mkdirSync(opts.dir, { recursive: true });
  const database = path.join(opts.dir, "authority.sqlite");
  let ahead = 0;
  const deploymentMode = opts.deployment ?? "private";
  const config = parseConfig({ deployment: deploymentMode, exports: { minRecords: 0 } });
  const secretsFile = generateSecretsFile();
  const store: AuthorityStore = await openStore(database);
  const app = new AuthorityApp({
    config,
    secrets: secretsFromFile(secretsFile, config),
    store,
    now: () => (world.startUnix + world.now) * 1000 + ahead,
    log: () => undefined,
  });
  const server: RunningAuthority = await startServer(app, { host: "127.0.0.1", port: 0 });
  const key = (role: string) => secretsFile.apiKeys.find((k) => k.role === role)!.key;
  event(`authority started at ${server.url} (SQLite ${database}, ${config.deployment} deployment)`);

  const closers: (() => Promise<void>)[] = [
    async () => {
      await server.close();
      await store.close();
    },
  ];
  const close = async () => {
    world.stopRealtime();
    for (const c of closers.reverse()) await c().catch(() => undefined);
  };

  try {
    // ---- the flasher: N bands fresh from the box, registered at the authority, labelled
    const station = new SimStation(boardId, residents.length, { world });
    await station.start();
    const sink = new AuthoritySink(server.url, key("flasher"));
    await sink.check();
    const bundle = new Uint8Array(fs.readFileSync(bundlePath(boardId)));
    const firmware = firmwareLabel(boardId);
    const flashed: { result: FlashResult; device: EspruinoDevice; person: string }[] = [];
    event(`flasher: ${residents.length} ${board.name} bands to flash (${firmware}), registry = the authority`);
    try {
      for (const person of residents) {
        const port = await station.next();
        if (!port) break;
        const result = await flashBand({
          port,
          board,
          bundle,
          firmwareVersion: firmware,
          deployment: { ...DEFAULT_DEPLOYMENT, mode: deploymentMode },
          registry: sink,
          health: station.health,
          now: () => station.now(),
          healthInBackground: true,
        });
        const device = world.devices[world.devices.length - 1] as EspruinoDevice;
        flashed.push({ result, device, person: person.id });
        say(`demo: flashed ${person.id} as band ${result.bandId} in ${result.seconds.total.toFixed(1)} s`);
        opts.onProgress?.(0.5 * (flashed.length / residents.length), world.now);
      }
      for (const f of flashed) if (f.result.healthDone) f.result.health = await f.result.healthDone;
    } finally {
      station.stop();
    }
    const labels = path.join(opts.dir, "labels.svg");
    const date = new Date((world.startUnix + world.now) * 1000).toISOString().slice(0, 10);
    writeLabelSheet(
      labels,
      flashed.map((f): BandLabel => ({
        bandId: f.result.bandId,
        board: boardId,
        boardName: board.name,
        firmware,
        date,
      })),
      { title: "demo care home" },
    );
    event(`flasher: ${flashed.length} bands flashed, healthy and registered; labels in ${labels}`);

    // ---- the care home: every band moves as its resident does, staff carry phones
    const t0 = Math.ceil(world.now) + 60;
    const shift = (track: { at(t: number): { x: number; y: number } }) => (t: number) => track.at(t - t0);
    // JsVars sampled every 10 minutes of the day, as `tracelet simulate` does (not after every callback).
    for (const f of flashed) f.device.opts.memoryCheck = 600;
    for (const f of flashed) f.device.setMobility(shift(scenario.people.find((p) => p.id === f.person)!.track));
    for (const p of scenario.people) {
      if (p.carries === "en-phone" || p.carries === "bluezone-phone")
        world.addPhone({ kind: p.carries === "en-phone" ? "en" : "bluezone", name: p.id, mobility: shift(p.track) });
    }
    const truth = groundTruth(scenario, world.startUnix + t0);
    const closeOf = (id: string) =>
      new Set(
        truth.pairs
          .filter((e) => (e.a === id || e.b === id) && e.minutes2m >= CLOSE_MINUTES)
          .map((e) => (e.a === id ? e.b : e.a)),
      );
    // The F0: the resident with the most close contacts among the other residents (ties: the first).
    const isBand = new Set(flashed.map((f) => f.person));
    let f0 = flashed[0];
    let best = -1;
    for (const f of flashed) {
      const n = [...closeOf(f.person)].filter((x) => isBand.has(x)).length;
      if (n > best) {
        best = n;
        f0 = f;
      }
    }
    const f0Close = closeOf(f0.person);
    // Within 4 m of the F0 at least once (the ground truth lists every pair that came that near on some day).
    const f0Near = new Set(
      truth.pairs.filter((e) => e.a === f0.person || e.b === f0.person).map((e) => (e.a === f0.person ? e.b : e.a)),
    );
    const end = t0 + hours * 3600;
    world.run(t0);
    event(`care home: ${scenario.description}; ${plural(opts.days, "day")} begin`);
    world.run(end, (now) => opts.onProgress?.(0.5 + 0.4 * Math.max(0, (now - t0) / (end - t0)), now));
    event(
      `care home: ${plural(opts.days, "day")} lived; resident ${f0.person} (band ${f0.result.bandId}) feels unwell and is tested`,
    );

    // ---- the clinic: every resident walks up to the kiosk (the F0 last, and stays for the positive flow)
    const order = [...flashed.filter((f) => f !== f0), f0];
    const visitStart = world.now + 60;
    order.forEach((f, i) => {
      const arrive = visitStart + i * GAP_S;
      const leave = f === f0 ? Infinity : arrive + STAY_S;
      const spot = {
        x: KIOSK_AT.x + 0.6 + 0.3 * (i % 3),
        y: KIOSK_AT.y - 0.6 + 0.4 * Math.floor(i / 3),
        room: KIOSK_AT.room,
      };
      const before = shift(scenario.people.find((p) => p.id === f.person)!.track);
      f.device.setMobility((t: number) => (t >= arrive && t < leave ? spot : before(t)));
    });
    const kioskDir = path.join(opts.dir, "kiosk");
    const kioskLog: string[] = [];
    const service = new KioskService({
      dataDir: kioskDir,
      radio: simRadio(world, KIOSK_AT),
      clock: worldClock(world),
      authority: { url: server.url, apiKey: key("kiosk") },
      log: (l) => kioskLog.push(l),
    });
    closers.push(() => service.stop());
    const unitsAtSync = new Map<string, number>();
    const byId = new Map(flashed.map((f) => [f.result.bandId, f]));
    const synced = new Set<string>();
    const all = new Promise<void>((resolve) =>
      service.engine.on("synced", (r: SyncResult) => {
        if (!r.ok) return;
        const f = byId.get(r.bandId);
        if (f) unitsAtSync.set(r.bandId, readBandLog(f.device).bytesUsed / RECORD_SIZE);
        if (!synced.has(r.bandId)) {
          synced.add(r.bandId);
          event(`kiosk: band ${r.bandId} (${f?.person ?? "?"}) synced: ${r.units} log units in ${r.pages} pages`);
        }
        if (synced.size === flashed.length) resolve();
      }),
    );
    await world.until(service.start());
    const api = buildApi(service);
    const kioskUrl = await api.listen({ host: "127.0.0.1", port: 0 });
    closers.push(() => api.close());
    event(`kiosk: service started (registry from the authority), page on ${kioskUrl}`);
    opts.onKioskPage?.(kioskUrl);
    await world.until(all, { timeoutS: order.length * GAP_S + STAY_S + 900 }).catch((e: Error) => {
      throw new Error(
        `not every band synced (${synced.size}/${flashed.length}): ${e.message}\n${kioskLog.slice(-20).join("\n")}`,
      );
    });
    opts.onProgress?.(0.95, world.now);

    // Before the positive test: nothing is published, nobody is exposed.
    await world.until(service.checkExposures(true));

    // ---- the positive test: the authority's code, the kiosk reads the band's keys and log and uploads them
    const issued = await fetch(server.url + "/api/issue", {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": key("admin") },
      body: JSON.stringify({ testType: "confirmed" }),
    });
    if (!issued.ok) throw new Error(`the authority did not issue a verification code: HTTP ${issued.status}`);
    const code = ((await issued.json()) as { code: string }).code;
    event(`authority: verification code issued for ${f0.person}'s positive test`);
    // As a health worker would: when the band is not heard at once, wait a minute and try again. (The F0 stands by
    // the kiosk, bursts every 4-6 s and is quiet at most ~23 s when it rotates, so this is a safety net: the one
    // "not in range" seen came from the kiosk being in range of the care home, see KIOSK_AT.)
    let positive: Awaited<ReturnType<KioskService["positive"]>> | undefined;
    for (let attempt = 1; !positive; attempt++) {
      try {
        positive = await world.until(service.positive(f0.result.bandId, code), { timeoutS: 300 });
      } catch (e) {
        if (attempt >= 4) throw e;
        event(`kiosk: tested-positive flow, attempt ${attempt}: ${(e as Error).message}; trying again in a minute`);
        await world.runAsync(world.now + 60);
      }
    }
    if (positive.upload?.state !== "done")
      throw new Error(`the positive upload did not complete: ${JSON.stringify(positive.upload)}`);
    event(
      `kiosk: tested-positive flow for ${f0.person}: ${positive.keys} daily keys and its log (${positive.logPages} pages, ${positive.logBytes} bytes) uploaded to the authority`,
    );

    // ---- the authority publishes once the keys' embargo has passed; the kiosk re-checks every stored log
    ahead = 30 * 3600_000;
    await app.runBackgroundWork();
    await world.until(service.checkExposures(true));
    const summary = service.lastCheck?.summary;
    event(
      `kiosk: new export downloaded (${summary?.files ?? 0} files, ${summary?.newKeys ?? 0} new keys); every stored log re-checked`,
    );

    // ---- result against the ground truth
    // Escrow: the authority resolves the F0's log to registered bands (its F1 list for health workers to call).
    let f1: StoryResult["found"]["authority"] = null;
    if (deploymentMode === "escrow") {
      const res = await fetch(`${server.url}/api/contacts?f0=${f0.result.bandId}&close=1`, {
        headers: { "x-api-key": key("admin") },
      });
      if (!res.ok) throw new Error(`the authority's F1 list: HTTP ${res.status}`);
      const rows = ((await res.json()) as { contacts: { contactBandId: string }[] }).contacts;
      const personOf = new Map(flashed.map((f) => [f.result.bandId, f.person]));
      const contacts = [...new Set(rows.map((c) => personOf.get(c.contactBandId) ?? c.contactBandId))];
      event(`authority: F1 list resolved from ${f0.person}'s log: ${contacts.length} close contacts to call`);
      f1 = { contacts, missed: [], falseFound: [], falseNeverNear: [] };
    }
    const followUp = new Map(service.followUp().map((f) => [f.bandId, f.reasons]));
    const bands: StoryBand[] = flashed.map((f) => {
      const r = service.result(f.result.bandId);
      const stored = service.store.pages(f.result.bandId).reduce((s, p) => s + p.units, 0);
      return {
        person: f.person,
        bandId: f.result.bandId,
        port: f.result.port,
        flashSeconds: f.result.seconds.total,
        healthy: f.result.health.ok,
        synced: synced.has(f.result.bandId),
        bandUnits: unitsAtSync.get(f.result.bandId) ?? 0,
        storedUnits: stored,
        matchedDays: r.exposures.length,
        riskyDays: r.exposures.filter((e) => e.risky).length,
        followUp: followUp.has(f.result.bandId),
        followUpReasons: followUp.get(f.result.bandId) ?? [],
        faults: f.device.faults.length,
      };
    });
    const closeBands = flashed.filter((f) => f !== f0 && f0Close.has(f.person)).map((f) => f.person);
    const nonContacts = flashed.filter((f) => f !== f0 && !f0Close.has(f.person)).map((f) => f.person);
    const neverNear = nonContacts.filter((p) => !f0Near.has(p));
    const foundBands = bands.filter((b) => b.person !== f0.person && b.riskyDays > 0).map((b) => b.person);
    const matchedAny = bands.filter((b) => b.person !== f0.person && b.matchedDays > 0).map((b) => b.person);
    const lost = bands.reduce((s, b) => s + Math.max(0, b.bandUnits - b.storedUnits), 0);
    const counts = (await store.counts()) as unknown as Record<string, number>;
    event(
      `result: ${foundBands.filter((p) => closeBands.includes(p)).length} of ${closeBands.length} true close contacts of ${f0.person} found, ${foundBands.filter((p) => !closeBands.includes(p)).length} false; ${nonContacts.filter((p) => !foundBands.includes(p)).length} of ${nonContacts.length} residents who were not close contacts (${neverNear.length} never near, in the other wing) not reported`,
    );

    const people: Record<string, number> = {};
    for (const p of scenario.people) people[p.carries] = (people[p.carries] ?? 0) + 1;
    const devices = flashed.map((f) => f.device);
    const result: StoryResult = {
      scenario: { name: scenario.name, description: scenario.description, hours, people },
      seed: opts.seed,
      board: boardId,
      authority: { url: server.url, database, deployment: config.deployment },
      kiosk: { url: kioskUrl, dataDir: kioskDir },
      labels,
      timeline,
      f0: { person: f0.person, bandId: f0.result.bandId },
      bands,
      truth: {
        closeContacts: closeBands,
        nonContacts,
        neverNear,
        phoneContacts: [...f0Close].filter((p) => !isBand.has(p)),
      },
      found: {
        kiosk: foundBands,
        missed: closeBands.filter((p) => !foundBands.includes(p)),
        falseFound: foundBands.filter((p) => !closeBands.includes(p)),
        falseNeverNear: foundBands.filter((p) => neverNear.includes(p)),
        matchedAny,
        authority: f1
          ? {
              contacts: f1.contacts,
              missed: closeBands.filter((p) => !f1!.contacts.includes(p)),
              falseFound: f1.contacts.filter((p) => !closeBands.includes(p)),
              falseNeverNear: f1.contacts.filter((p) => neverNear.includes(p)),
            }
          : null,
      },
      uploads: {
        keys: positive.keys,
        keyDays: positive.days,
        logPages: positive.logPages,
        logBytes: positive.logBytes,
        authorityCounts: counts,
        exportFiles: summary?.files ?? 0,
        newKeys: summary?.newKeys ?? 0,
      },
      lost,
      boards: [boardFigures(board, devices, opts.days * 24)],
      faults: world.faults.length,
      wallSeconds: round((Date.now() - wall0) / 1000, 1),
    };
    opts.onProgress?.(1, world.now);
    return { result, close, keepAlive: () => world.startRealtime(1) };
  } catch (e) {
    await close();
    throw e;
  }
}

function round(x: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
