import * as esbuild from "esbuild";
import * as fs from "fs";
import * as path from "path";
import { loadBoard } from "../boards/load";
import { ESPRUINO_UNSUPPORTED_SYNTAX } from "../build/esbuild-options";
import { ROOT } from "../build/paths";
import { RealInterpreter } from "./interpreter";

/**
 * One band on the real Espruino interpreter: the board's production bundle, exactly as flashed, booted from
 * Storage (`.bootcde`) with its provisioning record, on virtual time. The board shim (board-shim.js, stored as
 * `.boot0`, run before the bundle at every boot) stands in for the nRF52 Bluetooth stack and the crypto the
 * emulator build lacks; its own JsVars are measured at boot and subtracted from every figure.
 */

export interface RealBandOptions {
  board: string;
  /** Bundle file; default dist/<board>/tracelet.js. */
  bundlePath?: string;
  /** Storage files written before the first boot (e.g. the provisioning record). */
  files?: Record<string, Uint8Array>;
  /** Unix seconds at power-on. */
  startUnix: number;
  /** Four 32-bit words: E.hwRand's sfc32 state (the simulator's Rng stream). */
  seed: [number, number, number, number];
  /** Math.random's sfc32 state (default: the interpreter's own generator). */
  mathSeed?: [number, number, number, number];
  batteryPercent?: number;
  batteryVolts?: number;
  /** A flash image to boot from instead of writing the bundle (after a power cut). */
  flash?: Uint8Array;
  /**
   * A board fresh from the box: only the board shim (the emulated hardware) in Storage, no bundle and no files,
   * for the flasher to program over the console.
   */
  blank?: boolean;
}

/** What goes on air from `t` on (until the next event): `data` undefined when nothing does. */
export interface AdvertEvent {
  t: number;
  data: Uint8Array | undefined;
  intervalMs: number;
  connectable: boolean;
  address: string;
}

let aesSource: string | undefined;
/** The firmware's own pure AES-128 (protocol/aes128.ts), built for the interpreter as the shim's AES-ECB. */
function aesForShim(): string {
  if (aesSource === undefined) {
    const r = esbuild.buildSync({
      stdin: {
        contents: 'import { aes128Ecb } from "./firmware/src/protocol/aes128"; __aesEcb = aes128Ecb;',
        resolveDir: ROOT,
        loader: "ts",
      },
      bundle: true,
      write: false,
      format: "cjs",
      target: "es2020",
      supported: ESPRUINO_UNSUPPORTED_SYNTAX,
      minify: true,
    });
    aesSource = "var __aesEcb;(function(){" + r.outputFiles[0].text + "})();";
  }
  return aesSource;
}

function shimSource(cfg: object): string {
  const shim = fs.readFileSync(path.join(__dirname, "board-shim.js"), "utf8");
  return "var __T_CFG=" + JSON.stringify(cfg) + ";" + aesForShim() + "\n" + shim;
}

/**
 * Erases .bootcde in a Storage image (header: u32 size, 28-byte name; erasing zeroes the name's first 4 bytes) and
 * returns its contents.
 */
function takeBootCode(image: Uint8Array): Uint8Array | undefined {
  const at = Buffer.from(image.buffer, image.byteOffset, image.length).indexOf(Buffer.from(".bootcde\0", "latin1"));
  if (at < 4) return undefined;
  const size = image[at - 4] | (image[at - 3] << 8) | (image[at - 2] << 16) | (image[at - 1] << 24);
  const code = image.slice(at + 28, at + 28 + size);
  image.fill(0, at, at + 4);
  return code;
}

let emptyVars: number | undefined;
/** JsVars of an empty program on this interpreter build (no shim, no bundle), measured once. */
async function emptyProgramVars(): Promise<number> {
  if (emptyVars === undefined) emptyVars = (await RealInterpreter.start({})).usage();
  return emptyVars;
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString("hex");
}

/**
 * The board's default GAP device name, as Espruino's gap_params_init makes it: the board's name prefix and the last 4
 * hex digits of the factory address (here a function of the seed: one per band).
 */
export function defaultDeviceName(board: string, seed: [number, number, number, number]): string {
  const hex = (((seed[0] ^ seed[2]) >>> 0) & 0xffff).toString(16).padStart(4, "0");
  return `${loadBoard(board).name.split(" ")[0]} ${hex}`;
}

export class RealBand {
  readonly adverts: AdvertEvent[] = [];
  readonly addresses: { t: number; address: string }[] = [];
  /** The GAP device name a central reads on connect, and when it changed. */
  gapName = "";
  readonly names: { t: number; name: string }[] = [];
  readonly notifications: Uint8Array[] = [];
  readonly lines: string[] = [];
  /** JsVars of the interpreter with the shim loaded and no bundle, measured at the last boot. */
  shimBase = 0;
  /** JsVars of an empty program (no shim, no bundle) on this interpreter. */
  emptyBase = 0;
  scanning = false;
  connected = false;
  boots = 0;
  /**
   * Interpreter time (unix seconds) of the first power-on: the band's files are written after the emulator's own
   * start-up (2 virtual seconds), so this is `startUnix` + 2.
   */
  powerOnAt = 0;
  /** Resets by the hardware watchdog (not kicked within its timeout), and their interpreter times (s). */
  watchdogResets = 0;
  readonly watchdogResetTimes: number[] = [];
  /**
   * Injected faults that fired (board-shim.js __T.f): name and interpreter time (s); `recovered`: a write failure
   * the firmware's retry made good (not a fault by design).
   */
  readonly injectedLog: { name: string; t: number; recovered?: boolean }[] = [];
  /** NRF.setServices calls (interpreter time, the `uart` option, the service UUIDs). */
  readonly serviceCalls: { t: number; uart: boolean; services: string[] }[] = [];
  /** The Nordic UART (Bluetooth console) as the stack has it: on at every boot until a restart removes it. */
  uart = true;
  /** Interpreter time (ms) of the next watchdog check, and the boot it was computed in. */
  private wdtCheckAt = 0;
  private wdtBoot = -1;
  private onNotify: ((frame: Uint8Array) => void) | undefined;

  private constructor(
    readonly board: string,
    readonly interp: RealInterpreter,
  ) {
    // Every path that moves virtual time (advance, runUntil, a scenario driving interp.runUntil itself) goes through
    // the watchdog check.
    const run = interp.runUntil.bind(interp);
    interp.runUntil = (t: number, stop?: () => boolean) => this.watched(run, t, stop);
  }

  /**
   * The hardware watchdog on the host side. The shim's E.enableWatchdog(s, false) sets __T.wdt = s and
   * E.kickWatchdog sets __T.kick = getTime(); an automatic watchdog (isAuto true or undefined) is kicked by
   * Espruino's idle loop (jsinteractive.c), which the emulator always reaches between host calls, so it never fires
   * (__T.wdt = 0). Without a kick within __T.wdt seconds the chip resets: load() from flash, clock and Storage kept,
   * counted in watchdogResets. Cheap: time runs in segments up to the earliest moment the watchdog could fire, one
   * eval per segment (about one a minute while the band kicks it), never more than one per virtual second.
   */
  private watched(run: (t: number, stop?: () => boolean) => void, t: number, stop?: () => boolean): void {
    for (;;) {
      if (this.boots !== this.wdtBoot || this.interp.now >= this.wdtCheckAt) this.checkWatchdog();
      run(Math.min(t, this.wdtCheckAt), stop);
      if (this.interp.now >= t || (stop && stop())) return;
    }
  }

  private checkWatchdog(): void {
    this.wdtBoot = this.boots;
    const [wdt, since] = this.interp.eval<[number, number]>(
      'typeof __T==="undefined"?[0,0]:[__T.wdt,getTime()-__T.kick]',
    );
    const left = wdt > 0 ? wdt - since : 60;
    if (wdt > 0 && left <= 0.001) {
      this.watchdogResets++;
      this.watchdogResetTimes.push(this.now);
      this.load();
      this.wdtBoot = this.boots;
      // The boot code enables the watchdog again: look at it a second later.
      this.wdtCheckAt = this.interp.now + 1000;
      return;
    }
    this.wdtCheckAt = this.interp.now + Math.max(1000, left * 1000);
  }

  static async boot(opts: RealBandOptions): Promise<RealBand> {
    const name = defaultDeviceName(opts.board, opts.seed);
    const ref: { band?: RealBand } = {};
    // Lines printed before the band object exists.
    const early: string[] = [];
    // This build runs .bootcde at power-on without .boot0 (measured): the board shim would be missing. So the image
    // boots with its .bootcde erased (in a copy, as Storage.erase does it: the name's first word zeroed), then the
    // same bytes are stored again and load() runs .boot0 and .bootcde, as a band's power-on does.
    const image = opts.flash?.slice();
    const bootCode = image ? takeBootCode(image) : undefined;
    const interp = await RealInterpreter.start({
      startMs: opts.startUnix * 1000,
      flash: image,
      onLine: (l) => (ref.band ? ref.band.line(l) : early.push(l)),
    });
    if (bootCode) {
      interp.writeFile(".bootcde", bootCode);
      interp.exec("load()");
      interp.settle();
    }
    const band = new RealBand(opts.board, interp);
    band.gapName = name;
    ref.band = band;
    for (const l of early) band.line(l);
    band.emptyBase = await emptyProgramVars();
    if (!opts.flash) {
      if (!opts.blank) {
        const bundle = fs.readFileSync(opts.bundlePath ?? path.join(ROOT, "dist", opts.board, "tracelet.js"));
        interp.writeFile(".bootcde", bundle);
        for (const [name, data] of Object.entries(opts.files ?? {})) interp.writeFile(name, data);
      }
      const cfg = {
        seed: opts.seed.map((x) => x | 0),
        mseed: opts.mathSeed ? opts.mathSeed.map((x) => x | 0) : undefined,
        // The power-on: load() below, now (the emulator's own start-up ran first). A later boot draws another stream.
        bootMs: interp.now,
        percent: opts.batteryPercent ?? 100,
        volts: opts.batteryVolts ?? 3.0,
        name,
      };
      interp.writeFile(".boot0", Buffer.from(shimSource(cfg), "latin1"));
      // Power on with the band's files in place.
      band.powerOnAt = interp.now / 1000;
      band.load();
    }
    return band;
  }

  /** Restarts the interpreter's JavaScript from flash (.boot0, then .bootcde), as a reset does. */
  load(): void {
    this.interp.exec("load()");
    this.interp.settle();
  }

  private line(l: string): void {
    const t = this.interp.now / 1000;
    if (!l.startsWith("\u0001")) {
      this.lines.push(l);
      return;
    }
    const tag = l[1];
    const rest = l.slice(3);
    switch (tag) {
      case "O":
        this.shimBase = Number(rest);
        this.boots++;
        this.scanning = false;
        this.connected = false;
        this.uart = true;
        break;
      case "G": {
        const [uart, services] = rest.split(" ");
        this.serviceCalls.push({ t, uart: uart === "uart", services: services ? services.split(",") : [] });
        break;
      }
      case "U":
        this.uart = rest === "1";
        break;
      case "A": {
        // The address is the last field and has a space of its own ("aa:bb:cc:dd:ee:ff random").
        const [data, iv, conn, ...address] = rest.split(" ");
        this.adverts.push({
          t,
          data: data === "-" ? undefined : Uint8Array.from(Buffer.from(data, "hex")),
          intervalMs: Number(iv),
          connectable: conn === "1",
          address: address.join(" "),
        });
        break;
      }
      case "D":
        this.addresses.push({ t, address: rest });
        break;
      case "M":
        this.gapName = rest;
        this.names.push({ t, name: rest });
        break;
      case "S":
        this.scanning = rest === "1";
        break;
      case "N": {
        const frame = Uint8Array.from(Buffer.from(rest, "hex"));
        this.notifications.push(frame);
        this.onNotify?.(frame);
        break;
      }
      case "X":
        this.connected = false;
        break;
      case "F":
        this.injectedLog.push({ name: rest, t });
        break;
      case "R": {
        for (let i = this.injectedLog.length - 1; i >= 0; i--)
          if (this.injectedLog[i].name === rest) {
            this.injectedLog[i].recovered = true;
            break;
          }
        break;
      }
      default:
        this.lines.push(l);
    }
  }

  /** Interpreter errors seen so far (uncaught exceptions, out of memory, ...). */
  get errors(): string[] {
    return this.interp.errors;
  }

  /**
   * JsVars the band's program uses now: the interpreter's usage less what it used with only the board shim loaded
   * (the empty interpreter after start-up plus the shim), i.e. the program's own variables.
   */
  programVars(): number {
    return this.interp.usage() - this.shimBase;
  }

  /** The highest usage the shim sampled (inside callbacks and native calls), as program variables. */
  peakProgramVars(): number {
    return this.interp.eval<number>("__T.peak") - this.shimBase;
  }

  shimVars(): number {
    return this.shimBase - this.emptyBase;
  }

  get now(): number {
    return this.interp.now / 1000;
  }

  runUntil(unix: number): void {
    this.interp.runUntil(unix * 1000);
  }

  advance(seconds: number): void {
    this.interp.runUntil(this.interp.now + seconds * 1000);
  }

  /** One advert as the stack would deliver it to the scan callback (dropped unless a scan is on). */
  scanReport(data: Uint8Array, rssi: number, address: string): void {
    this.scanReports([{ data, rssi, address }]);
  }

  /**
   * Adverts delivered in turn, each to its own callback call as the stack's events would be, two per console line
   * (the line being run sits in the interpreter's memory too: a few JsVars, counted in the peaks). Nothing stays in
   * the interpreter between reports.
   */
  scanReports(reports: { data: Uint8Array; rssi: number; address: string }[]): void {
    let line = "";
    let n = 0;
    for (const r of reports) {
      line += `__T.S(atob("${Buffer.from(r.data).toString("base64")}"),${r.rssi | 0},"${r.address}");`;
      if (++n === 2) {
        this.interp.exec(line);
        line = "";
        n = 0;
      }
    }
    if (line) this.interp.exec(line);
  }

  /** A central connects; notifications the band sends reach `onNotify`. */
  connect(peer: string, onNotify: (frame: Uint8Array) => void): void {
    this.onNotify = onNotify;
    this.connected = true;
    this.interp.exec(`__T.C("${peer}")`);
  }

  /** A write to the sync control characteristic. */
  write(data: Uint8Array): void {
    this.interp.exec(`__T.W("${hex(data)}")`);
  }

  disconnect(): void {
    this.interp.exec("__T.D()");
    this.onNotify = undefined;
    this.connected = false;
  }

  /** Makes the next `times` calls of an Espruino function throw (names as in board-shim.js __T.f). */
  injectFault(name: string, times: number): void {
    // Infinity: until cleared (injectFault(name, 0)).
    this.interp.exec(`__T.fail[${JSON.stringify(name)}]=${times === Infinity ? 1e9 : times | 0}`);
  }

  readFile(name: string): Uint8Array | undefined {
    return this.interp.readFile(name);
  }

  /** Storage files the band wrote (its own `tl.*` files), name -> bytes. */
  bandFiles(): Record<string, Uint8Array> {
    const out: Record<string, Uint8Array> = {};
    for (const n of this.interp
      .list()
      .filter((x) => x.startsWith("tl."))
      .sort()) {
      const b = this.interp.readFile(n);
      if (b) out[n] = b;
    }
    return out;
  }
}
