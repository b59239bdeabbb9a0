import { adFields, formatAddress, normUuid, toBytes } from "./bytes";
import { CPU_COST, EspruinoDevice } from "./device";
import { EnergyMeter } from "./energy";
import type { Link } from "./gatt";
import { Realm } from "./realm";
import { Rng } from "./rng";
import type { Advertiser, AdvertState, RxPacket, Scanner } from "./world";

/**
 * The `NRF` object and the band's side of the radio, after libs/bluetooth/jswrap_bluetooth.c (espruino/Espruino):
 *
 * - setAdvertising(data, options): an object gives service data/UUIDs (with flags and, unless showName:false, the
 *   name), an array or ArrayBuffer/typed array is sent raw, an array of packets is sent in turn. Interval clamped to
 *   20 ms - 10.24 s; non-connectable adverts below 100 ms are clamped to 100 ms (shared/ESPRUINO.md); a connectable
 *   advert that is not scannable asks for a directed advert, which the SoftDevice refuses (INVALID_PARAM); packets
 *   over 31 bytes are refused (DATA_SIZE). While connected only non-connectable advertising with `whenConnected`
 *   continues.
 * - setAddress: validated ("random" needs the top two bits set), then the stack restarts when nothing is connected
 *   (queued otherwise, done at the disconnect). A restart (jsble_restart_softdevice: jsble_kill, jsble_init,
 *   jswrap_ble_reconfigure_softdevice in targets/nrf5x/bluetooth.c) sets the address, sets the GAP device name back
 *   to the board's default (gap_params_init), *wakes* the radio (jsble_init ends in jswrap_ble_wake, so NRF.sleep()
 *   does not survive it) and starts advertising the advert it has stored, from the new address, then applies the
 *   stored advert and options again (the options' name among them), the services, and restarts scanning with
 *   *default* parameters: the scan callback and its filters survive (they are bound into the callback),
 *   interval/window/active do not (jsble_set_scanning(true, NULL)). The restarted stack's first advertising event
 *   goes out before JavaScript runs again: a setAdvertising in the same callback as the setAddress comes after one
 *   packet of the old advert from the new address (World.advertiseOnce).
 * - GAP device name (read by a central on connect, GATT 0x1800/0x2A00; Link.read): the board's default at every
 *   stack start, e.g. "Puck.js 1a2b" from the last 4 hex digits of the factory address (FICR DEVICEADDR, whatever
 *   address is set); `setAdvertising(data, {name})` sets it at once (sd_ble_gap_device_name_set) without putting it
 *   in a raw advert. The stack keeps the options object (a reference: later changes to it count at the next restart).
 * - sleep() stops advertising and disconnects; while asleep setAdvertising only stores the advert (except one with
 *   whenConnected while a central is still connected, which starts advertising at once); a disconnect does not
 *   restart advertising; wake() starts it (nothing changes if it is on).
 * - setScan(cb, {filters, active, interval, window}): while a scan runs, a new call replaces the callback and
 *   filters but keeps the running interval/window/active (jsble_set_scanning starts a scan only when none runs).
 *   One BluetoothDevice object per packet, built as
 *   jswrap_ble_setScan_cb does (id, rssi, data, then name/shortName/manufacturer/manufacturerData in packet order,
 *   then services and serviceData only when non-empty; 16-bit UUIDs as lowercase "%04x"; values ArrayBuffers),
 *   filtered by jswrap_ble_filter_device. Default interval = window = 100 ms (continuous).
 * - setServices/updateServices: UUIDs as numbers, "ABCD" or 128-bit strings; maxLen defaults to the initial value's
 *   length; `uart` (default true) keeps the Nordic UART service, i.e. the JavaScript console over Bluetooth
 *   (console.ts: the same line discipline as the USB console; output as UART_TX notifications of 20 bytes).
 *   Changing services that were already set needs a stack restart (queued while connected; updateServices then
 *   throws "Can't update services until BLE restart"). A notification while the SoftDevice's TX queue is full is
 *   silently dropped: jswrap_ble_updateServices ignores NRF_ERROR_RESOURCES.
 * - findDevices collates setScan results for `timeout` ms (replacing any scan in progress, and stopping scanning at
 *   the end), sleep/wake, disconnect, setTxPower, setConnectionInterval, getAddress, getBattery, setSecurity.
 */
export const UART_SERVICE = "6e400001-b5a3-f393-e0a9-e50e24dcca9e";
export const UART_RX = "6e400002-b5a3-f393-e0a9-e50e24dcca9e";
export const UART_TX = "6e400003-b5a3-f393-e0a9-e50e24dcca9e";

const DEFAULT_ADV_INTERVAL_MS = 375;
const DEFAULT_SCAN_MS = 100;
/** SoftDevice notification queue (hvn_tx_queue_size) assumed for Espruino builds. */
export const TX_QUEUE = 8;
/** Console output per UART_TX notification: the default MTU (23) less the ATT header. */
export const UART_CHUNK = 20;

export interface CharDef {
  uuid: string;
  value: Uint8Array;
  maxLen: number;
  readable: boolean;
  writable: boolean;
  notify: boolean;
  indicate: boolean;
  description?: string;
  onWrite?: unknown;
  onWriteDesc?: unknown;
}

export interface ServiceDef {
  uuid: string;
  chars: Map<string, CharDef>;
}

interface ParsedDevice {
  id: string;
  rssi: number;
  name?: string;
  shortName?: string;
  manufacturer?: number;
  manufacturerData?: Uint8Array;
  services: string[];
  serviceData: [string, Uint8Array][];
  order: string[];
}

interface ScanSession {
  cb: unknown;
  filters: unknown[] | undefined;
  intervalMs: number;
  windowMs: number;
  active: boolean;
  scanner: Scanner;
}

export class NrfStack implements Advertiser {
  txPowerDbm: number;
  readonly factoryAddress: string;
  address: string;
  consoleOnBluetooth = true;
  advVersion = 0;
  /** Raw packets configured by setAdvertising (undefined = Espruino's default advert). */
  private advPackets: Uint8Array[] | undefined;
  private advOpts = { intervalMs: DEFAULT_ADV_INTERVAL_MS, connectable: true, scannable: true, whenConnected: false };
  private advSince = 0;
  private sleeping = false;
  /** Asleep but advertising anyway: setAdvertising with whenConnected while connected (until the disconnect). */
  private advertisingAsleep = false;
  /** The options object the program last passed to setAdvertising: the stack keeps it and re-applies it at restarts. */
  private advOptionsRef: Record<string, unknown> | undefined;
  /** GAP device name (0x2A00). */
  gapName = "";
  /** What a restart put on air, at its time: its first event goes out even if JavaScript changes it at once. */
  private restarted: { t: number; st: AdvertState | undefined } | undefined;
  private scanResponse: Uint8Array | undefined;
  private scan: ScanSession | undefined;
  services = new Map<string, ServiceDef>();
  uart = true;
  private servicesWereSet = false;
  private needsRestart = false;
  private pendingServices: { data: unknown; uart: boolean } | undefined;
  link: Link | undefined;
  private roots: Record<string, unknown> = {};
  private security: unknown;
  /** Extra connection-interval request from NRF.setConnectionInterval (seconds), if any. */
  connectionIntervalS: number | undefined;

  constructor(
    readonly device: EspruinoDevice,
    private rng: Rng,
  ) {
    this.txPowerDbm = device.board.radio.txPowerDbm;
    device.console.attach("Bluetooth", (s) => this.uartOutput(s));
    const a = rng.fork("address").bytes(6);
    a[0] |= 0xc0;
    this.factoryAddress = formatAddress(a);
    this.address = `${this.factoryAddress} random`;
  }

  get label(): string {
    return this.device.name;
  }

  get radioIndex(): number {
    return this.device.radioIndex;
  }

  get rxGainDb(): number {
    return this.device.rxGainDb;
  }

  get worn(): boolean {
    return this.device.worn;
  }

  positionAt(t: number) {
    return this.device.positionAt(t);
  }

  eirpDbm(): number {
    return this.device.eirpDbm();
  }

  // ------------------------------------------------------------------------------------------ lifecycle

  /** After a reset or power-on: Espruino's defaults (connectable advertising with the name, UART on). */
  boot(): void {
    this.device.accrue();
    this.txPowerDbm = this.device.board.radio.txPowerDbm;
    this.address = `${this.factoryAddress} random`;
    this.advPackets = undefined;
    this.advOpts = { intervalMs: DEFAULT_ADV_INTERVAL_MS, connectable: true, scannable: true, whenConnected: false };
    this.advOptionsRef = undefined;
    this.sleeping = this.advertisingAsleep = false;
    this.gapName = this.deviceName();
    this.restarted = undefined;
    this.scanResponse = undefined;
    this.scan = undefined;
    // Espruino's own services until the program sets some: the Nordic UART (the console) alone. A link kept
    // through a soft reset keeps the services it sees until it ends (the stack applies new ones on disconnect).
    this.servicesWereSet = false;
    this.needsRestart = false;
    this.pendingServices = undefined;
    if (this.link) {
      this.pendingServices = { data: undefined, uart: true };
      this.needsRestart = true;
    } else this.applyServices(undefined, true);
    this.consoleOnBluetooth = true;
    this.roots = {};
    this.connectionIntervalS = undefined;
    this.advChanged();
  }

  /** Power loss or reset: the radio goes quiet; a connection drops (the central sees a timeout) unless soft. */
  shutdown(softReset = false): void {
    this.device.accrue();
    if (this.scan) this.device.world.stopScan(this.scan.scanner);
    this.scan = undefined;
    const l = this.link;
    if (!softReset) {
      this.link = undefined;
      if (l) l.lost(0x08, true);
    }
    this.advPackets = undefined;
    this.advVersion++;
    this.device.world.advertChanged(this);
  }

  memoryRoots(): unknown[] {
    const r: unknown[] = [this.roots];
    if (this.scan) r.push(this.scan.cb, this.scan.filters);
    return r;
  }

  // ------------------------------------------------------------------------------------------ Advertiser

  /** What the radio sends now, or undefined when silent. */
  advert(): AdvertState | undefined {
    if (!this.device.on || (this.sleeping && !(this.link && this.advertisingAsleep))) return undefined;
    let connectable = this.advOpts.connectable;
    if (this.link) {
      if (!this.advOpts.whenConnected) return undefined;
      connectable = false;
    }
    const packets = this.advPackets ?? [this.defaultAdvert()];
    return {
      packets,
      intervalMs: this.advOpts.intervalMs,
      connectable,
      scannable: this.advOpts.scannable,
      address: this.address,
      since: this.advSince,
      scanResponse: this.advOpts.scannable ? this.currentScanResponse() : undefined,
    };
  }

  private defaultAdvert(): Uint8Array {
    const name = this.deviceName();
    const b = [2, 1, 6, name.length + 1, 9];
    for (let i = 0; i < name.length; i++) b.push(name.charCodeAt(i));
    return Uint8Array.from(b.slice(0, 31));
  }

  /** The board's default GAP device name: its name prefix and the factory address's last 4 hex digits. */
  deviceName(): string {
    const prefix = this.device.board.name.split(" ")[0];
    return `${prefix} ${this.factoryAddress.slice(-5).replace(":", "")}`;
  }

  private currentScanResponse(): Uint8Array | undefined {
    if (this.scanResponse) return this.scanResponse;
    if (this.uart) {
      const u = UART_SERVICE.replace(/-/g, "");
      const out = [17, 7];
      for (let i = 15; i >= 0; i--) out.push(parseInt(u.slice(i * 2, i * 2 + 2), 16));
      return Uint8Array.from(out);
    }
    return undefined;
  }

  private advChanged(): void {
    const now = this.device.world.now;
    // A change in the instant of a restart (the same callback): the restarted stack's first event already went out.
    const r = this.restarted;
    this.restarted = undefined;
    if (r && r.st && r.t === now) this.device.world.advertiseOnce(this, r.st);
    this.advSince = now;
    this.advVersion++;
    this.device.world.advertChanged(this);
  }

  // ------------------------------------------------------------------------------------------ energy

  accrue(t0: number, t1: number, meter: EnergyMeter): void {
    const dt = t1 - t0;
    const a = this.advert();
    if (a) {
      const events = dt / (a.intervalMs / 1000 + 0.005);
      meter.add(a.connectable ? "connectableAdvertising" : "advertising", events * meter.advertEventUc(a.connectable));
    }
    if (this.scan) {
      const duty = Math.min(1, this.scan.windowMs / this.scan.intervalMs);
      meter.add("scanning", this.device.board.currentUa.scanning * dt * duty);
    }
    if (this.link) meter.add("connected", this.device.board.currentUa.connected * dt);
  }

  // ------------------------------------------------------------------------------------------ restart

  /** jswrap_ble_restart: now if nothing is connected, else when the connection closes. */
  private restart(): void {
    if (this.link) {
      this.needsRestart = true;
      return;
    }
    this.doRestart();
  }

  private doRestart(): void {
    this.device.accrue();
    this.needsRestart = false;
    // jsble_init: the GAP name back to the default, the radio awake; reconfigure: the stored advert and options again.
    this.gapName = this.deviceName();
    this.sleeping = this.advertisingAsleep = false;
    if (this.advOptionsRef) this.applyOptions(this.advOptionsRef);
    if (this.pendingServices) {
      this.applyServices(this.pendingServices.data, this.pendingServices.uart);
      this.pendingServices = undefined;
    }
    if (this.scan) {
      // Scanning restarts with default parameters; callback and filters survive.
      this.scan.intervalMs = DEFAULT_SCAN_MS;
      this.scan.windowMs = DEFAULT_SCAN_MS;
      this.scan.active = false;
      this.scan.scanner.duty = 1;
      this.scan.scanner.active = false;
    }
    this.advChanged();
    this.restarted = { t: this.device.world.now, st: this.advert() };
    this.device.stackRestarted();
  }

  // ------------------------------------------------------------------------------------------ connections

  /** A central connected (called by the link model). */
  connected(link: Link): void {
    this.device.accrue();
    this.link = link;
    this.uartTx = [];
    // The console moves to Bluetooth with a fresh input line (jsiClearInputLine on BLE_GAP_EVT_CONNECTED).
    if (this.consoleIsBluetooth()) this.device.console.clearInputLine();
    this.advChanged();
    const addr = link.central.address;
    this.device.emitNow(this.device.global("NRF"), "connect", [addr], "event:connect");
  }

  /** The connection ended (either side). */
  disconnected(reason: number): void {
    this.device.accrue();
    if (this.consoleIsBluetooth()) this.device.console.clearInputLine();
    this.link = undefined;
    this.uartTx = [];
    this.advertisingAsleep = false;
    if (this.needsRestart) this.doRestart();
    else this.advChanged();
    this.device.emitNow(this.device.global("NRF"), "disconnect", [reason], "event:disconnect");
  }

  findChar(svc: string, ch: string): CharDef | undefined {
    const s = this.services.get(svc);
    return s ? s.chars.get(ch) : undefined;
  }

  /** A write from the central arrived (ATT write request/command). */
  gattWrite(svc: string, ch: string, data: Uint8Array): void {
    const c = this.findChar(svc, ch);
    if (!c) return;
    c.value = data.slice();
    if (svc === UART_SERVICE && ch === UART_RX) {
      this.uartInput(data);
      return;
    }
    if (c.onWrite) {
      const evt = this.device.newObject();
      evt.data = this.device.buffer(data);
      this.device.cbOp = data.length ? data[0] : -1;
      this.device.call("onWrite", c.onWrite, undefined, [evt]);
    }
  }

  gattSubscribe(svc: string, ch: string, on: boolean): void {
    const c = this.findChar(svc, ch);
    if (!c || !c.onWriteDesc) return;
    const evt = this.device.newObject();
    evt.data = this.device.buffer(Uint8Array.of(on ? 1 : 0, 0));
    this.device.call("onWriteDesc", c.onWriteDesc, undefined, [evt]);
  }

  /**
   * The console is on Bluetooth while a central is connected and the Nordic UART service is up, unless the program
   * moved it elsewhere (E.setConsole): targets/nrf5x/bluetooth.c moves it at BLE_GAP_EVT_CONNECTED when the UART is
   * initialised and the console is not forced, and back at the disconnect.
   */
  consoleIsBluetooth(): boolean {
    return !!this.link && this.uart && this.consoleOnBluetooth;
  }

  /** What the central wrote to the UART's RX characteristic: console input (console.ts, shared with USB). */
  private uartInput(data: Uint8Array): void {
    this.device.console.input("Bluetooth", data);
  }

  /**
   * Console output over Bluetooth: UART_TX notifications of at most 20 bytes (nus_transmit_string sends up to the
   * effective MTU - 3, and the effective MTU starts at 23), in order; held back while the SoftDevice's queue is full,
   * dropped when the central has not enabled notifications (NRF_ERROR_INVALID_STATE clears the buffer).
   */
  private uartOutput(s: string): void {
    for (let i = 0; i < s.length; i++) this.uartTx.push(s.charCodeAt(i) & 255);
    this.uartPump();
  }

  private uartTx: number[] = [];
  private uartRetry = false;

  private uartPump(): void {
    const link = this.link;
    while (link && this.uartTx.length && !this.uartRetry) {
      if (!link.subscribed.has(`${UART_SERVICE}/${UART_TX}`)) {
        this.uartTx = [];
        return;
      }
      const chunk = Uint8Array.from(this.uartTx.slice(0, UART_CHUNK));
      if (!link.notifyFromPeripheral(UART_SERVICE, UART_TX, chunk, this.device.localNow())) {
        // The TX queue is full: try again a connection interval later.
        this.uartRetry = true;
        this.device.world.scheduler.after(link.connectionInterval, () => {
          this.uartRetry = false;
          if (this.link === link) this.uartPump();
        });
        return;
      }
      this.uartTx.splice(0, chunk.length);
    }
    if (!link) this.uartTx = [];
  }

  // ------------------------------------------------------------------------------------------ scanning

  /** The fields jswrap_ble_setScan_cb extracts from a packet, parsed host-side (cheap, no VM objects). */
  private parsePacket(p: RxPacket): ParsedDevice {
    const d: ParsedDevice = { id: p.address, rssi: p.rssi, services: [], serviceData: [], order: [] };
    for (const f of adFields(p.data)) {
      const t = f.type;
      const b = f.data;
      if (t === 0x08) {
        d.shortName = String.fromCharCode(...b);
        d.order.push("shortName");
      } else if (t === 0x09) {
        d.name = String.fromCharCode(...b);
        d.order.push("name");
      } else if (t === 0x02 || t === 0x03) {
        for (let i = 0; i + 1 < b.length; i += 2)
          d.services.push((b[i] | (b[i + 1] << 8)).toString(16).padStart(4, "0"));
      } else if (t === 0x06 || t === 0x07) {
        if (b.length >= 16) d.services.push(uuid128(b.subarray(0, 16)));
      } else if (t === 0x16 || t === 0x21) {
        const is128 = t === 0x21;
        const n = is128 ? 16 : 2;
        if (b.length < n) continue;
        const key = is128 ? uuid128(b.subarray(0, 16)) : (b[0] | (b[1] << 8)).toString(16).padStart(4, "0");
        const i = d.serviceData.findIndex((x) => x[0] === key);
        if (i >= 0) d.serviceData[i] = [key, b.subarray(n)];
        else d.serviceData.push([key, b.subarray(n)]);
      } else if (t === 0xff) {
        d.manufacturer = b.length >= 2 ? b[0] | (b[1] << 8) : b.length === 1 ? b[0] : 0;
        d.manufacturerData = b.subarray(2);
        if (!d.order.includes("manufacturer")) d.order.push("manufacturer");
      }
    }
    return d;
  }

  /** The BluetoothDevice object of the device's realm, properties in the interpreter's order. */
  private deviceObject(p: RxPacket, d: ParsedDevice): Record<string, unknown> {
    const o = Object.create((this.device.global("BluetoothDevice") as { prototype: object }).prototype) as Record<
      string,
      unknown
    >;
    o.id = d.id;
    o.rssi = d.rssi;
    o.data = this.device.buffer(p.data);
    for (const k of d.order) {
      if (k === "manufacturer") {
        o.manufacturer = d.manufacturer;
        o.manufacturerData = this.device.buffer(d.manufacturerData as Uint8Array);
      } else o[k] = d[k as "name" | "shortName"];
    }
    if (d.services.length) o.services = this.device.newArray(d.services);
    if (d.serviceData.length) {
      const sd = this.device.newObject();
      for (const [k, v] of d.serviceData) sd[k] = this.device.buffer(v);
      o.serviceData = sd;
    }
    return o;
  }

  /** jswrap_ble_filter_device: true if any filter matches (no filters: everything). */
  private matches(filters: unknown[] | undefined, d: ParsedDevice): boolean {
    if (!filters) return true;
    for (const f of filters as Record<string, unknown>[]) {
      if (!f || typeof f !== "object") continue;
      let ok = true;
      if (f.services !== undefined) {
        for (const s of f.services as unknown[]) {
          let want: string;
          try {
            want = normUuid(s);
          } catch {
            want = String(s);
          }
          if (!d.services.includes(want)) ok = false;
        }
      }
      if (f.name !== undefined && d.name !== f.name) ok = false;
      if (f.namePrefix !== undefined && !(typeof d.name === "string" && d.name.startsWith(String(f.namePrefix))))
        ok = false;
      if (f.id !== undefined && d.id !== f.id) ok = false;
      if (f.serviceData && typeof f.serviceData === "object") {
        for (const k of Object.keys(f.serviceData as object)) if (!d.serviceData.some((x) => x[0] === k)) ok = false;
      }
      if (f.manufacturerData && typeof f.manufacturerData === "object") {
        for (const k of Object.keys(f.manufacturerData as object)) if (String(d.manufacturer) !== k) ok = false;
      }
      if (ok) return true;
    }
    return false;
  }

  /** World times scans started (the last 2000), to measure the firmware's scan period. */
  readonly scanStarts: number[] = [];

  private startScan(cb: unknown, options: Record<string, unknown> | undefined): void {
    this.device.accrue();
    if (typeof cb === "function") {
      this.scanStarts.push(this.device.world.now);
      if (this.scanStarts.length > 2000) this.scanStarts.shift();
    }
    const old = this.scan;
    if (old) this.device.world.stopScan(old.scanner);
    this.scan = undefined;
    if (typeof cb !== "function") return;
    // Scanning already: the stack keeps its running scan's interval, window and active flag (jsble_set_scanning
    // starts a scan only when none runs); the new callback and its filters take over.
    const intervalMs = old
      ? old.intervalMs
      : Number(options?.interval) > 0
        ? Number(options?.interval)
        : DEFAULT_SCAN_MS;
    const windowMs = old
      ? old.windowMs
      : Math.min(intervalMs, Number(options?.window) > 0 ? Number(options?.window) : intervalMs);
    const active = old ? old.active : !!options?.active;
    const filters = options?.filters as unknown[] | undefined;
    const session: ScanSession = {
      cb,
      filters,
      intervalMs,
      windowMs,
      active,
      scanner: undefined as unknown as Scanner,
    };
    const scanner: Scanner = {
      node: this.device,
      duty: windowMs / intervalMs,
      active,
      enqueue: (t, run) => {
        this.device.schedule(t, run, true);
      },
      alive: () => this.scan === session && this.device.on,
      receive: (p) => this.scanReport(session, p),
    };
    session.scanner = scanner;
    this.scan = session;
    this.device.world.startScan(scanner);
  }

  private scanReport(session: ScanSession, p: RxPacket): void {
    if (this.scan !== session) return;
    // The interpreter builds the object and filters it in C before any JavaScript runs: charge that work,
    // and only enter the VM for packets that pass the filters.
    const d = this.parsePacket(p);
    if (!this.matches(session.filters, d)) {
      this.device.busy(CPU_COST.scanPacket);
      return;
    }
    this.device.invoke("scan", () => {
      this.device.cpu(CPU_COST.scanPacket);
      (session.cb as (d: unknown) => void)(this.deviceObject(p, d));
    });
  }

  /** A scan is on (setScan with a callback). */
  get scanning(): boolean {
    return this.scan !== undefined;
  }

  /**
   * One advert reaches the scan callback now, outside the radio model (dropped unless a scan is on): the
   * differential test feeds the simulator and the real interpreter the same reports at the same times.
   */
  injectScanReport(data: Uint8Array, rssi: number, address: string): void {
    const s = this.scan;
    if (!s) return;
    const t = this.device.world.now;
    this.scanReport(s, {
      t,
      data,
      address,
      rssi,
      connectable: false,
      scannable: false,
      scanResponse: false,
      from: this,
    });
  }

  // ------------------------------------------------------------------------------------------ services

  private applyServices(data: unknown, uart: boolean): void {
    this.uart = uart;
    this.services = new Map();
    if (data && typeof data === "object") {
      for (const sk of Object.keys(data as object)) {
        const svc: ServiceDef = { uuid: normUuid(sk), chars: new Map() };
        const chars = (data as Record<string, Record<string, Record<string, unknown>>>)[sk];
        for (const ck of Object.keys(chars ?? {})) {
          const c = chars[ck] ?? {};
          const value = c.value === undefined ? new Uint8Array(0) : toBytes(c.value);
          svc.chars.set(normUuid(ck), {
            uuid: normUuid(ck),
            value,
            maxLen: c.maxLen !== undefined ? Number(c.maxLen) : Math.max(1, value.length),
            readable: !!c.readable,
            writable: !!c.writable,
            notify: !!c.notify,
            indicate: !!c.indicate,
            description: c.description === undefined ? undefined : String(c.description),
            onWrite: c.onWrite,
            onWriteDesc: c.onWriteDesc,
          });
        }
        this.services.set(svc.uuid, svc);
      }
    }
    if (uart) {
      this.services.set(UART_SERVICE, {
        uuid: UART_SERVICE,
        chars: new Map([
          [
            UART_RX,
            {
              uuid: UART_RX,
              value: new Uint8Array(0),
              maxLen: 20,
              readable: false,
              writable: true,
              notify: false,
              indicate: false,
            },
          ],
          [
            UART_TX,
            {
              uuid: UART_TX,
              value: new Uint8Array(0),
              maxLen: 20,
              readable: true,
              writable: false,
              notify: true,
              indicate: false,
            },
          ],
        ]),
      });
    }
  }

  private setServices(data: unknown, options: Record<string, unknown> | undefined): void {
    if (data !== undefined && (data === null || typeof data !== "object")) {
      throw this.device.error(`Expecting object or undefined, got ${typeof data}`, "TypeError");
    }
    const uart = options && options.uart !== undefined ? !!options.uart : true;
    this.roots.services = data;
    // Validate UUIDs now, as the interpreter does when it parses them.
    if (data) {
      for (const sk of Object.keys(data as object)) {
        try {
          normUuid(sk);
          for (const ck of Object.keys((data as Record<string, object>)[sk] ?? {})) normUuid(ck);
        } catch (e) {
          throw this.device.error(`Invalid Service UUID: ${(e as Error).message}`);
        }
      }
    }
    const needsRestart = this.servicesWereSet || uart !== this.uart;
    this.servicesWereSet = true;
    if (needsRestart) {
      this.pendingServices = { data, uart };
      this.restart();
    } else {
      this.applyServices(data, uart);
    }
  }

  private updateServices(data: unknown): void {
    if (this.needsRestart) throw this.device.error("Can't update services until BLE restart");
    if (!data || typeof data !== "object") return;
    for (const sk of Object.keys(data as object)) {
      const svc = normUuid(sk);
      const chars = (data as Record<string, Record<string, Record<string, unknown>>>)[sk];
      for (const ck of Object.keys(chars ?? {})) {
        const ch = normUuid(ck);
        const c = this.findChar(svc, ch);
        if (!c) throw this.device.error(`Unable to find service with UUID ${ch}`);
        const u = chars[ck] ?? {};
        if (u.value === undefined) continue;
        const v = toBytes(u.value);
        if (!v.length) continue;
        if (v.length > c.maxLen) throw this.device.error("Got BLE error 0x7 INVALID_PARAM");
        c.value = v;
        const link = this.link;
        if ((u.notify || u.indicate) && (c.notify || c.indicate) && link) {
          this.device.cpu(CPU_COST.notify);
          if (v.length > link.mtu - 3) throw this.device.error("Got BLE error 0xc DATA_SIZE");
          link.notifyFromPeripheral(svc, ch, v, this.device.localNow());
        }
      }
    }
  }

  // ------------------------------------------------------------------------------------------ the NRF object

  bluetoothDeviceClass(r: Realm): unknown {
    // A plain constructor of the device realm: `d instanceof BluetoothDevice` works inside the program.
    const BluetoothDevice = (r.global.Function as FunctionConstructor)("return function BluetoothDevice() {}")();
    return BluetoothDevice;
  }

  createApi(obj: (p: Record<string, unknown>) => Record<string, unknown>): Record<string, unknown> {
    const d = this.device;
    const fn = d.fn.bind(d) as EspruinoDevice["fn"];
    return obj({
      setAdvertising: fn(
        (data: unknown, options?: Record<string, unknown>) => this.setAdvertising(data, options),
        "setAdvertising",
      ),
      getAdvertisingData: fn((data: unknown, options?: Record<string, unknown>) =>
        d.buffer(this.buildAdvert(data, options)[0]),
      ),
      setScanResponse: fn((data: unknown) => {
        this.scanResponse = data === undefined ? undefined : toBytes(data);
        this.advChanged();
      }),
      setScan: fn((cb: unknown, options?: unknown) => {
        if (options !== undefined && (options === null || typeof options !== "object")) {
          throw d.error(`Expecting Object got ${typeof options}`, "TypeError");
        }
        const o = options as Record<string, unknown> | undefined;
        if (o && o.filters !== undefined && !Array.isArray(o.filters)) {
          throw d.error("requestDevice expecting an array of filters", "TypeError");
        }
        this.device.did("scan");
        this.startScan(cb, o);
      }, "setScan"),
      findDevices: fn((cb: unknown, options?: unknown) => this.findDevices(cb, options)),
      setAddress: fn((addr: unknown) => this.setAddress(addr), "setAddress"),
      getAddress: fn(() => this.factoryAddress),
      setServices: fn((data: unknown, options?: Record<string, unknown>) => this.setServices(data, options)),
      updateServices: fn((data: unknown) => this.updateServices(data), "updateServices"),
      setSecurity: fn((s: unknown) => {
        this.security = s;
        this.roots.security = s;
        void this.security;
      }),
      disconnect: fn(() => {
        if (this.link) this.link.closeFromPeripheral();
      }),
      sleep: fn(() => {
        d.accrue();
        this.sleeping = true;
        this.advertisingAsleep = false;
        this.advChanged();
        if (this.link) this.link.closeFromPeripheral();
      }, "sleep"),
      wake: fn(() => {
        // jsble_advertising_start does nothing when advertising already.
        if (!this.sleeping) return;
        d.accrue();
        this.sleeping = this.advertisingAsleep = false;
        this.advChanged();
      }, "wake"),
      restart: fn(() => this.restart()),
      setTxPower: fn((p: unknown) => {
        d.accrue();
        this.txPowerDbm = Number(p) || 0;
      }),
      setConnectionInterval: fn((v: unknown) => {
        this.connectionIntervalS = typeof v === "number" ? v / 1000 : undefined;
        if (this.link) this.link.requestInterval(this.connectionIntervalS);
      }),
      setLowPowerConnection: fn((low: unknown) => {
        this.connectionIntervalS = low ? 0.5 : undefined;
      }),
      getBattery: fn(() => Math.round(d.batteryVolts() * 1000) / 1000, "getBattery"),
      setRSSIHandler: fn(() => undefined),
      connect: fn(() => {
        throw d.error("NRF.connect (central mode) is not modelled by the Tracelet simulator");
      }),
      requestDevice: fn(() => {
        throw d.error("NRF.requestDevice is not modelled by the Tracelet simulator");
      }),
    });
  }

  private setAddress(addr: unknown): void {
    this.device.did("address");
    this.device.cpu(CPU_COST.setAddress);
    const m = /^([0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5})(?: (random|public))?$/.exec(String(addr));
    if (!m) throw this.device.error("Expecting a mac address of the form aa:bb:cc:dd:ee:ff");
    const first = parseInt(m[1].slice(0, 2), 16);
    const type = m[2] ?? "public";
    if (type === "random" && (first & 0xc0) !== 0xc0) throw this.device.error("Got BLE error 0x3002 INVALID_BLE_ADDR");
    this.roots.address = addr;
    const next = `${m[1].toLowerCase()} ${type}`;
    if (this.link) {
      this.pendingAddress = next;
      this.needsRestart = true;
      return;
    }
    this.address = next;
    this.doRestart();
  }

  private pendingAddress: string | undefined;

  /** Called by the link when the connection closes, before `disconnected`. */
  applyPendingAddress(): void {
    if (this.pendingAddress) {
      this.address = this.pendingAddress;
      this.pendingAddress = undefined;
    }
  }

  private buildAdvert(data: unknown, options?: Record<string, unknown>): Uint8Array[] {
    const isRaw = (v: unknown) =>
      Array.isArray(v) || ArrayBuffer.isView(v) || Object.prototype.toString.call(v) === "[object ArrayBuffer]";
    if (Array.isArray(data) && data.some((x) => isRaw(x) || (x && typeof x === "object"))) {
      return data.map((x) => (isRaw(x) ? toBytes(x) : this.objectAdvert(x as Record<string, unknown>, options)));
    }
    if (isRaw(data)) return [toBytes(data)];
    if (data === undefined || (data && typeof data === "object"))
      return [this.objectAdvert(data as Record<string, unknown> | undefined, options)];
    throw this.device.error(`Expecting object, array or undefined, got ${typeof data}`, "TypeError");
  }

  /** ble_advdata_encode of an object: flags, complete UUID list, service data, manufacturer data, name. */
  private objectAdvert(data: Record<string, unknown> | undefined, options?: Record<string, unknown>): Uint8Array {
    const out: number[] = [];
    const disc = options && options.discoverable === false ? 0x05 : 0x06;
    out.push(2, 1, disc);
    const uuids: number[] = [];
    const sd: number[][] = [];
    if (data) {
      for (const k of Object.keys(data)) {
        const u = normUuid(/^\d+$/.test(k) ? Number(k) : k);
        const v = data[k];
        if (u.length !== 4) continue;
        const n = parseInt(u, 16);
        if (v === undefined) uuids.push(n);
        else sd.push([n & 255, n >> 8, ...toBytes(v)]);
      }
    }
    if (uuids.length) {
      out.push(1 + uuids.length * 2, 0x03);
      for (const n of uuids) out.push(n & 255, n >> 8);
    }
    for (const s of sd) out.push(s.length + 1, 0x16, ...s);
    if (options && options.manufacturerData !== undefined) {
      const md = toBytes(options.manufacturerData);
      const id =
        options.manufacturer !== undefined && options.manufacturer !== false ? Number(options.manufacturer) : 0x0590;
      out.push(md.length + 3, 0xff, id & 255, id >> 8, ...md);
    }
    if (!options || options.showName !== false) {
      const name = String(options?.name ?? this.deviceName());
      out.push(name.length + 1, 0x09);
      for (let i = 0; i < name.length; i++) out.push(name.charCodeAt(i) & 255);
    }
    return Uint8Array.from(out);
  }

  /** The advertising parameters `options` gives on top of the current ones (flags persist between calls). */
  private optionsOver(options: Record<string, unknown> | undefined) {
    const o = { ...this.advOpts };
    if (options) {
      if (options.interval !== undefined)
        o.intervalMs = Math.min(10240, Math.max(20, Number(options.interval) || DEFAULT_ADV_INTERVAL_MS));
      if (options.connectable !== undefined) o.connectable = !!options.connectable;
      if (options.scannable !== undefined) o.scannable = !!options.scannable;
      if (options.whenConnected !== undefined) o.whenConnected = !!options.whenConnected;
    }
    return o;
  }

  /** A restart applies the stored options object again, as it is now (the program may have changed it). */
  private applyOptions(options: Record<string, unknown>): void {
    const o = this.optionsOver(options);
    if (o.connectable && !o.scannable) return;
    if (!o.connectable && o.intervalMs < 100) o.intervalMs = 100;
    this.advOpts = o;
    if (options.name !== undefined) this.gapName = String(options.name);
  }

  private setAdvertising(data: unknown, options?: Record<string, unknown>): void {
    this.device.did("advert");
    this.device.cpu(CPU_COST.setAdvertising);
    if (options !== undefined && (options === null || typeof options !== "object")) {
      throw this.device.error(`Expecting 'options' to be object or undefined, got ${typeof options}`, "TypeError");
    }
    const o = this.optionsOver(options);
    // A connectable advert that is not scannable is a directed advert (ADV_DIRECT_IND, targets/nrf5x/bluetooth.c),
    // which the SoftDevice refuses without a peer address. Non-connectable intervals under 100 ms are clamped.
    if (o.connectable && !o.scannable)
      throw this.device.error("Got BLE error 0x7 INVALID_PARAM (connectable advertising must be scannable)");
    if (!o.connectable && o.intervalMs < 100) o.intervalMs = 100;
    const packets = data === undefined && !options ? undefined : this.buildAdvert(data, options);
    if (packets) for (const p of packets) if (p.length > 31) throw this.device.error("Got BLE error 0xc DATA_SIZE");
    this.device.accrue();
    this.advOpts = o;
    this.advPackets = packets;
    this.advOptionsRef = options;
    // The name option sets the GAP device name at once (sd_ble_gap_device_name_set); a raw advert never carries it.
    if (options && options.name !== undefined) this.gapName = String(options.name);
    // Asleep but still connected: whenConnected starts advertising (jswrap_ble_setAdvertising).
    if (this.sleeping && this.link && o.whenConnected) this.advertisingAsleep = true;
    this.roots.advertising = data;
    this.roots.advertisingOptions = options;
    if (o.connectable) {
      this.connectableAdverts.push(this.device.world.now);
      if (this.connectableAdverts.length > 2000) this.connectableAdverts.shift();
    }
    this.advChanged();
  }

  /** World times a connectable advert was set (the last 2000), to measure the firmware's discovery bursts. */
  readonly connectableAdverts: number[] = [];

  private findDevices(cb: unknown, options: unknown): void {
    const d = this.device;
    if (typeof cb !== "function") throw d.error("Expecting function for first argument");
    let timeout = 2000;
    let opts: Record<string, unknown> | undefined;
    if (typeof options === "number") timeout = options;
    else if (options && typeof options === "object") {
      opts = options as Record<string, unknown>;
      if (opts.timeout !== undefined) timeout = Number(opts.timeout);
    }
    if (!(timeout >= 10)) throw d.error("Invalid timeout");
    const found: Record<string, unknown>[] = [];
    const collect = (dev: Record<string, unknown>) => {
      const prev = found.find((x) => x.id === dev.id);
      if (!prev) found.push(dev);
      else for (const k of Object.keys(dev)) prev[k] = dev[k];
    };
    this.startScan(collect, opts);
    d.world.scheduler.at(d.localNow() + timeout / 1000, () => {
      if (!d.on) return;
      d.invoke("findDevices", () => {
        this.startScan(undefined, undefined);
        (cb as (a: unknown) => void)(d.newArray(found));
      });
    });
  }
}

function uuid128(b: Uint8Array): string {
  let s = "";
  for (let i = 15; i >= 0; i--) s += b[i].toString(16).padStart(2, "0");
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
}
