import { encodeBluezoneAdvert, encodeEnAdvert } from "../../../firmware/src/protocol/advert";
import { pureCrypto } from "../../../firmware/src/protocol/crypto";
import {
  computeAem,
  computeRpi,
  deriveAemk,
  deriveRpik,
  enIntervalNumber,
  enMetadata,
} from "../../../firmware/src/protocol/gaen";
import { sha256 } from "../../../firmware/src/protocol/sha256";
import { formatAddress } from "./bytes";
import { Position } from "./radio";
import { Rng } from "./rng";
import type { Advertiser, AdvertState, World } from "./world";

/**
 * Phones in the world. They only advertise (the metrics are about what bands log):
 * - "en": an Exposure Notification phone (GAEN v1.2): one random TEK per UTC day, RPI and random address
 *   rotating together every 10-20 minutes, 31-byte advert every ~250 ms, the AEM carrying its calibrated tx power.
 *   Keys and adverts come from the firmware's own protocol code (firmware/src/protocol/gaen.ts, advert.ts).
 * - "bluezone": a Bluezone (Vietnam) phone: manufacturer 0x22B5 + a 12-byte id rotating every 10 minutes, taken
 *   from a daily key chain (daily key = SHA-256 of the previous day's; subkeys chained with SHA-256; first 12
 *   bytes of each subkey), shared/PROTOCOLS.md.
 */
export interface PhoneOptions {
  kind: "en" | "bluezone";
  name?: string;
  position?: Position;
  mobility?: ((t: number) => Position) | { at(t: number): Position };
  /** Calibrated tx power it reports (dBm); the radio model uses it as EIRP. Default -20 (typical GAEN calibration). */
  txDbm?: number;
  /** RSSI correction of the phone's receiver (unused by bands, kept for completeness). */
  rxGainDb?: number;
  intervalMs?: number;
  /** Still carried but switched off (no adverts) - e.g. a phone with Bluetooth disabled. */
  silent?: boolean;
}

export class Phone implements Advertiser {
  readonly radioIndex: number;
  readonly worn = true;
  readonly rxGainDb: number;
  readonly name: string;
  advVersion = 0;
  private packet: Uint8Array | undefined;
  private address = "";
  private since = 0;
  private rng: Rng;
  private mobility: ((t: number) => Position) | undefined;
  private teks = new Map<number, Uint8Array>();
  private bzSeed: Uint8Array;

  constructor(
    readonly world: World,
    readonly opts: PhoneOptions,
  ) {
    this.radioIndex = world.nextRadioIndex();
    this.name = opts.name ?? `${opts.kind}-phone${this.radioIndex}`;
    this.rxGainDb = opts.rxGainDb ?? 0;
    this.rng = world.rng.fork(`phone:${this.name}`);
    this.bzSeed = this.rng.bytes(32);
    const m = opts.mobility;
    this.mobility = m === undefined ? undefined : typeof m === "function" ? m : (t: number) => m.at(t);
    if (!opts.silent) this.rotate();
  }

  get label(): string {
    return this.name;
  }

  positionAt(t: number): Position {
    return this.mobility ? this.mobility(t) : (this.opts.position ?? { x: 0, y: 0 });
  }

  eirpDbm(): number {
    return this.opts.txDbm ?? -20;
  }

  advert(): AdvertState | undefined {
    if (!this.packet) return undefined;
    return {
      packets: [this.packet],
      intervalMs: this.opts.intervalMs ?? 250,
      connectable: false,
      scannable: false,
      address: this.address,
      since: this.since,
    };
  }

  /** The TEK of a UTC day number (floor(ENIN / 144)). */
  tek(day: number): Uint8Array {
    let k = this.teks.get(day);
    if (!k) {
      k = this.rng.fork(`tek:${day}`).bytes(16);
      this.teks.set(day, k);
    }
    return k;
  }

  /** Bluezone id for a world time. */
  bluezoneId(unix: number): Uint8Array {
    const day = Math.floor(unix / 86400);
    let daily = this.bzSeed;
    const days = Math.max(0, day - Math.floor(this.world.startUnix / 86400));
    for (let d = 0; d <= days; d++) daily = sha256(daily);
    let sub = sha256(daily);
    const slot = Math.floor((unix % 86400) / 600);
    for (let i = 0; i < slot; i++) sub = sha256(sub);
    return sub.slice(0, 12);
  }

  private rotate(): void {
    const unix = this.world.unixNow();
    // Phones advertise from private addresses (Bluetooth Core Vol 6 Part B 1.3.2: the two top bits are 01 for a
    // resolvable and 00 for a non-resolvable one), never from a random static address (11) like the bands.
    const a = this.rng.bytes(6);
    a[0] = (a[0] & 0x3f) | 0x40;
    this.address = `${formatAddress(a)} random`;
    let nextIn: number;
    if (this.opts.kind === "en") {
      const enin = enIntervalNumber(unix);
      const tek = this.tek(Math.floor(enin / 144));
      const rpi = computeRpi(pureCrypto, deriveRpik(pureCrypto, tek), enin);
      const aem = computeAem(pureCrypto, deriveAemk(pureCrypto, tek), rpi, enMetadata(Math.round(this.eirpDbm())));
      this.packet = encodeEnAdvert(rpi, aem);
      nextIn = this.rng.uniform(600, 1200);
    } else {
      this.packet = encodeBluezoneAdvert(this.bluezoneId(unix));
      nextIn = 600 - (unix % 600) + this.rng.uniform(0, 2);
    }
    this.since = this.world.now;
    this.advVersion++;
    this.world.advertChanged(this);
    this.world.scheduler.after(nextIn, () => this.rotate());
  }
}
