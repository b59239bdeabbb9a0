import { fork } from "child_process";
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { readU32LE } from "../../../firmware/src/protocol/bytes";
import { pageUnits, signedLogExport } from "../../../firmware/src/protocol/log-mac";
import { defaultProvisioning, encodeProvisioning } from "../../../firmware/src/protocol/provisioning";
import { crc8, isUnwritten, RECORD_SIZE } from "../../../firmware/src/protocol/record";
import { AuthorityApp } from "../authority/app";
import { parseConfig } from "../authority/config";
import { generateSecretsFile, secretsFromFile } from "../authority/secrets";
import { startServer } from "../authority/server";
import { SqliteStore } from "../authority/store/sqlite";
import { nodePrims } from "../crypto/native";
import { createNobleBindings } from "../sim/noble-bindings";
import type { EspruinoDevice } from "../sim/device";
import { World } from "../sim/world";
import { AuthorityClient } from "./authority-client";
import { KioskStore } from "./store";
import { PositiveJob, UploadQueue } from "./uploads";
import { Progress, SyncResult } from "./engine";
import { serveBindings } from "./sim-bridge";

/**
 * The crash rig: starts the kiosk service in a child process on the world's bands (sim-bridge.ts), and kills it
 * with SIGKILL after `killAfterMs` of wall time (or lets it run that long and stops it with SIGTERM).
 */
export async function runKioskChild(
  world: World,
  dataDir: string,
  opts: {
    speed: number;
    killAfterMs: number;
    signal?: "SIGKILL" | "SIGTERM";
    onSynced?: (r: SyncResult) => void;
    /** Sends the signal early, once this says so (checked every 100 ms). */
    stopWhen?: () => boolean;
    /** The authority the kiosk uploads to. */
    authority?: { url: string; kioskKey: string };
  },
): Promise<{ code: number | null; signal: string | null; stderr: string; synced: number; midSync: number }> {
  const child = fork(path.join(__dirname, "..", "..", "bin", "kiosk-bridge-child.js"), [dataDir, String(opts.speed)], {
    serialization: "advanced",
    env: opts.authority
      ? { ...process.env, TL_AUTHORITY_URL: opts.authority.url, TL_KIOSK_KEY: opts.authority.kioskKey }
      : process.env,
    stdio: ["ignore", "ignore", "pipe", "ipc"],
  });
  let stderr = "";
  child.stderr?.on("data", (c) => (stderr = (stderr + c).slice(-20000)));
  let synced = 0;
  const states = new Map<string, string>();
  child.on("message", (m: { t: string; result?: SyncResult; progress?: Progress }) => {
    if (m && m.t === "progress" && m.progress) states.set(m.progress.bandId, m.progress.state);
    if (m && m.t === "synced" && m.result) {
      synced++;
      opts.onSynced?.(m.result);
    }
  });
  const central = world.central({ position: { x: 0, y: 0 }, name: "kiosk" });
  const close = serveBindings(world, createNobleBindings(world, central), child);
  world.startRealtime(opts.speed, 10);
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal })),
  );
  let midSync = 0;
  let timer: NodeJS.Timeout | undefined;
  const arm = () =>
    (timer = setTimeout(() => {
      // Bands the kiosk was working on when the signal went out.
      midSync = [...states.values()].filter((s) => ["connecting", "authenticating", "syncing"].includes(s)).length;
      child.kill(opts.signal ?? "SIGKILL");
    }, opts.killAfterMs));
  // The time to the kill counts from when the service is up (its start-up varies with the machine's load).
  child.on("message", (m: { t: string }) => {
    if (m && m.t === "ready") arm();
  });
  // A child that never comes up is ended too (30 s), so the rig cannot hang.
  const fallback = setTimeout(() => {
    if (!timer) child.kill("SIGKILL");
  }, 30_000);
  const poll = setInterval(() => {
    if (opts.stopWhen?.()) child.kill(opts.signal ?? "SIGKILL");
  }, 100);
  const end = await exited;
  if (timer) clearTimeout(timer);
  clearTimeout(fallback);
  clearInterval(poll);
  world.stopRealtime();
  close();
  // Let the links the kill left open time out on the bands' side.
  world.advance(5);
  return { ...end, stderr, synced, midSync };
}

/**
 * The sync cursor a simulated band keeps in its journal (docs/protocol.md section 5.2: state entries, type 3,
 * a = cursor; cursors never move back, so the largest valid entry in either journal file is the current one).
 */
export function bandSyncCursor(band: EspruinoDevice): number {
  let cursor = 0;
  for (const f of band.storage.files()) {
    if (!/^tl\.j[01]$/.test(f.name)) continue;
    for (let o = 0; o + 24 <= f.data.length; o += 24) {
      const s = f.data.subarray(o, o + 24);
      if (s[0] !== 3 || s[22] !== 0 || crc8(s, 0, 23) !== s[23]) continue;
      cursor = Math.max(cursor, readU32LE(s, 2));
    }
  }
  return cursor;
}

const hexOf = (b: Uint8Array) => Buffer.from(b).toString("hex");

/** Every written unit in a simulated band's log files, as hex. */
export function flashUnits(band: EspruinoDevice): string[] {
  const out: string[] = [];
  for (const f of band.storage.files()) {
    if (!/^tl\.e\d+$/.test(f.name)) continue;
    for (let o = 0; o + RECORD_SIZE <= f.data.length; o += RECORD_SIZE) {
      if (isUnwritten(f.data, o)) break;
      out.push(hexOf(f.data.subarray(o, o + RECORD_SIZE)));
    }
  }
  return out;
}

/** The units the store holds for a band, as hex; `violations` gets a line for pages that overlap. */
export function storedUnits(store: KioskStore, bandId: string, violations: string[]): string[] {
  const out: string[] = [];
  let last = -1;
  for (const p of store.pages(bandId)) {
    if (p.start < last) violations.push(`band ${bandId}: page at ${p.start} overlaps the page before (ends ${last})`);
    last = p.next;
    for (const u of pageUnits(p.body) ?? []) out.push(hexOf(u.bytes));
  }
  return out;
}

/**
 * The stored units that the band's flash does not hold as often (a unit stored twice, or never logged). Not a set
 * check: a band may log the same 8 bytes twice (a sync flushes open encounters, so one peer seen again in the same
 * 10-minute interval with the same duration and RSSI gives an identical record), and the store must hold it twice.
 */
export function storedBeyondFlash(stored: string[], inFlash: string[]): string[] {
  const left = new Map<string, number>();
  for (const u of inFlash) left.set(u, (left.get(u) ?? 0) + 1);
  const over: string[] = [];
  for (const u of stored) {
    const n = left.get(u) ?? 0;
    if (n === 0) over.push(u);
    else left.set(u, n - 1);
  }
  return over;
}

export interface CrashReport {
  runs: number;
  kills: number;
  /** Runs whose kill hit a sync (or an upload) in flight. */
  midWork: number;
  /** Syncs (or upload steps) completed between kills. */
  completedBeforeKills: number;
  /** Codes used up by a kill between the authority's answer and the saved step (jobs then took a new code). */
  codesUsedUp: number;
  /** Every broken invariant, one line each; empty when the kiosk kept everything. */
  violations: string[];
  wallSeconds: number;
}

function newReport(runs: number, violations: string[]): CrashReport {
  return { runs, kills: 0, midWork: 0, completedBeforeKills: 0, codesUsedUp: 0, violations, wallSeconds: 0 };
}

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32;
}

/**
 * kill -9 during syncs: four Puck.js bands log each other; `runs` times a kiosk child starts and is killed at a
 * random moment 0.6-3.6 s (wall, x20 virtual) after it is up, the bands logging 5 more minutes between visits. After
 * each kill: no band's journal cursor ahead of the store, no unit stored more often than the band's flash holds it.
 * Then a visit that is not killed: the store holds each band's flash units exactly (as a multiset), and each band's
 * cursor equals the store's.
 */
export async function syncCrashScenario(runs: number, bundleOf: (board: string) => string): Promise<CrashReport> {
  const wall = Date.now();
  const violations: string[] = [];
  const world = new World({ seed: 5 });
  const bands = [0, 1, 2, 3].map((i) => {
    const prov = defaultProvisioning(
      new Uint8Array(8).map((_, k) => (i * 31 + k * 7 + 1) & 255),
      new Uint8Array(16).map((_, k) => (i * 17 + k * 5 + 2) & 255),
      new Uint8Array(16).map((_, k) => (i * 13 + k * 3 + 3) & 255),
      world.startUnix,
    );
    const band = world.addBand({
      board: "puckjs",
      bundlePath: bundleOf("puckjs"),
      position: { x: 0.8 + 0.4 * i, y: 0.3 },
      provisioning: { "tl.prov": encodeProvisioning(prov) },
      clock: world.startUnix,
    });
    return { band, id: hexOf(prov.bandId), syncKey: prov.syncKey };
  });
  world.run(3600);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tl-kiosk-crash-"));
  const seed = new KioskStore(dir);
  seed.setRegistry(
    bands.map((b) => ({ bandId: b.id, board: "puckjs", syncKey: b.syncKey })),
    "crash",
    0,
  );
  seed.close();
  const random = lcg(0x2545f491);
  const report = newReport(runs, violations);
  for (let run = 0; run < runs; run++) {
    const r = await runKioskChild(world, dir, { speed: 20, killAfterMs: 600 + random() * 3000 });
    if (r.signal !== "SIGKILL")
      violations.push(`run ${run}: the kiosk ended by itself (${r.code}): ${r.stderr.slice(-300)}`);
    else report.kills++;
    report.completedBeforeKills += r.synced;
    if (r.midSync) report.midWork++;
    const store = new KioskStore(dir);
    for (const b of bands) {
      const row = store.band(b.id);
      const bandCursor = bandSyncCursor(b.band);
      if (bandCursor > (row ? row.cursor : 0)) {
        violations.push(
          `run ${run}: band ${b.id} acknowledged ${bandCursor}, the store holds up to ${row ? row.cursor : 0}`,
        );
      }
      const over = storedBeyondFlash(storedUnits(store, b.id, violations), flashUnits(b.band));
      if (over.length)
        violations.push(`run ${run}: band ${b.id} has units stored more often than in its flash: ${over}`);
    }
    store.close();
    world.run(world.now + 300);
  }
  const done = new Set<string>();
  const last = await runKioskChild(world, dir, {
    speed: 20,
    killAfterMs: 60_000,
    signal: "SIGTERM",
    onSynced: (r) => {
      if (r.ok) done.add(r.bandId);
    },
    stopWhen: () => done.size === bands.length,
  });
  if (last.code !== 0) violations.push(`last visit: the kiosk did not stop cleanly (${last.code} ${last.signal})`);
  if (done.size !== bands.length) violations.push(`last visit: ${done.size} of ${bands.length} bands synced`);
  const store = new KioskStore(dir);
  for (const b of bands) {
    const stored = storedUnits(store, b.id, violations).sort();
    const inFlash = flashUnits(b.band).sort();
    if (stored.join() !== inFlash.join()) {
      const inF = new Set(inFlash);
      const inS = new Set(stored);
      const extra = stored.filter((u) => !inF.has(u)).slice(0, 3);
      const missing = inFlash.filter((u) => !inS.has(u)).slice(0, 3);
      violations.push(
        `band ${b.id}: ${stored.length} units stored, ${inFlash.length} in its flash; stored only: ${extra.join(" ")}; ` +
          `in flash only: ${missing.join(" ")}; stored twice: ${stored.length - inS.size}`,
      );
    }
    if (bandSyncCursor(b.band) !== store.band(b.id)?.cursor)
      violations.push(`band ${b.id}: cursor differs from the store's`);
    if (b.band.faults.length) violations.push(`band ${b.id}: firmware faults ${JSON.stringify(b.band.faults)}`);
  }
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
  report.wallSeconds = (Date.now() - wall) / 1000;
  return report;
}

/**
 * kill -9 during positive uploads: `jobs` queued tested-positive jobs (5 keys and a signed log each) for an
 * authority on loopback; a kiosk child is killed at random 0-0.4 s after it is up until every job is through. Jobs
 * whose code a kill used up get a new one (as the health worker would). In the end every job is done, the
 * authority holds each job's keys once and its log once.
 */
export async function uploadCrashScenario(runs: number, jobs = 20): Promise<CrashReport> {
  const wall = Date.now();
  const violations: string[] = [];
  const t0 = Date.UTC(2026, 10, 30, 12);
  const world = new World({ seed: 6, startUnix: Math.floor(t0 / 1000) });
  const nowMs = () => (world.startUnix + world.now) * 1000;
  // Rate limits off: hundreds of codes are verified from one address within minutes.
  const config = parseConfig({ deployment: "private", rateLimits: { enabled: false } });
  const secretsFile = generateSecretsFile();
  const authStore = new SqliteStore(":memory:");
  const app = new AuthorityApp({
    config,
    secrets: secretsFromFile(secretsFile, config),
    store: authStore,
    now: nowMs,
    log: () => undefined,
  });
  const server = await startServer(app, { host: "127.0.0.1", port: 0 });
  const key = (role: string) => secretsFile.apiKeys.find((k) => k.role === role)?.key as string;
  const post = async (p: string, apiKey: string, body: unknown) => {
    const r = await fetch(server.url + p, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": apiKey },
      body: JSON.stringify(body),
    });
    const json = (await r.json()) as Record<string, string>;
    if (r.status >= 300) throw new Error(`${p}: ${r.status} ${JSON.stringify(json)}`);
    return json;
  };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tl-kiosk-crash-up-"));
  const store = new KioskStore(dir);
  const day = Math.floor(t0 / 86400_000);
  for (let j = 0; j < jobs; j++) {
    // Distinct ids and secrets for any number of jobs (a repeated band would make a repeated, deduplicated log).
    const bandId = new Uint8Array(8).map((_, i) => (i < 2 ? (j >> (8 * i)) & 255 : (i * 11 + 1) & 255));
    const secret = new Uint8Array(randomBytes(16));
    await post("/api/bands", key("flasher"), {
      bandId: hexOf(bandId),
      board: "puckjs",
      syncKey: hexOf(new Uint8Array(16).fill(j + 1)),
    });
    const issued = await post("/api/issue", key("admin"), { testType: "confirmed" });
    const job: PositiveJob = {
      step: "verify",
      code: issued.code,
      teks: Array.from({ length: 5 }, (_, d) => ({
        key: randomBytes(16).toString("base64"),
        rollingStartNumber: (day - 1 - d) * 144,
        rollingPeriod: 144,
      })),
      tlx: Buffer.from(
        signedLogExport(nodePrims.sha256, secret, bandId, [
          { header: { seq: 1, baseTime: (day - 1) * 86400, monotonic: false, bootEpoch: 1 }, records: [] },
        ]),
      ).toString("base64"),
    };
    store.enqueueUpload(hexOf(bandId), job, t0);
  }
  store.close();
  const states = () => {
    const s = new KioskStore(dir);
    const list = s.uploads({ pendingOnly: true }).map((u) => u.state);
    s.close();
    return list;
  };
  const report = newReport(0, violations);
  const random = lcg(0x1234567);
  const authority = { url: server.url, kioskKey: key("kiosk") };
  while (report.runs < runs && states().length > 0) {
    report.runs++;
    const before = states().length;
    const r = await runKioskChild(world, dir, { speed: 20, killAfterMs: random() * 400, authority });
    if (r.signal === "SIGKILL") report.kills++;
    const now = states();
    report.completedBeforeKills += before - now.length;
    if (now.some((st) => st !== "verify" && st !== "needs_code")) report.midWork++;
    // A job whose code a kill used up waits for a new one: the health worker enters it.
    const s = new KioskStore(dir);
    const queue = new UploadQueue(s, new AuthorityClient(server.url, key("kiosk")), nowMs, () => undefined);
    for (const u of s.uploads().filter((x) => x.state === "needs_code")) {
      queue.newCode(u.id, (await post("/api/issue", key("admin"), { testType: "confirmed" })).code);
      report.codesUsedUp++;
    }
    s.close();
  }
  await runKioskChild(world, dir, {
    speed: 20,
    killAfterMs: 60_000,
    signal: "SIGTERM",
    authority,
    stopWhen: () => states().length === 0,
  });
  const after = new KioskStore(dir);
  const list = after.uploads();
  after.close();
  const notDone = list.filter((u) => u.state !== "done");
  if (notDone.length)
    violations.push(`${notDone.length} jobs not done: ${notDone.map((u) => `${u.state} ${u.lastError}`).join("; ")}`);
  const counts = await authStore.counts();
  if (counts.exposures !== 5 * jobs)
    violations.push(`the authority holds ${counts.exposures} keys, expected ${5 * jobs}`);
  if (counts.bandLogs !== jobs) violations.push(`the authority holds ${counts.bandLogs} logs, expected ${jobs}`);
  await server.close();
  await authStore.close();
  fs.rmSync(dir, { recursive: true, force: true });
  report.wallSeconds = (Date.now() - wall) / 1000;
  return report;
}
