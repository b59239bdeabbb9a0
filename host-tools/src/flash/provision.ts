import { storagePlan } from "../boards/storage";
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { crc32 } from "zlib";
import { encodeProvisioning, PROVISIONING_FILE, readProvisioning } from "../../../firmware/src/protocol/provisioning";
import { loadAllBoards } from "../boards/load";
import { BoardProfile } from "../boards/profile";
import { Deployment, provisioningFor } from "./deployment";
import { ConsoleError, EspruinoConsole, ProgressHook } from "./espruino-tools";
import { HealthCheck, HealthReport } from "./health";
import { BandRecord, RegistryError, RegistrySink } from "./registry";
import * as up from "./upgrade";
import { isSegmentHeader, RECORD_SIZE, segmentSeq } from "../../../firmware/src/protocol/record";
import { UNITS_PER_CURSOR_FILE } from "../../../firmware/src/protocol/sync-constants";
import { LOG_FILE_BYTES, LOG_FILE_STRIDE } from "../../../firmware/src/tuning";

/**
 * Flashing and provisioning one band over its console (docs/flashing.md). The order makes an interruption at any
 * point safe: the firmware goes first and the provisioning record last, each verified by its CRC-32 read back
 * from the band (`E.CRC32`); a band without a valid record is unprovisioned (it only sends the zero-token
 * discovery advert) and the next attempt starts over. The band is registered only once both files verified, and
 * restarted only once registered: a registry that cannot be written leaves the band unprovisioned again.
 */

/** The oldest Espruino the firmware runs on (its Storage, NRF and crypto calls; docs/flashing.md). */
export const MIN_ESPRUINO = "2v29";

export type StepName =
  "connect" | "identify" | "wipe" | "read" | "log" | "firmware" | "provision" | "register" | "restart" | "health";

export const STEP_TITLES: Record<StepName, string> = {
  connect: "Connecting",
  identify: "Identifying the device",
  wipe: "Wiping the old band",
  read: "Reading the band's log",
  log: "Writing the log in format 3",
  firmware: "Writing the firmware",
  provision: "Writing identity and clock",
  register: "Registering the band",
  restart: "Restarting",
  health: "Checking the band's health",
};

export interface StepEvent {
  step: StepName;
  /** 0..1 within the step. */
  fraction: number;
  detail?: string;
}

export interface FlashOptions {
  port: string;
  board: BoardProfile;
  /** The bundle to flash (dist/<board>/tracelet.js, exactly these bytes) and its version for labels. */
  bundle: Uint8Array;
  firmwareVersion: string;
  deployment: Deployment;
  registry: RegistrySink;
  /** Reads the band's status over the sync service after the restart (undefined: skipped, said in the result). */
  health?: HealthCheck;
  /** Wipe a band that is already provisioned (its identity and log) instead of refusing it. */
  force?: boolean;
  /**
   * Upgrade a provisioned band's firmware keeping its identity, journal and unsynced log (a format-2 log is
   * converted to format 3); refuses a band that is not provisioned or not in the registry (upgrade.ts).
   */
  upgrade?: boolean;
  /** With `upgrade`: a log that does not fit the board's log budget keeps its newest records instead of refusing. */
  keepNewest?: boolean;
  baud?: number;
  /** Unix milliseconds (the clock set on the band). */
  now?: () => number;
  /** Secrets come from here (default crypto.randomBytes). */
  random?: (n: number) => Uint8Array;
  /** Extra attempts for a file whose read-back CRC does not match (an interrupted upload). */
  retries?: number;
  onStep?: (e: StepEvent) => void;
  /** Board ids accepted for `process.env.BOARD` besides the profile's (none in production). */
  acceptBoards?: string[];
  /**
   * Return once the band restarts and run the health check in the background (`FlashResult.healthDone`): a batch
   * flashes the next band over the console while this one is found over Bluetooth.
   */
  healthInBackground?: boolean;
}

export interface FlashResult {
  bandId: string;
  board: string;
  port: string;
  firmwareVersion: string;
  espruino: string;
  bundleBytes: number;
  bundleCrc32: number;
  mode: Deployment["mode"];
  registeredIn: string;
  wiped: boolean;
  /** Attempts per file (1 = first time right). */
  attempts: { firmware: number; provision: number };
  health: HealthReport | { ok: false; skipped: string };
  /** The health check's report when it runs in the background (healthInBackground); resolves to `health`. */
  healthDone?: Promise<FlashResult["health"]>;
  seconds: Record<StepName | "total", number>;
  /** `upgrade`: what happened to the band's log. */
  upgrade?: UpgradeReport;
}

export interface UpgradeReport {
  /** The log format the band held: 2 (converted) or 3 (kept as it was; also a band without a log). */
  logFormat: 2 | 3;
  /** Format-2 records at or after the journal's sync cursor, now in format 3. */
  carried: number;
  /** Format-2 records before the sync cursor (a kiosk has them): not carried over. */
  leftBehind: number;
  /** Unsynced records left out to fit the log budget (keepNewest), the oldest. */
  dropped: number;
  /** Torn format-2 units skipped (a kiosk skips them too). */
  torn: number;
  /** The journal's sync cursor (unchanged); the carried records' cursors start above it. */
  syncCursor: number;
  /** Cursor of the first carried unit. */
  firstCursor?: number;
  filesWritten: string[];
  filesErased: string[];
  /**
   * Data bytes of the format-3 log files this firmware laid out again in its own file size (LOG_FILE_BYTES): their
   * unsynced records carried over as a format-2 log's are (absent when there were none, or they had its size).
   */
  relaidFrom?: number;
  /**
   * "beside": the new log was written before the old was erased; "replaced": Storage (or the log's file names) had
   * room only after erasing it.
   */
  order: "beside" | "replaced" | "none";
}

/** Why flashing failed; `kind` picks the exit code, `bandTouched` says whether the band was written. */
export class FlashError extends Error {
  constructor(
    message: string,
    readonly kind: "device" | "board" | "registry" | "auth" | "network" | "health" | "usage",
    readonly bandTouched = false,
  ) {
    super(message);
  }
}

/** Tracelet's own files in Storage: what `--force` erases (nothing else on the board is touched). */
export function isTraceletFile(name: string): boolean {
  return name === ".bootcde" || name === ".bootrst" || name.startsWith("tl.");
}

/** Espruino version "2v29.74" as a comparable number (2.29074). */
export function versionNumber(v: string): number {
  const m = /^(\d+)v(\d+)(?:\.(\d+))?/.exec(v);
  if (!m) return NaN;
  return Number(m[1]) + Number(m[2]) / 100 + Number(m[3] ?? 0) / 100000;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

interface DeviceInfo {
  files: string[];
  free: number;
  total: number;
  /**
   * Storage bytes Tracelet's own files take, each with its 32-byte header and padding to 4 bytes (freed by a wipe or
   * replaced by the new ones): without the headers a full MDBT42Q log (22 files) looked 700 bytes short of its plan.
   */
  ours: number;
  prov: string | null;
}

export async function flashBand(o: FlashOptions): Promise<FlashResult> {
  const now = o.now ?? (() => Date.now());
  const random = o.random ?? ((n: number) => new Uint8Array(randomBytes(n)));
  const t0 = Date.now();
  const seconds = {} as Record<StepName | "total", number>;
  let stepStart = Date.now();
  let current: StepName = "connect";
  const step = (s: StepName, detail?: string) => {
    seconds[current] = (seconds[current] ?? 0) + (Date.now() - stepStart) / 1000;
    current = s;
    stepStart = Date.now();
    o.onStep?.({ step: s, fraction: 0, detail });
  };
  const progress = (s: StepName): ProgressHook => {
    let total = 0;
    let done = 0;
    return {
      status: (_text, max) => {
        if (max) {
          total = max;
          done = 0;
        }
      },
      increment: (n) => {
        done += n;
        if (total) o.onStep?.({ step: s, fraction: Math.min(1, done / total) });
      },
    };
  };

  await o.registry.check().catch((e: RegistryError) => {
    throw new FlashError(e.message, e.kind === "file" ? "registry" : e.kind);
  });

  o.onStep?.({ step: "connect", fraction: 0 });
  let con: EspruinoConsole;
  try {
    con = await EspruinoConsole.open(o.port, { baud: o.baud, timeoutMs: 30_000 });
  } catch (e) {
    throw new FlashError(`no device answered on ${o.port}: ${(e as Error).message}`, "device");
  }
  let touched = false;
  try {
    // ---- identify
    step("identify");
    const env = con.env();
    if (!env.BOARD || !env.VERSION)
      throw new FlashError(
        `the device on ${o.port} did not say what it is (no process.env): is it an Espruino?`,
        "device",
      );
    const accepted = [o.board.espruinoBoard, ...(o.acceptBoards ?? [])];
    if (!accepted.includes(env.BOARD)) {
      // Name the profile that matches the device. A variant build of the same board (Espruino names them
      // <BOARD>_<VARIANT>: a Puck.js on the standard firmware flashed as puckjs-minimal, PUCKJS vs PUCKJS_MINIMAL)
      // has a second way out: install the firmware this profile needs.
      const matching = loadAllBoards()
        .filter((b) => b.espruinoBoard === env.BOARD)
        .map((b) => `--board ${b.id}`);
      const want = o.board.espruinoBoard;
      const variant = env.BOARD.startsWith(want + "_") || want.startsWith(env.BOARD + "_");
      const hint =
        (matching.length ? `pick ${matching.join(" or ")} to match it` : "pick --board to match it") +
        (variant ? `, or install Espruino's ${want} firmware on it first (docs/flashing.md)` : "");
      throw new FlashError(
        `the device on ${o.port} is a ${env.BOARD}, not a ${o.board.name} (${o.board.espruinoBoard}): ${hint}`,
        "board",
      );
    }
    if (!(versionNumber(env.VERSION) >= versionNumber(MIN_ESPRUINO)))
      throw new FlashError(
        `the device runs Espruino ${env.VERSION}; Tracelet needs ${MIN_ESPRUINO} or later: update its Espruino firmware first (docs/flashing.md)`,
        "board",
      );
    const info = await inspect(con);
    const provisioned = info.prov !== null && readProvisioning(Buffer.from(info.prov, "hex")) !== undefined;
    if (o.upgrade) {
      const ctx: UpgradeContext = {
        con,
        env: { BOARD: env.BOARD, VERSION: env.VERSION },
        info,
        step,
        progress,
        touched: () => (touched = true),
        stepNow: () => current,
      };
      const r = await upgradeBand(o, ctx);
      step("health");
      seconds.total = (Date.now() - t0) / 1000;
      return { ...r, seconds };
    }
    if (provisioned && !o.force) {
      const id = info.prov!.slice(8, 24);
      throw new FlashError(
        `the device on ${o.port} is already provisioned as band ${id}: use --force to wipe it (its identity and unsynced log are lost), or --upgrade to flash new firmware keeping both`,
        "device",
      );
    }
    const plan = storagePlan(o.board, o.bundle.length);
    const available = info.free + info.ours;
    if (plan.total > available)
      throw new FlashError(
        `Storage too small on ${o.port}: Tracelet needs ${plan.total} bytes (firmware ${plan.bundle}, log ${plan.log}, journals ${plan.journals}, provisioning ${plan.provisioning}), the device has ${available} free`,
        "board",
      );

    // ---- a new identity, never one the registry knows
    let record: BandRecord | undefined;
    let ids: { bandId: Uint8Array; bandSecret: Uint8Array; syncKey: Uint8Array } | undefined;
    for (let i = 0; i < 5 && !record; i++) {
      ids = { bandId: random(8), bandSecret: random(16), syncKey: random(16) };
      const r: BandRecord = { bandId: hex(ids.bandId), board: o.board.id, syncKey: hex(ids.syncKey) };
      if (o.deployment.mode === "escrow") r.escrowSecret = hex(ids.bandSecret);
      const taken = await o.registry.taken(r).catch((e: RegistryError) => {
        throw new FlashError(e.message, e.kind === "file" ? "registry" : e.kind);
      });
      if (!taken) record = r;
    }
    if (!record || !ids) throw new FlashError("could not draw an identity the registry does not know", "registry");

    // ---- stop whatever runs, wipe if asked
    await con.send("reset()");
    let wiped = false;
    if (provisioned || info.files.some(isTraceletFile)) {
      step("wipe");
      touched = true;
      await con.expr(
        `(function(){var S=require("Storage");S.list().forEach(function(f){if(f==".bootcde"||f==".bootrst"||f.substr(0,3)=="tl.")S.erase(f);});return 1})()`,
        30,
      );
      wiped = provisioned;
    }

    // ---- firmware, then identity: each verified by its CRC read back from the band
    const attempts = { firmware: 0, provision: 0 };
    step("firmware", `${o.bundle.length} bytes`);
    touched = true;
    attempts.firmware = await writeVerified(con, ".bootcde", o.bundle, progress("firmware"), o.retries ?? 1);
    step("provision");
    const unix = Math.floor(now() / 1000);
    const prov = encodeProvisioning(provisioningFor(o.deployment, ids, unix));
    // The clock first: the record vouches for it (flags bit 0) only within the flasher's window.
    await con.expr(`(function(){setTime(${(now() / 1000).toFixed(3)});return 1})()`, 10);
    attempts.provision = await writeVerified(con, PROVISIONING_FILE, prov, progress("provision"), o.retries ?? 1);

    // ---- register, or undo the identity
    step("register", o.registry.where);
    try {
      await o.registry.add(record);
    } catch (e) {
      await con
        .expr(`(function(){require("Storage").erase(${JSON.stringify(PROVISIONING_FILE)});return 1})()`, 10)
        .catch(() => undefined);
      const err = e as RegistryError;
      throw new FlashError(
        `${err.message}; the band was left unprovisioned (its identity erased)`,
        err.kind === "file" ? "registry" : err.kind,
        true,
      );
    }

    // ---- restart into the firmware
    step("restart");
    await con.send("load()");
    await con.close();

    // ---- health over the sync service, with the new key
    step("health");
    const check = async (): Promise<FlashResult["health"]> =>
      o.health
        ? o
            .health({ bandId: record.bandId, board: o.board.id, syncKey: ids.syncKey })
            .catch((e: Error): HealthReport => ({ ok: false, problems: [e.message], seconds: 0 }))
        : { ok: false, skipped: "no Bluetooth adapter to reach the band's sync service" };
    let health: FlashResult["health"] = { ok: false, skipped: "running in the background" };
    let healthDone: Promise<FlashResult["health"]> | undefined;
    if (o.healthInBackground) healthDone = check();
    else health = await check();
    step("health");
    seconds.total = (Date.now() - t0) / 1000;
    return {
      bandId: record.bandId,
      board: o.board.id,
      port: o.port,
      firmwareVersion: o.firmwareVersion,
      espruino: env.VERSION,
      bundleBytes: o.bundle.length,
      bundleCrc32: crc32(o.bundle),
      mode: o.deployment.mode,
      registeredIn: o.registry.where,
      wiped,
      attempts,
      health,
      healthDone,
      seconds,
    };
  } catch (e) {
    if (e instanceof FlashError) throw e;
    const msg = e instanceof ConsoleError ? e.message : (e as Error).message;
    throw new FlashError(
      `${STEP_TITLES[current].toLowerCase()} failed on ${o.port}: ${msg}` +
        (touched ? "; the band is not provisioned: run the same command again" : ""),
      "device",
      touched,
    );
  } finally {
    await con.close().catch(() => undefined);
  }
}

/** Storage as the flasher needs to know it, in one round trip. */
async function inspect(con: EspruinoConsole): Promise<DeviceInfo> {
  // Espruino hoists no function declarations: everything is defined before it is used.
  const js =
    "(function(){" +
    "var S=require('Storage'),l=S.list(),o=0,x='';" +
    "var st=S.getStats?S.getStats():{freeBytes:S.getFree(),totalBytes:0,trashBytes:0};" +
    "l.forEach(function(f){if(f=='.bootcde'||f=='.bootrst'||f.substr(0,3)=='tl.')o+=32+((S.read(f)||'').length+3&~3);});" +
    `var p=S.read(${JSON.stringify(PROVISIONING_FILE)});` +
    "if(p!==undefined)for(var i=0;i<p.length;i++)x+=(256+p.charCodeAt(i)).toString(16).substr(1);" +
    "return {l:l,f:st.freeBytes+(st.trashBytes||0),t:st.totalBytes,o:o,p:p===undefined?null:x};})()";
  const r = await con.expr<{ l: string[]; f: number; t: number; o: number; p: string | null }>(js, 20);
  return { files: r.l, free: r.f, total: r.t, ours: r.o, prov: r.p };
}

/** Writes a Storage file and checks its CRC-32 on the band; retries (erasing first) up to `retries` times. */
async function writeVerified(
  con: EspruinoConsole,
  name: string,
  data: Uint8Array,
  progress: ProgressHook,
  retries: number,
): Promise<number> {
  const want = crc32(data);
  let last = "";
  for (let attempt = 1; attempt <= 1 + retries; attempt++) {
    if (attempt > 1) await con.expr(`(function(){require("Storage").erase(${JSON.stringify(name)});return 1})()`, 10);
    await con.writeFile(name, data, progress);
    const got = await con.expr<number | null>(
      `(function(){var f=require("Storage").read(${JSON.stringify(name)});return f===undefined?null:E.CRC32(f)})()`,
      20,
    );
    if (got !== null && got >>> 0 === want) return attempt;
    last = got === null ? "the file is missing" : `CRC-32 ${hex32(got)} instead of ${hex32(want)}`;
  }
  throw new ConsoleError(`${name} did not verify after ${1 + retries} attempts (${last})`);
}

function hex32(n: number): string {
  return (n >>> 0).toString(16).padStart(8, "0");
}

/** The firmware version as labels show it: package version + the first 8 hex digits of the bundle's SHA-256. */
export function firmwareLabel(board: string, distDir = path.resolve(__dirname, "..", "..", "..", "dist")): string {
  try {
    const b = JSON.parse(fs.readFileSync(path.join(distDir, board, "build.json"), "utf8")) as {
      firmwareVersion: string;
      sha256: string;
      dev: boolean;
    };
    return `${b.firmwareVersion}+${b.sha256.slice(0, 8)}${b.dev ? "-dev" : ""}`;
  } catch {
    return "unknown";
  }
}

interface UpgradeContext {
  con: EspruinoConsole;
  env: { BOARD: string; VERSION: string };
  info: DeviceInfo;
  step: (s: StepName, detail?: string) => void;
  progress: (s: StepName) => ProgressHook;
  touched: () => void;
  stepNow: () => StepName;
}

/**
 * `flash --upgrade` (docs/flashing.md, "Upgrading a band"): new firmware on a provisioned band, its identity and
 * journal kept, a format-2 log converted to format 3. Everything is read and converted, and the conversion checked,
 * on the host before anything on the band is written; a failure once writing has started puts the band back as it was
 * (new files erased, the old log written back if it had to go first) and says so.
 */
async function upgradeBand(o: FlashOptions, x: UpgradeContext): Promise<Omit<FlashResult, "seconds">> {
  const { con, info } = x;
  const prov = info.prov === null ? undefined : readProvisioning(Buffer.from(info.prov, "hex"));
  if (!prov)
    throw new FlashError(
      `the device on ${o.port} is not provisioned: there is no identity or log to keep; flash it without --upgrade`,
      "device",
    );
  const bandId = hex(prov.bandId);
  const record: BandRecord = { bandId, board: o.board.id, syncKey: hex(prov.syncKey) };
  const known = await o.registry.taken(record).catch((e: RegistryError) => {
    throw new FlashError(e.message, e.kind === "file" ? "registry" : e.kind);
  });
  if (!known)
    throw new FlashError(
      `band ${bandId} on ${o.port} is not in ${o.registry.where}: upgrade it with the registry it was flashed with (kiosks find it by the key registered there)`,
      "registry",
    );
  const plan = storagePlan(o.board, o.bundle.length);
  if (plan.total > info.free + info.ours)
    throw new FlashError(
      `Storage too small on ${o.port}: Tracelet needs ${plan.total} bytes (firmware ${plan.bundle}, log ${plan.log}, journals ${plan.journals}, provisioning ${plan.provisioning}), the device has ${info.free + info.ours} for it`,
      "board",
    );

  // ---- stop the running firmware (nothing may change under the read), then read what is kept
  await con.send("reset()");
  let restartOld = true;
  try {
    x.step("read");
    const { sizes, free } = await up.listFiles(con);
    const names = [...sizes.keys()];
    const v2Names = names.filter((n) => n.startsWith(up.V2_LOG_PREFIX)).sort();
    const v3Names = names.filter((n) => n.startsWith(up.V3_LOG_PREFIX)).sort();
    // Format-3 files of another size than this firmware's (2 KB files before 1 KB ones) are laid out again.
    const relaid = v2Names.length ? [] : v3Names.filter((n) => sizes.get(n) !== LOG_FILE_BYTES);
    const oldNames = v2Names.length ? v2Names : relaid;
    const journals: (Uint8Array | undefined)[] = [];
    for (const j of up.JOURNALS)
      journals.push(sizes.has(j) ? await up.readFile(con, j, sizes.get(j) as number) : undefined);
    const syncCursor = up.journalCursor(journals) ?? 0;
    const report: UpgradeReport = {
      logFormat: v2Names.length ? 2 : 3,
      carried: 0,
      leftBehind: 0,
      dropped: 0,
      torn: 0,
      syncCursor,
      filesWritten: [],
      filesErased: [],
      order: "none",
    };
    if (relaid.length) report.relaidFrom = sizes.get(relaid[0]);
    const oldFiles = new Map<string, Uint8Array>();
    const v3Seqs: number[] = [];
    for (const n of v2Names) oldFiles.set(n, await up.readFile(con, n, sizes.get(n) as number));
    for (const n of v3Names) {
      const b = await up.readFile(con, n, sizes.get(n) as number);
      if (relaid.includes(n)) oldFiles.set(n, b);
      // The firmware numbers on from its newest file's seq plus its units: above that whatever they are.
      if (isSegmentHeader(b, 0)) v3Seqs.push(segmentSeq(b, 0) + Math.floor(b.length / RECORD_SIZE));
    }
    x.step("read", `${v2Names.length} format-2 and ${v3Names.length} format-3 log files`);

    // ---- convert and check on the host
    const slots = up.logSlots(o.board.logBudgetBytes);
    const slotNames: string[] = [];
    for (let i = 0; i < slots; i++) slotNames.push(up.V3_LOG_PREFIX + i);
    // Names free while the old log is on the band, and once it is erased (format-3 files relaid out free theirs).
    const besideSlots = slotNames.filter((n) => !sizes.has(n));
    const freeSlots = slotNames.filter((n) => !sizes.has(n) || oldNames.includes(n));
    let files: { name: string; data: Uint8Array; used: number }[] = [];
    if (oldNames.length) {
      const read = v2Names.length ? up.readV2Log(oldFiles, syncCursor) : up.readV3Log(oldFiles, syncCursor);
      const firstSeq = Math.max(read.maxSeq, Math.floor(syncCursor / UNITS_PER_CURSOR_FILE), ...v3Seqs, 0) + 1;
      const m = up.migrate(read, firstSeq, freeSlots.length, o.keepNewest === true);
      report.leftBehind = read.synced;
      report.torn = read.torn;
      if (m.carried === 0 && m.dropped > 0)
        throw new FlashError(
          `band ${bandId}'s ${m.dropped} unsynced records need ${m.packed.files.length} log files of ${LOG_FILE_STRIDE} bytes in format 3, and the ${o.board.name} log budget leaves ${freeSlots.length}: sync it at a kiosk first (synced records are not carried over), or pass --keep-newest to carry over only the newest that fit`,
          "board",
        );
      const problem = up.checkPacked(m.packed, m.segments, firstSeq);
      if (problem) throw new FlashError(`the converted log of band ${bandId} does not check: ${problem}`, "device");
      report.carried = m.carried;
      report.dropped = m.dropped;
      if (m.packed.files.length) report.firstCursor = firstSeq * UNITS_PER_CURSOR_FILE;
      files = m.packed.files.map((data, i) => ({ name: "", data, used: m.packed.units[i] * RECORD_SIZE }));
    }
    const fileBytes = (n: number) => 32 + Math.ceil(n / 4) * 4;
    const oldBundle = sizes.has(".bootcde") ? fileBytes(sizes.get(".bootcde") as number) : 0;
    const needed = files.length * LOG_FILE_STRIDE + Math.max(0, fileBytes(o.bundle.length) - oldBundle);
    const oldBytes = oldNames.reduce((n, f) => n + fileBytes(sizes.get(f) as number), 0);
    if (needed > free + oldBytes)
      throw new FlashError(
        `Storage too small on ${o.port} for the upgrade: the converted log and the new firmware need ${needed} bytes, the device has ${free} free and its old log ${oldBytes}`,
        "board",
      );
    report.order = files.length
      ? needed <= free && files.length <= besideSlots.length
        ? "beside"
        : "replaced"
      : "none";
    files.forEach((f, i) => (f.name = (report.order === "beside" ? besideSlots : freeSlots)[i]));

    // ---- write: the new log (beside the old where Storage has room), the firmware, then erase the old log
    restartOld = false;
    x.touched();
    let oldErased = false;
    let backup: string | undefined;
    try {
      if (report.order === "replaced") {
        // The old log leaves the band before the new one is on it: a copy on this computer first.
        backup = up.saveBackup(bandId, oldFiles);
        await up.eraseFiles(con, oldNames);
        oldErased = true;
      }
      x.step("log", `${files.length} files, ${report.carried} records`);
      for (let i = 0; i < files.length; i++) {
        report.filesWritten.push(files[i].name);
        await up.writeSized(con, files[i].name, files[i].data, files[i].used);
        o.onStep?.({ step: "log", fraction: (i + 1) / files.length });
      }
      x.step("firmware", `${o.bundle.length} bytes`);
      const attempts = await writeVerified(con, ".bootcde", o.bundle, x.progress("firmware"), o.retries ?? 1);
      if (!oldErased) await up.eraseFiles(con, oldNames);
      report.filesErased = oldNames;
      if (backup) fs.rmSync(backup, { recursive: true, force: true });
      // The old log's records (other people's ids) would stay readable in flash until a compaction.
      if (oldNames.length) await con.expr(`(function(){require("Storage").compact();return 1})()`, 120);
      x.step("restart");
      await con.send("load()");
      await con.close();
      x.step("health");
      const health: FlashResult["health"] = o.health
        ? await o
            .health({ bandId, board: o.board.id, syncKey: prov.syncKey })
            .catch((e: Error): HealthReport => ({ ok: false, problems: [e.message], seconds: 0 }))
        : { ok: false, skipped: "no Bluetooth adapter to reach the band's sync service" };
      return {
        bandId,
        board: o.board.id,
        port: o.port,
        firmwareVersion: o.firmwareVersion,
        espruino: x.env.VERSION,
        bundleBytes: o.bundle.length,
        bundleCrc32: crc32(o.bundle),
        mode: prov.mode,
        registeredIn: o.registry.where,
        wiped: false,
        attempts: { firmware: attempts, provision: 0 },
        health,
        upgrade: report,
      };
    } catch (e) {
      const kept = backup ? `; its format-2 log files are saved in ${backup}` : "";
      if (!con.connected)
        throw new FlashError(
          `upgrade of band ${bandId}: the console was lost while ${STEP_TITLES[x.stepNow()].toLowerCase()} on ${o.port}: run the same command again (the format-2 log stays on the band until the new log and firmware verify${kept})`,
          "device",
          true,
        );
      // Put the band back: the new files go, the old log comes back if it had to go first.
      const step = STEP_TITLES[x.stepNow()].toLowerCase();
      const why = e instanceof Error ? e.message : String(e);
      let back = "";
      try {
        await up.eraseFiles(con, report.filesWritten);
        if (oldErased)
          for (const [name, data] of oldFiles) {
            let used = data.length;
            while (used > 0 && data[used - 1] === 0xff) used--;
            await up.writeSized(con, name, data, used);
          }
        back =
          x.stepNow() === "firmware"
            ? "its log was put back in format 2, but its firmware did not verify: run the same command again"
            : "the band was put back as it was (its format-2 log and its old firmware)";
        await con.send("load()");
      } catch (e2) {
        back = `putting the band back failed too (${(e2 as Error).message}): run the same command again${kept}`;
      }
      throw new FlashError(`upgrade of band ${bandId}: ${step} failed on ${o.port}: ${why}; ${back}`, "device", true);
    }
  } finally {
    // A refusal before anything was written: the old firmware runs again.
    if (restartOld && con.connected) await con.send("load()").catch(() => undefined);
  }
}
