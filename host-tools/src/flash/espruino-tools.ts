import * as fs from "fs";
import * as path from "path";
import * as vm from "vm";
import { listBoardIds, loadBoard } from "../boards/load";

/**
 * The npm `espruino` package (EspruinoTools, the Espruino IDE's own communications code) as the flasher uses it:
 * loaded once, offline, with Tracelet's console transports added to its device list. Every byte the flasher sends
 * to a band goes through the package's serial layer (its chunking, flow control and Storage-write pacing), and the
 * package's own helpers build the upload commands and read back results (`getUploadFileCode`, `executeExpression`).
 *
 * Two things are changed from its defaults, both for the people the flasher serves:
 * - **Offline.** The package fetches board descriptions from espruino.com on connect; here every URL is answered
 *   locally: a board JSON comes from the matching `boards/<id>.json` profile, anything else is refused.
 * - **Silent.** The package logs everything it sends and receives to the console, which would print band secrets
 *   (the provisioning record goes over the console). Its console output is dropped while a session is open; the
 *   flasher reports progress itself.
 */

/** A console transport in the shape EspruinoTools' serial layer takes (core/serial.js, `devices`). */
export interface ConsoleDevice {
  /** Shown in `tracelet flash --list`. */
  readonly name: string;
  /** Ports this transport can open now (path + description). */
  ports(): Promise<PortInfo[]>;
  /**
   * Before a port is opened: waits (a bounded time) until `path` is one of `ports()`, so the package's own port
   * lookup finds it. For transports whose devices come and go, such as a band heard only during its discovery bursts.
   * Returns why it could not, if it looked and failed.
   */
  find?(path: string): Promise<string | undefined>;
  /** Opens a port; `onData` gets what the device prints, `onClose` a disconnection. */
  open(path: string, onData: (s: string) => void, onClose: () => void): Promise<void>;
  /** Sends characters (each a byte, latin1); resolves once they are on their way. */
  write(data: string): Promise<void>;
  close(): void;
  /** Largest write the transport takes at once (20 for the Bluetooth UART, as EspruinoTools' BLE transports). */
  readonly maxWriteLength?: number;
}

export interface PortInfo {
  path: string;
  description: string;
  kind: "serial" | "bluetooth" | "simulated" | "emulated";
  /** Another path for a port already listed (a Bluetooth device's name beside its address). */
  alias?: boolean;
}

/* eslint-disable @typescript-eslint/no-explicit-any */
interface EspruinoGlobal {
  Core: any;
  Config: any;
  addProcessor(name: string, fn: (data: any, cb: (d: any) => void) => void): void;
}

let loaded: Promise<EspruinoGlobal> | undefined;

/**
 * The package loads its files with `vm.Script.runInThisContext`, so its globals (`Espruino`, and the `$`,
 * `navigator`, `acorn` it reads) live in the process's main context. Where this module runs in another context
 * (jest runs every test file in its own), the names are bridged to the main context's global object.
 */
const mainGlobal = vm.runInThisContext("globalThis") as Record<string, unknown>;
function bridgeGlobals(): void {
  if (mainGlobal === (globalThis as unknown)) return;
  for (const name of ["Espruino", "$", "navigator", "document", "acorn", "require"]) {
    Object.defineProperty(globalThis, name, {
      configurable: true,
      get: () => mainGlobal[name],
      set: (v) => (mainGlobal[name] = v),
    });
  }
}

/** The console objects the package may print to (the main context's, and this context's). */
function consoles(): Console[] {
  const main = mainGlobal.console as Console;
  return main === console ? [console] : [console, main];
}
const ours: ConsoleDevice[] = [];

/** What the package would print, dropped (see the module comment); counted so a test can see it was silenced. */
export const silenced = { lines: 0 };

const CONSOLE_METHODS = ["log", "warn", "error", "info", "debug"] as const;
let quiet = 0;
let saved: Record<string, (...a: unknown[]) => void>[] | undefined;

/** Drops console output while `fn` runs (nested calls allowed). */
export async function silently<T>(fn: () => Promise<T>): Promise<T> {
  if (quiet++ === 0) {
    saved = consoles().map((c) => {
      const keep: Record<string, (...a: unknown[]) => void> = {};
      for (const m of CONSOLE_METHODS) {
        keep[m] = c[m];
        c[m] = () => {
          silenced.lines++;
        };
      }
      return keep;
    });
  }
  try {
    return await fn();
  } finally {
    if (--quiet === 0 && saved) {
      const all = consoles();
      saved.forEach((keep, i) => {
        for (const m of CONSOLE_METHODS) all[i][m] = keep[m];
      });
      saved = undefined;
    }
  }
}

/** Board JSON the package asks for (`<BOARD_JSON_URL>/<BOARD>.json`), built from the local board profiles. */
function localBoardJson(url: string): string | undefined {
  const m = /\/([A-Z0-9_]+)\.json$/.exec(url);
  if (!m) return undefined;
  for (const id of listBoardIds()) {
    const b = loadBoard(id);
    if (b.espruinoBoard === m[1]) {
      return JSON.stringify({
        info: { name: b.name, tracelet_board: b.id, builtin_modules: [] },
        chip: { family: "NRF52", ram: 64, flash: 512 },
        storage: b.storageBytes,
      });
    }
  }
  return undefined;
}

/** Loads EspruinoTools once, offline and with our transports. */
export function espruinoTools(): Promise<EspruinoGlobal> {
  loaded ??= silently(
    () =>
      new Promise<EspruinoGlobal>((resolve) => {
        bridgeGlobals();
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const tools = require("espruino") as { init(cb: () => void): void };
        tools.init(() => {
          const E = mainGlobal.Espruino as EspruinoGlobal;
          // Only the package's own USB/serial transport stays: its Bluetooth ones load a different noble and
          // open the adapter on their own; the browser ones do nothing in Node.
          E.Core.Serial.devices.splice(
            0,
            E.Core.Serial.devices.length,
            ...E.Core.Serial.devices.filter((d: { name: string }) => d.name === "Node Serial"),
          );
          E.addProcessor("getURL", (data: { url: string; data?: string }, cb) => {
            const local = localBoardJson(data.url);
            // Offline: a URL we cannot answer locally gets an empty answer, never a network request.
            cb({ ...data, data: local ?? "{}" });
          });
          E.Config.BOARD_JSON_URL = "tracelet-boards:";
          E.Core.Status = {
            setStatus: (text: string, max?: number) => progressHook?.status(text, max),
            hasProgress: () => progressHook !== undefined,
            incrementProgress: (n: number) => progressHook?.increment(n),
          };
          E.Core.Notifications = { success: noop, error: noop, warning: noop, info: noop };
          resolve(E);
        });
      }),
  );
  return loaded;
}

function noop(): void {
  silenced.lines++;
}

/** Progress of the package's sends (its Status object): bytes to send, then increments as they go. */
export interface ProgressHook {
  status(text: string, max?: number): void;
  increment(n: number): void;
}
let progressHook: ProgressHook | undefined;

/** Adds a transport to the package's device list (once per object). */
/** Why our transports last failed to open a port (the package only hears that it failed). */
const openFailures = new Map<string, string>();

export async function addDevice(dev: ConsoleDevice): Promise<void> {
  const E = await espruinoTools();
  if (ours.includes(dev)) return;
  ours.push(dev);
  // The package's disconnect callback for the port that is open (it must hear of every disconnection once).
  let pkgClosed: (() => void) | undefined;
  const disconnected = () => {
    const f = pkgClosed;
    pkgClosed = undefined;
    // The package logs the disconnection (and what it was doing): dropped like everything else it prints.
    if (f) void silently(async () => f());
  };
  E.Core.Serial.devices.push({
    name: dev.name,
    maxWriteLength: dev.maxWriteLength,
    getPorts: (cb: (ports: unknown[], instant: boolean) => void) => {
      dev.ports().then(
        (ports) =>
          cb(
            ports.map((p) => ({ path: p.path, description: p.description, type: p.kind })),
            true,
          ),
        () => cb([], true),
      );
    },
    open: (p: string, opened: (info?: unknown) => void, rx: (b: ArrayBuffer) => void, closed: () => void) => {
      dev
        .open(p, (s) => rx(Uint8Array.from(Buffer.from(s, "latin1")).buffer), disconnected)
        .then(
          () => {
            pkgClosed = closed;
            opened({ portName: p });
          },
          (e: unknown) => {
            openFailures.set(p, (e as Error)?.message ?? String(e));
            opened(undefined);
          },
        );
    },
    write: (data: string, cb: () => void) => {
      dev.write(data).then(cb, () => {
        dev.close();
        disconnected();
      });
    },
    close: () => {
      dev.close();
      disconnected();
    },
  });
}

/** Every port of every transport the package knows (serial ports and ours). */
export async function listPorts(): Promise<PortInfo[]> {
  const E = await espruinoTools();
  return silently(
    () =>
      new Promise<PortInfo[]>((resolve) =>
        E.Core.Serial.getPorts(
          (ports: { path: string; description?: string; type?: string; usb?: number[]; alias?: boolean }[]) =>
            resolve(
              ports
                .filter((p) => !p.alias)
                .map((p) => ({
                  path: p.path,
                  description: p.description ?? (p.usb ? `USB ${p.usb.map((x) => x.toString(16)).join(":")}` : ""),
                  kind: (p.type as PortInfo["kind"]) ?? "serial",
                })),
            ),
        ),
      ),
  );
}

/** The serial ports the package's own serial transport sees now (no Bluetooth scan: cheap to poll). */
export async function listSerialPorts(): Promise<PortInfo[]> {
  const E = await espruinoTools();
  const serial = E.Core.Serial.devices.find((d: { name: string }) => d.name === "Node Serial");
  if (!serial) return [];
  return silently(
    () =>
      new Promise<PortInfo[]>((resolve) =>
        serial.getPorts((ports: { path: string; description?: string }[] | undefined) =>
          resolve((ports ?? []).map((p) => ({ path: p.path, description: p.description ?? "", kind: "serial" }))),
        ),
      ),
  );
}

export class ConsoleError extends Error {}

/** One open console on a device, through the package. One at a time: the package has one connection. */
export class EspruinoConsole {
  private closedBy: string | undefined;
  private closedWaiters: (() => void)[] = [];

  private constructor(
    private readonly E: EspruinoGlobal,
    readonly port: string,
  ) {}

  /**
   * Opens `port` and lets the package ask the device for `process.env` (its connect step), within `timeoutMs`.
   */
  static async open(port: string, opts: { baud?: number; timeoutMs?: number } = {}): Promise<EspruinoConsole> {
    const E = await espruinoTools();
    if (E.Core.Serial.isConnected()) throw new ConsoleError("another console is already open in this process");
    E.Config.BAUD_RATE = opts.baud ?? 9600;
    const c = new EspruinoConsole(E, port);
    let notFound: string | undefined;
    for (const d of ours) notFound ??= await d.find?.(port);
    await silently(
      () =>
        new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => {
            reject(new ConsoleError(`no answer from ${port} within ${(opts.timeoutMs ?? 30000) / 1000} s`));
          }, opts.timeoutMs ?? 30000);
          openFailures.delete(port);
          E.Core.Serial.open(
            port,
            (status: unknown) => {
              clearTimeout(timer);
              const why = openFailures.get(port) ?? notFound;
              if (status === undefined || status === null || (status as { error?: unknown }).error !== undefined)
                reject(new ConsoleError(`cannot open ${port}${why ? `: ${why}` : ""}`));
              else resolve();
            },
            () => c.gone("the device disconnected"),
          );
        }),
    );
    return c;
  }

  private gone(why: string): void {
    this.closedBy ??= why;
    for (const w of this.closedWaiters.splice(0)) w();
  }

  get connected(): boolean {
    return this.closedBy === undefined && this.E.Core.Serial.isConnected();
  }

  /** `process.env` as the package read it on connect. */
  env(): { BOARD?: string; VERSION?: string; CONSOLE?: string; SERIAL?: string } {
    return this.E.Core.Env.getData();
  }

  /** Evaluates a JavaScript expression on the device and returns its JSON value (executeExpression). */
  async expr<T>(js: string, timeoutS = 10): Promise<T> {
    const raw = await this.call<string | undefined>((cb) =>
      this.E.Core.Utils.executeExpression(js, cb, { maxTimeout: timeoutS, minTimeout: Math.min(timeoutS, 4) }),
    );
    if (raw === undefined) throw new ConsoleError(this.closedBy ?? `the device did not answer (${js.slice(0, 40)})`);
    try {
      return (raw === "undefined" ? undefined : JSON.parse(raw)) as T;
    } catch {
      throw new ConsoleError(`the device answered something unexpected: ${scrub(raw.slice(0, 60))}`);
    }
  }

  /**
   * Writes a Storage file through the package's upload code (`require("Storage").write` in 384-byte chunks,
   * paced as the package paces Storage writes); `progress` sees the package's send progress.
   */
  async writeFile(name: string, data: Uint8Array, progress?: ProgressHook, timeoutS = 120): Promise<void> {
    const contents = Buffer.from(data).toString("latin1");
    progressHook = progress;
    try {
      const printed = await this.call<string | undefined>((cb) =>
        this.E.Core.Utils.uploadFile(name, contents, cb, { maxTimeout: timeoutS }),
      );
      if (printed === undefined) throw new ConsoleError(this.closedBy ?? `the device did not confirm writing ${name}`);
      if (/Uncaught|Error/.test(printed))
        throw new ConsoleError(`writing ${name} failed: ${scrub(firstLine(printed))}`);
    } finally {
      progressHook = undefined;
    }
  }

  /** Sends one statement and does not wait for an answer (reset(), load(): the device restarts). */
  async send(statement: string): Promise<void> {
    // The package's connection queue (the layer its own writes go through) resolves once the line is sent.
    await silently(() => this.E.Core.Serial.connection.write(`\x10${statement}\n`) as Promise<void>);
    // Then the time the package itself waits after reset() or load() before sending anything else.
    await new Promise((r) => setTimeout(r, 250));
  }

  private call<T>(start: (cb: (v: T) => void) => void): Promise<T> {
    if (this.closedBy) return Promise.reject(new ConsoleError(this.closedBy));
    return silently(
      () =>
        new Promise<T>((resolve) => {
          const onGone = () => resolve(undefined as T);
          this.closedWaiters.push(onGone);
          start((v) => {
            this.closedWaiters = this.closedWaiters.filter((w) => w !== onGone);
            resolve(v);
          });
        }),
    );
  }

  async close(): Promise<void> {
    if (!this.E.Core.Serial.isConnected()) return;
    await silently(async () => {
      const done = new Promise<void>((r) => this.closedWaiters.push(r));
      this.E.Core.Serial.close();
      await Promise.race([done, new Promise((r) => setTimeout(r, 2000).unref())]);
    });
    this.gone("closed");
  }
}

/**
 * Device text for a message, without what could be a file's contents: an Espruino error may quote the token it
 * choked on, and the provisioning record travels base64-encoded.
 */
export function scrub(s: string): string {
  return s.replace(/[A-Za-z0-9+/]{12,}={0,2}/g, "…");
}

function firstLine(s: string): string {
  return (
    s
      .split(/\r?\n/)
      .map((l) => l.replace(/^>+/, "").trim())
      .find((l) => l) ?? ""
  );
}

/** The folder of dist/ for a board (the bundle that is flashed is the bundle that is tested). */
export function bundlePath(board: string): string {
  return path.resolve(__dirname, "..", "..", "..", "dist", board, "tracelet.js");
}

export function readBundle(board: string): Uint8Array {
  const p = bundlePath(board);
  if (!fs.existsSync(p))
    throw new ConsoleError(`no firmware for ${board} at ${p}: run \`tracelet build --board ${board}\` first`);
  return new Uint8Array(fs.readFileSync(p));
}
