import { formatAddress, nobleUuid } from "./bytes";
import { EspruinoDevice } from "./device";
import { CharDef, NrfStack, TX_QUEUE } from "./nrf";
import { Position, RadioNode } from "./radio";
import { Rng } from "./rng";
import type { Advertiser, RxPacket, Scanner, World } from "./world";

/**
 * A BLE connection between a central (a kiosk's adapter) and a band, at the level of connection events:
 *
 * - Everything moves at connection events, every `connectionInterval` (default 7.5 ms, noble/BlueZ's minimum and
 *   Espruino's preferred "high speed" range 7.5-20 ms). An ATT request is carried at the next event and answered at
 *   the one after; a discovery takes a few round trips.
 * - Notifications from the band join the SoftDevice TX queue (8 packets assumed); a full queue drops the
 *   notification silently (as jswrap_ble_updateServices ignores NRF_ERROR_RESOURCES). Each event carries at most
 *   `notificationsPerEvent` (5: "about 5 notifications per 7.5 ms connection event at best"); a packet lost on air
 *   is retransmitted at the next event (the link layer is reliable), so loss costs time, not data.
 * - Throughput is limited mostly by the interpreter: each NRF.updateServices notification costs CPU_COST.notify
 *   (20 ms) of JavaScript time, which gives the documented ~2.5 kB/s with MTU 53 (50-byte payloads).
 * - The GAP service (0x1800) the SoftDevice always has comes first in discovery: its device name (0x2A00) reads the
 *   band's GAP name (nrf.ts; the GATT service 0x1801 and GAP's other characteristics are not modelled).
 * - MTU = min(central, board); the link drops (reason 0x08, supervision timeout) when the band is out of range
 *   for 4 s, at a configurable random rate, or when either side disconnects (0x13 remote user terminated /
 *   0x16 local host terminated, from the band's point of view).
 */
export interface LinkOptions {
  /** Connection interval, seconds (default 0.0075). */
  connectionInterval?: number;
  notificationsPerEvent?: number;
  /** Probability that a packet has to be retransmitted at the next event. */
  packetLoss?: number;
  /** Random link drops per minute (fault injection). */
  dropsPerMinute?: number;
}

export interface CharInfo {
  uuid: string;
  properties: string[];
}

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void };

/** The GAP service and its device name characteristic, as normUuid writes 16-bit UUIDs. */
export const GAP_SERVICE = "1800";
export const GAP_DEVICE_NAME = "2a00";

export class Link {
  readonly mtu: number;
  private ci: number;
  private readonly perEvent: number;
  private readonly loss: number;
  private readonly start: number;
  private slotT = 0;
  private slotCount = 0;
  private departures: number[] = [];
  up = true;
  reason = 0;
  readonly subscribed = new Set<string>();
  private listeners = new Map<string, (data: Uint8Array) => void>();
  private disconnectListeners: ((reason: number) => void)[] = [];
  private outOfRangeSince: number | undefined;
  private pending = new Set<Pending>();
  /** Counters for reports. */
  readonly stats = { notificationsSent: 0, notificationsDropped: 0, bytesNotified: 0, writes: 0, reads: 0 };

  constructor(
    readonly world: World,
    readonly central: Central,
    readonly band: EspruinoDevice,
    private rng: Rng,
    opts: LinkOptions,
  ) {
    this.mtu = Math.min(central.mtu, band.board.mtu);
    this.ci = band.nrf.connectionIntervalS ?? opts.connectionInterval ?? 0.0075;
    this.perEvent = opts.notificationsPerEvent ?? 5;
    this.loss = opts.packetLoss ?? 0.02;
    this.start = world.now;
    this.slotT = world.now;
    this.monitor(opts.dropsPerMinute ?? 0);
  }

  get nrf(): NrfStack {
    return this.band.nrf;
  }

  get connectionInterval(): number {
    return this.ci;
  }

  /** Time of the first connection event at or after t. */
  nextEvent(t: number): number {
    const k = Math.ceil((t - this.start) / this.ci - 1e-9);
    return this.start + Math.max(0, k) * this.ci;
  }

  /** Time a packet queued at t leaves: the next event with room; a packet lost on air goes again next event. */
  private depart(t: number): number {
    const ev = this.nextEvent(t);
    if (ev > this.slotT) {
      this.slotT = ev;
      this.slotCount = 0;
    }
    for (;;) {
      if (this.slotCount >= this.perEvent) {
        this.slotT += this.ci;
        this.slotCount = 0;
        continue;
      }
      this.slotCount++;
      if (this.rng.chance(this.loss)) {
        this.slotT += this.ci;
        this.slotCount = 0;
        continue;
      }
      return this.slotT;
    }
  }

  requestInterval(seconds: number | undefined): void {
    if (seconds !== undefined && seconds > 0) this.ci = Math.max(0.0075, Math.min(4, seconds));
  }

  // ------------------------------------------------------------------------------------------ band -> central

  /** A notification the band's JavaScript sent at t; false if the TX queue was full (dropped). */
  notifyFromPeripheral(svc: string, ch: string, data: Uint8Array, t: number): boolean {
    if (!this.up) return false;
    const key = `${svc}/${ch}`;
    if (!this.subscribed.has(key)) return false;
    this.departures = this.departures.filter((d) => d > t);
    if (this.departures.length >= TX_QUEUE) {
      this.stats.notificationsDropped++;
      return false;
    }
    const at = this.depart(t);
    this.departures.push(at);
    const copy = data.slice();
    this.world.scheduler.at(at, () => {
      if (!this.up) return;
      this.stats.notificationsSent++;
      this.stats.bytesNotified += copy.length;
      const l = this.listeners.get(key);
      if (l) l(copy);
      this.central.onNotification(this, svc, ch, copy);
    });
    return true;
  }

  // ------------------------------------------------------------------------------------------ central -> band

  private request<T>(rounds: number, body: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (!this.up) {
        reject(new Error("not connected"));
        return;
      }
      const p: Pending = { resolve: resolve as (v: unknown) => void, reject };
      this.pending.add(p);
      const arrive = this.depart(this.world.now);
      this.world.scheduler.at(arrive, () => {
        if (!this.up) return;
        let v: T;
        try {
          v = body();
        } catch (e) {
          this.pending.delete(p);
          this.world.touchHost();
          reject(e as Error);
          return;
        }
        const back = this.nextEvent(this.world.now + this.ci * 0.5) + (rounds - 1) * this.ci;
        this.world.scheduler.at(back, () => {
          if (!this.pending.delete(p)) return;
          this.world.touchHost();
          resolve(v);
        });
      });
    });
  }

  discoverServices(): Promise<string[]> {
    return this.request(3, () => [GAP_SERVICE, ...this.nrf.services.keys()]);
  }

  discoverCharacteristics(svc: string): Promise<CharInfo[]> {
    return this.request(2, () => {
      if (svc === GAP_SERVICE) return [{ uuid: GAP_DEVICE_NAME, properties: ["read"] }];
      const s = this.nrf.services.get(svc);
      if (!s) return [];
      return [...s.chars.values()].map((c) => ({ uuid: c.uuid, properties: properties(c) }));
    });
  }

  read(svc: string, ch: string): Promise<Uint8Array> {
    return this.request(1, () => {
      if (svc === GAP_SERVICE && ch === GAP_DEVICE_NAME)
        return Uint8Array.from(this.nrf.gapName, (x) => x.charCodeAt(0));
      const c = this.char(svc, ch);
      if (!c.readable) throw new Error("ATT error 0x02: read not permitted");
      this.stats.reads++;
      return c.value.slice();
    });
  }

  /** The GAP device name, as a central reads it on connect. */
  async readDeviceName(): Promise<string> {
    return String.fromCharCode(...(await this.read(GAP_SERVICE, GAP_DEVICE_NAME)));
  }

  write(svc: string, ch: string, data: Uint8Array, withoutResponse = false): Promise<void> {
    const copy = data.slice();
    if (copy.length > this.mtu - 3)
      return Promise.reject(new Error(`ATT write of ${copy.length} bytes exceeds MTU ${this.mtu} - 3`));
    const body = () => {
      const c = this.char(svc, ch);
      if (!c.writable) throw new Error("ATT error 0x03: write not permitted");
      if (copy.length > c.maxLen) throw new Error("ATT error 0x0d: invalid attribute value length");
      this.stats.writes++;
      // The band handles the write as an event of its own, behind any JavaScript in progress.
      this.band.schedule(this.world.now, () => this.nrf.gattWrite(svc, ch, copy));
    };
    if (withoutResponse) {
      const arrive = this.depart(this.world.now);
      this.world.scheduler.at(arrive, () => {
        if (!this.up) return;
        try {
          body();
        } catch {
          // a command has no response: errors are silent
        }
      });
      return Promise.resolve();
    }
    return this.request(1, body);
  }

  /** Enables notifications (writes the CCCD); `listener` receives each notification. */
  subscribe(svc: string, ch: string, listener?: (data: Uint8Array) => void): Promise<void> {
    return this.request(1, () => {
      const c = this.char(svc, ch);
      if (!c.notify && !c.indicate) throw new Error("ATT error 0x03: characteristic does not notify");
      const key = `${svc}/${ch}`;
      this.subscribed.add(key);
      if (listener) this.listeners.set(key, listener);
      this.band.schedule(this.world.now, () => this.nrf.gattSubscribe(svc, ch, true));
    });
  }

  unsubscribe(svc: string, ch: string): Promise<void> {
    return this.request(1, () => {
      const key = `${svc}/${ch}`;
      this.subscribed.delete(key);
      this.listeners.delete(key);
      this.band.schedule(this.world.now, () => this.nrf.gattSubscribe(svc, ch, false));
    });
  }

  private char(svc: string, ch: string): CharDef {
    const c = this.nrf.findChar(svc, ch);
    if (!c) throw new Error(`no characteristic ${ch} in service ${svc}`);
    return c;
  }

  onDisconnect(fn: (reason: number) => void): void {
    this.disconnectListeners.push(fn);
  }

  /** The central disconnects (the band sees 0x13, remote user terminated). */
  disconnect(): Promise<void> {
    if (!this.up) return Promise.resolve();
    return new Promise((resolve) => {
      this.world.scheduler.at(this.nextEvent(this.world.now) + this.ci, () => {
        this.close(0x13, 0x16);
        resolve();
      });
    });
  }

  /** The band disconnects (NRF.disconnect / NRF.sleep): 0x16 on the band, 0x13 at the central. */
  closeFromPeripheral(): void {
    if (!this.up) return;
    const at = this.nextEvent(this.band.localNow()) + this.ci;
    this.world.scheduler.at(at, () => this.close(0x16, 0x13));
  }

  /** The link is gone without a goodbye: supervision timeout, or the band lost power (`bandGone`). */
  lost(reason = 0x08, bandGone = false): void {
    if (!this.up) return;
    this.close(reason, reason, bandGone);
  }

  private close(bandReason: number, centralReason: number, bandGone = false): void {
    if (!this.up) return;
    this.up = false;
    this.reason = centralReason;
    for (const p of this.pending) p.reject(new Error(`disconnected (reason 0x${centralReason.toString(16)})`));
    this.pending.clear();
    if (!bandGone) {
      this.nrf.applyPendingAddress();
      this.nrf.disconnected(bandReason);
    }
    this.central.linkClosed(this);
    this.world.touchHost();
    for (const fn of this.disconnectListeners) fn(centralReason);
  }

  private monitor(dropsPerMinute: number): void {
    const check = () => {
      if (!this.up) return;
      const t = this.world.now;
      const rssi =
        this.world.medium.meanRssi(this.band, this.central, t) - this.world.medium.shadowDb(this.band, this.central, t);
      if (rssi < this.world.medium.env.sensitivityDbm) {
        if (this.outOfRangeSince === undefined) this.outOfRangeSince = t;
        else if (t - this.outOfRangeSince >= 4) {
          this.lost(0x08);
          return;
        }
      } else this.outOfRangeSince = undefined;
      if (dropsPerMinute > 0 && this.rng.chance(dropsPerMinute / 60)) {
        this.lost(0x08);
        return;
      }
      this.world.scheduler.after(1, check);
    };
    this.world.scheduler.after(1, check);
  }
}

function properties(c: CharDef): string[] {
  const p: string[] = [];
  if (c.readable) p.push("read");
  if (c.writable) p.push("write", "writeWithoutResponse");
  if (c.notify) p.push("notify");
  if (c.indicate) p.push("indicate");
  return p;
}

export interface CentralOptions extends LinkOptions {
  name?: string;
  position?: Position;
  mobility?: (t: number) => Position;
  /** ATT MTU the central offers (BlueZ: 517). */
  mtu?: number;
  /** Reported transmit power for the radio model (laptop adapter), dBm. */
  txDbm?: number;
}

export interface Sighting {
  t: number;
  address: string;
  rssi: number;
  data: Uint8Array;
  connectable: boolean;
  scannable: boolean;
  scanResponse: boolean;
}

/**
 * A BLE central in the world (a kiosk laptop's adapter): scans every advert in range continuously and connects
 * to bands. Promise-returning methods settle in virtual time: drive the world with `world.until(promise)` or
 * `world.runAsync(...)`. `createNobleBindings(world)` puts @stoprocent/noble on top of this.
 */
export class Central implements RadioNode {
  readonly radioIndex: number;
  readonly worn = false;
  readonly rxGainDb = 0;
  readonly name: string;
  readonly mtu: number;
  readonly address: string;
  readonly links = new Set<Link>();
  private scanner: Scanner | undefined;
  private scanListener: ((s: Sighting) => void) | undefined;
  private notificationListener: ((link: Link, svc: string, ch: string, data: Uint8Array) => void) | undefined;
  private rng: Rng;

  constructor(
    readonly world: World,
    readonly opts: CentralOptions = {},
  ) {
    this.radioIndex = world.nextRadioIndex();
    this.name = opts.name ?? `central${this.radioIndex}`;
    this.mtu = opts.mtu ?? 517;
    this.rng = world.rng.fork(`central:${this.name}`);
    const a = this.rng.bytes(6);
    a[0] |= 0xc0;
    this.address = `${formatAddress(a)} random`;
  }

  positionAt(t: number): Position {
    return this.opts.mobility ? this.opts.mobility(t) : (this.opts.position ?? { x: 0, y: 0 });
  }

  eirpDbm(): number {
    return this.opts.txDbm ?? 0;
  }

  get scanning(): boolean {
    return this.scanner !== undefined;
  }

  /** Starts continuous scanning; every packet received is passed to `listener`. */
  startScan(listener: (s: Sighting) => void): void {
    this.stopScan();
    this.scanListener = listener;
    const scanner: Scanner = {
      node: this,
      duty: 1,
      active: true,
      alive: () => this.scanner === scanner,
      receive: (p: RxPacket) => {
        this.world.touchHost();
        if (this.scanListener) {
          this.scanListener({
            t: p.t,
            address: p.address,
            rssi: p.rssi,
            data: p.data,
            connectable: p.connectable,
            scannable: p.scannable,
            scanResponse: p.scanResponse,
          });
        }
      },
    };
    this.scanner = scanner;
    this.world.startScan(scanner);
  }

  stopScan(): void {
    if (this.scanner) this.world.stopScan(this.scanner);
    this.scanner = undefined;
    this.scanListener = undefined;
  }

  onNotifications(fn: (link: Link, svc: string, ch: string, data: Uint8Array) => void): void {
    this.notificationListener = fn;
  }

  onNotification(link: Link, svc: string, ch: string, data: Uint8Array): void {
    this.world.touchHost();
    if (this.notificationListener) this.notificationListener(link, svc, ch, data);
  }

  linkClosed(link: Link): void {
    this.links.delete(link);
  }

  /**
   * Connects to the band advertising `address` ("aa:bb:cc:dd:ee:ff", with or without " random"): succeeds at its
   * next connectable advertising event in range, fails after `timeoutS` (default 10 s).
   */
  connect(address: string, opts: { timeoutS?: number } = {}): Promise<Link> {
    const want = address.split(" ")[0].toLowerCase();
    const deadline = this.world.now + (opts.timeoutS ?? 10);
    return new Promise<Link>((resolve, reject) => {
      const attempt = () => {
        const target = this.world.findAdvertiser(want);
        const st = target && target.advert();
        if (target && st && st.connectable && target instanceof NrfStack) {
          const rssi = this.world.medium.packetRssi(target, this, this.world.now);
          if (rssi !== undefined && !target.link) {
            const link = new Link(
              this.world,
              this,
              target.device as EspruinoDevice,
              this.rng.fork(`link:${this.world.now}`),
              this.opts,
            );
            this.links.add(link);
            target.connected(link);
            this.world.touchHost();
            resolve(link);
            return;
          }
        }
        if (this.world.now >= deadline) {
          this.world.touchHost();
          reject(new Error(`connection to ${want} timed out`));
          return;
        }
        const next = st ? st.intervalMs / 1000 + 0.005 : 0.1;
        this.world.scheduler.after(next, attempt);
      };
      this.world.scheduler.after(0.001, attempt);
    });
  }
}

export function isAdvertiserBand(a: Advertiser): a is NrfStack {
  return a instanceof NrfStack;
}

export { nobleUuid };
