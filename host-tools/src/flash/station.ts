import { discoveryOf, KioskClock, KioskRadio, simRadio, wallClock, worldClock } from "../kiosk/radio";
import { World } from "../sim/world";
import { addDevice, listSerialPorts, PortInfo } from "./espruino-tools";
import { HealthCheck, radioHealthCheck } from "./health";
import { BluetoothUartPorts, ESPRUINO_NAMES, simBluetoothPorts, simSerialPorts } from "./transports";
import { loadBoard } from "../boards/load";

/**
 * Where the bands to flash come from: one port, the bands a technician plugs in or brings into Bluetooth range one
 * after another (`--batch`), or simulated bands fresh from the box (`--port sim`).
 */
export interface Station {
  /** The next band's port; undefined when there are no more (the count is reached, or stop() was called). */
  next(): Promise<string | undefined>;
  /** The health check after a band restarts (undefined: no way to reach its sync service). */
  readonly health?: HealthCheck;
  /** Unix milliseconds as the bands should be set to. */
  now(): number;
  /** No more bands after the one in progress (Ctrl-C): next() answers undefined; nothing is torn down yet. */
  drain(): void;
  stop(): void;
  /**
   * Whether a band's health check may run while the next band is flashed: only when the check has a radio of its
   * own (noble keeps one scan listener per adapter, and the console and the watch for new bands use it too).
   */
  readonly parallelHealth: boolean;
}

/**
 * Simulated bands of `board`, fresh from the box, reached as that board is: a simulated USB serial port on boards
 * with a serial console (MDBT42Q), else the Espruino console over the simulated Bluetooth (Nordic UART service),
 * through the same transport and noble library as a real adapter.
 */
export class SimStation implements Station {
  readonly parallelHealth = true;
  readonly world: World;
  readonly ports = simSerialPorts();
  readonly health: HealthCheck;
  readonly transport: "serial" | "bluetooth";
  private made = 0;
  private stopped = false;
  private radio: KioskRadio;
  private consoleRadio: KioskRadio | undefined;
  /** The Bluetooth console transport (bluetooth stations): its `keys` let it re-flash bands as `band:<id>`. */
  bluetooth: BluetoothUartPorts | undefined;

  constructor(
    readonly board: string,
    readonly count: number,
    opts: { baud?: number; seed?: number; world?: World; transport?: "serial" | "bluetooth" } = {},
  ) {
    this.world = opts.world ?? new World({ seed: opts.seed ?? 1, startUnix: Math.floor(Date.now() / 1000) });
    this.ports.baud = opts.baud ?? 115200;
    this.radio = simRadio(this.world, { x: 0, y: 0 });
    this.health = radioHealthCheck(this.radio, worldClock(this.world), 60_000);
    this.transport = opts.transport ?? (loadBoard(board).console.includes("serial") ? "serial" : "bluetooth");
  }

  /** Registers the simulated ports with the package and starts the world in real time. */
  async start(): Promise<void> {
    if (this.transport === "serial") await addDevice(this.ports);
    else {
      // The console link is a second central (the laptop's adapter), beside the health check's.
      this.consoleRadio = simRadio(this.world, { x: 0, y: 0.5 });
      this.bluetooth = simBluetoothPorts(this.consoleRadio, worldClock(this.world));
      await addDevice(this.bluetooth);
    }
    this.world.startRealtime(1);
  }

  async next(): Promise<string | undefined> {
    if (this.stopped || this.made >= this.count) return undefined;
    this.made++;
    // On the bench, within a metre of the flasher's adapter.
    const angle = (this.made * 2 * Math.PI) / Math.max(this.count, 1);
    const device = this.world.addBand({
      board: this.board,
      name: `new${this.made}`,
      position: { x: Math.cos(angle), y: Math.sin(angle) },
    });
    if (this.transport === "bluetooth") return device.nrf.deviceName();
    return this.ports.plug(device);
  }

  now(): number {
    return Math.round((this.world.startUnix + this.world.now) * 1000);
  }

  drain(): void {
    this.stopped = true;
  }

  stop(): void {
    this.stopped = true;
    this.world.stopRealtime();
    this.radio.stop();
    this.consoleRadio?.stop();
    // The package keeps asking every transport for ports: none of this world's may be offered any more.
    this.bluetooth?.use(undefined);
    if (this.transport === "serial") this.ports.unplugAll(this.world.devices);
  }
}

/** One given port (a serial path, or a Bluetooth address or name). */
export class PortStation implements Station {
  readonly parallelHealth = false;
  private given = false;
  constructor(
    private readonly port: string,
    readonly health?: HealthCheck,
  ) {}
  async next(): Promise<string | undefined> {
    if (this.given) return undefined;
    this.given = true;
    return this.port;
  }
  now(): number {
    return Date.now();
  }
  drain(): void {
    this.given = true;
  }
  stop(): void {}
}

/**
 * Bands as they appear: serial ports (each port present at the start, then each one plugged in later; a port
 * that goes away and comes back is a new band) and, with a Bluetooth adapter, Espruino boards advertising their
 * out-of-the-box name or Tracelet bands sending the unprovisioned (all-zero) discovery advert.
 */
export class WatchStation implements Station {
  private queue: string[] = [];
  private present = new Set<string>();
  private done = new Set<string>();
  private stopped = false;
  private given = 0;
  private wake: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  readonly health?: HealthCheck;
  readonly parallelHealth: boolean;

  constructor(
    private readonly count: number | undefined,
    private readonly bluetooth: { radio: KioskRadio; clock?: KioskClock } | undefined,
    /** Where serial ports are listed (the package's serial transport; tests give simulated ports). */
    private readonly serialPorts: () => Promise<PortInfo[]> = listSerialPorts,
  ) {
    if (bluetooth) this.health = radioHealthCheck(bluetooth.radio, bluetooth.clock ?? wallClock, 60_000);
    this.parallelHealth = !bluetooth;
  }

  async start(): Promise<void> {
    await this.poll();
    this.timer = setInterval(() => void this.poll(), 1000);
    if (this.bluetooth) await this.bluetooth.radio.start();
  }

  /** (Re)starts the Bluetooth watch: flashing a band uses the same radio, which replaces the scan's listener. */
  private async watchRadio(): Promise<void> {
    if (this.bluetooth)
      await this.bluetooth.radio.scan((a) => {
        if (!a.connectable) return;
        const candidate = discoveryOf(a.serviceData)?.unprovisioned || ESPRUINO_NAMES.test(a.localName ?? "");
        if (candidate) this.offer(a.address || a.id);
      });
  }

  private async poll(): Promise<void> {
    const serial = (await this.serialPorts().catch(() => [])).map((p) => p.path);
    for (const p of [...this.present]) if (!serial.includes(p)) this.present.delete(p);
    for (const p of serial)
      if (!this.present.has(p)) {
        this.present.add(p);
        this.done.delete(p);
        this.offer(p);
      }
  }

  private offer(port: string): void {
    if (this.done.has(port) || this.queue.includes(port)) return;
    this.queue.push(port);
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  async next(): Promise<string | undefined> {
    await this.watchRadio();
    while (!this.stopped && (this.count === undefined || this.given < this.count)) {
      const p = this.queue.shift();
      if (p !== undefined) {
        this.done.add(p);
        this.given++;
        return p;
      }
      await new Promise<void>((r) => (this.wake = r));
    }
    return undefined;
  }

  now(): number {
    return Date.now();
  }

  drain(): void {
    this.stopped = true;
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    void this.bluetooth?.radio.stopScan().catch(() => undefined);
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }
}
