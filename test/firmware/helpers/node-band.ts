import "./build-constants";
import * as band from "../../../firmware/src/band";
import { BandConfig } from "../../../firmware/src/band";
import { Radio, ScanDevice, Timers } from "../../../firmware/src/hw/types";
import { pureCrypto } from "../../../firmware/src/protocol/crypto";
import {
  defaultProvisioning,
  encodeProvisioning,
  Provisioning,
  PROVISIONING_FILE,
} from "../../../firmware/src/protocol/provisioning";
import { FakeFlash, seededRand } from "./fake-flash";

/**
 * The band logic (firmware/src/band.ts) in Node on a virtual clock, with a fake radio and flash: fast unit-level
 * checks of the wiring. The simulator tests run the real bundle instead.
 */
export const T0 = 1_700_000_000;

export const PUCK_CONFIG: BandConfig = {
  boardCode: 1,
  mtu: 53,
  logBudgetBytes: 20480,
  advertisingIntervalMs: 250,
  calibratedTxDbm: -8,
  tableRows: 64,
};

export function testProvisioning(extra: Partial<Provisioning> = {}): Provisioning {
  return {
    ...defaultProvisioning(
      new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]),
      new Uint8Array(16).fill(0x22),
      new Uint8Array(16).fill(0x33),
      T0,
    ),
    ...extra,
  };
}

interface Timer {
  at: number;
  fn: () => void;
  id: number;
}

export class NodeBandRig {
  /** Virtual Unix-ish seconds of the world. */
  t = T0;
  /** World time of the last power-on: the band's uptime counter starts there (the flasher sets it to Unix time). */
  counterOrigin = 0;
  timers: Timer[] = [];
  nextId = 1;
  flash = new FakeFlash();
  rand = seededRand(42);
  band = band;
  provisioned = false;
  address = "";
  name = "";
  /** NRF.sleep(): adverts are only stored until wake. */
  asleep = false;
  advert: { packet: Uint8Array; intervalMs: number; connectable: boolean } | undefined;
  adverts: { t: number; packet: Uint8Array; connectable: boolean; address: string }[] = [];
  scanCb: ((d: ScanDevice) => void) | undefined;
  scanWindows = 0;
  notifications: Uint8Array[] = [];
  connected = false;
  reboots = 0;
  /** Radio.console calls (the console turned on until the next restart). */
  consoles = 0;
  battery = 90;
  faults: unknown[] = [];

  constructor(
    public cfg: BandConfig = PUCK_CONFIG,
    prov: Provisioning | undefined = testProvisioning(),
  ) {
    if (prov) this.flash.write(PROVISIONING_FILE, encodeProvisioning(prov), 0, 64);
  }

  guard(fn: () => void): () => void {
    return () => {
      try {
        fn();
      } catch (e) {
        this.faults.push(e);
      }
    };
  }

  /** Boots the band (fresh RAM, same flash). */
  boot(): typeof band {
    this.timers = [];
    this.connected = false;
    this.asleep = false;
    this.scanCb = undefined;
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the fake radio's methods refer to the rig
    const rig = this;
    const timers: Timers = {
      after: (fn, ms) => {
        const id = this.nextId++;
        this.timers.push({ at: this.t + ms / 1000, fn: this.guard(fn), id });
        return id;
      },
      cancel: (h) => {
        this.timers = this.timers.filter((x) => x.id !== h);
      },
    };
    const radio: Radio = {
      advertise(packet, intervalMs, connectable) {
        rig.advert = { packet, intervalMs, connectable };
        if (!rig.asleep) rig.adverts.push({ t: rig.t, packet, connectable, address: rig.address });
      },
      sleep() {
        rig.asleep = true;
        if (rig.connected) rig.disconnect();
      },
      wake(a, name) {
        rig.asleep = false;
        rig.address = a;
        rig.name = name;
        const ad = rig.advert;
        if (ad) rig.adverts.push({ t: rig.t, packet: ad.packet, connectable: ad.connectable, address: a });
      },
      scan(cb) {
        if (cb && !rig.scanCb) rig.scanWindows++;
        rig.scanCb = cb;
      },
      notify(f) {
        if (!rig.connected) return false;
        rig.notifications.push(f);
        return true;
      },
      disconnect() {
        if (rig.connected) rig.disconnect();
      },
      batteryPercent: () => this.battery,
      reboot() {
        rig.reboots++;
        rig.timers.push({ at: rig.t, fn: () => rig.boot(), id: rig.nextId++ });
      },
      console() {
        // Services changed without a connection: the stack restarts, awake.
        rig.consoles++;
        rig.asleep = false;
      },
    };
    this.guard(() => {
      const c = this.cfg;
      this.provisioned = band.start(
        pureCrypto,
        {
          uptime: () => this.t - this.counterOrigin,
          rand32: () => this.rand(),
          flash: this.flash,
          kick: () => undefined,
        },
        radio,
        timers,
        c.boardCode,
        c.mtu,
        c.logBudgetBytes,
        c.advertisingIntervalMs,
        c.calibratedTxDbm,
        c.tableRows,
      );
    })();
    return this.band;
  }

  /** Power loss: the counter restarts from zero. */
  powerCycle(): typeof band {
    this.counterOrigin = this.t;
    return this.boot();
  }

  run(seconds: number, each?: () => void): void {
    const end = this.t + seconds;
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at || a.id - b.id);
      const next = this.timers[0];
      if (!next || next.at > end) break;
      this.timers.shift();
      this.t = Math.max(this.t, next.at);
      next.fn();
      if (each) each();
    }
    this.t = end;
  }

  connect(): void {
    this.connected = true;
    this.notifications = [];
    this.guard(() => this.band.onConnect())();
  }

  disconnect(): void {
    this.connected = false;
    this.guard(() => this.band.onDisconnect())();
  }

  write(data: Uint8Array): void {
    this.guard(() => this.band.onWrite(data))();
  }

  /** Delivers a device to the band if a scan window is open. */
  hear(d: ScanDevice): boolean {
    if (!this.scanCb) return false;
    const cb = this.scanCb;
    this.guard(() => cb(d))();
    return true;
  }
}
