import { EventEmitter } from "events";
import { adFields, normUuid } from "./bytes";
import { Central, CentralOptions, Link, Sighting } from "./gatt";
import type { World } from "./world";

/**
 * A bindings object for @stoprocent/noble backed by the simulator: `new Noble(createNobleBindings(world))` (Noble
 * from "@stoprocent/noble/lib/noble") drives virtual bands through noble's normal API, as the kiosk does with a
 * real adapter. It implements the methods lib/noble.js calls on its bindings and emits the same events with the
 * same arguments as lib/hci-socket/bindings.js (ids are addresses without colons, UUIDs lowercase without dashes,
 * advertisements parsed as lib/hci-socket/gap.js does).
 *
 * Everything happens in virtual time: run the world while awaiting noble, e.g.
 * `await world.until(peripheral.connectAsync())`, or `world.startRealtime()` for a live kiosk.
 */
export interface NobleAdvertisement {
  localName: string | undefined;
  txPowerLevel: number | undefined;
  manufacturerData: Buffer | undefined;
  serviceData: { uuid: string; data: Buffer }[];
  serviceUuids: string[];
  serviceSolicitationUuids: string[];
}

export function parseAdvertisement(data: Uint8Array, into?: NobleAdvertisement): NobleAdvertisement {
  const a: NobleAdvertisement = into ?? {
    localName: undefined,
    txPowerLevel: undefined,
    manufacturerData: undefined,
    serviceData: [],
    serviceUuids: [],
    serviceSolicitationUuids: [],
  };
  for (const f of adFields(data)) {
    const b = Buffer.from(f.data);
    switch (f.type) {
      case 0x02:
      case 0x03:
        for (let j = 0; j + 1 < b.length; j += 2) {
          const u = b.readUInt16LE(j).toString(16);
          if (!a.serviceUuids.includes(u)) a.serviceUuids.push(u);
        }
        break;
      case 0x06:
      case 0x07:
        for (let j = 0; j + 15 < b.length; j += 16) {
          const u = Buffer.from(b.subarray(j, j + 16))
            .reverse()
            .toString("hex");
          if (!a.serviceUuids.includes(u)) a.serviceUuids.push(u);
        }
        break;
      case 0x08:
      case 0x09:
        a.localName = b.toString("utf8");
        break;
      case 0x0a:
        if (b.length) a.txPowerLevel = b.readInt8(0);
        break;
      case 0x16:
      case 0x20:
      case 0x21: {
        const n = f.type === 0x16 ? 2 : f.type === 0x20 ? 4 : 16;
        if (b.length < n) break;
        const uuid = Buffer.from(b.subarray(0, n)).reverse().toString("hex");
        const entry = { uuid, data: b.subarray(n) };
        const i = a.serviceData.findIndex((s) => s.uuid === uuid);
        if (i >= 0) a.serviceData[i] = entry;
        else a.serviceData.push(entry);
        break;
      }
      case 0xff:
        a.manufacturerData = b;
        break;
    }
  }
  return a;
}

/** Service/characteristic UUIDs as noble hands them to bindings ("fd6f", 32 hex digits) -> simulator form. */
function simUuid(u: string): string {
  return normUuid(u);
}

function nobleId(address: string): string {
  return address.split(" ")[0].replace(/:/g, "").toLowerCase();
}

export class SimNobleBindings extends EventEmitter {
  readonly central: Central;
  private scanning = false;
  private allowDuplicates = false;
  private serviceFilter: string[] = [];
  private seen = new Map<string, { address: string; type: string; adv: NobleAdvertisement }>();
  private links = new Map<string, Link>();
  private connecting = new Set<string>();

  constructor(
    readonly world: World,
    centralOrOptions: Central | CentralOptions = {},
  ) {
    super();
    this.central = centralOrOptions instanceof Central ? centralOrOptions : world.central(centralOrOptions);
    this.central.onNotifications((link, svc, ch, data) => {
      const id = this.idOf(link);
      if (id) this.emit("read", id, nobleUuidOf(svc), nobleUuidOf(ch), Buffer.from(data), true);
    });
  }

  private idOf(link: Link): string | undefined {
    for (const [id, l] of this.links) if (l === link) return id;
    return undefined;
  }

  private later(fn: () => void): void {
    this.world.touchHost();
    process.nextTick(fn);
  }

  start(): void {
    this.later(() => {
      this.emit("addressChange", this.central.address.split(" ")[0]);
      this.emit("stateChange", "poweredOn");
    });
  }

  stop(): void {
    this.stopScanning();
    for (const l of this.links.values()) void l.disconnect();
  }

  reset(): void {
    this.stop();
  }

  setScanParameters(): void {
    this.later(() => this.emit("scanParametersSet"));
  }

  startScanning(serviceUuids?: string[], allowDuplicates?: boolean): void {
    this.serviceFilter = (serviceUuids ?? []).map((u) => u.toLowerCase().replace(/-/g, ""));
    this.allowDuplicates = !!allowDuplicates;
    if (!this.scanning) {
      this.scanning = true;
      this.central.startScan((s) => this.onSighting(s));
    }
    this.later(() => this.emit("scanStart", !this.allowDuplicates));
  }

  stopScanning(): void {
    if (this.scanning) this.central.stopScan();
    this.scanning = false;
    this.later(() => this.emit("scanStop"));
  }

  private onSighting(s: Sighting): void {
    const id = nobleId(s.address);
    let entry = this.seen.get(id);
    if (!entry || !s.scanResponse) {
      entry = {
        address: s.address.split(" ")[0],
        type: s.address.split(" ")[1] ?? "random",
        adv: parseAdvertisement(s.data),
      };
      this.seen.set(id, entry);
    } else {
      parseAdvertisement(s.data, entry.adv);
    }
    const adv = entry.adv;
    if (this.serviceFilter.length) {
      const have = [...adv.serviceUuids, ...adv.serviceData.map((d) => d.uuid)];
      if (!have.some((u) => this.serviceFilter.includes(u))) return;
    }
    this.emit("discover", id, entry.address, entry.type, s.connectable, adv, s.rssi, s.scannable);
  }

  addressToId(address: string): string {
    return nobleId(address);
  }

  connect(id: string, _params?: unknown): void {
    const entry = this.seen.get(id);
    const address = entry ? entry.address : (id.match(/.{2}/g)?.join(":") ?? id);
    if (this.connecting.has(id)) return;
    this.connecting.add(id);
    this.central.connect(address).then(
      (link) => {
        this.connecting.delete(id);
        this.links.set(id, link);
        link.onDisconnect((reason) => {
          this.links.delete(id);
          this.emit("disconnect", id, reason);
        });
        this.emit("connect", id, null);
        this.world.scheduler.after(link.connectionInterval * 2, () => {
          this.world.touchHost();
          this.emit("onMtu", id, link.mtu);
        });
      },
      (err: Error) => {
        this.connecting.delete(id);
        this.emit("connect", id, err);
      },
    );
  }

  cancelConnect(id: string): void {
    this.connecting.delete(id);
  }

  disconnect(id: string): void {
    const l = this.links.get(id);
    if (l) void l.disconnect();
    else this.later(() => this.emit("disconnect", id, "not connected"));
  }

  updateRssi(id: string): void {
    const l = this.links.get(id);
    const rssi = l ? this.world.medium.packetRssi(l.band, this.central, this.world.now) : undefined;
    this.later(() => this.emit("rssiUpdate", id, rssi === undefined ? -127 : Math.round(rssi)));
  }

  private link(id: string): Link | undefined {
    return this.links.get(id);
  }

  discoverServices(id: string, uuids?: string[]): void {
    const l = this.link(id);
    if (!l) return this.later(() => this.emit("servicesDiscover", id, [], new Error("not connected")));
    l.discoverServices().then(
      (svcs) => {
        let list = svcs.map(nobleUuidOf);
        if (uuids && uuids.length) list = list.filter((u) => uuids.map((x) => x.toLowerCase()).includes(u));
        this.emit("servicesDiscover", id, list);
      },
      (e: Error) => this.emit("servicesDiscover", id, [], e),
    );
  }

  discoverIncludedServices(id: string, svc: string): void {
    this.later(() => this.emit("includedServicesDiscover", id, svc, []));
  }

  discoverCharacteristics(id: string, svc: string, uuids?: string[]): void {
    const l = this.link(id);
    if (!l) return this.later(() => this.emit("characteristicsDiscover", id, svc, [], new Error("not connected")));
    l.discoverCharacteristics(simUuid(svc)).then(
      (chars) => {
        let list = chars.map((c) => ({ uuid: nobleUuidOf(c.uuid), properties: c.properties }));
        if (uuids && uuids.length) list = list.filter((c) => uuids.map((x) => x.toLowerCase()).includes(c.uuid));
        this.emit("characteristicsDiscover", id, svc, list);
      },
      (e: Error) => this.emit("characteristicsDiscover", id, svc, [], e),
    );
  }

  read(id: string, svc: string, ch: string): void {
    const l = this.link(id);
    if (!l) return this.later(() => this.emit("read", id, svc, ch, Buffer.alloc(0), false, new Error("not connected")));
    l.read(simUuid(svc), simUuid(ch)).then(
      (v) => this.emit("read", id, svc, ch, Buffer.from(v), false),
      (e: Error) => this.emit("read", id, svc, ch, Buffer.alloc(0), false, e),
    );
  }

  write(id: string, svc: string, ch: string, data: Buffer, withoutResponse: boolean): void {
    const l = this.link(id);
    if (!l) return this.later(() => this.emit("write", id, svc, ch, new Error("not connected")));
    l.write(simUuid(svc), simUuid(ch), new Uint8Array(data), withoutResponse).then(
      () => {
        if (withoutResponse) this.later(() => this.emit("write", id, svc, ch));
        else this.emit("write", id, svc, ch);
      },
      (e: Error) => this.emit("write", id, svc, ch, e),
    );
  }

  broadcast(id: string, svc: string, ch: string, state: boolean): void {
    this.later(() => this.emit("broadcast", id, svc, ch, state));
  }

  notify(id: string, svc: string, ch: string, on: boolean): void {
    const l = this.link(id);
    if (!l) return this.later(() => this.emit("notify", id, svc, ch, on, new Error("not connected")));
    const p = on ? l.subscribe(simUuid(svc), simUuid(ch)) : l.unsubscribe(simUuid(svc), simUuid(ch));
    p.then(
      () => this.emit("notify", id, svc, ch, on),
      (e: Error) => this.emit("notify", id, svc, ch, on, e),
    );
  }

  discoverDescriptors(id: string, svc: string, ch: string): void {
    this.later(() => this.emit("descriptorsDiscover", id, svc, ch, ["2902"]));
  }

  readValue(id: string, svc: string, ch: string, desc: string): void {
    this.later(() => this.emit("valueRead", id, svc, ch, desc, Buffer.alloc(0)));
  }

  writeValue(id: string, svc: string, ch: string, desc: string): void {
    this.later(() => this.emit("valueWrite", id, svc, ch, desc));
  }

  readHandle(id: string, handle: number): void {
    this.later(() => this.emit("handleRead", id, handle, Buffer.alloc(0), new Error("handles are not modelled")));
  }

  writeHandle(id: string, handle: number): void {
    this.later(() => this.emit("handleWrite", id, handle, new Error("handles are not modelled")));
  }
}

function nobleUuidOf(u: string): string {
  return u.replace(/-/g, "").toLowerCase();
}

/** Bindings for `new Noble(bindings)`; pass a Central (or options for a new one) to choose the kiosk position. */
export function createNobleBindings(world: World, central?: Central | CentralOptions): SimNobleBindings {
  return new SimNobleBindings(world, central ?? {});
}
