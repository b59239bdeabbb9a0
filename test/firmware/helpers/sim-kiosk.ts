import * as path from "path";
import { pureCrypto as c } from "../../../firmware/src/protocol/crypto";
import { LogPages } from "../../../firmware/src/protocol/log-mac";
import { defaultProvisioning, encodeProvisioning, Provisioning } from "../../../firmware/src/protocol/provisioning";
import {
  decodeDataPayload,
  decodeDiscoveryAdvert,
  decodeStatus,
  encodeReadCommand,
  KioskEvent,
  KioskSession,
  LogUnit,
  matchDiscovery,
  OP_DATA,
  OP_READ,
  OP_READ_END,
  OP_STATUS,
  OP_STATUS_REPLY,
  SYNC_CONTROL_UUID,
  SYNC_RESPONSE_UUID,
  SYNC_SERVICE_UUID,
  BandStatus,
} from "../../../firmware/src/protocol/sync";
import { EspruinoDevice } from "../../../host-tools/src/sim/device";
import { Central, Link } from "../../../host-tools/src/sim/gatt";
import { Position } from "../../../host-tools/src/sim/radio";
import { World } from "../../../host-tools/src/sim/world";
import { ROOT } from "../../helpers/paths";

/** The flashed bundle of a board, as global-setup built it. */
export function bundlePath(board: string): string {
  return path.join(ROOT, "dist", board, "tracelet.js");
}

/** Bands provisioned per world: keys and names follow from the world alone, whatever ran before in the process. */
const provisioned = new WeakMap<World, number>();

/** A provisioning record with fresh keys; the flasher sets the board clock over USB (flags bit 0). */
export function provisioning(world: World, extra: Partial<Provisioning> = {}): Provisioning {
  const k = (provisioned.get(world) ?? 0) + 1;
  provisioned.set(world, k);
  const fill = (n: number, v: number) => new Uint8Array(n).map((_, i) => (v * 31 + i * 7) & 255);
  return { ...defaultProvisioning(fill(8, k), fill(16, k + 100), fill(16, k + 200), world.startUnix), ...extra };
}

/** Adds a provisioned band running the real bundle, its clock set by the "flasher". */
export function addBand(
  world: World,
  board: string,
  position: Position,
  prov: Provisioning = provisioning(world),
  memoryCheck: "callback" | number = "callback",
  device: { driftPpm?: number; batteryPercent?: number } = {},
): { band: EspruinoDevice; prov: Provisioning } {
  const band = world.addBand({
    board,
    bundlePath: bundlePath(board),
    position,
    provisioning: { "tl.prov": encodeProvisioning(prov) },
    clock: world.startUnix + world.now,
    memoryCheck,
    ...device,
  });
  return { band, prov };
}

/**
 * A kiosk on the simulated GATT central: finds bands by their discovery token, authenticates with the sync key and
 * speaks the sync protocol through KioskSession, as the real kiosk would through noble.
 */
export class SimKiosk {
  central: Central;
  link: Link | undefined;
  session: KioskSession | undefined;
  events: KioskEvent[] = [];
  private waiters: { done: (e: KioskEvent) => boolean; resolve: () => void }[] = [];

  constructor(
    public world: World,
    public registry: Uint8Array[],
    position: Position = { x: 0.5, y: 0 },
  ) {
    this.central = world.central({ position, name: "kiosk" });
  }

  /** Scans until a discovery advert matches a registered key; resolves with its address, key index and time. */
  async find(timeoutS = 30): Promise<{ address: string; index: number; t: number }> {
    const found = new Promise<{ address: string; index: number; t: number }>((resolve) => {
      this.central.startScan((s) => {
        if (!s.connectable) return;
        const d = decodeDiscoveryAdvert(s.data);
        if (!d.ok) return;
        const i = matchDiscovery(c, this.registry, d.value);
        if (i >= 0) {
          this.central.stopScan();
          resolve({ address: s.address, index: i, t: s.t });
        }
      });
    });
    return this.world.until(found, { timeoutS });
  }

  private nonces = 0;

  /** Kiosk nonces: a fresh one per session, the same sequence in every run of a seeded world. */
  nonce(n: number): Uint8Array {
    const k = ++this.nonces;
    return new Uint8Array(n).map((_, i) => (k * 29 + i * 13 + 1) & 255);
  }

  /** Connects, subscribes to responses and authenticates with registry key `index`. */
  async open(address: string, index: number): Promise<boolean> {
    this.link = await this.world.until(this.central.connect(address, { timeoutS: 10 }));
    this.session = new KioskSession(
      c,
      this.registry[index],
      (n) => this.nonce(n),
      () => this.world.now * 1000,
    );
    this.events = [];
    await this.world.until(this.link.subscribe(SYNC_SERVICE_UUID, SYNC_RESPONSE_UUID, (data) => this.onNotify(data)));
    await this.send(this.session.begin());
    await this.wait((e) => e.type === "authenticated" || e.type === "error" || e.type === "invalid", 10);
    return this.session.authenticated;
  }

  private onNotify(data: Uint8Array): void {
    const s = this.session;
    if (!s) return;
    const e = s.receive(data);
    this.events.push(e);
    if (e.type === "write") void this.send(e.data).catch(() => undefined);
    this.waiters = this.waiters.filter((w) => {
      if (!w.done(e)) return true;
      w.resolve();
      return false;
    });
  }

  async send(data: Uint8Array): Promise<void> {
    if (!this.link) throw new Error("not connected");
    await this.world.until(this.link.write(SYNC_SERVICE_UUID, SYNC_CONTROL_UUID, data));
  }

  /** Runs the world until an event from index `from` on matches `done` (or `timeoutS` of virtual time pass). */
  async wait(done: (e: KioskEvent) => boolean, timeoutS = 20, from = 0): Promise<void> {
    if (this.events.slice(from).some(done)) return;
    const p = new Promise<void>((resolve) => this.waiters.push({ done, resolve }));
    await this.world.until(p, { timeoutS }).catch(() => undefined);
  }

  /** Sends a command and waits for the reply frame with op `replyOp`; returns the frames received meanwhile. */
  async command(op: number, payload: Uint8Array, replyOp: number): Promise<Extract<KioskEvent, { type: "frame" }>[]> {
    const from = this.events.length;
    await this.send((this.session as KioskSession).command(op, payload));
    await this.wait((e) => e.type === "frame" && e.op === replyOp, 20, from);
    return this.events.slice(from).filter((e): e is Extract<KioskEvent, { type: "frame" }> => e.type === "frame");
  }

  async status(): Promise<BandStatus> {
    const f = (await this.command(OP_STATUS, new Uint8Array(0), OP_STATUS_REPLY)).find((x) => x.op === OP_STATUS_REPLY);
    if (!f) throw new Error("no STATUS reply");
    const s = decodeStatus(f.payload);
    if (!s.ok) throw new Error(s.error);
    return s.value;
  }

  /**
   * Reads the log from `from` to the status's log end, page by page. A page is kept only when all its frames
   * arrived (LogPages); otherwise the same cursor is read again. `pages` holds the signed pages for a TLX upload.
   */
  async readAll(
    from: number,
    bandId: Uint8Array = new Uint8Array(8),
  ): Promise<{ units: LogUnit[]; next: number; pages: LogPages }> {
    const end = (await this.status()).logEnd;
    const units: LogUnit[] = [];
    const pages = new LogPages(bandId);
    let cursor = from;
    for (let page = 0, tries = 0; page < 400 && tries < 20 && cursor < end; page++) {
      pages.start();
      const frames = await this.command(OP_READ, encodeReadCommand(cursor, 32), OP_READ_END);
      let got: { next: number; kept: boolean } | undefined;
      for (const f of frames) got = pages.frame(f.op, f.payload, f.gap) ?? got;
      if (!got) break;
      if (!got.kept) {
        tries++;
        continue;
      }
      for (const f of frames.filter((x) => x.op === OP_DATA)) {
        const d = decodeDataPayload(f.payload);
        if (d.ok) d.value.units.forEach((u, i) => units.push({ cursor: d.value.cursor + i, bytes: u }));
      }
      if (got.next === cursor) break;
      cursor = got.next;
    }
    return { units, next: cursor, pages };
  }

  async close(): Promise<void> {
    if (this.link) await this.world.until(this.link.disconnect());
    this.link = undefined;
    this.session = undefined;
  }
}
