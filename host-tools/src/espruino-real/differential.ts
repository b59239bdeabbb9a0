import * as path from "path";
import { readU32LE } from "../../../firmware/src/protocol/bytes";
import { pureCrypto } from "../../../firmware/src/protocol/crypto";
import { encodeProvisioning, Provisioning } from "../../../firmware/src/protocol/provisioning";
import {
  decodeDiscoveryAdvert,
  decodeStatus,
  encodeReadCommand,
  KioskEvent,
  KioskSession,
  matchDiscovery,
  OP_ACK,
  OP_ACK_OK,
  OP_READ,
  OP_READ_END,
  OP_SET_TIME,
  OP_STATUS,
  OP_STATUS_REPLY,
  OP_TIME_OK,
  SYNC_CONTROL_UUID,
  SYNC_RESPONSE_UUID,
  SYNC_SERVICE_UUID,
  u32Payload,
} from "../../../firmware/src/protocol/sync";
import { loadBoard } from "../boards/load";
import { ROOT } from "../build/paths";
import { EspruinoDevice } from "../sim/device";
import { Link } from "../sim/gatt";
import { Rng } from "../sim/rng";
import { World } from "../sim/world";
import { RealBand } from "./band";
import { hwRandSeed, testProvisioning } from "./scenario";

/**
 * Issue 10 item 2: the simulator against the real Espruino interpreter on one scripted day. The same production
 * bundle, provisioning record, E.hwRand and Math.random streams (raw sfc32 state: Rng.fromState in the simulator,
 * board-shim.js in the interpreter), clock steps, scan reports and kiosk syncs drive both; each side is recorded as a
 * `Trace`: every Storage file the band has (name and bytes), what went on air (time, address, payload), and each
 * sync's transcript (every frame each way). `compareTraces` lists every difference.
 *
 * The script never reads a side's state to decide what the other gets: scan reports are a function of the scan
 * window's index and the report's place in it (delivered 0.1 s after the window opened, then every 0.25 s while it
 * is open), syncs start at scripted times and scan reports pause for a minute around them. The real interpreter runs
 * JavaScript in no virtual time, so the simulator runs with `cpuClock: false` here (its CPU time model would move the
 * band's clock by milliseconds inside callbacks: a flash write, a crypto call); the harness's GATT is immediate, the
 * simulator's link takes connection events (0.1 ms apart here). What went on air is compared with its times within
 * `TIME_TOLERANCE_S` (measured: within 6.5-19 ms on the five boards, from the simulated link's latency around
 * syncs; the kiosk writes on a fixed grid and lets go at a scripted time so that it does not grow); a STATUS
 * reply's band time within `STATUS_TIME_TOLERANCE_S`; everything else exactly.
 * Changes within one instant are not compared (see `airChanges`), nor Storage's layout (the emulator's flash is
 * the Bangle.js 2's 8 MB, with its own files): each file's name and bytes are.
 */

export const TIME_TOLERANCE_S = 0.25;

/** The kiosk disconnects this long after a sync's scripted start (its reads take 1-3 s; the band's watch is 15 s). */
const SYNC_HOLD_S = 8;
/** The kiosk's writes go out on this grid from the connection. */
const SEND_EVERY_S = 0.1;

/**
 * A STATUS reply carries the band's clock (whole seconds) read when the command arrives: the simulator's GATT link
 * delivers a command a connection event or two after the harness's immediate one, so the second may tick over on
 * one side only (seen with 7.5 ms events; not with 0.1 ms). Only that field may differ, by at most 1 s (the
 * encrypted frame then differs too).
 */
export const STATUS_TIME_TOLERANCE_S = 1;

/** Two decrypted band frames ("op payload", hex) that are the same STATUS reply but for its band time, within 1 s. */
function statusWithin(a: string, b: string): boolean {
  if (!a.startsWith("90 ") || !b.startsWith("90 ") || a.length !== b.length) return false;
  const x = Buffer.from(a.slice(3), "hex");
  const y = Buffer.from(b.slice(3), "hex");
  if (x.length < 8) return false;
  for (let i = 0; i < x.length; i++) if ((i < 4 || i > 7) && x[i] !== y[i]) return false;
  return Math.abs(x.readUInt32LE(4) - y.readUInt32LE(4)) <= STATUS_TIME_TOLERANCE_S;
}

export interface AirEvent {
  /** Unix seconds. */
  t: number;
  address: string;
  /** The advert payload (hex), "-" when nothing goes out. */
  data: string;
  connectable: boolean;
  intervalMs: number;
}

export interface SyncTrace {
  t: number;
  address?: string;
  /** Every frame: "k" kiosk to band (a write), "b" band to kiosk (a notification); hex. */
  frames: string[];
  /** When the band saw the link come up and go down (unix seconds). */
  up?: number;
  down?: number;
  /** The band's frames as the kiosk decrypted them: op and payload (hex). */
  plain: string[];
  /** E.getBattery() when the sync started (the simulator's; the real interpreter's board shim is told it). */
  battery?: number;
  acked?: number;
  error?: string;
}

export interface Trace {
  side: "sim" | "real";
  /** The band's Storage: every file but the harness's own (the real interpreter's board shim, the emulator's). */
  files: Record<string, Uint8Array>;
  air: AirEvent[];
  syncs: SyncTrace[];
  errors: string[];
  scanWindows: number;
  reports: number;
  /** The battery at every scan window's opening and sync's start (the simulator's model: both sides run on it). */
  battery: [number, number][];
}

export interface DifferentialOptions {
  board: string;
  hours: number;
  /** Unix seconds of each sync's start, from the script's start. */
  syncAtHours: number[];
  beacons?: number;
  seed?: number;
  bundlePath?: string;
  /** Test hook: the simulator's band after boot (e.g. to perturb a Storage write and see the test fail). */
  onSimBoot?: (band: EspruinoDevice) => void;
}

/** One side of the comparison: the simulator's band or the real interpreter's. */
interface Side {
  now(): number;
  runUntil(unix: number, stop?: () => boolean): Promise<void>;
  scanning(): boolean;
  report(data: Uint8Array, rssi: number, address: string): void;
  air(): AirEvent[];
  connect(address: string, onNotify: (f: Uint8Array) => void): Promise<boolean>;
  write(data: Uint8Array): Promise<void>;
  disconnect(): Promise<void>;
  connected(): boolean;
  files(): Record<string, Uint8Array>;
  errors(): string[];
  /**
   * The battery: the simulator's model reads it ([E.getBattery() percent, NRF.getBattery() volts]); the real
   * interpreter's board shim, which has no energy model, is set to the simulator's reading at the same point.
   */
  battery(set?: [number, number]): [number, number];
  /** When the band last saw a link come up and go down. */
  link(): { up?: number; down?: number };
}

const START = Date.UTC(2026, 0, 5) / 1000;
/** The simulated kiosk central's name; its address is given to the real band's connect event too. */
const KIOSK_ADDRESS_LABEL = "kiosk";

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString("hex");
}

interface Seeds {
  prov: Provisioning;
  hw: [number, number, number, number];
  math: [number, number, number, number];
}

function seeds(board: string, seed: number): Seeds {
  const rng = new Rng(`differential:${board}:${seed}`);
  return {
    prov: testProvisioning(rng.fork("prov"), START),
    hw: hwRandSeed(rng.fork("hwRand")),
    math: hwRandSeed(rng.fork("Math.random")),
  };
}

// ------------------------------------------------------------------------------------------ the simulator's side

function simSide(opts: DifferentialOptions, s: Seeds, powerOnAt: number): { side: Side; kiosk: string } {
  const world = new World({ seed: opts.seed ?? 1, startUnix: START });
  const band = world.addBand({
    powerOn: false,
    board: opts.board,
    bundlePath: opts.bundlePath ?? path.join(ROOT, "dist", opts.board, "tracelet.js"),
    position: { x: 0, y: 0 },
    provisioning: { "tl.prov": encodeProvisioning(s.prov) },
    driftPpm: 0,
    hwRandState: s.hw,
    mathRandomState: s.math,
    // The real interpreter runs JavaScript in no virtual time: so does the simulator here.
    cpuClock: false,
    restartClockLossSeconds: 0,
  });
  const air: AirEvent[] = [];
  const record = () => {
    const a = band.nrf.advert();
    air.push({
      t: START + world.now,
      address: a ? a.address : band.nrf.address,
      data: a ? hex(a.packets[0]) : "-",
      connectable: a ? a.connectable : false,
      intervalMs: a ? a.intervalMs : 0,
    });
  };
  const changed = world.advertChanged.bind(world);
  world.advertChanged = (a) => {
    changed(a);
    if (a === band.nrf) record();
  };
  // Powered on when the real interpreter's band is (after the emulator's own start-up), its clock set to that time.
  world.scheduler.at(powerOnAt - START, () => {
    band.powerOn(powerOnAt);
    opts.onSimBoot?.(band);
  });
  // The harness's GATT is immediate (a write runs the band's onWrite at once, a notification reaches the kiosk as it
  // is sent): the simulator's link as near that as its model goes, a connection event every 0.1 ms and no loss, so
  // that a command reaches the band within a millisecond of the time it reaches the real one.
  const central = world.central({
    position: { x: 0.5, y: 0 },
    name: KIOSK_ADDRESS_LABEL,
    packetLoss: 0,
    connectionInterval: 0.0001,
  });
  let link: Link | undefined;
  const step = async (until: number, stop?: () => boolean, host = false) => {
    const t = until - START;
    if (host) await world.runAsync(t);
    else {
      while (world.scheduler.step(t)) if (stop && stop()) return;
      if (world.scheduler.now < t) world.scheduler.now = t;
    }
  };
  const times: { up?: number; down?: number } = {};
  const nrf = band.nrf as unknown as { connected: (l: Link) => void; disconnected: (r: number) => void };
  const up = nrf.connected.bind(nrf);
  const down = nrf.disconnected.bind(nrf);
  nrf.connected = (l) => {
    times.up = START + world.now;
    up(l);
  };
  nrf.disconnected = (r) => {
    times.down = START + world.now;
    down(r);
  };
  const side: Side = {
    link: () => times,
    now: () => START + world.now,
    runUntil: (unix, stop) => step(unix, stop, link !== undefined),
    scanning: () => band.on && band.nrf.scanning,
    report: (data, rssi, address) => band.nrf.injectScanReport(data, rssi, address),
    air: () => air,
    connect: async (address, onNotify) => {
      link = await world.until(central.connect(address, { timeoutS: 5 }));
      await world.until(link.subscribe(SYNC_SERVICE_UUID, SYNC_RESPONSE_UUID, onNotify));
      return true;
    },
    write: async (data) => {
      if (link) await world.until(link.write(SYNC_SERVICE_UUID, SYNC_CONTROL_UUID, data));
    },
    disconnect: async () => {
      if (link) await world.until(link.disconnect());
      link = undefined;
    },
    connected: () => band.nrf.link !== undefined,
    files: () => {
      const out: Record<string, Uint8Array> = {};
      for (const f of band.storage.files()) out[f.name] = f.data;
      return out;
    },
    errors: () => band.faults.map((f) => `${f.kind}: ${f.message}`),
    battery: () => [Math.max(0, Math.min(100, Math.round(band.batteryFraction() * 100))), band.batteryVolts()],
  };
  return { side, kiosk: central.address };
}

// ------------------------------------------------------------------------------------------ the real interpreter's

/** The files the harness itself puts in the real interpreter's Storage: the board shim. */
const HARNESS_FILES = [".boot0"];

async function realBand(opts: DifferentialOptions, s: Seeds): Promise<{ band: RealBand; emulatorFiles: Set<string> }> {
  const before = await RealBand.boot({ board: opts.board, startUnix: START, seed: s.hw, blank: true });
  // The Bangle.js 2 emulator writes its own default files into an erased flash: they are not the band's.
  const emulatorFiles = new Set(before.interp.list());
  const band = await RealBand.boot({
    board: opts.board,
    bundlePath: opts.bundlePath,
    files: { "tl.prov": encodeProvisioning(s.prov) },
    startUnix: START,
    seed: s.hw,
    mathSeed: s.math,
    // A full battery, as the simulator's band starts with.
    batteryPercent: 100,
    batteryVolts: loadBoard(opts.board).battery.fullVolts ?? 3.0,
  });
  return { band, emulatorFiles };
}

function realSide(band: RealBand, emulatorFiles: Set<string>, kiosk: () => string): Side {
  const times: { up?: number; down?: number } = {};
  return {
    link: () => times,
    now: () => band.now,
    runUntil: async (unix, stop) => band.interp.runUntil(unix * 1000, stop),
    scanning: () => band.scanning,
    report: (data, rssi, address) => band.scanReport(data, rssi, address),
    air: () =>
      band.adverts.map((a) => ({
        t: a.t,
        address: a.address,
        data: a.data ? hex(a.data) : "-",
        connectable: a.data ? a.connectable : false,
        intervalMs: a.data ? a.intervalMs : 0,
      })),
    connect: async (_address, onNotify) => {
      times.up = band.now;
      band.connect(kiosk(), onNotify);
      return true;
    },
    write: async (data) => band.write(data),
    disconnect: async () => {
      times.down = band.now;
      band.disconnect();
    },
    connected: () => band.connected,
    files: () => {
      const out: Record<string, Uint8Array> = {};
      for (const n of band.interp.list().sort()) {
        if (HARNESS_FILES.includes(n) || (emulatorFiles.has(n) && n !== ".bootcde")) continue;
        const b = band.readFile(n);
        if (b) out[n] = b;
      }
      return out;
    },
    errors: () => band.errors.slice(),
    battery: (set) => {
      if (set) band.interp.exec(`__T.c.percent=${set[0]};__T.c.volts=${set[1]}`);
      return set ?? [0, 0];
    },
  };
}

// ------------------------------------------------------------------------------------------ the script

interface Beacon {
  address: string;
  rssi: number;
  /** The packet changes every `period` scan windows, from window `phase` on. */
  period: number;
  phase: number;
}

function beacons(n: number): Beacon[] {
  const r = new Rng("differential:beacons");
  const out: Beacon[] = [];
  for (let i = 0; i < n; i++) {
    const b = r.bytes(6);
    b[0] = i % 2 === 0 ? b[0] | 0xc0 : (b[0] & 0x3f) | 0x40;
    out.push({
      address: Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(":") + " random",
      rssi: -50 - r.int(0, 35),
      period: 2 + r.int(0, 3),
      phase: r.int(0, 4),
    });
  }
  return out;
}

/** The reports of report slot `k` of scan window `w`: a function of (w, k) alone. */
function batch(list: Beacon[], w: number, k: number): { data: Uint8Array; rssi: number; address: string }[] {
  const r = new Rng(`differential:batch:${w}:${k}`);
  const out: { data: Uint8Array; rssi: number; address: string }[] = [];
  list.forEach((b, i) => {
    const heard = r.chance(0.85);
    const jitter = r.int(-4, 4);
    if (!heard) return;
    const epoch = Math.floor((w + b.phase) / b.period);
    const p = new Rng(`differential:packet:${i}:${epoch}`).bytes(20);
    const data = new Uint8Array([2, 1, 0x1a, 3, 3, 0x6f, 0xfd, 23, 0x16, 0x6f, 0xfd, ...p]);
    out.push({ data, rssi: b.rssi + jitter, address: b.address });
  });
  return out;
}

/**
 * One kiosk sync. `replay`: the simulator's sync, whose link timing the real side takes (the harness's GATT has
 * none of its own): the link comes up at the simulator's instant, and goes down at a scripted one. Otherwise a link that comes up a
 * few milliseconds earlier on one side shifts the duties it restarts (discovery bursts) against the others (scan
 * windows), two timers due close together swap, their Math.random draws swap, and the two runs part.
 */
async function kioskSync(side: Side, syncKey: Uint8Array, rng: Rng, replay?: SyncTrace): Promise<SyncTrace> {
  const trace: SyncTrace = { t: side.now(), frames: [], plain: [] };
  // Find the band as a kiosk does: its connectable discovery advert on air, matching the sync key.
  const deadline = side.now() + 120;
  while (side.now() < deadline && !trace.address) {
    const air = side.air();
    const a = air[air.length - 1];
    if (a && a.connectable && a.data !== "-") {
      const d = decodeDiscoveryAdvert(Uint8Array.from(Buffer.from(a.data, "hex")));
      if (d.ok && matchDiscovery(pureCrypto, [syncKey], d.value) === 0) trace.address = a.address;
    }
    if (!trace.address) await side.runUntil(side.now() + 0.02);
  }
  if (!trace.address) {
    trace.error = "no discovery advert";
    return trace;
  }
  const session = new KioskSession(
    pureCrypto,
    syncKey,
    (n) => rng.bytes(n),
    () => side.now() * 1000,
  );
  const events: KioskEvent[] = [];
  const pending: Uint8Array[] = [];
  // The kiosk writes on a grid, SEND_EVERY_S apart from the connection (a reply takes under a millisecond on
  // either side): a write reaches both bands at the same instant, whatever each link's latency.
  let sent = 0;
  let linkedAt = 0;
  const send = async (data: Uint8Array) => {
    await side.runUntil(Math.max(side.now(), linkedAt + SEND_EVERY_S * ++sent));
    trace.frames.push("k " + hex(data));
    await side.write(data);
  };
  if (replay?.up !== undefined) await side.runUntil(replay.up);
  linkedAt = side.now();
  await side.connect(trace.address, (f) => {
    trace.frames.push("b " + hex(f));
    const e = session.receive(f);
    if (e.type === "frame") trace.plain.push(e.op.toString(16) + " " + hex(e.payload));
    events.push(e);
    if (e.type === "write") pending.push(e.data);
  });
  const waitFor = async (pred: (e: KioskEvent) => boolean, seconds = 10) => {
    const end = side.now() + seconds;
    for (;;) {
      while (pending.length) await send(pending.shift() as Uint8Array);
      const e = events.find(pred);
      if (e || side.now() >= end || !side.connected()) return e;
      await side.runUntil(side.now() + 0.02);
    }
  };
  const command = async (op: number, payload: Uint8Array, reply: number) => {
    events.length = 0;
    await send(session.command(op, payload));
    await waitFor((e) => (e.type === "frame" && e.op === reply) || e.type === "error");
    return events.filter((e): e is Extract<KioskEvent, { type: "frame" }> => e.type === "frame");
  };
  try {
    await send(session.begin());
    await waitFor((e) => e.type === "authenticated" || e.type === "error" || e.type === "invalid");
    if (!session.authenticated) throw new Error("authentication failed");
    const status = async () => {
      const f = (await command(OP_STATUS, new Uint8Array(0), OP_STATUS_REPLY)).find((x) => x.op === OP_STATUS_REPLY);
      const s = f && decodeStatus(f.payload);
      if (!s || !s.ok) throw new Error("no STATUS reply");
      return s.value;
    };
    await status();
    // The kiosk's clock: the scripted sync time (whole seconds), the same on both sides.
    await command(OP_SET_TIME, u32Payload(Math.floor(trace.t)), OP_TIME_OK);
    const st = await status();
    let c = st.logStart;
    for (let page = 0; page < 200 && c < st.logEnd; page++) {
      const frames = await command(OP_READ, encodeReadCommand(c, 32), OP_READ_END);
      const end = frames.find((f) => f.op === OP_READ_END);
      if (!end || end.payload.length < 4) break;
      const next = readU32LE(end.payload, 0);
      if (next === c) break;
      c = next;
    }
    const ack = (await command(OP_ACK, u32Payload(c), OP_ACK_OK)).find((x) => x.op === OP_ACK_OK);
    if (ack) trace.acked = readU32LE(ack.payload, 0);
  } catch (e) {
    trace.error = (e as Error).message;
  } finally {
    // The kiosk lets go at a scripted time on both sides, not as soon as its last reply came (which the two
    // links deliver tens of milliseconds apart): the band restarts its duties at the disconnect.
    await side.runUntil(Math.max(side.now(), trace.t + SYNC_HOLD_S));
    await side.disconnect();
    trace.up = side.link().up;
    trace.down = side.link().down;
  }
  return trace;
}

async function script(
  side: Side,
  opts: DifferentialOptions,
  s: Seeds,
  name: "sim" | "real",
  batteryFrom?: [number, number][],
  syncsFrom?: SyncTrace[],
): Promise<Trace> {
  const list = beacons(opts.beacons ?? 20);
  const end = START + opts.hours * 3600;
  const syncs = opts.syncAtHours.map((h) => START + Math.round(h * 3600));
  const trace: Trace = {
    side: name,
    files: {},
    air: [],
    syncs: [],
    errors: [],
    scanWindows: 0,
    reports: 0,
    battery: [],
  };
  const checkpoint = () => {
    const b = batteryFrom ? batteryFrom[trace.battery.length] : undefined;
    trace.battery.push(side.battery(b));
  };
  let w = 0;
  while (side.now() < end) {
    if (syncs.length && side.now() >= syncs[0]) {
      const at = syncs.shift() as number;
      checkpoint();
      const replay = syncsFrom ? syncsFrom[trace.syncs.length] : undefined;
      trace.syncs.push(await kioskSync(side, s.prov.syncKey, new Rng(`differential:kiosk:${at}`), replay));
      // No scan reports for a minute around a sync (its length differs a little between the two sides).
      await side.runUntil(at + 60);
      continue;
    }
    const limit = Math.min(end, syncs.length ? syncs[0] : Infinity);
    if (!side.scanning()) await side.runUntil(limit, () => side.scanning());
    if (!side.scanning() || side.now() >= limit) continue;
    const opened = side.now();
    checkpoint();
    w++;
    trace.scanWindows++;
    for (let k = 0; ; k++) {
      await side.runUntil(opened + 0.1 + 0.25 * k);
      if (!side.scanning()) break;
      for (const r of batch(list, w, k)) {
        side.report(r.data, r.rssi, r.address);
        trace.reports++;
      }
    }
  }
  trace.air = side.air().slice();
  trace.files = side.files();
  trace.errors = side.errors();
  return trace;
}

/** Runs the script on the simulator, then on the real interpreter. */
export async function runDifferential(opts: DifferentialOptions): Promise<{ sim: Trace; real: Trace }> {
  const s = seeds(opts.board, opts.seed ?? 1);
  const r = await realBand(opts, s);
  const { side: simS, kiosk } = simSide(opts, s, r.band.powerOnAt);
  const sim = await script(simS, opts, s, "sim");
  const real = await script(
    realSide(r.band, r.emulatorFiles, () => kiosk),
    opts,
    s,
    "real",
    sim.battery,
    sim.syncs,
  );
  return { sim, real };
}

/**
 * What is on air after each instant: changes within one instant (one callback) merged into the last, then
 * consecutive states that are the same merged into the first. Within an instant the two sides differ only at
 * power-on: the simulator's stack advertises Espruino's default advert (the board name, from its factory address)
 * until the bundle's first lines change it in the same instant; the board shim has no factory address.
 */
export function airChanges(air: AirEvent[]): AirEvent[] {
  const out: AirEvent[] = [];
  for (let i = 0; i < air.length; i++) {
    const a = air[i];
    if (i + 1 < air.length && air[i + 1].t === a.t) continue;
    const p = out[out.length - 1];
    if (
      p &&
      p.address === a.address &&
      p.data === a.data &&
      p.connectable === a.connectable &&
      p.intervalMs === a.intervalMs
    )
      continue;
    out.push(a);
  }
  return out;
}

/** Every difference between the two traces, one line each (empty: identical within TIME_TOLERANCE_S). */
export function compareTraces(sim: Trace, real: Trace, limit = 20): string[] {
  const d: string[] = [];
  const names = new Set([...Object.keys(sim.files), ...Object.keys(real.files)]);
  for (const n of [...names].sort()) {
    const a = sim.files[n];
    const b = real.files[n];
    if (!a || !b) d.push(`file ${n}: only in ${a ? "sim" : "real"}`);
    else if (Buffer.compare(Buffer.from(a), Buffer.from(b)) !== 0) {
      let i = 0;
      while (i < a.length && i < b.length && a[i] === b[i]) i++;
      d.push(
        `file ${n}: sim ${a.length} bytes, real ${b.length}; first difference at byte ${i}: sim ` +
          `${hex(a.subarray(i, i + 12))} real ${hex(b.subarray(i, i + 12))}`,
      );
    }
  }
  const sa = airChanges(sim.air);
  const ra = airChanges(real.air);
  const fmt = (a: AirEvent) =>
    `${(a.t - START).toFixed(3)} ${a.address} ${a.connectable ? "C" : "N"}${a.intervalMs} ${a.data}`;
  let airDiffs = 0;
  for (let i = 0; i < Math.max(sa.length, ra.length) && airDiffs < limit; i++) {
    const a = sa[i];
    const b = ra[i];
    if (
      !a ||
      !b ||
      a.address !== b.address ||
      a.data !== b.data ||
      a.connectable !== b.connectable ||
      a.intervalMs !== b.intervalMs ||
      Math.abs(a.t - b.t) > TIME_TOLERANCE_S
    ) {
      d.push(`air #${i}: sim ${a ? fmt(a) : "(none)"} | real ${b ? fmt(b) : "(none)"}`);
      airDiffs++;
    }
  }
  if (sa.length !== ra.length) d.push(`air: sim ${sa.length} changes, real ${ra.length}`);
  for (let i = 0; i < Math.max(sim.syncs.length, real.syncs.length); i++) {
    const a = sim.syncs[i];
    const b = real.syncs[i];
    if (!a || !b) {
      d.push(`sync ${i}: only in ${a ? "sim" : "real"}`);
      continue;
    }
    if (a.address !== b.address) d.push(`sync ${i}: address sim ${a.address} real ${b.address}`);
    if (a.error !== b.error) d.push(`sync ${i}: error sim ${a.error} real ${b.error}`);
    if (a.frames.length !== b.frames.length)
      d.push(`sync ${i}: sim ${a.frames.length} frames, real ${b.frames.length}`);
    for (let j = 0; j < Math.max(a.frames.length, b.frames.length); j++) {
      const fa = a.frames[j] ?? "";
      const fb = b.frames[j] ?? "";
      // A STATUS reply may differ where its plaintext differs only as STATUS_TIME_TOLERANCE_S allows (checked below).
      if (fa === fb || (fa.startsWith("b 90") && fb.startsWith("b 90") && fa.length === fb.length)) continue;
      d.push(`sync ${i} frame ${j}: sim ${fa} | real ${fb}`);
      break;
    }
    for (let j = 0; j < Math.max(a.plain.length, b.plain.length); j++) {
      const pa = a.plain[j] ?? "";
      const pb = b.plain[j] ?? "";
      if (pa === pb || statusWithin(pa, pb)) continue;
      d.push(`sync ${i} band frame ${j} (decrypted): sim ${pa} | real ${pb}`);
      break;
    }
  }
  if (sim.scanWindows !== real.scanWindows || sim.reports !== real.reports)
    d.push(`scan: sim ${sim.scanWindows} windows ${sim.reports} reports, real ${real.scanWindows} ${real.reports}`);
  return d;
}
