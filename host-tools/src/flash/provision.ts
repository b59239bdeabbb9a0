import { storagePlan } from "../boards/storage";
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { crc32 } from "zlib";
import { encodeProvisioning, PROVISIONING_FILE, readProvisioning } from "../../../firmware/src/protocol/provisioning";
import { BoardProfile } from "../boards/profile";
import { Deployment, provisioningFor } from "./deployment";
import { ConsoleError, EspruinoConsole, ProgressHook } from "./espruino-tools";
import { HealthCheck, HealthReport } from "./health";
import { BandRecord, RegistryError, RegistrySink } from "./registry";

/**
 * Flashing and provisioning one band over its console (docs/flashing.md). The order makes an interruption at any
 * point safe: the firmware goes first and the provisioning record last, each verified by its CRC-32 read back
 * from the band (`E.CRC32`); a band without a valid record is unprovisioned (it only sends the zero-token
 * discovery advert) and the next attempt starts over. The band is registered only once both files verified, and
 * restarted only once registered: a registry that cannot be written leaves the band unprovisioned again.
 */

/** The oldest Espruino the firmware runs on (its Storage, NRF and crypto calls; docs/flashing.md). */
export const MIN_ESPRUINO = "2v29";

export type StepName = "connect" | "identify" | "wipe" | "firmware" | "provision" | "register" | "restart" | "health";

export const STEP_TITLES: Record<StepName, string> = {
  connect: "Connecting",
  identify: "Identifying the device",
  wipe: "Wiping the old band",
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
  /** Bytes Tracelet's own files hold (freed by a wipe or replaced by the new ones). */
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
    if (!accepted.includes(env.BOARD))
      throw new FlashError(
        `the device on ${o.port} is a ${env.BOARD}, not a ${o.board.name} (${o.board.espruinoBoard}): pick --board to match it`,
        "board",
      );
    if (!(versionNumber(env.VERSION) >= versionNumber(MIN_ESPRUINO)))
      throw new FlashError(
        `the device runs Espruino ${env.VERSION}; Tracelet needs ${MIN_ESPRUINO} or later: update its Espruino firmware first (docs/flashing.md)`,
        "board",
      );
    const info = await inspect(con);
    const provisioned = info.prov !== null && readProvisioning(Buffer.from(info.prov, "hex")) !== undefined;
    if (provisioned && !o.force) {
      const id = info.prov!.slice(8, 24);
      throw new FlashError(
        `the device on ${o.port} is already provisioned as band ${id}: use --force to wipe it (its identity and unsynced log are lost)`,
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
    "l.forEach(function(f){if(f=='.bootcde'||f=='.bootrst'||f.substr(0,3)=='tl.')o+=(S.read(f)||'').length;});" +
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
