import * as fs from "fs";
import * as path from "path";
import * as vm from "vm";

/**
 * The real Espruino interpreter (2v29, the Bangle.js 2 firmware compiled to JavaScript by the Espruino project) on
 * virtual time, in its own `vm` realm: its own heap, flash image and clock. The host talks to it as a USB console
 * would (characters in, characters out) and owns its flash (an 8 MB NOR image with nRF52 write semantics) and its
 * clock (`Date.now()` of the realm, which the interpreter reads for getTime(), Date and timers).
 *
 * The file is not part of the project (MPL-2.0, kept beside it in shared/espruino/); its path comes from
 * ESPRUINO_EMULATOR.
 */

/** Where the interpreter is: ESPRUINO_EMULATOR, else shared/espruino/ beside the project. */
export function emulatorPath(): string {
  const env = process.env.ESPRUINO_EMULATOR;
  if (env) return path.resolve(env);
  return path.resolve(__dirname, "..", "..", "..", "..", "shared", "espruino", "emulator_banglejs2.js");
}

/** Undefined when the interpreter can be loaded, else one line saying why not. */
export function emulatorMissing(): string | undefined {
  const p = emulatorPath();
  if (!fs.existsSync(p))
    return `real Espruino interpreter not found at ${p} (set ESPRUINO_EMULATOR to emulator_banglejs2.js)`;
  return undefined;
}

const FLASH_BYTES = 8 * 1024 * 1024;
const PAGE = 4096;
/** The console device of the EMSCRIPTEN2 board (its USB serial). */
const CONSOLE = 21;
/** settle(): nothing scheduled. */
export const NO_TIMER = -1;

let compiled: { file: string; script: vm.Script } | undefined;
function emulatorScript(): vm.Script {
  const file = emulatorPath();
  if (!compiled || compiled.file !== file) {
    const missing = emulatorMissing();
    if (missing) throw new Error(missing);
    compiled = { file, script: new vm.Script(fs.readFileSync(file, "utf8"), { filename: file }) };
  }
  return compiled.script;
}

interface EmModule {
  _jsInit(): void;
  _jsIdle(): number;
  _jshPushIOCharEvent(dev: number, ch: number): void;
  _jshGetDeviceToTransmit(): number;
  _jshGetCharToTransmit(dev: number): number;
  calledRun?: boolean;
  onRuntimeInitialized?: () => void;
}

export interface InterpreterOptions {
  /** Wall-clock time at power-on, ms since the epoch (the interpreter's clock). */
  startMs?: number;
  /** A flash image to boot from (a power cut's image); all 0xFF (erased) otherwise. */
  flash?: Uint8Array;
  /** Called with every complete console line the interpreter prints (without the line ending). */
  onLine?: (line: string) => void;
}

/** A power cut armed at a flash byte: the write in flight stops there and nothing after it reaches flash. */
interface PowerCut {
  remaining: number;
  image?: Uint8Array;
}

/**
 * This build does not memory-map flash: the interpreter reads code stored in flash (the bundle's function bodies)
 * one byte per call into the host, through emscripten's generic EM_ASM dispatch (argument parsing with assertions),
 * which costs microseconds a byte. The host answers flash reads directly instead; every other EM_ASM call and the
 * interpreter itself are untouched.
 */
function fastHostCalls(
  ctx: vm.Context,
  flash: Uint8Array,
  clock: { now: number },
  counters: { flashReads: number },
): void {
  const consts = ctx.ASM_CONSTS as Record<string, (...a: unknown[]) => unknown> | undefined;
  const generic = ctx.runEmAsmFunction as ((code: number, sig: number, buf: number) => unknown) | undefined;
  if (!consts || !generic) return;
  const find = (text: string) => Number(Object.keys(consts).find((k) => String(consts[k]).includes(text)) ?? -1);
  const read = find("hwFlashRead");
  const now = find("Date.now");
  ctx.runEmAsmFunction = (c: number, sig: number, buf: number) => {
    if (c !== read) return c === now ? clock.now : generic(c, sig, buf);
    counters.flashReads++;
    return flash[(ctx.HEAP32 as Int32Array)[buf >> 2]];
  };
}

export class RealInterpreter {
  /** Virtual wall clock, ms since the epoch. */
  now: number;
  readonly flash: Uint8Array;
  /**
   * Bytes the interpreter has read from flash: it lexes code stored in flash (the bundle's function bodies) a byte at
   * a time, so this counts the source it interpreted, a deterministic measure of work (cpu-profile.ts).
   */
  readonly counters = { flashReads: 0 };
  /** Flash bytes programmed or erased so far (for power-cut enumeration). */
  flashTouched = 0;
  /** Lines the interpreter printed that report an error (uncaught exceptions, interpreter errors). */
  readonly errors: string[] = [];
  private out = "";
  private partial = "";
  private cut: PowerCut | undefined;
  private onLine: (line: string) => void;
  /** Everything the interpreter prints, as it prints it (a console transport reads this). */
  onOutput: ((chars: string) => void) | undefined;
  /**
   * Called after every jsIdle that runs on its own (timers and events, not a line typed on the console) with the
   * host milliseconds it took: the CPU profile (cpu-profile.ts) times callbacks with it.
   */
  idleProbe: ((hostMs: number) => void) | undefined;
  private typing = 0;

  private constructor(
    private readonly ctx: vm.Context,
    private readonly M: EmModule,
    flash: Uint8Array,
    now: number,
    onLine: ((line: string) => void) | undefined,
  ) {
    this.flash = flash;
    this.now = now;
    this.onLine = onLine ?? (() => undefined);
  }

  /** Loads and boots a fresh interpreter (jsInit). */
  static async start(opts: InterpreterOptions = {}): Promise<RealInterpreter> {
    const script = emulatorScript();
    const clock = { now: opts.startMs ?? Date.UTC(2026, 0, 1) };
    const flash = opts.flash ? opts.flash.slice() : new Uint8Array(FLASH_BYTES).fill(0xff);
    class VirtualDate extends Date {
      constructor(...a: unknown[]) {
        if (a.length === 0) super(clock.now);
        else super(...(a as [number]));
      }
      static now(): number {
        return clock.now;
      }
    }
    const ref: { self?: RealInterpreter } = {};
    let ready: () => void = () => undefined;
    const initialised = new Promise<void>((r) => (ready = r));
    const ctx = vm.createContext({
      require,
      __dirname: path.dirname(emulatorPath()),
      process,
      console: { log: () => undefined, warn: () => undefined, error: () => undefined, info: () => undefined },
      setTimeout,
      clearTimeout,
      TextDecoder,
      TextEncoder,
      WebAssembly: (globalThis as Record<string, unknown>).WebAssembly,
      performance,
      Date: VirtualDate,
      localStorage: { getItem: () => null, setItem: () => undefined, removeItem: () => undefined },
      Module: { onRuntimeInitialized: () => ready() },
      jsHandleIO: () => ref.self?.drain(),
      hwFlashWritePtr: (addr: number, ptr: number, len: number) => ref.self?.flashWrite(addr, ptr, len),
      hwFlashRead: (addr: number) => flash[addr],
      hwSetPinValue: () => undefined,
      hwGetPinValue: () => 0,
    });
    script.runInContext(ctx);
    const M = ctx.Module as EmModule;
    if (!M.calledRun) await initialised;
    const self = new RealInterpreter(ctx, M, flash, clock.now, opts.onLine);
    fastHostCalls(ctx, flash, clock, self.counters);
    ref.self = self;
    Object.defineProperty(self, "now", {
      get: () => clock.now,
      set: (v: number) => (clock.now = v),
    });
    M._jsInit();
    // Start-up work of the build (it arms a timer ~100 ms after boot) finishes before anything is typed.
    self.runUntil(clock.now + 2000);
    return self;
  }

  private heap(): Uint8Array {
    return this.ctx.HEAPU8 as Uint8Array;
  }

  private flashWrite(addr: number, ptr: number, len: number): void {
    const heap = this.heap();
    // An erase is a whole aligned page of 0xFF (jshFlashErasePage); anything else programs bits 1 -> 0 only.
    let erase = len === PAGE && addr % PAGE === 0;
    for (let i = 0; erase && i < len; i++) if (heap[ptr + i] !== 0xff) erase = false;
    for (let i = 0; i < len; i++) {
      if (this.cut) {
        if (this.cut.image) return;
        if (this.cut.remaining-- <= 0) {
          this.cut.image = this.flash.slice();
          return;
        }
      }
      this.flashTouched++;
      this.flash[addr + i] = erase ? 0xff : this.flash[addr + i] & heap[ptr + i];
    }
  }

  /** Power fails at the n-th flash byte from now: `cutImage()` then holds the flash exactly as at the cut. */
  cutPowerAfterFlashBytes(n: number): void {
    this.cut = { remaining: n };
  }

  /** The flash at the power cut, once it happened. */
  cutImage(): Uint8Array | undefined {
    return this.cut?.image;
  }

  private drain(): void {
    const M = this.M;
    for (let d = M._jshGetDeviceToTransmit(); d; d = M._jshGetDeviceToTransmit())
      this.out += String.fromCharCode(M._jshGetCharToTransmit(d));
    if (!this.out) return;
    this.onOutput?.(this.out);
    if (this.capture !== undefined) {
      this.capture += this.out;
      this.out = "";
      return;
    }
    const text = this.partial + this.out;
    this.out = "";
    const lines = text.split("\n");
    this.partial = lines.pop() as string;
    for (const raw of lines) {
      const line = raw
        // eslint-disable-next-line no-control-regex
        .replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "")
        .replace(/\r/g, "")
        .replace(/^>+/, "");
      if (/Uncaught|^ERROR:|INTERNAL ERROR|Out of Memory|Execution Interrupted/.test(line)) this.errors.push(line);
      this.onLine(line);
    }
  }

  /**
   * Runs what is due now (events, timers at the current time) until the interpreter would sleep. Returns the ms until
   * its next timer, or NO_TIMER. (jsIdle returns -1 while it has more to do; with no timer pending it sleeps
   * "forever", which reaches us as a large negative number.)
   */
  settle(): number {
    const probe = this.typing ? undefined : this.idleProbe;
    for (let i = 0; i < 10000; i++) {
      const t0 = probe ? performance.now() : 0;
      const next = this.M._jsIdle();
      this.drain();
      if (probe) probe(performance.now() - t0);
      if (next >= 0) return next;
      if (next < -1) return NO_TIMER;
    }
    throw new Error("the interpreter never went idle (10,000 idle loops at one instant)");
  }

  /**
   * Advances virtual time to `t` (ms since the epoch), firing every timer at its due time; stops early, after the
   * work of one instant, once `stop()` says so.
   */
  runUntil(t: number, stop?: () => boolean): void {
    for (;;) {
      const next = this.settle();
      if (stop && stop()) return;
      if (next === NO_TIMER || this.now + next > t) {
        this.now = Math.max(this.now, t);
        this.settle();
        return;
      }
      // jsIdle gives whole milliseconds, rounded down; the clock takes fractions (getTime has microseconds). A timer
      // due in under a millisecond reads as 0: creep up on it in 50 us steps rather than 1 ms, or each timer fires up
      // to 1 ms late and the lateness adds up along a chain of setTimeouts (seconds over hours; an nRF52's RTC ticks
      // at 32,768 Hz, the simulator's clock likewise).
      this.now += next >= 1 ? next : 0.05;
    }
  }

  private capture: string | undefined;

  /**
   * Types `text` on the console as a terminal would (no 0x10 added) and returns exactly what the interpreter printed
   * meanwhile, control characters and all (for comparing console behaviour; lines do not reach onLine).
   */
  typeRaw(text: string): string {
    this.capture = "";
    try {
      this.type(text);
      return this.capture;
    } finally {
      this.capture = undefined;
    }
  }

  /** Types a line on the console without echo (0x10 prefix) and runs it. */
  exec(code: string): void {
    if (code.includes("\n")) throw new Error("exec takes one line");
    const line = "\x10" + code + "\n";
    this.typing++;
    try {
      for (let i = 0; i < line.length; i++) {
        this.M._jshPushIOCharEvent(CONSOLE, line.charCodeAt(i));
        // Let the interpreter take input every 256 characters (its input queue holds at least 500).
        if (i % 256 === 255) this.M._jsIdle();
      }
      this.settle();
    } finally {
      this.typing--;
    }
  }

  /**
   * Types characters on the console as a USB host sends them (echo and all, nothing added), letting the
   * interpreter take input every 64 characters as its input queue fills, and runs what they start.
   */
  type(chars: string): void {
    for (let i = 0; i < chars.length; i++) {
      this.M._jshPushIOCharEvent(CONSOLE, chars.charCodeAt(i) & 255);
      if (i % 64 === 63) this.settle();
    }
    this.settle();
  }

  /** Evaluates an expression and returns its JSON value. */
  eval<T>(expr: string): T {
    let result: string | undefined;
    const prev = this.onLine;
    this.onLine = (line) => {
      if (line.startsWith("\u0002=")) result = line.slice(2);
      else prev(line);
    };
    try {
      this.exec(`print("\\x02="+JSON.stringify(${expr}))`);
    } finally {
      this.onLine = prev;
    }
    if (result === undefined) throw new Error(`no result for ${expr}: ${this.errors.slice(-1)[0] ?? "no output"}`);
    return (result === "undefined" ? undefined : JSON.parse(result)) as T;
  }

  /** Writes a Storage file (in chunks, as a flasher does over the console). */
  writeFile(name: string, data: Uint8Array): void {
    const chunk = 768;
    for (let off = 0; off < data.length || off === 0; off += chunk) {
      const part = Buffer.from(data.subarray(off, off + chunk)).toString("base64");
      this.exec(`require("Storage").write(${JSON.stringify(name)},atob("${part}"),${off},${data.length})`);
      if (data.length === 0) break;
    }
  }

  /** A Storage file's bytes, or undefined (read in 768-byte pieces: a whole bundle as one array would not fit). */
  readFile(name: string): Uint8Array | undefined {
    const n = JSON.stringify(name);
    const size = this.eval<number | null>(
      `(function(){var s=require("Storage").read(${n});return s===undefined?null:s.length})()`,
    );
    if (size === null) return undefined;
    const parts: Buffer[] = [];
    for (let off = 0; off < size; off += 768) {
      const b64 = this.eval<string>(`btoa(require("Storage").read(${n},${off},${Math.min(768, size - off)}))`);
      parts.push(Buffer.from(b64, "base64"));
    }
    return new Uint8Array(Buffer.concat(parts));
  }

  list(): string[] {
    return this.eval<string[]>(`require("Storage").list()`);
  }

  /** JsVars in use (process.memory(false).usage: no garbage collection first). */
  usage(): number {
    return this.eval<number>("process.memory(false).usage");
  }

  /** Total JsVars of this build (12,000 on the EMSCRIPTEN2 board, 14-byte vars). */
  total(): number {
    return this.eval<number>("process.memory(false).total");
  }
}
