import { encodeEnAdvert } from "../../../firmware/src/protocol/advert";
import { formatAddress } from "./bytes";
import { Position } from "./radio";
import { Rng } from "./rng";
import type { Advertiser, AdvertState, World } from "./world";

/**
 * Fault injection on air: devices that send what a band must survive.
 * - "random-service-data": 0xFD6F service data of random length (0-24 bytes) and content.
 * - "malformed": AD structures whose lengths run past the packet, zero lengths, one-byte manufacturer data,
 *   service data shorter than its UUID, or plain random bytes.
 * - "oversize": 32-62 byte packets (a legacy scanner would not receive them; delivered unless the world sets
 *   `deliverOversize: false`, as a stress test of the parser).
 * - "replay": re-advertises the current Exposure Notification packet of a real band (a relay attack), so a band
 *   sees a neighbour's RPI somewhere it never was; with `replayDelaySeconds` it replays packets captured earlier.
 * - "flood": a fresh random RPI every change: fills encounter tables.
 */
export type HostileMode = "random-service-data" | "malformed" | "oversize" | "replay" | "flood";

export interface HostileOptions {
  mode: HostileMode;
  name?: string;
  position?: Position;
  mobility?: (t: number) => Position;
  txDbm?: number;
  intervalMs?: number;
  /** Seconds between payload changes (default 1; flood 0.25). */
  changeSeconds?: number;
  replayDelaySeconds?: number;
}

export class HostileBeacon implements Advertiser {
  readonly radioIndex: number;
  readonly worn = false;
  readonly rxGainDb = 0;
  readonly name: string;
  advVersion = 0;
  private packet: Uint8Array = new Uint8Array(0);
  private address = "";
  private since = 0;
  private rng: Rng;
  private captured: { t: number; packet: Uint8Array }[] = [];
  /** Packets sent, for reports. */
  sent = 0;

  constructor(
    readonly world: World,
    readonly opts: HostileOptions,
  ) {
    this.radioIndex = world.nextRadioIndex();
    this.name = opts.name ?? `hostile-${opts.mode}-${this.radioIndex}`;
    this.rng = world.rng.fork(`hostile:${this.name}`);
    this.change();
  }

  get label(): string {
    return this.name;
  }

  positionAt(t: number): Position {
    return this.opts.mobility ? this.opts.mobility(t) : (this.opts.position ?? { x: 0, y: 0 });
  }

  eirpDbm(): number {
    return this.opts.txDbm ?? 0;
  }

  advert(): AdvertState | undefined {
    if (!this.packet.length) return undefined;
    return {
      packets: [this.packet],
      intervalMs: this.opts.intervalMs ?? 100,
      connectable: false,
      scannable: false,
      address: this.address,
      since: this.since,
    };
  }

  private change(): void {
    const r = this.rng;
    const a = r.bytes(6);
    a[0] |= 0xc0;
    this.address = `${formatAddress(a)} random`;
    this.packet = this.make();
    this.since = this.world.now;
    this.advVersion++;
    this.world.advertChanged(this);
    const every = this.opts.changeSeconds ?? (this.opts.mode === "flood" ? 0.25 : 1);
    this.world.scheduler.after(every, () => this.change());
  }

  private make(): Uint8Array {
    const r = this.rng;
    switch (this.opts.mode) {
      case "random-service-data": {
        const n = r.int(0, 24);
        return Uint8Array.from([2, 1, 0x1a, n + 3, 0x16, 0x6f, 0xfd, ...r.bytes(n)]);
      }
      case "malformed": {
        const variants: (() => number[])[] = [
          () => [2, 1, 6, 30, 0x16, 0x6f, 0xfd, ...r.bytes(8)],
          () => [0, 0, 0, 3, 0x16, 0x6f],
          () => [2, 1, 6, 2, 0xff, 0xb5],
          () => [2, 1, 6, 3, 0xff, 0xb5, 0x22],
          () => [2, 1, 6, 2, 0x16, 0x6f],
          () => [2, 1, 6, 1, 0x16],
          () => Array.from(r.bytes(r.int(1, 31))),
          () => [0x17, 0x16, 0x6f, 0xfd, ...r.bytes(4)],
          () => [3, 0xff, 0xb5, 0x22, 14, 0xff, 0xb5, 0x22, ...r.bytes(5)],
        ];
        return Uint8Array.from(r.pick(variants)());
      }
      case "oversize": {
        const base = encodeEnAdvert(r.bytes(16), r.bytes(4));
        const extra = r.int(1, 31);
        return Uint8Array.from([...base, extra - 1 + 1, 0xff, ...r.bytes(extra - 1)]);
      }
      case "flood":
        return encodeEnAdvert(r.bytes(16), r.bytes(4));
      case "replay": {
        const now = this.world.now;
        for (const d of this.world.devices) {
          const st = d.nrf.advert();
          if (st && st.packets[0] && st.packets[0].length === 31 && st.packets[0][8] === 0x16) {
            this.captured.push({ t: now, packet: st.packets[0] });
          }
        }
        if (this.captured.length > 500) this.captured.splice(0, this.captured.length - 500);
        const delay = this.opts.replayDelaySeconds ?? 0;
        const old = this.captured.filter((c) => c.t <= now - delay);
        if (!old.length) return new Uint8Array(0);
        return r.pick(old).packet;
      }
    }
    return new Uint8Array(0);
  }
}
