import type { RealInterpreter } from "../espruino-real/interpreter";
import { matchDiscovery } from "../../../firmware/src/protocol/sync";
import { nodePrims } from "../crypto/native";
import { Advert, discoveryOf, KioskRadio, UartLink, wallClock, KioskClock } from "../kiosk/radio";
import { BandSession } from "../kiosk/session";
import type { EspruinoDevice } from "../sim/device";
import { VirtualSerial } from "../sim/serial";
import { ConsoleDevice, PortInfo } from "./espruino-tools";

/**
 * Console transports the flasher adds to EspruinoTools' device list, besides the package's own serial ports:
 * - `SimSerialPorts`: simulated bands' USB serial consoles (`sim:<band>`), at a modelled baud rate;
 * - `EmulatorPorts`: the real Espruino interpreter's console (`emu:<name>`), for the tests;
 * - `BluetoothUartPorts`: the Espruino console over the Nordic UART service, through @stoprocent/noble (the real
 *   adapter, or the simulator's bindings): how Puck.js, Pixl.js and Bangle.js 2 are programmed.
 */

/** Seconds a serial line takes for `bytes` at `baud` (8N1: 10 bits a byte). */
export function serialSeconds(bytes: number, baud: number): number {
  return (bytes * 10) / baud;
}

/**
 * Simulated bands' USB serial ports. The world must run in real time (world.startRealtime) while in use. The
 * package remembers which transport owns a port path, so a process has one of these (`simSerialPorts()`); a path
 * plugged again (a new world's band of the same name) belongs to the newest band.
 */
export class SimSerialPorts implements ConsoleDevice {
  readonly name = "Tracelet simulated USB serial";
  private devices = new Map<string, { device: EspruinoDevice; serial: VirtualSerial }>();
  private current: { serial: VirtualSerial; listener: (s: string) => void; closed: () => void } | undefined;
  /** Baud rate of the modelled link (a USB-serial adapter on the board's console pins). */
  baud = 115200;
  /** Test hook: the link breaks after this many more bytes (an unplugged cable). */
  breakAfterBytes: number | undefined;

  /** Adds a band; returns its port path. */
  plug(device: EspruinoDevice): string {
    const path = `sim:${device.name}`;
    this.devices.set(path, { device, serial: new VirtualSerial(device) });
    return path;
  }

  /** Removes every port of these devices (their world is gone). */
  unplugAll(devices: readonly EspruinoDevice[]): void {
    for (const [path, d] of [...this.devices]) if (devices.includes(d.device)) this.unplug(path);
  }

  unplug(path: string): void {
    if (this.current && this.devices.get(path)?.serial === this.current.serial) this.close();
    this.devices.delete(path);
  }

  async ports(): Promise<PortInfo[]> {
    return [...this.devices.entries()].map(([path, d]) => ({
      path,
      description: `simulated ${d.device.board.name} (USB serial)`,
      kind: "simulated" as const,
    }));
  }

  async open(path: string, onData: (s: string) => void, onClose: () => void): Promise<void> {
    const d = this.devices.get(path);
    if (!d) throw new Error(`no simulated band on ${path}`);
    const listener = (s: string) => onData(s);
    d.serial.on("data", listener);
    this.current = { serial: d.serial, listener, closed: onClose };
  }

  async write(data: string): Promise<void> {
    const c = this.current;
    if (!c) throw new Error("port closed");
    let chars = data;
    if (this.breakAfterBytes !== undefined) {
      chars = data.slice(0, Math.max(0, this.breakAfterBytes));
      this.breakAfterBytes -= data.length;
    }
    await new Promise((r) => setTimeout(r, serialSeconds(chars.length, this.baud) * 1000));
    if (this.current !== c) throw new Error("port closed");
    c.serial.write(chars);
    if (this.breakAfterBytes !== undefined && this.breakAfterBytes < 0) {
      this.breakAfterBytes = undefined;
      const closed = c.closed;
      this.close();
      closed();
      throw new Error("the cable was unplugged");
    }
  }

  close(): void {
    if (!this.current) return;
    this.current.serial.removeListener("data", this.current.listener);
    this.current = undefined;
  }
}

let simPorts: SimSerialPorts | undefined;
/** The process's simulated serial ports (see SimSerialPorts). */
export function simSerialPorts(): SimSerialPorts {
  return (simPorts ??= new SimSerialPorts());
}

/** The real Espruino interpreter's console (a USB console, CONSOLE "USB"), driven on virtual time. */
export class EmulatorPorts implements ConsoleDevice {
  readonly name = "Tracelet real-interpreter console";
  private interps = new Map<string, RealInterpreter>();
  private current: { interp: RealInterpreter; timer: NodeJS.Timeout } | undefined;
  /** Test hook: the link breaks after this many more bytes. */
  breakAfterBytes: number | undefined;
  /** Bytes sent to interpreters so far (tests measure a session with it). */
  bytesWritten = 0;

  add(name: string, interp: RealInterpreter): string {
    const path = `emu:${name}`;
    this.interps.set(path, interp);
    return path;
  }

  async ports(): Promise<PortInfo[]> {
    return [...this.interps.keys()].map((path) => ({
      path,
      description: "real Espruino interpreter (Bangle.js 2 firmware)",
      kind: "emulated" as const,
    }));
  }

  async open(path: string, onData: (s: string) => void): Promise<void> {
    const interp = this.interps.get(path);
    if (!interp) throw new Error(`no interpreter on ${path}`);
    interp.onOutput = onData;
    // Virtual time follows the wall clock while the console is open, so the device's timers run as the
    // package's own timeouts expect.
    let last = Date.now();
    const timer = setInterval(() => {
      const now = Date.now();
      interp.runUntil(interp.now + (now - last));
      last = now;
    }, 10);
    this.current = { interp, timer };
  }

  async write(data: string): Promise<void> {
    const c = this.current;
    if (!c) throw new Error("port closed");
    let chars = data;
    let broken = false;
    if (this.breakAfterBytes !== undefined) {
      chars = data.slice(0, Math.max(0, this.breakAfterBytes));
      this.breakAfterBytes -= data.length;
      broken = this.breakAfterBytes < 0;
    }
    c.interp.type(chars);
    this.bytesWritten += chars.length;
    if (broken) {
      this.breakAfterBytes = undefined;
      this.close();
      throw new Error("the cable was unplugged");
    }
  }

  close(): void {
    if (!this.current) return;
    clearInterval(this.current.timer);
    this.current.interp.onOutput = undefined;
    this.current = undefined;
  }
}

let emuPorts: EmulatorPorts | undefined;
/** The process's real-interpreter consoles (one transport per process, as for simulated ports). */
export function emulatorPorts(): EmulatorPorts {
  return (emuPorts ??= new EmulatorPorts());
}

let simBle: BluetoothUartPorts | undefined;
/** The process's Bluetooth console transport for simulated bands (its radio set by the station that uses it). */
export function simBluetoothPorts(radio: KioskRadio, clock: KioskClock): BluetoothUartPorts {
  if (simBle) simBle.use(radio, clock);
  // Simulated bands advertise within a metre of the adapter: 1.5 s of scanning hears every one of them.
  else simBle = new BluetoothUartPorts(radio, 1500, clock);
  simBle.keys.clear();
  return simBle;
}

/** Names Espruino boards advertise out of the box (`<board> <last 4 hex digits of the address>`). */
export const ESPRUINO_NAMES = /^(Puck\.js|Pixl\.js|Bangle\.js|MDBT42Q|Espruino)\b/;

/**
 * What a port argument names: `sim` (simulated bands), a serial port (a device path; `sim:` and `emu:` are the
 * simulated and emulated ones), or a Bluetooth device (an address, a name or `band:<id>`).
 */
export function portKind(port: string): "sim" | "serial" | "bluetooth" {
  if (port === "sim") return "sim";
  if (/^(\/dev\/|COM\d+$|\\\\\.\\|sim:|emu:)/i.test(port) || port.startsWith("/")) return "serial";
  return "bluetooth";
}

/** How long a device heard in a scan counts as in range: several of a band's discovery bursts. */
const RECENT_MS = 60_000;

/** The band id in a `band:<id>` path (lowercase), or undefined for an address or a name. */
function bandOfPath(path: string): string | undefined {
  return /^band:([0-9a-f]{16})$/i.exec(path)?.[1]?.toLowerCase();
}

/** The Espruino console over the Nordic UART service, found by name or address in Bluetooth range. */
export class BluetoothUartPorts implements ConsoleDevice {
  readonly name = "Tracelet Bluetooth console (Nordic UART)";
  readonly maxWriteLength = 20;
  /** What recent scans heard, by peripheral id, with when (clock ms). */
  private seen = new Map<
    string,
    { id: string; name: string; address: string; rssi: number; band?: string; heardMs: number }
  >();
  private link: UartLink | undefined;
  private started = false;
  /**
   * Sync keys of bands the flasher may re-flash (band id -> key, from the registry): a production band has no
   * console, so its port is `band:<id>` and opening it first asks the band, authenticated with its key, to turn
   * the console on until its next restart (docs/flashing.md).
   */
  readonly keys = new Map<string, Uint8Array>();

  constructor(
    private radio: KioskRadio | undefined,
    /** How long `ports()` listens for adverts. */
    private readonly scanMs = 3000,
    private clock: KioskClock = wallClock,
  ) {}

  /**
   * Another radio from now on, or none (`undefined`: no ports, nothing to open) once its world is gone; the package
   * remembers the transport of a path, so a process keeps one object.
   */
  use(radio: KioskRadio | undefined, clock: KioskClock = wallClock): void {
    this.close();
    this.radio = radio;
    this.clock = clock;
    this.started = false;
    this.seen.clear();
  }

  private async ensureStarted(): Promise<KioskRadio> {
    if (!this.radio) throw new Error("no Bluetooth adapter");
    if (!this.started) await this.radio.start();
    this.started = true;
    return this.radio;
  }

  /** Which known band sent this discovery service data, if any. */
  private bandOf(serviceData: Advert["serviceData"]): string | undefined {
    if (this.keys.size === 0) return undefined;
    const d = discoveryOf(serviceData);
    if (!d) return undefined;
    const ids = [...this.keys.keys()];
    const i = matchDiscovery(nodePrims, [...this.keys.values()], d);
    return i >= 0 ? ids[i] : undefined;
  }

  /**
   * Scans for `ms`, noting what is in range; with `band`, stops as soon as that band's advert is heard and returns
   * its peripheral id (a band takes connections only while its discovery burst is on air: connect at once); with
   * `path`, stops as soon as that address or name is heard.
   */
  private async listen(ms: number, band?: string, path?: string): Promise<string | undefined> {
    const radio = await this.ensureStarted();
    let heard: string | undefined;
    let wake: () => void = () => undefined;
    await radio.scan((a) => {
      if (!a.connectable) return;
      const b = this.bandOf(a.serviceData);
      const name = a.localName ?? "";
      if (!name && !b && !this.seen.has(a.id)) return;
      this.seen.set(a.id, { id: a.id, name, address: a.address, rssi: a.rssi, band: b, heardMs: this.clock.now() });
      if (heard !== undefined) return;
      if ((band !== undefined && b === band) || (path !== undefined && this.resolve(path) === a.id)) {
        heard = a.id;
        wake();
      }
    });
    await Promise.race([new Promise<void>((r) => (wake = r)), this.clock.sleep(ms)]);
    await radio.stopScan();
    return heard;
  }

  /** Connects to `band` at one of its next discovery bursts (up to 4 tries of 8 s each). */
  private async atNextBurst<T>(band: string, connect: (id: string) => Promise<T>): Promise<T> {
    let last: Error | undefined;
    for (let attempt = 0; attempt < 4; attempt++) {
      const id = await this.listen(8000, band);
      if (id === undefined) continue;
      try {
        return await connect(id);
      } catch (e) {
        last = e as Error;
      }
    }
    throw new Error(`band ${band}: ${last?.message ?? "not heard"}`);
  }

  /**
   * Scans for `scanMs` and lists what is in range: Espruino boards by name, known bands as `band:<id>`. Every
   * device is listed under its address and, as an alias the package also accepts, its name. A band is on air only
   * during its discovery bursts (every 4-6 s), so what was heard in the last minute counts as in range.
   */
  async ports(): Promise<PortInfo[]> {
    if (!this.radio) return [];
    await this.listen(this.scanMs);
    const out: PortInfo[] = [];
    const recent = this.clock.now() - RECENT_MS;
    const devices = [...this.seen.values()]
      .filter((d) => d.heardMs >= recent)
      .sort((a, b) => Number(ESPRUINO_NAMES.test(b.name)) - Number(ESPRUINO_NAMES.test(a.name)) || b.rssi - a.rssi);
    for (const d of devices) {
      const description = `${d.band ? `Tracelet band ${d.band}` : d.name || "(no name)"} ${d.rssi} dBm (Bluetooth)`;
      out.push({ path: d.band ? `band:${d.band}` : d.address || d.id, description, kind: "bluetooth" });
      if (d.name && !d.band) out.push({ path: d.name, description, kind: "bluetooth", alias: true });
    }
    return out;
  }

  /**
   * Listens until `path` (an address, a name or `band:<id>`) is heard, up to 4 tries of 8 s; says why not when it
   * was not.
   */
  async find(path: string): Promise<string | undefined> {
    if (!this.radio || portKind(path) !== "bluetooth") return undefined;
    const band = bandOfPath(path);
    if (band !== undefined && !this.keys.has(band)) return `no sync key for band ${band}`;
    for (let attempt = 0; attempt < 4 && this.resolve(path) === undefined; attempt++)
      await this.listen(8000, band, path);
    return this.resolve(path) === undefined ? "not heard in Bluetooth range within 32 s" : undefined;
  }

  /** The peripheral id for an address, a name or `band:<id>` heard in the last minute. */
  private resolve(path: string): string | undefined {
    const want = path.toLowerCase();
    const recent = this.clock.now() - RECENT_MS;
    for (const d of this.seen.values())
      if (
        d.heardMs >= recent &&
        (d.address.toLowerCase() === want ||
          d.id === want.replace(/:/g, "") ||
          d.name.toLowerCase() === want ||
          (d.band !== undefined && `band:${d.band}` === want))
      )
        return d.id;
    return undefined;
  }

  async open(path: string, onData: (s: string) => void, onClose: () => void): Promise<void> {
    const id = this.resolve(path);
    if (!id) throw new Error(`${path} is not in Bluetooth range`);
    const band = bandOfPath(path);
    const radio = await this.ensureStarted();
    const link = band ? await this.maintenanceConsole(radio, band) : await radio.connectUart(id, 10000);
    link.onData((d) => onData(Buffer.from(d).toString("latin1")));
    link.onDisconnect(() => {
      if (this.link === link) {
        this.link = undefined;
        onClose();
      }
    });
    this.link = link;
  }

  /**
   * A production band's console: authenticated with the band's sync key over the sync service, the maintenance
   * command turns the console on until the band's next restart; the console is then reached as any other.
   */
  private async maintenanceConsole(radio: KioskRadio, band: string): Promise<UartLink> {
    const key = this.keys.get(band) as Uint8Array;
    const sync = await this.atNextBurst(band, (id) => radio.connect(id, 5000));
    const session = new BandSession(sync, key, this.clock);
    try {
      await session.authenticate();
      await session.openConsole();
    } finally {
      await session.close().catch(() => undefined);
    }
    // The console service appears once the kiosk link is gone; the band is connectable again at its next
    // discovery burst (every 4-6 s).
    try {
      return await this.atNextBurst(band, (id) => radio.connectUart(id, 5000));
    } catch (e) {
      throw new Error(`did not open its console: ${(e as Error).message}`);
    }
  }

  async write(data: string): Promise<void> {
    const link = this.link;
    if (!link) throw new Error("not connected");
    for (let i = 0; i < data.length; i += this.maxWriteLength)
      await link.write(Uint8Array.from(Buffer.from(data.slice(i, i + this.maxWriteLength), "latin1")));
  }

  close(): void {
    const link = this.link;
    this.link = undefined;
    void link?.disconnect().catch(() => undefined);
  }
}
