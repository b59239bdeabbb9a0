import { EventEmitter } from "events";
import {
  decodeDiscoveryServiceData,
  DiscoveryAdvert,
  SYNC_CONTROL_UUID,
  SYNC_RESPONSE_UUID,
  SYNC_SERVICE_UUID,
} from "../../../firmware/src/protocol/sync";
import type { World } from "../sim/world";

/**
 * The kiosk's Bluetooth, as small as the sync engine needs: scan for adverts, connect, write the control
 * characteristic, receive response notifications. One implementation, over @stoprocent/noble: with the real
 * adapter (HCI socket on Linux, native on macOS and Windows) or, for `--sim`, on the simulator's noble bindings
 * (`host-tools/src/sim/noble-bindings.ts`), so the same code drives real and virtual bands.
 */
export interface Advert {
  /** noble's peripheral id (the address without colons, lower case). */
  id: string;
  address: string;
  connectable: boolean;
  rssi: number;
  /** The advertised device name, when there is one. */
  localName?: string;
  /** Service data entries (UUID as noble gives it: lower-case hex, no dashes). */
  serviceData: { uuid: string; data: Buffer }[];
}

/** The sync service UUID as noble gives service data UUIDs (lower-case hex, no dashes). */
export const SYNC_SERVICE_ID = SYNC_SERVICE_UUID.replace(/-/g, "");

/** A Tracelet band's discovery data in an advert's service data, if it carries valid data. */
export function discoveryOf(serviceData: Advert["serviceData"]): DiscoveryAdvert | undefined {
  const sd = serviceData.find((d) => d.uuid === SYNC_SERVICE_ID);
  const d = sd ? decodeDiscoveryServiceData(new Uint8Array(sd.data)) : undefined;
  return d?.ok ? d.value : undefined;
}

export interface BandLink {
  readonly id: string;
  readonly mtu: number;
  /** Writes one frame to the control characteristic (write with response). */
  write(data: Uint8Array): Promise<void>;
  onNotify(fn: (data: Uint8Array) => void): void;
  onDisconnect(fn: (reason: string) => void): void;
  readonly connected: boolean;
  disconnect(): Promise<void>;
}

/** The Espruino JavaScript console over the Nordic UART service (the flasher's Bluetooth transport). */
export interface UartLink {
  /** Writes to the UART's RX characteristic (at most 20 bytes at a time). */
  write(data: Uint8Array): Promise<void>;
  onData(fn: (data: Uint8Array) => void): void;
  onDisconnect(fn: (reason: string) => void): void;
  disconnect(): Promise<void>;
}

export const UART_SERVICE = "6e400001b5a3f393e0a9e50e24dcca9e";
export const UART_RX = "6e400002b5a3f393e0a9e50e24dcca9e";
export const UART_TX = "6e400003b5a3f393e0a9e50e24dcca9e";

export interface KioskRadio {
  /** Waits for the adapter; throws RadioUnavailable with what to do when there is none. */
  start(): Promise<void>;
  scan(onAdvert: (a: Advert) => void): Promise<void>;
  stopScan(): Promise<void>;
  connect(id: string, timeoutMs: number): Promise<BandLink>;
  /** Connects to a device's console over the Nordic UART service (the device must have been seen by a scan). */
  connectUart(id: string, timeoutMs: number): Promise<UartLink>;
  stop(): void;
}

export class RadioUnavailable extends Error {}

/** Time as the kiosk sees it: wall time for a real adapter, the world's virtual time on simulated bands. */
export interface KioskClock {
  /** Unix milliseconds. */
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const wallClock: KioskClock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

export function worldClock(world: World): KioskClock {
  return {
    now: () => Math.round((world.startUnix + world.now) * 1000),
    sleep: (ms) =>
      new Promise((resolve) =>
        world.scheduler.after(ms / 1000, () => {
          world.touchHost();
          resolve();
        }),
      ),
  };
}

/** What the engine needs of a noble instance (the real class, whatever bindings it runs on). */
interface NobleLike extends EventEmitter {
  state: string;
  waitForPoweredOnAsync(timeout?: number): Promise<void>;
  startScanningAsync(uuids?: string[], allowDuplicates?: boolean): Promise<void>;
  stopScanningAsync(): Promise<void>;
  stop(): void;
}

interface NobleChar extends EventEmitter {
  uuid: string;
  writeAsync(d: Buffer, withoutResponse: boolean): Promise<void>;
  subscribeAsync(): Promise<void>;
}

interface NoblePeripheral extends EventEmitter {
  id: string;
  address: string;
  state: string;
  mtu: number | null;
  connectAsync(): Promise<void>;
  disconnectAsync(): Promise<void>;
  cancelConnect(): void;
  discoverSomeServicesAndCharacteristicsAsync(s: string[], c: string[]): Promise<{ characteristics: NobleChar[] }>;
}

const bare = (u: string) => u.replace(/-/g, "").toLowerCase();

export class NobleRadio implements KioskRadio {
  private peripherals = new Map<string, NoblePeripheral>();
  private listener:
    ((p: NoblePeripheral & { connectable: boolean; rssi: number; advertisement: never }) => void) | undefined;

  private poweredOn = false;

  constructor(
    private noble: NobleLike,
    private clock: KioskClock,
    /** How the adapter is named in errors ("the Bluetooth adapter", "the simulated adapter"). */
    private what = "the Bluetooth adapter",
    /** A real adapter: noble may print warnings about it (sent to stderr). */
    private warnings = true,
  ) {}

  async start(): Promise<void> {
    // Once powered on, later calls (every health check, every scan) do not wait again.
    if (this.poweredOn && this.noble.state === "poweredOn") return;
    // noble prints its adapter warnings with console.log: to stderr, so that stdout stays the command's output.
    // Only a real adapter warns; the simulator's bindings never do, and their radios start while other code may
    // be holding the console (the flasher drops the espruino package's output meanwhile).
    const log = console.log;
    if (this.warnings) console.log = (...a: unknown[]) => console.error(...a);
    try {
      await this.noble.waitForPoweredOnAsync(5000);
      this.poweredOn = true;
    } catch {
      throw new RadioUnavailable(
        `${this.what} is not available (state: ${this.noble.state}): plug in a Bluetooth LE adapter ` +
          "(docs/kiosk.md says how to give Node access to it), or run with --sim <N> to use simulated bands",
      );
    } finally {
      if (this.warnings) console.log = log;
    }
  }

  async scan(onAdvert: (a: Advert) => void): Promise<void> {
    if (this.listener) this.noble.removeListener("discover", this.listener);
    this.listener = (p) => {
      this.peripherals.set(p.id, p);
      const adv = (p as unknown as { advertisement: { serviceData?: { uuid: string; data: Buffer }[] } }).advertisement;
      onAdvert({
        id: p.id,
        address: p.address,
        connectable: p.connectable,
        rssi: p.rssi,
        localName: (adv as { localName?: string }).localName || undefined,
        // Over a bridge the data may arrive as a plain Uint8Array: always hand on a Buffer.
        serviceData: (adv.serviceData ?? []).map((d) => ({ uuid: d.uuid, data: Buffer.from(d.data) })),
      });
    };
    this.noble.on("discover", this.listener);
    // Duplicates on: a band's discovery advert changes its nonce, and a kiosk must see a band that comes back.
    await this.noble.startScanningAsync([], true);
  }

  async stopScan(): Promise<void> {
    if (this.listener) this.noble.removeListener("discover", this.listener);
    this.listener = undefined;
    await this.noble.stopScanningAsync();
  }

  async connect(id: string, timeoutMs: number): Promise<BandLink> {
    const { p, chars } = await this.connectChars(
      id,
      SYNC_SERVICE_UUID,
      [SYNC_CONTROL_UUID, SYNC_RESPONSE_UUID],
      timeoutMs,
    );
    const [control, response] = chars;
    if (!control || !response) {
      await p.disconnectAsync().catch(() => undefined);
      throw new Error("not a Tracelet band: the sync service is missing");
    }
    return this.subscribed(p, response, timeoutMs, () => new NobleLink(p, control, response));
  }

  async connectUart(id: string, timeoutMs: number): Promise<UartLink> {
    const { p, chars } = await this.connectChars(id, UART_SERVICE, [UART_RX, UART_TX], timeoutMs);
    const [rx, tx] = chars;
    if (!rx || !tx) {
      await p.disconnectAsync().catch(() => undefined);
      throw new Error("the device has no console over Bluetooth (no Nordic UART service)");
    }
    return this.subscribed(p, tx, timeoutMs, () => new NobleUart(p, rx, tx));
  }

  private timeout(timeoutMs: number, what: string): Promise<never> {
    return this.clock.sleep(timeoutMs).then(() => {
      throw new Error(`${what} timed out after ${timeoutMs} ms`);
    });
  }

  /** Connects and discovers `service` with `chars` (undefined where missing, in the order asked). */
  private async connectChars(
    id: string,
    service: string,
    uuids: string[],
    timeoutMs: number,
  ): Promise<{ p: NoblePeripheral; chars: (NobleChar | undefined)[] }> {
    const p = this.peripherals.get(id);
    if (!p) throw new Error(`band ${id} has not been seen by the scan`);
    try {
      await Promise.race([p.connectAsync(), this.timeout(timeoutMs, "connecting")]);
    } catch (e) {
      p.cancelConnect();
      throw e;
    }
    try {
      const found = await Promise.race([
        p.discoverSomeServicesAndCharacteristicsAsync([bare(service)], uuids.map(bare)),
        this.timeout(timeoutMs, "service discovery"),
      ]);
      return { p, chars: uuids.map((u) => found.characteristics.find((c) => c.uuid === bare(u))) };
    } catch (e) {
      await p.disconnectAsync().catch(() => undefined);
      throw e;
    }
  }

  /** Builds the link (its listeners first), then subscribes to `notify`. */
  private async subscribed<L>(p: NoblePeripheral, notify: NobleChar, timeoutMs: number, make: () => L): Promise<L> {
    try {
      const link = make();
      await Promise.race([notify.subscribeAsync(), this.timeout(timeoutMs, "subscribing")]);
      return link;
    } catch (e) {
      await p.disconnectAsync().catch(() => undefined);
      throw e;
    }
  }

  stop(): void {
    this.noble.stop();
  }
}

/**
 * A connection to one characteristic pair: writes go one at a time, since noble keeps one completion callback per
 * characteristic (`onceExclusive`), so a second write issued before the first is acknowledged would leave the first
 * waiting forever. That happens whenever a band's notification (the CHALLENGE) arrives before the write response of
 * the command that caused it.
 */
class NobleConnection {
  private listener: ((d: Uint8Array) => void) | undefined;
  private gone: ((r: string) => void)[] = [];
  private writes: Promise<void> = Promise.resolve();
  connected = true;

  constructor(
    protected p: NoblePeripheral,
    private out: NobleChar,
    incoming: NobleChar,
  ) {
    incoming.on("data", (d: Buffer, isNotification: boolean) => {
      if (isNotification && this.listener) this.listener(new Uint8Array(d));
    });
    p.once("disconnect", (reason: unknown) => {
      this.connected = false;
      for (const f of this.gone) f(String(reason ?? "disconnected"));
    });
  }

  write(data: Uint8Array): Promise<void> {
    const w = this.writes.then(() => {
      if (!this.connected) throw new Error("link is down");
      return this.out.writeAsync(Buffer.from(data), false);
    });
    this.writes = w.catch(() => undefined);
    return w;
  }

  protected listen(fn: (d: Uint8Array) => void): void {
    this.listener = fn;
  }

  onDisconnect(fn: (r: string) => void): void {
    this.gone.push(fn);
  }

  async disconnect(): Promise<void> {
    if (this.connected) await this.p.disconnectAsync();
  }
}

/** The sync service: frames to the control characteristic, notifications from the response one. */
class NobleLink extends NobleConnection implements BandLink {
  get id(): string {
    return this.p.id;
  }

  get mtu(): number {
    return this.p.mtu ?? 23;
  }

  onNotify(fn: (d: Uint8Array) => void): void {
    this.listen(fn);
  }
}

/** The console over the Nordic UART service: writes to RX, what the device prints from TX. */
class NobleUart extends NobleConnection implements UartLink {
  onData(fn: (d: Uint8Array) => void): void {
    this.listen(fn);
  }
}

/** The real adapter through @stoprocent/noble (loaded only when asked for: it opens the HCI socket). */
export function realRadio(): KioskRadio {
  let noble: NobleLike;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    noble = require("@stoprocent/noble") as NobleLike;
  } catch (e) {
    throw new RadioUnavailable(
      `the Bluetooth library could not start (${(e as Error).message.split("\n")[0]}): see docs/kiosk.md, ` +
        "or run with --sim <N> to use simulated bands",
    );
  }
  return new NobleRadio(noble, wallClock);
}

/** The real noble library on the simulator's bindings: the radio of `--sim` and the tests. */
export function simRadio(
  world: World,
  position = { x: 0, y: 0 },
  /** Link faults for tests: random drops per minute, packet loss. */
  link: { dropsPerMinute?: number; packetLoss?: number } = {},
): KioskRadio {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const Noble = require("@stoprocent/noble/lib/noble") as new (b: unknown) => NobleLike;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { createNobleBindings } = require("../sim/noble-bindings") as typeof import("../sim/noble-bindings");
  return new NobleRadio(
    new Noble(createNobleBindings(world, { position, name: "kiosk", ...link })),
    worldClock(world),
    "the simulated adapter",
    false,
  );
}
