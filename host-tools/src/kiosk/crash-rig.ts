import { fork } from "child_process";
import * as path from "path";
import { readU32LE } from "../../../firmware/src/protocol/bytes";
import { crc8 } from "../../../firmware/src/protocol/record";
import { createNobleBindings } from "../sim/noble-bindings";
import type { EspruinoDevice } from "../sim/device";
import type { World } from "../sim/world";
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
