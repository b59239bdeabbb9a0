import * as fs from "fs";
import * as vm from "vm";
import { decodeBeacon } from "../../../firmware/src/protocol/advert";
import { RECORD_ID_BYTES } from "../../../firmware/src/protocol/record";
import { loadBoard } from "../boards/load";
import { BoardProfile } from "../boards/profile";
import { hex, toBytes } from "./bytes";
import { DeviceOptions, EspruinoDevice, Fault } from "./device";
import { Central, CentralOptions } from "./gatt";
import { HostileBeacon, HostileOptions } from "./hostile";
import { instrumentScopes } from "./jsvars";
import { Phone, PhoneOptions } from "./phones";
import { environment, RadioEnvironment, RadioMedium, RadioNode } from "./radio";
import { Rng } from "./rng";
import { Scheduler } from "./scheduler";
import { StorageError } from "./storage";

/** What a transmitter is sending right now. */
export interface AdvertState {
  /** Packets sent in turn (Espruino's array of adverts); usually one. */
  packets: Uint8Array[];
  intervalMs: number;
  connectable: boolean;
  scannable: boolean;
  address: string;
  /** World time this advertising configuration started (phase of its events). */
  since: number;
  scanResponse?: Uint8Array;
}

export interface Advertiser extends RadioNode {
  readonly label: string;
  advert(): AdvertState | undefined;
  /** Changes whenever the advert changes; stale queued deliveries are dropped. */
  advVersion: number;
}

export interface RxPacket {
  t: number;
  data: Uint8Array;
  address: string;
  rssi: number;
  connectable: boolean;
  scannable: boolean;
  scanResponse: boolean;
  from: Advertiser;
}

export interface Scanner {
  node: RadioNode;
  /** Share of time the receiver listens (window / interval). */
  duty: number;
  active: boolean;
  alive(): boolean;
  receive(p: RxPacket): void;
  /** Queues the delivery (devices route packets through their input FIFO). */
  enqueue?(t: number, run: () => void): void;
}

export interface WorldOptions {
  /** Everything random derives from this (default 1). */
  seed?: number | string;
  /** Radio environment preset ("indoor", "dublin-tram", "open-air") or parameters. */
  environment?: string | RadioEnvironment;
  /** Unix time of world time 0 (default 2026-01-01T00:00:00Z). */
  startUnix?: number;
  /** Deliver packets longer than 31 bytes (hostile "oversize" beacons) to scanners (default true). */
  deliverOversize?: boolean;
  /** Length of a radio scheduling slice, seconds (default 1). */
  sliceSeconds?: number;
  /** Called for every device fault; throw from it to stop the run at the first fault (tests). */
  onFault?: (f: Fault) => void;
}

/** Who sent an Exposure Notification RPI or Bluezone id (first 8 bytes, hex), for ground truth. */
export interface IdOwner {
  owner: string;
  kind: "en" | "bluezone";
  /** World time the owner first started sending it. */
  firstSeen: number;
  /** World time the owner last started sending it (an id can come back, e.g. between discovery bursts). */
  lastSeen: number;
}

interface ScanState {
  scanner: Scanner;
  sliceEnd: number;
  collision: number;
}

const AIRTIME_S = 0.000376;

/**
 * The simulated world: a virtual clock and event queue, the radio medium, bands (virtual Espruino devices
 * running the flashed bundle), phones, hostile beacons and centrals (kiosks). Deterministic for a seed.
 *
 * Advertising is not simulated packet by packet when nobody listens: while a scanner's window is open, each slice
 * (1 s) schedules the advertising events of every transmitter in range that fall into it (advertiser phase +
 * k * (interval + 5 ms mean advDelay) + jitter), each received with probability window/interval (the scanner's
 * duty), then lost to collisions (1 - exp(-2 * airtime * packet rate of everyone in range)), to `baseLoss`, or
 * to the signal falling below sensitivity. A transmitter that changes its advert mid-slice is rescheduled at once.
 */
export class World {
  readonly scheduler = new Scheduler();
  readonly rng: Rng;
  readonly medium: RadioMedium;
  readonly startUnix: number;
  readonly devices: EspruinoDevice[] = [];
  readonly phones: Phone[] = [];
  readonly hostiles: HostileBeacon[] = [];
  readonly centrals: Central[] = [];
  readonly faults: Fault[] = [];
  readonly idOwners = new Map<string, IdOwner>();
  /** Called for every packet a scanner receives (reports trace chosen pairs through this), with its payload and address. */
  packetTap:
    | ((
        scanner: RadioNode,
        from: Advertiser,
        rssi: number,
        t: number,
        p: { data: Uint8Array; address: string },
      ) => void)
    | undefined;
  readonly options: WorldOptions;
  private advertisers: Advertiser[] = [];
  private scans = new Map<Scanner, ScanState>();
  private radioRng: Rng;
  private scripts = new Map<string, vm.Script>();
  private decoded = new Map<string, string>();
  private recentPackets = new WeakMap<Advertiser, Uint8Array[]>();
  private radioCounter = 0;
  private hostTouched = false;
  private realtime: NodeJS.Timeout | undefined;

  constructor(opts: WorldOptions = {}) {
    this.options = opts;
    this.rng = new Rng(opts.seed ?? 1);
    this.radioRng = this.rng.fork("radio");
    this.medium = new RadioMedium(environment(opts.environment), this.rng.fork("medium"));
    this.startUnix = opts.startUnix ?? 1767225600;
  }

  /** World time, seconds since the start. */
  get now(): number {
    return this.scheduler.now;
  }

  unixNow(): number {
    return this.startUnix + this.now;
  }

  nextRadioIndex(): number {
    return this.radioCounter++;
  }

  // ------------------------------------------------------------------------------------------ population

  /**
   * Adds a band: writes `provisioning` files and the bundle (as ".bootcde") into its Storage, as the flasher does,
   * then powers it on (unless `powerOn: false`).
   */
  addBand(opts: DeviceOptions): EspruinoDevice {
    const board: BoardProfile = typeof opts.board === "string" ? loadBoard(opts.board) : opts.board;
    const d = new EspruinoDevice(this, board, opts);
    this.devices.push(d);
    this.advertisers.push(d.nrf);
    for (const [name, content] of Object.entries(opts.provisioning ?? {})) {
      const b = toBytes(content);
      try {
        d.storage.write(name, b, 0, 0);
      } catch (e) {
        throw new Error(
          `cannot write provisioning file ${name} (${b.length} bytes) to ${d.name}: ${(e as Error).message}`,
        );
      }
    }
    const source = opts.bundleSource ?? (opts.bundlePath ? fs.readFileSync(opts.bundlePath, "latin1") : undefined);
    if (source !== undefined) {
      try {
        d.storage.write(".bootcde", toBytes(source), 0, 0);
      } catch (e) {
        const why = e instanceof StorageError ? e.message : String(e);
        throw new Error(
          `bundle of ${source.length} bytes does not fit in ${board.id} Storage (${d.storage.getFree()} bytes free): ${why}`,
        );
      }
    }
    if (opts.powerOn !== false) d.powerOn(opts.clock);
    return d;
  }

  addPhone(opts: PhoneOptions): Phone {
    const p = new Phone(this, opts);
    this.phones.push(p);
    this.advertisers.push(p);
    return p;
  }

  addHostile(opts: HostileOptions): HostileBeacon {
    const h = new HostileBeacon(this, opts);
    this.hostiles.push(h);
    this.advertisers.push(h);
    return h;
  }

  /** A BLE central (kiosk adapter) at a position. */
  central(opts: CentralOptions = {}): Central {
    const c = new Central(this, opts);
    this.centrals.push(c);
    return c;
  }

  /** The advertiser currently using this address ("aa:bb:..", case-insensitive, type suffix ignored). */
  findAdvertiser(address: string): Advertiser | undefined {
    const want = address.split(" ")[0].toLowerCase();
    for (const a of this.advertisers) {
      const st = a.advert();
      if (st && st.address.split(" ")[0].toLowerCase() === want) return a;
    }
    return undefined;
  }

  // ------------------------------------------------------------------------------------------ code

  /** Compiles (once per distinct source) boot code, instrumented for the JsVars estimate. */
  compile(source: string, filename: string): vm.Script {
    let s = this.scripts.get(source);
    if (!s) {
      const boot = /\/\.boot(cde|rst|\d)$/.test(filename);
      s = new vm.Script(boot ? instrumentScopes(source) : source, { filename: filename.replace(/^[^/]*\//, "") });
      if (this.scripts.size > 256) this.scripts.clear();
      this.scripts.set(source, s);
    }
    return s;
  }

  reportFault(f: Fault): void {
    this.faults.push(f);
    if (this.options.onFault) this.options.onFault(f);
  }

  /** Host code (noble bindings, centrals) has something to react to: async runners yield to it. */
  touchHost(): void {
    this.hostTouched = true;
  }

  // ------------------------------------------------------------------------------------------ radio

  startScan(s: Scanner): void {
    const st: ScanState = { scanner: s, sliceEnd: this.now, collision: 0 };
    this.scans.set(s, st);
    this.slice(st);
  }

  stopScan(s: Scanner): void {
    this.scans.delete(s);
  }

  /** An advertiser changed what it sends: reschedule it for every open slice, record its ids. */
  advertChanged(a: Advertiser): void {
    const st = a.advert();
    if (st) this.recordIds(a, st);
    for (const s of this.scans.values()) {
      if (s.sliceEnd > this.now && s.scanner.alive()) this.scheduleAdvertiser(s, a, this.now, s.sliceEnd);
    }
  }

  /**
   * One advertising event of `st` now, whatever `a` sends by the time it arrives: the first event of a stack that has
   * just (re)started advertising, which goes out before the program can change the advert (nrf.ts, setAddress).
   */
  advertiseOnce(a: Advertiser, st: AdvertState): void {
    this.recordIds(a, st);
    for (const s of this.scans.values()) {
      if (!(s.sliceEnd > this.now) || !s.scanner.alive() || a.radioIndex === s.scanner.node.radioIndex) continue;
      if (this.radioRng.next() >= s.scanner.duty) continue;
      const run = () => {
        if (s.scanner.alive()) this.receive(s, a, st, st.packets[0]);
      };
      const t = this.now + 0.001;
      if (s.scanner.enqueue) s.scanner.enqueue(t, run);
      else this.scheduler.at(t, run);
    }
  }

  private recordIds(a: Advertiser, st: AdvertState): void {
    // Bands switch between a few packets (Exposure Notification, discovery): skip packets recorded lately.
    let recent = this.recentPackets.get(a);
    if (!recent) this.recentPackets.set(a, (recent = []));
    for (const p of st.packets) {
      if (recent.some((q) => sameBytes(p, q))) continue;
      recent.push(p);
      if (recent.length > 4) recent.shift();
      const key = hex(p);
      let id = this.decoded.get(key);
      if (id === undefined) {
        const b = decodeBeacon(p);
        id = b.ok
          ? hex((b.value.kind === "en" ? b.value.rpi : b.value.id).subarray(0, RECORD_ID_BYTES)) +
            (b.value.kind === "en" ? "" : "/bz")
          : "";
        if (this.decoded.size > 4096) this.decoded.clear();
        this.decoded.set(key, id);
      }
      if (!id) continue;
      const kind = id.endsWith("/bz") ? "bluezone" : "en";
      id = id.replace("/bz", "");
      const cur = this.idOwners.get(id);
      if (cur) cur.lastSeen = this.now;
      else this.idOwners.set(id, { owner: a.label, kind, firstSeen: this.now, lastSeen: this.now });
    }
  }

  private slice(st: ScanState): void {
    if (!st.scanner.alive() || this.scans.get(st.scanner) !== st) {
      if (this.scans.get(st.scanner) === st) this.scans.delete(st.scanner);
      return;
    }
    const t0 = this.now;
    const t1 = t0 + (this.options.sliceSeconds ?? 1);
    st.sliceEnd = t1;
    const node = st.scanner.node;
    const floor = this.medium.env.sensitivityDbm - this.medium.rangeMarginDb;
    let rate = 0;
    const near: Advertiser[] = [];
    for (const a of this.advertisers) {
      if (a.radioIndex === node.radioIndex) continue;
      const ad = a.advert();
      if (!ad) continue;
      if (this.medium.meanRssi(a, node, t0) < floor) continue;
      near.push(a);
      rate += 1 / (ad.intervalMs / 1000 + 0.005);
    }
    st.collision = 1 - Math.exp(-2 * AIRTIME_S * rate);
    for (const a of near) this.scheduleAdvertiser(st, a, t0, t1);
    this.scheduler.at(t1, () => this.slice(st));
  }

  private scheduleAdvertiser(st: ScanState, a: Advertiser, t0: number, t1: number): void {
    const ad = a.advert();
    if (!ad || a.radioIndex === st.scanner.node.radioIndex) return;
    const period = ad.intervalMs / 1000 + 0.005;
    const version = a.advVersion;
    const r = this.radioRng;
    let k = Math.max(0, Math.ceil((t0 - ad.since) / period));
    for (;;) {
      const t = ad.since + k * period + (r.next() - 0.5) * 0.01;
      if (t >= t1) break;
      const idx = k++;
      if (t < t0 - 1e-9) continue;
      if (r.next() >= st.scanner.duty) continue;
      const run = () => this.deliver(st, a, version, idx);
      if (st.scanner.enqueue) st.scanner.enqueue(t, run);
      else this.scheduler.at(t, run);
    }
  }

  private deliver(st: ScanState, a: Advertiser, version: number, idx: number): void {
    const s = st.scanner;
    if (!s.alive() || a.advVersion !== version) return;
    const ad = a.advert();
    if (!ad) return;
    this.receive(st, a, ad, ad.packets[idx % ad.packets.length]);
  }

  /** A packet of `ad` on air now: lost (collisions, base loss, too weak) or received by the scanner. */
  private receive(st: ScanState, a: Advertiser, ad: AdvertState, data: Uint8Array): void {
    const s = st.scanner;
    if (data.length > 31 && this.options.deliverOversize === false) return;
    const r = this.radioRng;
    if (r.next() < this.medium.env.baseLoss + st.collision) return;
    const rssi = this.medium.packetRssi(a, s.node, this.now);
    if (rssi === undefined) return;
    const irssi = Math.round(rssi);
    if (this.packetTap) this.packetTap(s.node, a, irssi, this.now, { data, address: ad.address });
    const p: RxPacket = {
      t: this.now,
      data,
      address: ad.address,
      rssi: irssi,
      connectable: ad.connectable,
      scannable: ad.scannable,
      scanResponse: false,
      from: a,
    };
    s.receive(p);
    if (s.active && ad.scannable && ad.scanResponse && s.alive()) {
      s.receive({ ...p, data: ad.scanResponse, scanResponse: true });
    }
  }

  // ------------------------------------------------------------------------------------------ running

  /** Runs every event up to world time `until` (seconds), synchronously. */
  run(until: number, onProgress?: (now: number) => void): void {
    let n = 0;
    while (this.scheduler.step(until)) {
      if (onProgress && (++n & 0x3fff) === 0) onProgress(this.now);
    }
    if (this.scheduler.now < until) this.scheduler.now = until;
  }

  /** Runs `seconds` more. */
  advance(seconds: number): void {
    this.run(this.now + seconds);
  }

  /**
   * Runs up to `until`, yielding to the Node event loop whenever host code (noble bindings, central callbacks)
   * has something to react to, so host code awaiting simulated results keeps pace with virtual time.
   */
  async runAsync(until: number): Promise<void> {
    let n = 0;
    for (;;) {
      this.hostTouched = false;
      if (!this.scheduler.step(until)) break;
      if (this.hostTouched || (++n & 0x3ff) === 0) await yieldToHost();
    }
    if (this.scheduler.now < until) this.scheduler.now = until;
    await yieldToHost();
  }

  /** Runs the world until `promise` settles (or `timeoutS` of virtual time pass, then rejects). */
  async until<T>(promise: Promise<T>, opts: { timeoutS?: number } = {}): Promise<T> {
    let settled = false;
    const p = promise.then(
      (v) => {
        settled = true;
        return v;
      },
      (e) => {
        settled = true;
        throw e;
      },
    );
    p.catch(() => undefined);
    const limit = this.now + (opts.timeoutS ?? 600);
    let idle = 0;
    while (!settled) {
      await yieldToHost();
      if (settled) break;
      this.hostTouched = false;
      let steps = 0;
      const t0 = this.now;
      // Yield often: the promise may have settled in an event we just ran (only visible after a microtask turn).
      while (!this.hostTouched && steps < 64 && this.now - t0 < 0.05) {
        if (!this.scheduler.step(limit)) break;
        steps++;
      }
      if (steps === 0) {
        // Nothing due before the limit (the next event is later, or there is none): the wait runs out. Without
        // this a wait whose next event lay past its limit spun at the same virtual instant for ever.
        if (this.now >= limit || this.scheduler.peekTime() > limit) {
          if (++idle > 20) {
            if (this.now < limit) this.scheduler.now = limit;
            throw new Error(
              `world.until: nothing settled the promise within ${opts.timeoutS ?? 600} s of virtual time`,
            );
          }
        }
      } else idle = 0;
    }
    return p;
  }

  /**
   * Advances virtual time with the wall clock (x `speed`) in the background: for kiosk demos and the flasher's
   * simulated bench. Host code gets a turn after every event it can react to (as in `runAsync`), so it answers a
   * band's advert while the band is still advertising. A stalled event loop does not make the world jump: a tick
   * catches up at most 250 ms of wall time and the world falls behind instead (the host's clock is the world's, so
   * nothing it times is cut short), rather than running a band's whole 250 ms discovery burst before the host can
   * connect.
   */
  startRealtime(speed = 1, tickMs = 20): void {
    this.stopRealtime();
    let last = Date.now();
    let running = false;
    const timer = setInterval(() => {
      if (running) return;
      const nowMs = Date.now();
      const until = this.now + (Math.min(nowMs - last, 250) / 1000) * speed;
      last = nowMs;
      running = true;
      this.runAsync(until).then(
        () => (running = false),
        (e: unknown) => {
          // A fault in a simulated device or in host code run by it: stop, and let it surface as before.
          if (this.realtime === timer) this.stopRealtime();
          throw e;
        },
      );
    }, tickMs);
    this.realtime = timer;
  }

  stopRealtime(): void {
    if (this.realtime) clearInterval(this.realtime);
    this.realtime = undefined;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function yieldToHost(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
