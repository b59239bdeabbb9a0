import { BoardProfile } from "../boards/profile";
import { bytesToBinaryString, toBytes } from "./bytes";
import { EspruinoConsole } from "./console";
import { createCryptoModule, createGlobalAes, CryptoHost, hasCryptoModule } from "./crypto-module";
import { CpuKind, cpuJs, cpuSyncRequest } from "./cpu-cost";
import { EnergyMeter, EnergyReport } from "./energy";
import { NorFlash, PowerCut } from "./flash";
import { JsVarEstimator, SCOPE_HOOK } from "./jsvars";
import { NrfStack } from "./nrf";
import { Position, RadioNode } from "./radio";
import { createRealm, Realm } from "./realm";
import { detokenise } from "../build/pretokenise";
import { Rng } from "./rng";
import { SimEvent } from "./scheduler";
import { EspruinoStorage, StorageError } from "./storage";
import type { World } from "./world";

/** Something that went wrong inside a device: tests fail on any. */
export interface Fault {
  /** World time, seconds. */
  t: number;
  device: string;
  /** Where: "boot", "timer", "scan", "event:<name>", "onWrite", "memory", ... */
  kind: string;
  message: string;
  stack?: string;
}

export interface DeviceOptions {
  /** Board id (boards/<id>.json) or a loaded profile. */
  board: string | BoardProfile;
  /** Firmware bundle file (dist/<board>/tracelet.js) or its source; stored in Storage as ".bootcde". */
  bundlePath?: string;
  bundleSource?: string;
  name?: string;
  /** Fixed position, or a function / Track of world time. */
  position?: Position;
  mobility?: ((t: number) => Position) | { at(t: number): Position };
  /** Files written into Storage before the first boot (provisioning, as the flasher would). */
  provisioning?: Record<string, Uint8Array | string>;
  /** getTime() at the first power-on (the flasher sets the board clock over USB, `espruino -t`); default 0. */
  clock?: number;
  /** RTC drift in ppm; default a seeded draw within +-board.rtcPpm. */
  driftPpm?: number;
  /** Battery charge at start, percent (default 100). */
  batteryPercent?: number;
  /** JsVars sampling: "callback" (after every callback, the default) or a minimum number of seconds between samples. */
  memoryCheck?: "callback" | number;
  /** Echo console output: true for stderr, or a function per line. */
  console?: boolean | ((line: string) => void);
  /** Power on at creation (default true). */
  powerOn?: boolean;
  /** Seconds the device stays off after a power cut before power returns (default 1). */
  offAfterCutSeconds?: number;
  /**
   * E.hwRand's and Math.random's streams as raw sfc32 state (Rng.fromState), instead of the world's seeded forks: the
   * same numbers the real interpreter's board shim draws from the same words (the differential test).
   */
  hwRandState?: readonly number[];
  /**
   * false: CPU time is charged to energy but takes no virtual time (getTime stands still inside a callback and later
   * events are not delayed), as in the real interpreter on virtual time, whose clock moves only between host calls
   * (the differential test). Default true.
   */
  cpuClock?: boolean;
  /**
   * Seconds the clock loses at each BLE stack restart (NRF.setAddress, services changed): jsble_restart_softdevice
   * reads the system time, disables and re-enables the SoftDevice (which owns RTC0, the clock's counter) and sets
   * the time it read back, so the restart's own duration is lost, and timers fire that much later. The duration is
   * not published; the default is the pessimistic end, the 32.768 kHz crystal's start-up time (nRF52832 product
   * specification, LFXO t_START typ. 0.25 s) should the SoftDevice restart the low-frequency clock. 0 turns it off
   * (the differential test: the real interpreter's board shim restarts nothing).
   */
  restartClockLossSeconds?: number;
  /**
   * Charge each callback the Tracelet firmware's measured JavaScript time for its kind (cpu-cost.ts; default true).
   * false: every callback costs only the base `callback` time, for test programs that are not the firmware (a test
   * program writing flash every 100 ms is no 170 ms log write).
   */
  cpuTable?: boolean;
  mathRandomState?: readonly number[];
  /** Scan-packet FIFO: packets queued while JavaScript is busy beyond this are dropped (default 22: the stack's 1 KB event
   * buffer, shared/ESPRUINO.md). */
  fifoSize?: number;
}

/**
 * Deterministic CPU time the interpreter spends (seconds), charged to the energy meter and delaying the device's
 * next events (Espruino is single-threaded). JavaScript executed inside V8 is not timed (V8 is 100-1000x faster than
 * the interpreter and not deterministic): each callback is charged the real interpreter's measured time for its kind
 * instead (cpu-cost.ts cpuJs); calls into the interpreter's native API are charged here.
 */
export const CPU_COST = {
  /** Building a BluetoothDevice object for a scan packet (jswrap_ble_setScan_cb). */
  scanPacket: 0.001,
  /**
   * Estimates (no published timing found): NRF.setAdvertising encodes the advert and hands it to the SoftDevice
   * (jsble_advertising_update); NRF.setAddress restarts the Bluetooth stack (jsble_restart_softdevice: SoftDevice
   * disabled and enabled, services and advert set again).
   */
  setAdvertising: 0.0005,
  setAddress: 0.005,
  /** One notification through NRF.updateServices: calibrated so that streaming MTU-53 frames gives ~2.5 kB/s. */
  notify: 0.02,
  /** nRF52 flash: 41 us per 32-bit word written, 85 ms per page erase (CPU halted meanwhile). */
  flashWord: 0.000041,
  flashPageErase: 0.085,
};

/** The clock's loss at a BLE stack restart, seconds (DeviceOptions.restartClockLossSeconds). */
export const RESTART_CLOCK_LOSS_S = 0.25;

interface Timer {
  id: number;
  fn: unknown;
  args: unknown[];
  intervalMs: number;
  /** Device-clock time of the next firing. */
  due: number;
  ev: SimEvent | undefined;
}

type DyingKind = "cut" | "reboot";

export class EspruinoDevice implements RadioNode {
  readonly name: string;
  readonly board: BoardProfile;
  readonly radioIndex: number;
  readonly worn = true;
  readonly rxGainDb = 0;
  readonly flash: NorFlash;
  readonly storage: EspruinoStorage;
  readonly faults: Fault[] = [];
  readonly consoleLines: string[] = [];
  readonly energyMeter: EnergyMeter;
  readonly nrf: NrfStack;
  readonly driftPpm: number;
  /** Highest JsVars estimate seen. */
  memoryPeak = 0;
  /** Latest JsVars estimate. */
  memoryLast = 0;
  /** Number of boots (power-ons and resets). */
  boots = 0;
  /** Power-ons (boots after a power loss). */
  powerOns = 0;
  /** World time and clock reading of each power-on (to place monotonic log times). */
  readonly powerOnLog: { t: number; clock: number }[] = [];
  /** Scan packets dropped because the interpreter was busy (input FIFO full). */
  fifoDrops = 0;
  /** Scan reports that reached the program's scan callback. */
  scanReports = 0;
  /** LEDs written with digitalWrite. */
  readonly pins: Record<string, number> = {};
  /** Resets the hardware watchdog caused (E.enableWatchdog not kicked in time), and their world times. */
  watchdogResets = 0;
  readonly watchdogResetTimes: number[] = [];
  /** Injected faults that fired (see injectFault): name and world time. */
  readonly injectedLog: { name: string; t: number }[] = [];

  on = false;
  private realm: Realm | undefined;
  private dying: DyingKind | undefined;
  private estimator: JsVarEstimator;
  private scopes: (() => unknown)[] = [];
  private timers = new Map<number, Timer>();
  private nextTimerId = 1;
  private hw: Rng;
  private mathRng: Rng;
  private clockBase = 0;
  private clockRef = 0;
  private rate: number;
  /** Extra CPU seconds consumed by the callback in progress. */
  private cbCost = 0;
  private inCallback = false;
  /** What the callback in progress did, to tell its kind (cpu-cost.ts): changed the address, the advert, the scan,
   * wrote flash. */
  private cbDid = { address: false, advert: false, scan: false, flash: false };
  private busyUntil = 0;
  /** The op code of the sync request the onWrite callback in progress handles (-1: none), for its CPU charge. */
  cbOp = -1;
  private queuedPackets = 0;
  private lastMemT = -Infinity;
  private memOom = false;
  private lastAccrue = 0;
  private batteryStartUc: number;
  private mobility: ((t: number) => Position) | undefined;
  private staticPos: Position;
  private consoleEcho: ((line: string) => void) | undefined;
  private watches = new Map<number, { fn: unknown; pin: string; repeat: boolean; edge: string }>();
  private nextWatch = 1;
  private pendingEmits: SimEvent[] = [];
  private afterCallback: "soft-reset" | "load" | undefined;
  private injected = new Map<string, number>();
  /**
   * The nRF52 hardware watchdog once E.enableWatchdog ran: timeout (s), automatic kicking, last kick (world time)
   * and the pending expiry check. It is hardware: it outlives load()/E.reboot's soft reset; a power loss and its own
   * reset stop it (the boot code enables it again).
   */
  private wdt: { timeout: number; auto: boolean; kicked: number; ev: SimEvent | undefined } | undefined;
  /** Called with every console line (print, console.log, uncaught errors). */
  readonly consoleListeners: ((line: string) => void)[] = [];
  /** The JavaScript console (REPL): on USB (VirtualSerial) or, while a central uses it, the Nordic UART. */
  readonly console: EspruinoConsole;

  constructor(
    readonly world: World,
    board: BoardProfile,
    readonly opts: DeviceOptions,
  ) {
    this.board = board;
    this.radioIndex = world.nextRadioIndex();
    // Named by the world's radio count, not a process-wide counter: a seed gives the same world in any process.
    this.name = opts.name ?? `band${this.radioIndex + 1}`;
    this.flash = new NorFlash(0x60000, board.storageBytes, board.flashPageSize);
    this.storage = new EspruinoStorage(this.flash, (kind, bytes) => {
      this.cbDid.flash = true;
      this.cpu(kind === "erase" ? CPU_COST.flashPageErase : CPU_COST.flashWord * Math.ceil(bytes / 4));
    });
    this.energyMeter = new EnergyMeter(board);
    const rng = world.rng.fork(`device:${this.name}`);
    this.hw = opts.hwRandState ? Rng.fromState(opts.hwRandState) : rng.fork("hwRand");
    this.mathRng = opts.mathRandomState ? Rng.fromState(opts.mathRandomState) : rng.fork("Math.random");
    this.driftPpm = opts.driftPpm ?? rng.fork("drift").uniform(-board.rtcPpm, board.rtcPpm);
    this.rate = 1 + this.driftPpm * 1e-6;
    this.staticPos = opts.position ?? { x: 0, y: 0 };
    const m = opts.mobility;
    this.mobility = m === undefined ? undefined : typeof m === "function" ? m : (t: number) => m.at(t);
    const capUc = board.battery.capacityMah * 3600 * 1000;
    this.batteryStartUc = (capUc * (opts.batteryPercent ?? 100)) / 100;
    if (opts.console === true) this.consoleEcho = (l) => process.stderr.write(`[${this.name}] ${l}\n`);
    else if (typeof opts.console === "function") this.consoleEcho = opts.console;
    // 13-byte variables on the 2,630-2,950-variable boards, 14 on the larger ones (Espruino's block size).
    this.estimator = new JsVarEstimator(board.jsVars > 5000 ? 14 : 13);
    this.console = new EspruinoConsole(this);
    this.nrf = new NrfStack(this, rng.fork("radio"));
    this.clockBase = opts.clock ?? 0;
    this.clockRef = world.now;
    this.flash.onCut = () => {
      this.dying = "cut";
    };
  }

  // ------------------------------------------------------------------------------------------ identity / radio node

  /** Moves the band from now on: a fixed position or a function / Track of world time (the demo's story). */
  setMobility(m: Position | ((t: number) => Position) | { at(t: number): Position }): void {
    if (typeof m === "function") this.mobility = m;
    else if ("at" in m) this.mobility = (t: number) => m.at(t);
    else {
      this.mobility = undefined;
      this.staticPos = m;
    }
  }

  positionAt(t: number): Position {
    return this.mobility ? this.mobility(t) : this.staticPos;
  }

  eirpDbm(): number {
    return this.board.radio.calibratedTxDbm + (this.nrf.txPowerDbm - this.board.radio.txPowerDbm);
  }

  /** World time as the device experiences it inside a callback (CPU time already spent included). */
  localNow(): number {
    return this.opts.cpuClock === false ? this.world.now : this.world.now + this.cbCost;
  }

  // ------------------------------------------------------------------------------------------ clock

  /** Device clock (getTime) at world time t. */
  deviceTime(t: number = this.localNow()): number {
    return this.clockBase + (t - this.clockRef) * this.rate;
  }

  /** World time at which the device clock reads `dt`. */
  worldTimeFor(dt: number): number {
    return this.clockRef + (dt - this.clockBase) / this.rate;
  }

  /** Sets the device clock from outside (a flasher's `-t`, a test's clock jump). */
  setClock(seconds: number): void {
    this.clockBase = seconds;
    this.clockRef = this.localNow();
  }

  /**
   * A BLE stack restart: the clock loses `restartClockLossSeconds` (see DeviceOptions) and the interpreter is blocked
   * meanwhile; pending timers keep their due times on the device clock, so they fire that much later.
   */
  stackRestarted(): void {
    const lost = this.opts.restartClockLossSeconds ?? RESTART_CLOCK_LOSS_S;
    if (!(lost > 0) || !this.on) return;
    this.clockLosses++;
    this.clockBase = this.deviceTime() - lost;
    this.clockRef = this.localNow();
    // Blocked, not computing: later events wait, the CPU's current is not charged (the stack's own cost is).
    if (this.opts.cpuClock !== false) this.busyUntil = Math.max(this.busyUntil, this.world.now) + lost;
    for (const t of this.timers.values()) {
      if (t.ev) t.ev.cancelled = true;
      this.armTimer(t);
    }
  }

  /** BLE stack restarts that cost the clock time (stackRestarted). */
  clockLosses = 0;

  // ------------------------------------------------------------------------------------------ power

  /** Powers on (boot from Storage). The clock restarts from 0 unless `clock` is given (a flasher setting it). */
  powerOn(clock?: number): void {
    if (this.on) return;
    this.clockBase = clock ?? 0;
    this.clockRef = this.world.now;
    this.powerOns++;
    this.powerOnLog.push({ t: this.world.now, clock: this.clockBase });
    this.boot(false, true);
  }

  /**
   * Power loss now: RAM, timers and the radio are gone, the clock stops; Storage keeps what was written.
   * Power returns after `offSeconds` (default: the device's offAfterCutSeconds, 1 s), or never if Infinity.
   */
  powerCut(offSeconds = this.opts.offAfterCutSeconds ?? 1): void {
    if (this.inCallback) {
      this.dying = "cut";
      this.flash.dead = true;
      return;
    }
    this.powerDown();
    if (offSeconds !== Infinity) this.world.scheduler.after(offSeconds, () => this.powerOn());
  }

  /** Hardware reset (E.reboot): RAM and radio reset, Storage and the clock survive. */
  reset(): void {
    if (this.inCallback) {
      this.dying = "reboot";
      return;
    }
    this.shutdownRam();
    this.boot(false, true);
  }

  /**
   * Holds a button down (or lets it go): its pin reads 1 while held and setWatch callbacks fire on the edges. Held
   * through a power-on or chip reset, the board's first button (BTN1) skips the saved code (see boot). Default: the
   * board's first button.
   */
  holdButton(held = true, pin = this.board.buttons[0]): void {
    if (pin === undefined) throw new Error(`${this.board.name} has no button`);
    if (!!this.pins[pin] === held) return;
    this.pins[pin] = held ? 1 : 0;
    if (this.on) this.fireWatches(pin, held);
  }

  /** Arms a power cut after `bytes` more bytes of flash are programmed or erased (see NorFlash.armCut). */
  cutPowerAfterFlashBytes(bytes: number): void {
    this.flash.armCut(bytes);
  }

  /**
   * Fault injection: the next `times` calls (Infinity: until clearFaults) of an Espruino function throw an Error, as
   * a transient failure of the call would. Names: "getBattery" (E.getBattery and NRF.getBattery), "Storage.read"
   * (read, readArrayBuffer, readJSON), "Storage.write", "Storage.erase", "Storage.compact", "setAdvertising",
   * "setAddress", "setScan", "hwRand", "crypto" (require("crypto") and Bangle.js 2's global AES), "updateServices".
   */
  injectFault(name: string, times = 1): void {
    if (times > 0) this.injected.set(name, times);
    else this.injected.delete(name);
  }

  clearFaults(): void {
    this.injected.clear();
  }

  private failPoint(name: string): void {
    const n = this.injected.get(name);
    if (!n) return;
    if (n === 1) this.injected.delete(name);
    else this.injected.set(name, n - 1);
    this.injectedLog.push({ name, t: this.world.now });
    throw this.error(`Injected fault: ${name}`);
  }

  /**
   * E.enableWatchdog(timeout, isAuto), as jswrap_espruino.c and the nRF5x port do it: a timeout below 0 or NaN
   * becomes 1 s; isAuto undefined or true sets JSIS_WATCHDOG_AUTO, and the idle loop (jsinteractive.c) kicks the
   * watchdog on every pass while jshSleep (targets/nrf5x/jshardware.c) wakes up before the reload value runs out, so
   * an automatic watchdog only fires when JavaScript never returns to idle: a hang, which simulated JavaScript
   * cannot do (a V8 loop would hang the test), so it never fires here. isAuto false: E.kickWatchdog must be called
   * within `timeout` seconds, or the chip resets (RAM lost, Storage and the clock kept: reset()).
   */
  private enableWatchdog(timeout: unknown, isAuto: unknown): void {
    let s = Number(timeout);
    if (!(s >= 0)) s = 1;
    const auto = isAuto === undefined || !!isAuto;
    if (this.wdt && this.wdt.ev) this.wdt.ev.cancelled = true;
    this.wdt = { timeout: s, auto, kicked: this.localNow(), ev: undefined };
    if (!auto) this.armWatchdog();
  }

  private kickWatchdog(): void {
    if (this.wdt) this.wdt.kicked = this.localNow();
  }

  /** One expiry check per timeout; a kick meanwhile moves the next check (no event per kick). */
  private armWatchdog(): void {
    const w = this.wdt;
    if (!w) return;
    // The watchdog counts the 32 kHz clock the RTC uses: the device's drift applies.
    w.ev = this.world.scheduler.at(w.kicked + w.timeout / this.rate, () => {
      if (this.wdt !== w || !this.on) return;
      if (this.world.now + 1e-9 < w.kicked + w.timeout / this.rate) {
        this.armWatchdog();
        return;
      }
      this.wdt = undefined;
      this.watchdogResets++;
      this.watchdogResetTimes.push(this.world.now);
      this.log("Watchdog reset");
      this.reset();
    });
  }

  private powerDown(): void {
    if (this.wdt && this.wdt.ev) this.wdt.ev.cancelled = true;
    this.wdt = undefined;
    this.accrue();
    this.shutdownRam();
    this.on = false;
  }

  private shutdownRam(softReset = false): void {
    this.accrue();
    for (const t of this.timers.values()) if (t.ev) t.ev.cancelled = true;
    for (const e of this.pendingEmits) e.cancelled = true;
    this.pendingEmits = [];
    this.timers.clear();
    this.watches.clear();
    this.nrf.shutdown(softReset);
    this.realm = undefined;
    this.scopes = [];
    this.dying = undefined;
    this.afterCallback = undefined;
    this.queuedPackets = 0;
    this.busyUntil = this.world.now;
  }

  /**
   * Boots the interpreter; after a soft reset (`reset()`) .bootcde does not run, only .boot0-3 and .bootrst.
   * A chip start (power-on, E.reboot, the watchdog) with BTN1 held skips the saved code as Espruino does on nRF52
   * boards with a button: targets/nrf5x/main.c calls jsiInit(autoLoad = false) when BTN1 reads pressed, so boot code
   * loads as after reset(): .bootcde is skipped, .bootrst runs (jsfGetBootCodeFromFlash); .boot0-.boot3 still run
   * except on Bangle.js, which skips them too when BTN1 is held at first boot (jsflash.c jsfLoadBootCodeFromFlash).
   * load() does not look at the button.
   */
  private boot(softReset = false, chipStart = false): void {
    this.accrue();
    this.on = true;
    this.boots++;
    this.flash.revive();
    this.memOom = false;
    this.realm = createRealm(this.name, {
      nowMs: () => this.deviceTime() * 1000,
      random: () => this.mathRng.next(),
    });
    this.globalsCache.clear();
    this.installGlobals(this.realm);
    this.estimator.markBuiltin(this.realm.global.Date);
    this.nrf.boot();
    this.console.clearInputLine();
    const btn1 = this.board.buttons[0];
    const held = chipStart && btn1 !== undefined && !!this.pins[btn1];
    // jsfLoadBootCodeFromFlash: .boot0 - .boot3, then .bootrst or .bootcde, then E.on('init').
    const names =
      held && this.board.espruinoBoard.startsWith("BANGLEJS") ? [] : [".boot0", ".boot1", ".boot2", ".boot3"];
    const rst = this.storage.read(".bootrst");
    names.push(rst || softReset || held ? ".bootrst" : ".bootcde");
    for (const n of names) {
      if (!this.on || this.dying) break;
      const code = this.storage.read(n);
      if (!code) continue;
      this.runScript(bytesToBinaryString(code), n);
    }
    if (this.on && !this.dying) this.emitNow(this.realm.global.E, "init", [], "event:init");
  }

  private runScript(source: string, filename: string): void {
    // Espruino's lexer reads every byte from 0x80 up as a token (pretokenised code, as the build flashes it).
    const script = this.world.compile(detokenise(source), `${this.name}/${filename}`);
    const realm = this.realm as Realm;
    this.invoke("boot", () => script.runInContext(realm.context));
    // Functions the script declared at the top level are Espruino root functions: no scope link.
    for (const k of Object.keys(realm.global)) {
      const d = Object.getOwnPropertyDescriptor(realm.global, k);
      if (d && typeof d.value === "function") this.estimator.markRootFunction(d.value);
    }
  }

  // ------------------------------------------------------------------------------------------ callbacks

  /**
   * Runs JavaScript for an event at the current world time: charges CPU, records a fault if an exception escapes,
   * runs queued promise jobs, samples memory, and carries out a power cut or reboot that happened inside.
   */
  invoke(kind: string, body: () => unknown): void {
    if (!this.on || this.dying || !this.realm) return;
    this.accrue();
    this.inCallback = true;
    this.cbCost = 0;
    const did = (this.cbDid = { address: false, advert: false, scan: false, flash: false });
    try {
      body();
    } catch (e) {
      this.fault(kind, e);
    }
    try {
      if (!this.dying && this.realm) this.realm.drain();
    } catch (e) {
      this.fault(kind, e);
    }
    this.inCallback = false;
    const b = this.board.id;
    if (kind === "scan") this.scanReports++;
    const table = kind !== "boot" && this.opts.cpuTable !== false;
    const ck = callbackKind(kind, did);
    const op = this.cbOp;
    this.cbOp = -1;
    const work = ck === "syncRequest" && op >= 0 ? cpuSyncRequest(b, op) : cpuJs(b, ck);
    const js = cpuJs(b, "callback") + (table ? work : 0);
    const cost = this.cbCost + js;
    this.cbCost = 0;
    this.energyMeter.add("cpu", this.board.currentUa.cpu * (cost - js));
    this.energyMeter.addJs(js);
    if (this.opts.cpuClock !== false) this.busyUntil = Math.max(this.busyUntil, this.world.now) + cost;
    const dying = this.dying;
    try {
      this.afterInvoke(dying);
    } finally {
      this.reportFaults();
    }
  }

  private afterInvoke(dying: DyingKind | undefined): void {
    if (dying === "cut") {
      this.powerDown();
      const off = this.opts.offAfterCutSeconds ?? 1;
      if (off !== Infinity) this.world.scheduler.after(off, () => this.powerOn());
      return;
    }
    if (dying === "reboot") {
      this.shutdownRam();
      this.world.scheduler.after(0.01, () => this.boot(false, true));
      return;
    }
    const after = this.afterCallback;
    this.afterCallback = undefined;
    if (after) {
      // reset() and load() keep a central's link to the band (jswrap_ble_kill disconnects only the band's own
      // central links); power loss and chip resets drop it.
      this.shutdownRam(true);
      this.world.scheduler.after(0.01, () => this.boot(after === "soft-reset"));
      return;
    }
    this.sampleMemory();
  }

  /** Calls a function of the device's program (this = thisArg). */
  call(kind: string, fn: unknown, thisArg: unknown, args: unknown[]): void {
    if (typeof fn === "string") {
      this.invoke(kind, () => this.evalIn(fn));
      return;
    }
    if (typeof fn !== "function") return;
    // The callback's arguments (a scan report's device object, a write's data) are in memory while it runs: with
    // per-callback sampling the peak counts them too, as the real interpreter's does.
    if (args.length && (this.opts.memoryCheck ?? "callback") === "callback") this.measureMemory(args);
    this.invoke(kind, () => (fn as (...a: unknown[]) => unknown).apply(thisArg, args));
  }

  /**
   * Schedules a device event at world time t, delayed while the interpreter is busy. A `packet` event that has to
   * wait joins the input FIFO and is dropped when the FIFO is full (Espruino's "each packet allocates JS objects:
   * keep the callback tiny; an input FIFO overflow drops packets").
   */
  schedule(t: number, run: () => void, packet = false): SimEvent | undefined {
    const gen = this.boots;
    let queued = false;
    const fire = (): void => {
      if (this.boots !== gen || !this.on) {
        if (queued) this.queuedPackets = Math.max(0, this.queuedPackets - 1);
        return;
      }
      if (this.busyUntil > this.world.now + 1e-9) {
        if (packet && !queued) {
          if (this.queuedPackets >= (this.opts.fifoSize ?? 22)) {
            this.fifoDrops++;
            return;
          }
          this.queuedPackets++;
          queued = true;
        }
        this.world.scheduler.at(this.busyUntil, fire);
        return;
      }
      if (queued) this.queuedPackets--;
      run();
    };
    return this.world.scheduler.at(t, fire);
  }

  /** Interpreter work outside JavaScript (native code between callbacks): energy, and it delays later events. */
  busy(seconds: number): void {
    if (!this.on) return;
    this.energyMeter.add("cpu", this.board.currentUa.cpu * seconds);
    if (this.opts.cpuClock !== false) this.busyUntil = Math.max(this.busyUntil, this.world.now) + seconds;
  }

  /** Notes what the callback in progress did (the Bluetooth stack calls it), to tell the callback's kind. */
  did(what: "address" | "advert" | "scan"): void {
    if (this.inCallback) this.cbDid[what] = true;
  }

  /** Charges interpreter CPU time (seconds) to the callback in progress. */
  cpu(seconds: number): void {
    if (!this.on) return;
    if (this.inCallback) this.cbCost += seconds;
    else this.energyMeter.add("cpu", this.board.currentUa.cpu * seconds);
  }

  private fault(kind: string, e: unknown): void {
    if (this.dying || e instanceof PowerCut) return;
    const err = e as { message?: unknown; stack?: unknown; name?: unknown };
    const message =
      err && typeof err === "object" && "message" in err
        ? `${String(err.name ?? "Error")}: ${String(err.message)}`
        : String(e);
    const f: Fault = {
      t: this.world.now,
      device: this.name,
      kind,
      message,
      stack: err && typeof err.stack === "string" ? err.stack.split("\n").slice(0, 6).join("\n") : undefined,
    };
    this.faults.push(f);
    this.log(`Uncaught ${message}`);
    // Reported to the world once the callback is over (a reporter may throw to stop the run).
    this.unreported.push(f);
  }

  private unreported: Fault[] = [];

  private reportFaults(): void {
    const list = this.unreported;
    this.unreported = [];
    for (const f of list) this.world.reportFault(f);
  }

  /** Records a fault raised by the simulator itself (out of memory, ...). */
  simFault(kind: string, message: string): void {
    const f: Fault = { t: this.world.now, device: this.name, kind, message };
    this.faults.push(f);
    this.world.reportFault(f);
  }

  // ------------------------------------------------------------------------------------------ events

  /** Emits an event on an object of the program: each listener runs as its own callback now. */
  emitNow(obj: unknown, event: string, args: unknown[], kind = `event:${event}`): void {
    if (!obj || (typeof obj !== "object" && typeof obj !== "function")) return;
    const l = (obj as Record<string, unknown>)["#on" + event];
    const list = Array.isArray(l) ? l.slice() : l === undefined ? [] : [l];
    for (const fn of list) this.call(kind, fn, obj, args);
  }

  /** Emits later (queued behind the current callback), as Espruino's emit and its radio events do. */
  emitSoon(obj: unknown, event: string, args: unknown[], delay = 0): void {
    const ev = this.schedule(this.localNow() + delay, () => this.emitNow(obj, event, args));
    if (ev) this.pendingEmits.push(ev);
    if (this.pendingEmits.length > 256)
      this.pendingEmits = this.pendingEmits.filter((e) => !e.cancelled && e.t >= this.world.now);
  }

  // ------------------------------------------------------------------------------------------ memory

  private sampleMemory(): void {
    const mc = this.opts.memoryCheck ?? "callback";
    if (mc !== "callback" && this.world.now - this.lastMemT < mc) return;
    this.lastMemT = this.world.now;
    this.measureMemory();
  }

  /** The program's JsVars now (no baseline) as a board with `varBytes`-byte variables would pack them. */
  programVarsAs(varBytes: number): number {
    return this.realm ? this.estimator.programAs(this.memoryRoots([]), varBytes) + 2 * this.timers.size : 0;
  }

  /** JsVars in use now (see jsvars.ts for the approximation). */
  measureMemory(extraRoots: unknown[] = []): number {
    if (!this.realm) return 0;
    const n = this.estimator.measure(this.memoryRoots(extraRoots)) + 2 * this.timers.size;
    this.memoryLast = n;
    if (n > this.memoryPeak) this.memoryPeak = n;
    if (n > this.board.jsVars && !this.memOom) {
      this.memOom = true;
      this.simFault("memory", `Out of memory: ~${n} JsVars in use, board has ${this.board.jsVars}`);
    }
    return n;
  }

  private memoryRoots(extraRoots: unknown[]): unknown[] {
    const roots: unknown[] = [this.realm!.global, ...extraRoots];
    for (const s of this.scopes) {
      try {
        roots.push(s());
      } catch {
        // a scope still in its temporal dead zone: nothing to count yet
      }
    }
    for (const t of this.timers.values()) roots.push(t.fn, t.args);
    for (const w of this.watches.values()) roots.push(w.fn);
    for (const r of this.nrf.memoryRoots()) roots.push(r);
    return roots;
  }

  // ------------------------------------------------------------------------------------------ energy

  /** Integrates continuous currents up to now. */
  accrue(): void {
    const now = this.world.now;
    const dt = now - this.lastAccrue;
    if (dt > 0 && this.on) {
      const c = this.board.currentUa;
      this.energyMeter.poweredSeconds += dt;
      this.energyMeter.add("idle", c.idle * dt);
      this.nrf.accrue(this.lastAccrue, now, this.energyMeter);
    }
    this.lastAccrue = now;
  }

  energy(): EnergyReport {
    this.accrue();
    return this.energyMeter.report();
  }

  /** Remaining battery charge, 0-1. */
  batteryFraction(): number {
    this.accrue();
    const capUc = this.board.battery.capacityMah * 3600 * 1000;
    return Math.max(0, (this.batteryStartUc - this.energyMeter.total()) / capUc);
  }

  /** Battery voltage from the remaining charge (linear between the profile's full and empty volts). */
  batteryVolts(): number {
    const full = this.board.battery.fullVolts ?? 3.0;
    const empty = this.board.battery.emptyVolts ?? 2.0;
    const f = this.batteryFraction();
    // Coin cells hold their voltage most of the way down: use a knee at 10% remaining.
    const shape = f > 0.1 ? 0.85 + 0.15 * ((f - 0.1) / 0.9) : 0.85 * (f / 0.1);
    return empty + (full - empty) * shape;
  }

  // ------------------------------------------------------------------------------------------ console / REPL

  log(line: string): void {
    for (const l of this.consoleListeners) l(line);
    this.consoleLines.push(line);
    if (this.consoleLines.length > 500) this.consoleLines.splice(0, this.consoleLines.length - 500);
    if (this.consoleEcho) this.consoleEcho(line);
  }

  /** Evaluates code as the Espruino console would (USB/serial REPL); returns the printed "=value". */
  evaluate(code: string): string {
    let out = "";
    this.invoke("console", () => {
      const v = this.evalIn(code);
      out = "=" + this.describe(v);
    });
    return out;
  }

  private evalIn(code: string): unknown {
    const script = this.world.compile(code, `${this.name}/console`);
    return script.runInContext((this.realm as Realm).context);
  }

  private describe(v: unknown): string {
    if (v === undefined) return "undefined";
    if (typeof v === "string") return JSON.stringify(v);
    if (typeof v === "function") return "function";
    try {
      return JSON.stringify(v) ?? String(v);
    } catch {
      return String(v);
    }
  }

  // ------------------------------------------------------------------------------------------ buttons

  /** Presses and releases a button (BTN1 ...), firing setWatch callbacks. */
  pressButton(pin = "BTN1", holdSeconds = 0.1): void {
    this.pins[pin] = 1;
    this.fireWatches(pin, true);
    this.world.scheduler.after(holdSeconds, () => {
      this.pins[pin] = 0;
      this.fireWatches(pin, false);
    });
  }

  private fireWatches(pin: string, state: boolean): void {
    for (const [id, w] of this.watches) {
      if (w.pin !== pin) continue;
      if ((w.edge === "rising" && !state) || (w.edge === "falling" && state)) continue;
      const time = this.deviceTime(this.world.now);
      const ev = this.realm ? new this.realm.Object() : {};
      Object.assign(ev, { state, time, lastTime: time });
      this.call("watch", w.fn, undefined, [ev]);
      if (!w.repeat) this.watches.delete(id);
    }
  }

  // ------------------------------------------------------------------------------------------ globals

  /** A global of the running program (undefined when off). */
  global(name: string): unknown {
    if (!this.realm) return undefined;
    // Property reads on a vm context's global go through interceptors: cache the hot ones.
    let v = this.globalsCache.get(name);
    if (v === undefined) {
      v = this.realm.global[name];
      this.globalsCache.set(name, v);
    }
    return v;
  }

  private globalsCache = new Map<string, unknown>();

  /** ArrayBuffer in the device's realm. */
  buffer(b: Uint8Array): ArrayBuffer {
    const r = this.realm as Realm;
    const u = new r.Uint8Array(b.length);
    u.set(b);
    return u.buffer as ArrayBuffer;
  }

  newObject(): Record<string, unknown> {
    return new (this.realm as Realm).Object() as Record<string, unknown>;
  }

  newArray(items: unknown[] = []): unknown[] {
    const a = new (this.realm as Realm).Array() as unknown[];
    for (const x of items) a.push(x);
    return a;
  }

  /** An Error of the device's realm, as the interpreter throws it. */
  error(message: string, type: "Error" | "TypeError" = "Error"): Error {
    const r = this.realm;
    if (!r) return new Error(message);
    return type === "TypeError" ? new r.TypeError(message) : new r.Error(message);
  }

  /** Host function callable from the VM: power-dead devices raise PowerCut, Storage errors become VM Errors. */
  fn<A extends unknown[], R>(f: (...a: A) => R, inject?: string): (...a: A) => R {
    return (...a: A) => {
      if (this.dying || !this.on) throw new PowerCut();
      if (inject !== undefined && this.injected.size) this.failPoint(inject);
      try {
        return f(...a);
      } catch (e) {
        if (e instanceof StorageError) throw this.error(e.message);
        throw e;
      }
    };
  }

  private installGlobals(r: Realm): void {
    const g = r.global;
    const est = this.estimator;
    for (const x of r.intrinsics) est.markBuiltin(x);
    const obj = (props: Record<string, unknown>) => {
      const o = new r.Object() as Record<string, unknown>;
      for (const k of Object.keys(props)) o[k] = props[k];
      est.markBuiltin(o);
      return o;
    };
    const define = (name: string, v: unknown) => {
      g[name] = v;
      est.markBuiltin(v);
    };

    Object.defineProperty(g, SCOPE_HOOK, {
      value: (getter: () => unknown) => {
        if (typeof getter === "function") this.scopes.push(getter);
      },
      enumerable: false,
      configurable: false,
      writable: false,
    });
    // Espruino's emit queues the listeners to run after the current callback (jswrap_object_emit).
    const emitSoon = (target: unknown, event: string, args: unknown[]) => this.emitSoon(target, event, args);
    Object.defineProperty(r.Object.prototype, "emit", {
      value: function (this: unknown, event: string, ...args: unknown[]) {
        emitSoon(this, event, args);
      },
      enumerable: false,
      configurable: true,
      writable: true,
    });

    // ---- time and timers
    define(
      "getTime",
      this.fn(() => Math.round(this.deviceTime() * 32768) / 32768),
    );
    define(
      "setTime",
      this.fn((s: number) => {
        this.clockBase = Number(s) || 0;
        this.clockRef = this.localNow();
      }),
    );
    const addTimer = (fn: unknown, ms: unknown, args: unknown[], interval: boolean): number => {
      if (typeof fn !== "function" && typeof fn !== "string") throw this.error("Function or String not supplied!");
      let d = Number(ms);
      if (!(d >= 0)) d = 0;
      const id = this.nextTimerId++;
      const t: Timer = {
        id,
        fn,
        args,
        intervalMs: interval ? Math.max(d, 0.1) : 0,
        due: this.deviceTime() + d / 1000,
        ev: undefined,
      };
      this.timers.set(id, t);
      this.armTimer(t);
      return id;
    };
    define(
      "setTimeout",
      this.fn((fn: unknown, ms?: unknown, ...args: unknown[]) => addTimer(fn, ms, args, false)),
    );
    define(
      "setInterval",
      this.fn((fn: unknown, ms?: unknown, ...args: unknown[]) => addTimer(fn, ms, args, true)),
    );
    // jswrap_interactive.c: no argument clears every timer; an unknown id throws.
    const clear = (kind: string) =>
      this.fn((id?: unknown) => {
        if (id === undefined) {
          for (const t of this.timers.values()) if (t.ev) t.ev.cancelled = true;
          this.timers.clear();
          return;
        }
        const t = this.timers.get(Number(id));
        if (!t) throw this.error(`Unknown ${kind}`);
        if (t.ev) t.ev.cancelled = true;
        this.timers.delete(t.id);
      });
    define("clearTimeout", clear("Timeout"));
    define("clearInterval", clear("Interval"));
    define(
      "changeInterval",
      this.fn((id: unknown, ms: unknown) => {
        const t = this.timers.get(Number(id));
        if (!t) throw this.error("Unknown Interval");
        t.intervalMs = Math.max(Number(ms) || 0, 0.1);
        t.due = this.deviceTime() + t.intervalMs / 1000;
        if (t.ev) t.ev.cancelled = true;
        this.armTimer(t);
      }),
    );

    // ---- console
    const print = this.fn((...a: unknown[]) => {
      this.log(a.map((x) => (typeof x === "string" ? x : this.describe(x))).join(" "));
    });
    define("print", print);
    define("console", obj({ log: print, info: print, warn: print, error: print, debug: print, trace: print }));

    // ---- E
    const E = obj({
      hwRand: this.fn(() => this.hw.u32() | 0, "hwRand"),
      getTemperature: this.fn(() => Math.round((21 + this.hw.gauss() * 0.25) * 4) / 4),
      getBattery: this.fn(() => Math.max(0, Math.min(100, Math.round(this.batteryFraction() * 100))), "getBattery"),
      getAnalogVRef: this.fn(() => this.batteryVolts()),
      reboot: this.fn(() => {
        this.dying = "reboot";
        throw new PowerCut();
      }),
      setConsole: this.fn((dev: unknown) => {
        this.nrf.consoleOnBluetooth = dev === "Bluetooth" || dev === undefined;
      }),
      getConsole: this.fn(() => this.console.where()),
      getSizeOf: this.fn((v: unknown) => this.estimator.measure([v]) - this.estimator.baseline),
      getErrorFlags: this.fn(() => this.newArray(this.fifoDrops ? ["RX_FIFO_FULL"] : [])),
      toUint8Array: this.fn((...a: unknown[]) => {
        const b = toBytes(a.length === 1 ? a[0] : a);
        const u = new r.Uint8Array(b.length);
        u.set(b);
        return u;
      }),
      toArrayBuffer: this.fn((s: unknown) => this.buffer(toBytes(s))),
      toString: this.fn((...a: unknown[]) => bytesToBinaryString(toBytes(a.length === 1 ? a[0] : a))),
      CRC32: this.fn((d: unknown) => crc32(toBytes(d))),
      kickWatchdog: this.fn(() => this.kickWatchdog()),
      enableWatchdog: this.fn((s: unknown, isAuto?: unknown) => this.enableWatchdog(s, isAuto)),
      setPassword: this.fn(() => undefined),
      lockConsole: this.fn(() => undefined),
      setTimeZone: this.fn(() => undefined),
      setFlags: this.fn(() => undefined),
      getFlags: this.fn(() => obj({})),
    });
    define("E", E);

    // ---- process
    define(
      "process",
      obj({
        version: "2v29",
        env: obj({ VERSION: "2v29", BOARD: this.board.espruinoBoard, SERIAL: this.name }),
        memory: this.fn(() => {
          const used = this.measureMemory();
          return obj({
            free: Math.max(0, this.board.jsVars - used),
            usage: used,
            total: this.board.jsVars,
            history: 0,
            gc: 0,
            gctime: 0,
            blocksize: 16,
          });
        }),
      }),
    );

    // ---- modules
    const storage = this.storageModule(obj);
    const crypto = hasCryptoModule(this.board) ? createCryptoModule(this.board, this.cryptoHost()) : undefined;
    if (crypto) est.markBuiltin(this.injectable(crypto, "crypto"));
    if (this.board.crypto.aesCcm) define("AES", this.injectable(createGlobalAes(this.cryptoHost()), "crypto"));
    define(
      "require",
      this.fn((name: unknown) => {
        if (name === "Storage") return storage;
        if (name === "crypto" && crypto) return crypto;
        throw this.error(`Module ${String(name)} not found`);
      }),
    );

    // ---- pins
    const pinNames = ["D0", "D1", "D2", ...this.board.leds, ...this.board.buttons];
    const pin = (n: string, v: string) =>
      Object.defineProperty(g, n, { value: v, writable: true, configurable: true, enumerable: false });
    for (const p of pinNames) pin(p, p);
    if (this.board.buttons.length) pin("BTN", this.board.buttons[0]);
    if (this.board.leds.length) pin("LED", this.board.leds[0]);
    const pinName = (p: unknown) => String(p);
    define(
      "digitalWrite",
      this.fn((pin: unknown, v: unknown) => {
        if (Array.isArray(pin))
          pin.forEach((p, i) => (this.pins[pinName(p)] = (Number(v) >> (pin.length - 1 - i)) & 1));
        else this.pins[pinName(pin)] = v ? 1 : 0;
      }),
    );
    define(
      "digitalRead",
      this.fn((pin: unknown) => this.pins[pinName(pin)] ?? 0),
    );
    define(
      "analogRead",
      this.fn((pin: unknown) => (pinName(pin) === this.board.battery.pin ? this.batteryVolts() / 3.3 / 2 : 0)),
    );
    define(
      "pinMode",
      this.fn(() => undefined),
    );
    define(
      "setWatch",
      this.fn((fn: unknown, pin: unknown, o?: { repeat?: boolean; edge?: string } | boolean) => {
        const id = this.nextWatch++;
        const opt = typeof o === "object" && o ? o : { repeat: !!o };
        this.watches.set(id, { fn, pin: pinName(pin), repeat: !!opt.repeat, edge: String(opt.edge ?? "both") });
        return id;
      }),
    );
    define(
      "clearWatch",
      this.fn((id?: unknown) => {
        if (id === undefined) this.watches.clear();
        else this.watches.delete(Number(id));
      }),
    );
    define(
      "btoa",
      this.fn((s: unknown) => Buffer.from(toBytes(String(s))).toString("base64")),
    );
    define(
      "atob",
      this.fn((s: unknown) => bytesToBinaryString(new Uint8Array(Buffer.from(String(s), "base64")))),
    );
    // Console commands the flasher sends (EspruinoTools): reset() runs after the current command and does not run
    // .bootcde (jsfGetBootCodeFromFlash(isReset)); load() restarts and runs it; E.setBootCode stores boot code.
    define(
      "reset",
      this.fn(() => {
        this.afterCallback = "soft-reset";
      }),
    );
    define(
      "load",
      this.fn(() => {
        this.afterCallback = "load";
      }),
    );
    E.setBootCode = this.fn((code: unknown, alwaysExec?: unknown) => {
      this.storage.erase(".bootcde");
      this.storage.erase(".bootrst");
      const b = toBytes(code === undefined ? "" : String(code));
      if (b.length) this.storage.write(alwaysExec ? ".bootrst" : ".bootcde", b, 0, 0);
    });
    for (const n of ["save", "dump", "edit"]) {
      define(
        n,
        this.fn(() => {
          throw this.error(`${n}() is not modelled by the Tracelet simulator`);
        }),
      );
    }

    // ---- Bluetooth
    define("NRF", this.nrf.createApi(obj));
    define("BluetoothDevice", this.nrf.bluetoothDeviceClass(r));
    define("Bluetooth", obj({ write: print, print: print, println: print }));
  }

  private armTimer(t: Timer): void {
    const at = Math.max(this.localNow(), this.worldTimeFor(t.due));
    t.ev = this.schedule(at, () => this.fireTimer(t.id));
  }

  private fireTimer(id: number): void {
    const t = this.timers.get(id);
    if (!t) return;
    if (t.intervalMs > 0) {
      t.due += t.intervalMs / 1000;
      this.armTimer(t);
    } else {
      this.timers.delete(id);
    }
    this.call("timer", t.fn, undefined, t.args);
  }

  /** Makes every function of a native module (and its sub-objects) a fault injection point. */
  private injectable(o: Record<string, unknown>, name: string): Record<string, unknown> {
    for (const k of Object.keys(o)) {
      const v = o[k];
      if (typeof v === "function") o[k] = this.fn(v as (...a: unknown[]) => unknown, name);
      else if (v && typeof v === "object") this.injectable(v as Record<string, unknown>, name);
    }
    return o;
  }

  private cryptoHost(): CryptoHost {
    return {
      buffer: (b) => this.buffer(b),
      newObject: () => this.newObject(),
      error: (m) => this.error(m),
      cpu: (s) => this.cpu(s),
    };
  }

  private storageModule(obj: (p: Record<string, unknown>) => Record<string, unknown>): Record<string, unknown> {
    const S = this.storage;
    const name = (n: unknown) => String(n);
    const data = (d: unknown): Uint8Array => {
      if (
        d !== null &&
        typeof d === "object" &&
        !Array.isArray(d) &&
        !ArrayBuffer.isView(d) &&
        Object.prototype.toString.call(d) !== "[object ArrayBuffer]"
      ) {
        return toBytes(JSON.stringify(d));
      }
      return toBytes(d);
    };
    const asString = (b: Uint8Array | undefined): string | undefined => {
      if (!b) return undefined;
      const s = bytesToBinaryString(b);
      this.estimator.markMapped(s);
      return s;
    };
    return obj({
      read: this.fn(
        (n: unknown, offset?: number, length?: number) => asString(S.read(name(n), offset || 0, length || 0)),
        "Storage.read",
      ),
      readArrayBuffer: this.fn((n: unknown) => {
        const b = S.read(name(n));
        return b ? this.buffer(b) : undefined;
      }, "Storage.read"),
      readJSON: this.fn((n: unknown, noExceptions?: boolean) => {
        const s = asString(S.read(name(n)));
        if (s === undefined) return undefined;
        try {
          return (this.realm as Realm).JSON.parse(s);
        } catch (e) {
          if (noExceptions) return undefined;
          throw e;
        }
      }, "Storage.read"),
      write: this.fn((n: unknown, d: unknown, offset?: number, size?: number) => {
        const isObj =
          d !== null &&
          typeof d === "object" &&
          !Array.isArray(d) &&
          !ArrayBuffer.isView(d) &&
          Object.prototype.toString.call(d) !== "[object ArrayBuffer]";
        return S.write(name(n), data(d), isObj ? 0 : Number(offset) || 0, isObj ? 0 : Number(size) || 0);
      }, "Storage.write"),
      writeJSON: this.fn(
        (n: unknown, d: unknown) => S.write(name(n), toBytes(JSON.stringify(d)), 0, 0),
        "Storage.write",
      ),
      erase: this.fn((n: unknown) => {
        S.erase(name(n));
      }, "Storage.erase"),
      eraseAll: this.fn(() => S.eraseAll()),
      list: this.fn((re?: unknown) =>
        this.newArray(
          S.list(
            re instanceof RegExp || Object.prototype.toString.call(re) === "[object RegExp]"
              ? (re as RegExp)
              : undefined,
          ),
        ),
      ),
      getFree: this.fn(() => S.getFree()),
      getStats: this.fn(() => {
        const s = S.stats();
        return obj({ ...s });
      }),
      compact: this.fn(() => {
        S.compact();
      }, "Storage.compact"),
      open: this.fn(() => {
        throw this.error("StorageFile (Storage.open) is not modelled by the Tracelet simulator");
      }),
    });
  }
}

function crc32(b: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < b.length; i++) {
    crc ^= b[i];
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) | 0;
}

/** A callback's kind for cpuJs, as espruino-real/cpu-profile.ts classifies the real interpreter's callbacks. */
function callbackKind(
  kind: string,
  did: { address: boolean; advert: boolean; scan: boolean; flash: boolean },
): CpuKind {
  if (kind === "scan") return "scanReport";
  if (kind === "onWrite") return "syncRequest";
  if (did.address) return "rotation";
  if (did.flash) return "logWrite";
  if (did.scan) return "scanWindow";
  if (did.advert) return "advert";
  return "timer";
}
